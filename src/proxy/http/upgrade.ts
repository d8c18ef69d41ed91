/**
 * HTTP/1.1 Upgrade (WebSocket and others): the request is routed like any other, then the proxy opens a
 * raw connection to the chosen endpoint, replays the request head, and becomes a byte pipe. The upstream's
 * 101 (or refusal) flows back untouched.
 */
import type { IncomingMessage } from 'node:http';
import type net from 'node:net';
import type { ProxyErrorCode } from '../../core/index.ts';
import type { UpstreamRequest } from '../filters/index.ts';
import type { ProxyRuntime } from '../runtime.ts';
import { connectAndPipe } from '../tcp/index.ts';
import type { ServiceResolver } from './handle.ts';
import { authorityOf } from './headers.ts';
import { rawErrorResponse } from './respond.ts';
import { hasForbiddenChar } from './syntax.ts';

export function handleUpgrade(
  rt: ProxyRuntime,
  resolve: ServiceResolver,
  req: IncomingMessage,
  socket: net.Socket,
  head: Buffer,
): void {
  const refuse = (code: ProxyErrorCode) => {
    socket.end(rawErrorResponse(code));
  };
  socket.on('error', () => socket.destroy());
  const snapshot = rt.snapshot;
  const url = req.url ?? '/';
  const authority = authorityOf(req.headers);
  const service = resolve(snapshot, authority);
  if (!service) {
    refuse('NO_SERVICE');
    return;
  }
  const q = url.indexOf('?');
  const view = {
    method: req.method ?? 'GET',
    path: q === -1 ? url : url.slice(0, q),
    query: q === -1 ? '' : url.slice(q + 1),
    headers: req.headers,
    params: undefined,
  };
  const entry = service.router.route(view);
  if (!entry) {
    refuse('NO_ROUTE');
    return;
  }
  const action = entry.route.action;
  if (action.kind !== 'backends') {
    refuse('BAD_REQUEST');
    return;
  }
  const rb = action.pick();
  const endpoint = rb?.backend.balancer.pick(rb.backend.hashKey?.(view, socket.remoteAddress));
  if (!rb || !endpoint) {
    refuse('NO_ENDPOINT');
    return;
  }

  // Keep Connection/Upgrade: they are the point of this request.
  const headers: Record<string, string | string[] | undefined> = {};
  for (const name in req.headers) headers[name] = req.headers[name];
  const up: UpstreamRequest = {
    method: view.method,
    path: url,
    matchedPath: view.path,
    matchedPrefix: entry.match.prefix,
    authority,
    headers,
  };
  rb.chain.onRequest?.(up);
  let preamble = `${up.method} ${up.path} HTTP/1.1\r\n`;
  for (const name in up.headers) {
    const v = up.headers[name];
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) {
      if (hasForbiddenChar(one)) {
        refuse('INVALID_HEADER');
        return;
      }
      preamble += `${name}: ${one}\r\n`;
    }
  }
  preamble += '\r\n';
  const u = endpoint.upstream;
  const buf =
    head.length > 0
      ? Buffer.concat([Buffer.from(preamble, 'latin1'), head])
      : Buffer.from(preamble, 'latin1');
  connectAndPipe(socket, u.dial(), u.settings.connectTimeout, buf, rt.logger, undefined, () =>
    refuse('CONNECT_FAILED'),
  );
}
