/**
 * Calls the greeter's `weft.demo.Greeter/SayHello` over h2c and prints each reply as one JSON line
 * ({"message","version","hostname"}), or the gRPC status when the call fails (exit code 1 if any did).
 *
 * Usage: `node src/samples/grpc-greeter/client.ts [host:port] [name] [--count N]`; the target defaults
 * to GREETER_ADDR or `grpc-greeter:50051`. With HTTP_PROXY set (Weft's explicit mode) the call goes to
 * the proxy over h2c with `:authority` naming the service, as the proxy picks the service by authority.
 */
import http2 from 'node:http2';
import { proxyFor } from '../common/proxy.ts';
import { decodeStrings, encodeStrings, frame, SAY_HELLO_PATH, unframe } from './proto.ts';

const args = process.argv.slice(2);
const countAt = args.indexOf('--count');
const count = countAt >= 0 ? Number(args.splice(countAt, 2)[1]) : 1;
const target = args[0] ?? process.env.GREETER_ADDR ?? 'grpc-greeter:50051';
const name = args[1] ?? 'weft';

const authority = target;
const proxy = proxyFor(new URL(`http://${target}`), process.env);
const session = http2.connect(proxy ? proxy.origin : `http://${target}`);
session.on('error', (err) => {
  console.log(JSON.stringify({ error: err.message }));
  process.exitCode = 1;
});

function call(): Promise<boolean> {
  return new Promise((resolve) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': SAY_HELLO_PATH,
      ':authority': authority,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      headers = h;
    });
    stream.on('trailers', (t) => {
      trailers = t;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (err) => {
      console.log(JSON.stringify({ error: err.message }));
      resolve(false);
    });
    stream.on('close', () => {
      const status = String(trailers['grpc-status'] ?? headers['grpc-status'] ?? '');
      if (status !== '0') {
        const message = decodeURIComponent(String(trailers['grpc-message'] ?? headers['grpc-message'] ?? ''));
        console.log(JSON.stringify({ grpcStatus: status || null, httpStatus: headers[':status'], message }));
        return resolve(false);
      }
      try {
        const fields = decodeStrings(unframe(Buffer.concat(chunks)));
        console.log(
          JSON.stringify({ message: fields.get(1), version: fields.get(2), hostname: fields.get(3) }),
        );
        resolve(true);
      } catch (err) {
        console.log(JSON.stringify({ error: (err as Error).message }));
        resolve(false);
      }
    });
    stream.end(frame(encodeStrings({ 1: name })));
  });
}

let failed = 0;
for (let i = 0; i < count; i++) if (!(await call())) failed++;
session.close();
if (failed) process.exitCode = 1;
