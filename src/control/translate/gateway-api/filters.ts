/**
 * HTTPRoute and GRPCRoute filters in ProxyConfig form. Header modifiers, URL rewrites and mirrors map one
 * to one; a RequestRedirect becomes the route's redirect action. A mirror whose backend does not resolve
 * is dropped with an issue, as the spec requires, and the rule still works: mirroring never changes the
 * response. Any other type (ExtensionRef, CORS, ExternalAuth, unknown) must not be skipped, the spec says,
 * since skipping an authentication filter would let requests through: the rule answers 500 instead, and
 * the other rules still work.
 */
import type {
  GRPCRouteFilter,
  HeaderModifier,
  HTTPPathModifier,
  HTTPRouteFilter,
  RequestMirror,
  RequestRedirect,
  URLRewrite,
} from '../../../api/resources/gateway-api/index.ts';
import { resolveBackendRef, useBackend } from './refs.ts';
import type { FilterInput, RedirectInput, RuleContext } from './types.ts';

/** Both kinds' filters: a GRPCRoute filter lacks the redirect and rewrite fields. */
export type RouteFilter = GRPCRouteFilter & Partial<Pick<HTTPRouteFilter, 'requestRedirect' | 'urlRewrite'>>;

export interface TranslatedFilters {
  filters: FilterInput[];
  redirect: RedirectInput | undefined;
  /** A filter Weft cannot apply and must not skip: the rule answers 500. */
  unsupported: boolean;
}

type HeaderModifierInput = { set: Record<string, string>; add: Record<string, string>; remove: string[] };
type PathModifierInput = NonNullable<RedirectInput['path']>;

function headerModifier(m: HeaderModifier): HeaderModifierInput {
  return {
    set: Object.fromEntries(m.set.map((h) => [h.name, h.value])),
    add: Object.fromEntries(m.add.map((h) => [h.name, h.value])),
    remove: [...m.remove],
  };
}

function pathModifier(p: HTTPPathModifier): PathModifierInput {
  return p.type === 'ReplaceFullPath'
    ? { type: 'ReplaceFullPath', value: p.replaceFullPath ?? '' }
    : { type: 'ReplacePrefixMatch', value: p.replacePrefixMatch ?? '' };
}

function urlRewrite(r: URLRewrite): FilterInput {
  const rewrite: { hostname?: string; path?: PathModifierInput } = {};
  if (r.hostname !== undefined) rewrite.hostname = r.hostname;
  if (r.path !== undefined) rewrite.path = pathModifier(r.path);
  return { type: 'URLRewrite', urlRewrite: rewrite };
}

function redirect(r: RequestRedirect): RedirectInput {
  const out: RedirectInput = { statusCode: r.statusCode };
  if (r.scheme !== undefined) out.scheme = r.scheme;
  if (r.hostname !== undefined) out.hostname = r.hostname;
  if (r.port !== undefined) out.port = r.port;
  if (r.path !== undefined) out.path = pathModifier(r.path);
  return out;
}

/** The proxy's mirror: a backend name and a percentage (fractions allowed). Undefined: left out. */
function mirror(m: RequestMirror, path: string, ctx: RuleContext): FilterInput | undefined {
  const resolved = resolveBackendRef(m.backendRef, `${path}.requestMirror.backendRef`, ctx);
  if (resolved === undefined) return undefined;
  if (resolved.problem !== undefined) {
    ctx.report.issue(
      'CONFIG_REFERENCE',
      resolved.problem.path,
      `${resolved.problem.message}: requests are not mirrored`,
    );
    return undefined;
  }
  const percent = m.fraction ? (100 * m.fraction.numerator) / m.fraction.denominator : (m.percent ?? 100);
  return { type: 'RequestMirror', requestMirror: { backend: useBackend(ctx, resolved.ref), percent } };
}

/**
 * `where` is 'backend' for an HTTPBackendRef's own filters, where the proxy has no redirect: a
 * RequestRedirect there is unsupported.
 */
export function translateFilters(
  list: readonly RouteFilter[],
  path: string,
  ctx: RuleContext,
  where: 'rule' | 'backend',
): TranslatedFilters {
  const out: TranslatedFilters = { filters: [], redirect: undefined, unsupported: false };
  list.forEach((f, i) => {
    if (f.type === 'RequestHeaderModifier' && f.requestHeaderModifier) {
      out.filters.push({
        type: 'RequestHeaderModifier',
        requestHeaderModifier: headerModifier(f.requestHeaderModifier),
      });
    } else if (f.type === 'ResponseHeaderModifier' && f.responseHeaderModifier) {
      out.filters.push({
        type: 'ResponseHeaderModifier',
        responseHeaderModifier: headerModifier(f.responseHeaderModifier),
      });
    } else if (f.type === 'URLRewrite' && f.urlRewrite) {
      out.filters.push(urlRewrite(f.urlRewrite));
    } else if (f.type === 'RequestRedirect' && f.requestRedirect && where === 'rule') {
      out.redirect = redirect(f.requestRedirect);
    } else if (f.type === 'RequestMirror' && f.requestMirror) {
      const filter = mirror(f.requestMirror, `${path}.${i}`, ctx);
      if (filter !== undefined) out.filters.push(filter);
    } else {
      out.unsupported = true;
      const what = where === 'backend' ? `${f.type} on a backendRef` : f.type;
      ctx.report.issue(
        'CONFIG_SCHEMA',
        `${path}.${i}.type`,
        `filter ${what} is not supported: requests this rule matches get 500 rather than skip the filter`,
      );
    }
  });
  return out;
}
