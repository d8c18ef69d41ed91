/**
 * A stand-in for Istio's helloworld sample (images examples-helloworld-v1 and -v2, app.py): GET /hello
 * answers "Hello version: <SERVICE_VERSION>, instance: <HOSTNAME>\n", GET /health answers "Helloworld is
 * healthy". The original burns CPU on each request to feed autoscaling demos; this one does not.
 *
 * Env: PORT (default 5000), SERVICE_VERSION (v1), HOSTNAME (the instance name; the OS host name if unset).
 */
import http from 'node:http';
import { instanceName, portFromEnv, serve } from '../common/serve.ts';

const version = process.env.SERVICE_VERSION || process.env.VERSION || 'v1';
const instance = instanceName();

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  const reply = (status: number, body: string) => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
  if (path === '/hello') return reply(200, `Hello version: ${version}, instance: ${instance}\n`);
  if (path === '/health') return reply(200, 'Helloworld is healthy');
  reply(404, 'Not Found\n');
});

await serve(server, { name: `helloworld ${version}`, port: portFromEnv(5000) });
