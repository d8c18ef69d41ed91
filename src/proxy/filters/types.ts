/**
 * The filter contract. A filter kind registers a factory; `build(config)` runs once when the snapshot
 * compiles and returns the runtime filter, so nothing about the config is interpreted per request.
 * Filters here are synchronous header/path transformations; a filter that needs to wait (external
 * authorization, fault delay) will return a promise from `onRequest`, and the chain composes that case
 * separately so the common synchronous path never allocates a promise.
 */

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

export interface HttpFilter {
  onRequest?(req: UpstreamRequest): void;
  onResponse?(status: number, headers: HeaderMap): void;
}

export interface FilterFactory<C> {
  readonly type: string;
  build(config: C): HttpFilter;
}
