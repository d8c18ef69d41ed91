/**
 * The echo sample as a program, for the local runtime and its tests: answers every request with JSON
 * naming SERVICE and VERSION, on PORT (default 8080), on every address.
 */
import { startEchoServer } from './server.ts';

const server = await startEchoServer({
  service: process.env.SERVICE ?? 'echo',
  version: process.env.VERSION ?? process.env.SERVICE_VERSION ?? 'v1',
  port: Number(process.env.PORT ?? 8080),
  host: '0.0.0.0',
});
process.stdout.write(`echo listening on :${server.port}\n`);
const stop = () => {
  void server.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
