/**
 * The HTTP request path, shared by HTTP/1.1 and HTTP/2 downstreams (node's http2 compatibility API gives
 * both the same request/response shape): read the snapshot once, find the service and the route, then
 * answer directly, redirect, or forward to a backend endpoint through its connection pool.
 */
import type { IncomingMessage } from 'node:http';
import { modifyPath, type UpstreamRequest } from '../filters/index.ts';
import { PEER, type PeerSocket } from '../mtls/mesh-tls.ts';
import type { RequestView, RouteEntry } from '../router/index.ts';
import type { ProxyRuntime } from '../runtime.ts';
import type { CompiledRoute, CompiledService, RouteAction, Snapshot } from '../snapshot/index.ts';
import { ORIGINAL_PROTOCOL } from '../upstream/http2/pool.ts';
import type { DispatchOptions } from '../upstream/types.ts';
import { admitRequest } from './admit.ts';
import { readBody } from './body.ts';
import { ATTEMPT_COUNT, EXCHANGE, Exchange } from './exchange.ts';
import { isGrpc, parseGrpcTimeout } from './grpc.ts';
import { H2Downstream } from './h2-downstream.ts';
import { authorityOf, copyRequestHeaders } from './headers.ts';
import type { FastRequest } from './http1-fast.ts';
import { type DownstreamResponse, respondError } from './respond.ts';
import { hasForbiddenChar } from './syntax.ts';

export type DownstreamRequest = IncomingMessage | H2Downstream | FastRequest;

/** Finds the service a request is for; listeners differ only in this. */
export type ServiceResolver = (snapshot: Snapshot, authority: string) => CompiledService | undefined;

