/**
 * The filter contract. A filter kind registers a factory; `build(config)` runs once when the snapshot
 * compiles and returns the runtime filter, so nothing about the config is interpreted per request.
 *
 * Phases, in the order a request meets them:
 * - `onAdmit`: once per request, on the route's filters (and its inbound entry's), before the route acts.
 *   A filter may let the request go on (undefined), answer it itself (a LocalReply, Envoy's
 *   sendLocalReply: fault aborts, rate limits, CORS preflights) or hold it for a while first (a Hold: fault
 *   delays), and may add headers to whatever response the request gets (CORS, x-ratelimit-*). Verdicts are
 *   built when the filter is built, so the phase allocates nothing for a request that goes on untouched.
 *   The request path's side of it (writing replies, timers, cancellation) is http/admit.ts.
 * - `onRequest`: synchronous header/path transformations of the request as it will go upstream.
 * - `onDispatch`: the final request and its body, just before dispatch (RequestMirror).
 * - `onResponse`: the upstream's response head.
 * Phases a chain does not use stay undefined, so the common path pays nothing for them.
 *
 * `build` also receives a context (Envoy's factory context): what a filter may use from the proxy at
 * compile time, such as the backends for a filter that sends requests of its own (RequestMirror), the
 * clock and randomness (injected in tests) and the cache of state that outlives a snapshot (token buckets).
 */
import type { Readable } from 'node:stream';
import type { ProxyErrorCode } from '../../core/index.ts';
import type { MetricsRegistry } from '../metrics/index.ts';
import type { RequestView } from '../router/index.ts';
import type { Balancer } from '../upstream/balancers/index.ts';
import type { FilterStateCache } from './state.ts';

export type HeaderMap = Record<string, string | string[] | undefined>;

/** The request as it will be sent upstream; filters mutate it in place. */
export interface UpstreamRequest {
  method: string;
  /** Path and query to send upstream. */
  path: string;
  /** The path part only, as matched. */
  matchedPath: string;
  /** The PathPrefix that selected the route, when it was a prefix match. */
  matchedPrefix: string | undefined;
  authority: string;
  headers: HeaderMap;
}

/** A request body as it goes upstream: none, read whole (small), or streamed (see http/body.ts). */
export type RequestBody = Buffer | Readable | null;

/**
 * The request as the admit phase sees it: as received and routed, before any other filter changed it
 * (the router's view: method, path without the query, query, lower-case headers, parsed params if some
 * match needed them).
 */
export type AdmitRequest = RequestView;

/** One request's pass through the admit phase. */
export interface Admission {
  readonly request: AdmitRequest;
  /**
   * Headers to add to whatever response this request gets (from the upstream, a filter or an error),
   * lower-case names; created by the first filter that adds one. A header the upstream's response also
   * carries keeps the upstream's value.
   */
  responseHeaders: Record<string, string> | undefined;
}

/** A response a filter makes itself instead of letting the request go on (Envoy's sendLocalReply). */
export interface LocalReply {
  readonly kind: 'reply';
  readonly status: number;
  /**
   * The `weft-error` code when the proxy refuses or fails the request (the response and its metrics carry
   * it); undefined for an answer that is not an error (a CORS preflight), which then carries no body.
   */
  readonly code: ProxyErrorCode | undefined;
  /**
   * For a gRPC request with a code: the grpc-status of the Trailers-Only response (HTTP 200). A reply with
   * no code is sent as it is to gRPC requests too.
   */
  readonly grpcStatus: number;
  /** Headers of the reply itself, lower-case names. */
  readonly headers: Readonly<Record<string, string>> | undefined;
}

/** Hold the request for `ms` (not counted in the route timeout, as Envoy), then go on, or answer `reply`. */
export interface Hold {
  readonly kind: 'hold';
  readonly ms: number;
  readonly reply: LocalReply | undefined;
}

export type Verdict = LocalReply | Hold;

export interface HttpFilter {
  onAdmit?(admission: Admission): Verdict | undefined;
  onRequest?(req: UpstreamRequest): void;
  onResponse?(status: number, headers: HeaderMap): void;
  /**
   * Once the request and its body are final, just before the request is dispatched upstream. Returns
   * the body to send: the one given, or a stand-in for a streamed body (a tee). Only filters that need
   * the body implement it, so the chain's phase stays undefined on the common path.
   */
  onDispatch?(req: UpstreamRequest, body: RequestBody): RequestBody;
}

/** A backend as a filter sees it: enough to pick an endpoint and dispatch to its pool. */
export interface FilterBackend {
  readonly name: string;
  readonly protocol: 'http1' | 'http2' | 'tcp';
  readonly balancer: Balancer;
}

/** What a filter may use from the proxy when it is built; nothing here is looked up per request. */
export interface FilterContext {
  backend(name: string): FilterBackend | undefined;
  /** The snapshot's injected randomness (seeded in tests). */
  readonly random: () => number;
  readonly metrics: MetricsRegistry;
  /** The route's timeout in milliseconds; 0 when the route has none. */
  readonly timeoutMs: number;
  /** The clock for state such as token buckets: milliseconds, monotonic (performance.now unless injected). */
  readonly now: () => number;
  /** Where the filter is: {direction, service, route}, for metric labels and state keys. */
  readonly labels: Readonly<Record<'direction' | 'service' | 'route', string>>;
  /** State that outlives one snapshot, keyed by where the filter is and its settings. */
  readonly state: FilterStateCache;
}

export interface FilterFactory<C> {
  readonly type: string;
  build(config: C, context: FilterContext): HttpFilter;
}
