/**
 * The gRPC upstream of the bench: a @grpc/grpc-js server answering the unary Bench/Unary call with a fixed
 * small reply. Run as its own process (pinned to core 1 by the harness): `node bench/servers/grpc-server.ts
 * <port>`; prints "listening <port>" when ready.
 */
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { loadBenchService } from './grpc-proto.ts';

const port = Number(process.argv[2] ?? 0);
const Bench = loadBenchService();
const reply = { body: 'ok' };

const server = new Server();
server.addService(Bench.service, {
  Unary(_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) {
    callback(null, reply);
  },
});
server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
  if (err !== null) {
    console.error(`grpc-server: ${err.message}`);
    process.exit(1);
  }
  console.log(`listening ${bound}`);
});

process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
