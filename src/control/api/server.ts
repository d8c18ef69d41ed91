/**
 * The control plane's HTTP API, for the CLI, the runtime and (later) the dashboard: JSON over HTTP/1.1.
 * Read endpoints show the index (resources with their status, services, workloads, instances), the
 * proxies' sync state and the config computed for a proxy; `apply` and `delete` change resources.
 */
import type http from 'node:http';
import type { ControlPlane } from '../control-plane.ts';

export type ApiHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const MAX_BODY = 8 * 1024 * 1024;

export function createApiHandler(cp: ControlPlane): ApiHandler {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    const p = url.pathname;
    const send = (status: number, body: unknown) => {
      const text = `${JSON.stringify(body, null, 1)}\n`;
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    const fail = (status: number, code: string, message: string) =>
      send(status, { error: { code, message } });
    try {
      if (req.method === 'GET') {
        if (p === '/live' || p === '/ready') return send(200, { ok: true });
        if (p === '/api/v1/status') return send(200, cp.status());
        if (p === '/api/v1/resources') return send(200, cp.resourceList());
        if (p === '/api/v1/services') return send(200, cp.services());
        if (p === '/api/v1/workloads') return send(200, cp.index.model.workloads);
        if (p === '/api/v1/instances') return send(200, cp.index.model.instances);
        if (p === '/api/v1/proxies') return send(200, cp.distribution.proxies());
        const m = /^\/api\/v1\/proxies\/(.+)\/config$/.exec(p);
        if (m) {
          const node = decodeURIComponent(m[1] as string);
          const computed = cp.viewOf(node);
          if (!computed) return fail(404, 'NOT_FOUND', `no proxy "${node}" in the mesh`);
          return send(200, {
            node,
            computed,
            sent: cp.distribution.sent(node) ?? null,
            sync: cp.distribution.proxy(node) ?? null,
          });
        }
        return fail(404, 'NOT_FOUND', `no such endpoint: ${p}`);
      }
      if (req.method === 'POST' && (p === '/api/v1/apply' || p === '/api/v1/delete')) {
        readBody(req, (err, body) => {
          if (err) return fail(413, 'TOO_LARGE', err.message);
          const file = url.searchParams.get('file') ?? 'request';
          const result = p === '/api/v1/apply' ? cp.apply(body, file) : cp.delete(body, file);
          send(result.every((r) => r.ok) ? 200 : 422, { results: result });
        });
        return;
      }
      fail(405, 'METHOD_NOT_ALLOWED', `${req.method} ${p}`);
    } catch (err) {
      cp.logger.error('api request failed', { path: p, error: err as Error });
      fail(500, 'INTERNAL', (err as Error).message);
    }
  };
}

function readBody(req: http.IncomingMessage, done: (err: Error | undefined, body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY) {
      req.destroy();
      done(new Error('request body over 8 MB'), '');
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => done(undefined, Buffer.concat(chunks).toString('utf8')));
  req.on('error', (e) => done(e, ''));
}
