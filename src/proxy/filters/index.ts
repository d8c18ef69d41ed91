/**
 * The filter registry: one entry per filter kind, looked up by the `type` of a filter config when the
 * snapshot compiles. Filters never import each other; the chain is composed here.
 */
import type { FilterConfig } from '../../api/index.ts';
import { requestHeaderModifier, responseHeaderModifier } from './header-modifier/index.ts';
import { requestMirror } from './request-mirror/index.ts';
import type { FilterContext, HeaderMap, HttpFilter, RequestBody, UpstreamRequest } from './types.ts';
import { urlRewrite } from './url-rewrite/index.ts';

export type {
  FilterBackend,
  FilterContext,
  HeaderMap,
  HttpFilter,
  RequestBody,
  UpstreamRequest,
} from './types.ts';
export { modifyPath } from './url-rewrite/index.ts';

export function buildFilter(config: FilterConfig, context: FilterContext): HttpFilter {
  switch (config.type) {
    case 'RequestHeaderModifier':
      return requestHeaderModifier.build(config.requestHeaderModifier);
    case 'ResponseHeaderModifier':
      return responseHeaderModifier.build(config.responseHeaderModifier);
    case 'URLRewrite':
      return urlRewrite.build(config.urlRewrite);
    case 'RequestMirror':
      return requestMirror.build(config.requestMirror, context);
  }
}

/** A chain built once per route: undefined handlers when no filter needs that phase (the fast path). */
export interface FilterChain {
  onRequest: ((req: UpstreamRequest) => void) | undefined;
  onResponse: ((status: number, headers: HeaderMap) => void) | undefined;
  onDispatch: ((req: UpstreamRequest, body: RequestBody) => RequestBody) | undefined;
}

export function composeFilters(filters: readonly HttpFilter[]): FilterChain {
  const req = filters.flatMap((f) => (f.onRequest ? [f.onRequest] : []));
  const res = filters.flatMap((f) => (f.onResponse ? [f.onResponse] : []));
  const dispatch = filters.flatMap((f) => (f.onDispatch ? [f.onDispatch] : []));
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
    onDispatch:
      dispatch.length === 0
        ? undefined
        : dispatch.length === 1
          ? dispatch[0]
          : (r, b) => {
              let body = b;
              for (const f of dispatch) body = f(r, body);
              return body;
            },
  };
}
