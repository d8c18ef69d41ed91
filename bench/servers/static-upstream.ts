/**
 * The fallback upstream when nginx is not installed: a Node server answering every request with a 2-byte
 * "ok", over HTTP/1.1 keep-alive on one port and h2c (prior knowledge) on another; on HTTP/1.1, `/1k`
 * answers with the 1 KB body of the mesh section instead. nginx is preferred
 * because a Node upstream on the load core is slower and can become the bottleneck.
 * `node bench/servers/static-upstream.ts <h1Port> <h2Port>`; prints "listening" when both are up.
 */
import { createServer } from 'node:http';
import { createServer as createH2Server } from 'node:http2';
import { ONE_KB_BODY, ONE_KB_PATH } from '../lib/types.ts';

const h1Port = Number(process.argv[2] ?? 0);
const h2Port = Number(process.argv[3] ?? 0);
const body = Buffer.from('ok');
const oneKb = Buffer.from(ONE_KB_BODY);

const h1 = createServer({ keepAliveTimeout: 75_000 }, (req, res) => {
  const b = req.url === ONE_KB_PATH ? oneKb : body;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': b.length });
  res.end(b);
});
h1.maxRequestsPerSocket = 0;
const h2 = createH2Server({ settings: { maxConcurrentStreams: 1000 } }, (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});

let up = 0;
const ready = () => {
  if (++up === 2) console.log('listening');
};
h1.listen(h1Port, '127.0.0.1', ready);
h2.listen(h2Port, '127.0.0.1', ready);
process.on('SIGTERM', () => process.exit(0));
