/**
 * The filter registry: one entry per filter kind, looked up by the `type` of a filter config when the
 * snapshot compiles. Filters never import each other; the chain is composed here.
 */
import type { FilterConfig } from '../../api/index.ts';
import { requestHeaderModifier, responseHeaderModifier } from './header-modifier/index.ts';
import type { HeaderMap, HttpFilter, UpstreamRequest } from './types.ts';
import { urlRewrite } from './url-rewrite/index.ts';

export type { HeaderMap, HttpFilter, UpstreamRequest } from './types.ts';
export { modifyPath } from './url-rewrite/index.ts';

export function buildFilter(config: FilterConfig): HttpFilter {
  switch (config.type) {
    case 'RequestHeaderModifier':
      return requestHeaderModifier.build(config.requestHeaderModifier);
    case 'ResponseHeaderModifier':
      return responseHeaderModifier.build(config.responseHeaderModifier);
    case 'URLRewrite':
      return urlRewrite.build(config.urlRewrite);
  }
}

/** A chain built once per route: undefined handlers when no filter needs that phase (the fast path). */
export interface FilterChain {
  onRequest: ((req: UpstreamRequest) => void) | undefined;
  onResponse: ((status: number, headers: HeaderMap) => void) | undefined;
}

export function composeFilters(filters: readonly HttpFilter[]): FilterChain {
  const req = filters.flatMap((f) => (f.onRequest ? [f.onRequest] : []));
  const res = filters.flatMap((f) => (f.onResponse ? [f.onResponse] : []));
  return {
    onRequest:
      req.length === 0
        ? undefined
        : req.length === 1
          ? req[0]
          : (r) => {
              for (const f of req) f(r);
            },
    onResponse:
      res.length === 0
        ? undefined
        : res.length === 1
          ? res[0]
          : (s, h) => {
              for (const f of res) f(s, h);
            },
  };
}
