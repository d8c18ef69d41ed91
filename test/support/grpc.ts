/**
 * gRPC helpers for tests: the Echo service from test/fixtures/echo.proto loaded with @grpc/proto-loader
 * (no generated code), a real @grpc/grpc-js server on 127.0.0.1 port 0, and a client factory, all with
 * insecure credentials since the proxy under test speaks h2c.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export { grpc };

export interface EchoRequest {
  message: string;
  count: number;
  delayMs: number;
}

export interface EchoReply {
  message: string;
  index: number;
}

type Unary<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (err: grpc.ServiceError | null, reply?: Res) => void,
) => grpc.ClientUnaryCall;

/** The client surface of the Echo service, as grpc-js builds it at run time from the descriptor. */
export interface EchoClient extends grpc.Client {
  Unary: Unary<Partial<EchoRequest>, EchoReply>;
  Fail: Unary<Partial<EchoRequest>, EchoReply>;
  Slow: Unary<Partial<EchoRequest>, EchoReply>;
  ServerStream(
    request: Partial<EchoRequest>,
    metadata?: grpc.Metadata,
    options?: Partial<grpc.CallOptions>,
  ): grpc.ClientReadableStream<EchoReply>;
  ClientStream(
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    callback: (err: grpc.ServiceError | null, reply?: EchoReply) => void,
  ): grpc.ClientWritableStream<Partial<EchoRequest>>;
  Bidi(
    metadata?: grpc.Metadata,
    options?: Partial<grpc.CallOptions>,
  ): grpc.ClientDuplexStream<Partial<EchoRequest>, EchoReply>;
}

export interface EchoHandlers extends grpc.UntypedServiceImplementation {
  Unary: grpc.handleUnaryCall<EchoRequest, EchoReply>;
  Fail: grpc.handleUnaryCall<EchoRequest, EchoReply>;
  Slow: grpc.handleUnaryCall<EchoRequest, EchoReply>;
  ServerStream: grpc.handleServerStreamingCall<EchoRequest, EchoReply>;
  ClientStream: grpc.handleClientStreamingCall<EchoRequest, EchoReply>;
  Bidi: grpc.handleBidiStreamingCall<EchoRequest, EchoReply>;
}

const PROTO = fileURLToPath(new URL('../fixtures/echo.proto', import.meta.url));

function loadEchoService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(PROTO, { keepCase: false, defaults: true, longs: Number });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    weft: { test: { Echo: grpc.ServiceClientConstructor } };
  };
  return pkg.weft.test.Echo;
}

export interface GrpcServer {
  port: number;
  server: grpc.Server;
  close(): Promise<void>;
}

export async function startGrpcServer(handlers: EchoHandlers): Promise<GrpcServer> {
  const server = new grpc.Server();
  server.addService(loadEchoService().service, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // Streams a test left open must not hold the shutdown.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 500).unref();
      }),
  };
}

export function createEchoClient(port: number): EchoClient {
  const Echo = loadEchoService();
  return new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as EchoClient;
}