export function handleRequest(
  rt: ProxyRuntime,
  resolve: ServiceResolver,
  req: DownstreamRequest,
  res: DownstreamResponse,
): void {
  const start = performance.now();
  const snapshot = rt.snapshot;
  const headers = req.headers as Record<string, string | string[] | undefined>;
  const grpc = isGrpc(headers);
  const method = req.method ?? 'GET';
  let url = req.url ?? '/';
  let authority = authorityOf(headers);

  if ((req as IncomingMessage).httpVersionMajor === 0) {
    respondError(res, 'HTTP09_REFUSED', false, undefined, true);
    return;
  }
  // Absolute-form request targets arrive at the HTTP proxy listener (RFC 9112 §3.2.2).
  if (url.charCodeAt(0) !== 47 /* '/' */) {
    const abs = /^http:\/\/([^/?#]+)([^#]*)$/i.exec(url);
    if (!abs) {
      respondError(res, 'BAD_REQUEST', grpc, 'request target must be origin-form or an absolute http URL');
      return;
    }
    authority = abs[1] as string;
    url = abs[2] || '/';
  }
  const service = resolve(snapshot, authority);
  if (!service) {
    respondError(res, 'NO_SERVICE', grpc, `no service for ${authority || 'this listener'}`);
    return;
  }
  // Inbound: who sent it. Read once per request from the connection (set by the mutual TLS handshake).
  const peer = service.requestsByPeer ? (req.socket as PeerSocket | null)?.[PEER] : undefined;
  service.requestsByPeer?.count(peer?.spiffeId);
  const q = url.indexOf('?');
  const view: RequestView = {
    method,
    path: q === -1 ? url : url.slice(0, q),
    query: q === -1 ? '' : url.slice(q + 1),
    headers,
    params: undefined,
  };
  // HTTP/1.1 that crossed from another Weft proxy as HTTP/2 goes to the application as HTTP/1.1 again.
  const router =
    service.routerH2 !== undefined && req instanceof H2Downstream && headers[ORIGINAL_PROTOCOL] !== 'HTTP/1.1'
      ? service.routerH2
      : service.router;
  const entry = router.route(view);
  if (!entry) {
    const status = respondError(res, 'NO_ROUTE', grpc);
    service.unrouted.record(method, status, performance.now() - start, 'NO_ROUTE');
    return;
  }
  // Filters that answer or hold the request themselves (fault injection, local rate limits, CORS), once
  // per request before the route acts; undefined on the common path. See admit.ts.
  const admit = entry.route.admit;
  if (
    admit !== undefined &&
    admitRequest(admit, view, grpc, res, method, start, () =>
      serve(rt, service, entry, view, url, authority, method, grpc, start, req, res),
    )
  )
    return;
  serve(rt, service, entry, view, url, authority, method, grpc, start, req, res);
}

/** What the route does with a request that its admit filters let through. */
function serve(
  rt: ProxyRuntime,
  service: CompiledService,
  entry: RouteEntry<CompiledRoute>,
  view: RequestView,
  url: string,
  authority: string,
  method: string,
  grpc: boolean,
  start: number,
  req: DownstreamRequest,
  res: DownstreamResponse,
): void {
  const route = entry.route;
  const action = route.action;
  if (action.kind === 'direct') {
    res.writeHead(action.status, action.headers);
    res.end(action.body);
    action.metrics.record(method, action.status, performance.now() - start, undefined);
    return;
  }
  if (action.kind === 'redirect') {
    redirect(res, action, view.path, view.query, authority, entry.match.prefix, req);
    action.metrics.record(method, action.statusCode, performance.now() - start, undefined);
    return;
  }
  forward(
    rt,
    service,
    route,
    action,
    entry.match.prefix,
    view,
    url,
    authority,
    method,
    grpc,
    start,
    req,
    res,
  );
}

function forward(
  rt: ProxyRuntime,
  service: CompiledService,
  route: CompiledRoute,
  action: Extract<RouteAction, { kind: 'backends' }>,
  prefix: string | undefined,
  view: RequestView,
  url: string,
  authority: string,
  method: string,
  grpc: boolean,
  start: number,
  req: DownstreamRequest,
  res: DownstreamResponse,
): void {
  const rb = action.pick();
  if (!rb) {
    const status = respondError(res, 'NO_ENDPOINT', grpc, 'the route has no backend with weight > 0');
    service.unrouted.record(method, status, performance.now() - start, 'NO_ENDPOINT');
    return;
  }
  const backend = rb.backend;
  const sourceIp = req.socket?.remoteAddress;
  const hashKey = backend.hashKey ? backend.hashKey(view, sourceIp) : undefined;
  const endpoint = backend.balancer.pick(hashKey);
  if (!endpoint?.upstream.pool) {
    const status = respondError(res, 'NO_ENDPOINT', grpc, `backend ${backend.name} has no endpoints`);
    rb.metrics.record(method, status, performance.now() - start, 'NO_ENDPOINT');
    return;
  }
  const h2Downstream = req instanceof H2Downstream;
  const declared = view.headers['content-length'];
  const hasBody = h2Downstream
    ? !(req as H2Downstream).stream.endAfterHeaders
    : (declared !== undefined && declared !== '0') || view.headers['transfer-encoding'] !== undefined;
  const up: UpstreamRequest = {
    method,
    path: url,
    matchedPath: view.path,
    matchedPrefix: prefix,
    authority,
    headers: copyRequestHeaders(view.headers),
  };
  if (rb.chain.onRequest) {
    rb.chain.onRequest(up);
    for (const name in up.headers) {
      const v = up.headers[name];
      if (typeof v === 'string' && hasForbiddenChar(v)) {
        respondError(res, 'INVALID_HEADER', grpc, `header ${name} has a forbidden character`);
        return;
      }
    }
  }
  if (service.direction === 'inbound') {
    // Sanitize and set, as Envoy's SANITIZE_SET: the application sees the identity the handshake proved,
    // and a plaintext client cannot forge one.
    const peer = (req.socket as PeerSocket | null)?.[PEER];
    if (peer) up.headers['x-forwarded-client-cert'] = peer.xfcc;
    else delete up.headers['x-forwarded-client-cert'];
    delete up.headers[ORIGINAL_PROTOCOL];
  }
  if (up.authority) up.headers.host = up.authority;
  // Envoy's include_request_attempt_count replaces whatever the client sent; retries count on (exchange.ts).
  if (route.includeAttemptCount) up.headers[ATTEMPT_COUNT] = '1';
  if (backend.protocol === 'http2' && grpc) up.headers.te = 'trailers';
  else delete up.headers.te;

  const opts: DispatchOptions = { path: up.path, method: up.method, headers: up.headers, body: null };
  // Request bytes as declared; streamed bodies without a length are not counted (no per-chunk hook).
  if (typeof declared === 'string') rb.metrics.requestBytes.inc(Number(declared) || 0);
  const ex = new Exchange(rt, res, rb, endpoint, method, start, grpc, opts);
  // The listener's one 'close' handler aborts the exchange if the downstream goes away first.
  (res as { [EXCHANGE]?: Exchange })[EXCHANGE] = ex;
  let timeout = route.timeoutMs;
  if (grpc) {
    const deadline = parseGrpcTimeout(view.headers['grpc-timeout']);
    if (deadline !== undefined && (timeout === 0 || deadline < timeout)) timeout = deadline;
  }
  if (timeout > 0) {
    ex.timer = setTimeout(() => ex.abort('TIMEOUT'), timeout);
  }
  const retry = ex.retry;
  if (retry !== undefined) {
    if (timeout > 0) retry.deadline = start + timeout;
    retry.hashKey = hashKey;
  }
  // Filters that need the final request and its body (RequestMirror); undefined on the common path.
  const onDispatch = rb.chain.onDispatch;
  if (!hasBody) {
    if (onDispatch !== undefined) onDispatch(up, null);
    ex.dispatch();
    return;
  }
  readBody(
    h2Downstream ? (req as H2Downstream).stream : (req as IncomingMessage),
    typeof declared === 'string' ? Number(declared) : undefined,
    (body) => {
      opts.body = body;
      if (ex.done) return;
      if (onDispatch !== undefined) opts.body = onDispatch(up, body);
      ex.dispatch();
    },
  );
}

function redirect(
  res: DownstreamResponse,
  action: Extract<RouteAction, { kind: 'redirect' }>,
  path: string,
  query: string,
  authority: string,
  prefix: string | undefined,
  req: DownstreamRequest,
): void {
  const scheme =
    action.scheme ?? ((req.socket as { encrypted?: boolean } | null)?.encrypted ? 'https' : 'http');
  const colon = authority.lastIndexOf(':');
  const currentHost =
    colon > authority.lastIndexOf(']') && colon !== -1 ? authority.slice(0, colon) : authority;
  const currentPort =
    colon > authority.lastIndexOf(']') && colon !== -1 ? authority.slice(colon + 1) : undefined;
  const host = action.hostname ?? currentHost;
  // Gateway API: when the scheme changes and no port is set, the port is the scheme's default (omitted).
  const port =
    action.port !== undefined ? String(action.port) : action.scheme !== undefined ? undefined : currentPort;
  const defaultPort = scheme === 'https' ? '443' : '80';
  const newPath = action.path ? modifyPath(path, action.path, prefix) : path;
  const location = `${scheme}://${host}${port && port !== defaultPort ? `:${port}` : ''}${newPath}${query ? `?${query}` : ''}`;
  res.writeHead(action.statusCode, { location, 'content-length': 0 });
  res.end();
}
