/**
 * The filter contract. A filter kind registers a factory; `build(config)` runs once when the snapshot
 * compiles and returns the runtime filter, so nothing about the config is interpreted per request.
 * Filters here are synchronous header/path transformations; a filter that needs to wait (external
 * authorization, fault delay) will return a promise from `onRequest`, and the chain composes that case
 * separately so the common synchronous path never allocates a promise.
 *
 * `build` also receives a context (Envoy's factory context): what a filter may use from the proxy at
 * compile time, such as the backends for a filter that sends requests of its own (RequestMirror).
 */
import type { Readable } from 'node:stream';
import type { MetricsRegistry } from '../metrics/index.ts';
import type { Balancer } from '../upstream/balancers/index.ts';

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

export interface HttpFilter {
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
}

export interface FilterFactory<C> {
  readonly type: string;
  build(config: C, context: FilterContext): HttpFilter;
}
