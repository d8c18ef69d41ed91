/**
 * A small gRPC service for the demo, so gRPC routing, splitting and retries can be shown without any
 * gRPC library: `weft.demo.Greeter/SayHello` (unary) over h2c on node:http2, answering
 * "Hello <name>" with the instance's version and host name in the reply, so a client can see which
 * version a route picked. `grpc.health.v1.Health/Check` answers SERVING.
 *
 * For fault demos, a name of the form "status:<code>" (e.g. "status:14") is answered with that gRPC
 * status and no message. Unknown methods get UNIMPLEMENTED, as every gRPC server does.
 *
 * Env: PORT (default 50051), SERVICE_VERSION or VERSION (v1), HOSTNAME.
 */
import http2 from 'node:http2';
import { instanceName, portFromEnv, serve } from '../common/serve.ts';
import {
  decodeStrings,
  encodeStrings,
  encodeVarints,
  frame,
  GrpcStatus,
  HEALTH_CHECK_PATH,
  SAY_HELLO_PATH,
  unframe,
} from './proto.ts';

const version = process.env.SERVICE_VERSION || process.env.VERSION || 'v1';
const hostname = instanceName();

/** A reply with no message: status in the headers frame alone ("Trailers-Only"). */
function fail(stream: http2.ServerHttp2Stream, status: number, message: string): void {
  stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(status),
      'grpc-message': encodeURIComponent(message),
    },
    { endStream: true },
  );
}

function reply(stream: http2.ServerHttp2Stream, message: Buffer): void {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(GrpcStatus.OK) }));
  stream.end(frame(message));
}

function handle(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, body: Buffer) {
  const path = headers[':path'];
  if (path === HEALTH_CHECK_PATH) return reply(stream, encodeVarints({ 1: 1 })); // SERVING
  if (path !== SAY_HELLO_PATH) return fail(stream, GrpcStatus.UNIMPLEMENTED, `unknown method ${path}`);
  let name: string;
  try {
    name = decodeStrings(unframe(body)).get(1) ?? '';
  } catch (err) {
    return fail(stream, GrpcStatus.INTERNAL, (err as Error).message);
  }
  const forced = /^status:(\d+)$/.exec(name);
  if (forced) return fail(stream, Number(forced[1]), `status requested by the caller (${version})`);
  reply(stream, encodeStrings({ 1: `Hello ${name || 'world'}`, 2: version, 3: hostname }));
}

const server = http2.createServer();
server.on('stream', (stream, headers) => {
  stream.on('error', () => stream.destroy());
  if (
    headers[':method'] !== 'POST' ||
    !String(headers['content-type'] ?? '').startsWith('application/grpc')
  ) {
    stream.respond({ ':status': 415, 'content-type': 'text/plain' });
    stream.end('gRPC only: POST with content-type application/grpc\n');
    return;
  }
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => handle(stream, headers, Buffer.concat(chunks)));
});

await serve(server, { name: `grpc-greeter ${version}`, port: portFromEnv(50051) });
