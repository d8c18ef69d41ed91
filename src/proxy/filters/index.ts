/**
 * The filter registry: one entry per filter kind, looked up by the `type` of a filter config when the
 * snapshot compiles. Filters never import each other; the chain is composed here.
 */
import type { FilterConfig } from '../../api/index.ts';
import type { RequestMetrics } from '../metrics/index.ts';
import { cors } from './cors/index.ts';
import { fault } from './fault/index.ts';
import { requestHeaderModifier, responseHeaderModifier } from './header-modifier/index.ts';
import { localRateLimit } from './local-rate-limit/index.ts';
import { requestMirror } from './request-mirror/index.ts';
import type {
  Admission,
  FilterContext,
  HeaderMap,
  Hold,
  HttpFilter,
  RequestBody,
  UpstreamRequest,
  Verdict,
} from './types.ts';
import { urlRewrite } from './url-rewrite/index.ts';

export { FilterStateCache } from './state.ts';
export type {
  Admission,
  AdmitRequest,
  FilterBackend,
  FilterContext,
  HeaderMap,
  Hold,
  HttpFilter,
  LocalReply,
  RequestBody,
  UpstreamRequest,
  Verdict,
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
    case 'Fault':
      return fault.build(config.fault, context);
    case 'LocalRateLimit':
      return localRateLimit.build(config.localRateLimit, context);
    case 'CORS':
      return cors.build(config.cors, context);
  }
}

/** A route's admit phase, composed when the snapshot compiles (run by http/admit.ts). */
export interface AdmitPhase {
  run: (admission: Admission) => Verdict | undefined;
  /** For the replies the phase makes: the route's labels, backend "-". */
  metrics: RequestMetrics;
}

/** A chain built once per route: undefined handlers when no filter needs that phase (the fast path). */
export interface FilterChain {
  onAdmit: ((admission: Admission) => Verdict | undefined) | undefined;
  onRequest: ((req: UpstreamRequest) => void) | undefined;
  onResponse: ((status: number, headers: HeaderMap) => void) | undefined;
  onDispatch: ((req: UpstreamRequest, body: RequestBody) => RequestBody) | undefined;
}

export function composeFilters(filters: readonly HttpFilter[]): FilterChain {
  const admit = filters.flatMap((f) => (f.onAdmit ? [f.onAdmit] : []));
  const req = filters.flatMap((f) => (f.onRequest ? [f.onRequest] : []));
  const res = filters.flatMap((f) => (f.onResponse ? [f.onResponse] : []));
  const dispatch = filters.flatMap((f) => (f.onDispatch ? [f.onDispatch] : []));
  return {
    onAdmit: admit.length === 0 ? undefined : admit.length === 1 ? admit[0] : composeAdmit(admit),
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

/**
 * Runs admit filters in order: the first reply ends the phase; holds add up (a delay before a later
 * filter's answer still delays it, as in Envoy, where a held filter chain resumes into the next filter).
 * Only a request held by more than one filter allocates (the combined hold).
 */
function composeAdmit(
  admit: ReadonlyArray<(admission: Admission) => Verdict | undefined>,
): (admission: Admission) => Verdict | undefined {
  return (a) => {
    let hold: Hold | undefined;
    for (const f of admit) {
      const v = f(a);
      if (v === undefined) continue;
      if (v.kind === 'reply') return hold === undefined ? v : { kind: 'hold', ms: hold.ms, reply: v };
      hold = hold === undefined ? v : { kind: 'hold', ms: hold.ms + v.ms, reply: v.reply };
      if (hold.reply !== undefined) return hold;
    }
    return hold;
  };
}
