/**
 * The Gateway API HTTPRoute (gateway.networking.k8s.io v1, v1beta1, v1alpha2): matches on path, headers,
 * query parameters and method; filters; weighted backends; timeouts. Defaults are the CRD's (a rule with
 * no matches matches every request by PathPrefix "/"; a route with no rules has one such rule), and the
 * CRD's CEL rules are refinements. Filter types Weft cannot apply pass the schema on purpose: the
 * translator reports them on the route's status and the rest of the route still works.
 */
import { z } from 'zod';
import {
  addIssue,
  BackendRef,
  CommonRouteSpec,
  checkFilterFields,
  checkFilterRepeats,
  checkRuleNames,
  HeaderMatch,
  HeaderModifier,
  HeaderName,
  Hostname,
  LocalObjectReference,
  OpaqueFilterConfig,
  PortNumber,
  PreciseHostname,
  RequestMirror,
  routeResource,
  SectionName,
  Timeouts,
} from './shared.ts';

/** Characters the CRD allows in Exact and PathPrefix values (RFC 3986 pchar and "/"). */
const PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/;

export const HTTPPathMatch = z
  .object({
    type: z.enum(['Exact', 'PathPrefix', 'RegularExpression']).default('PathPrefix'),
    value: z.string().max(1024).default('/'),
  })
  .superRefine((p, ctx) => {
    if (p.type === 'RegularExpression') return;
    const bad = (message: string) => addIssue(ctx, ['value'], message);
    if (!p.value.startsWith('/')) return bad(`must start with "/" when type is ${p.type}`);
    if (!PATH_CHARS.test(p.value)) return bad('must contain only characters valid in a URL path');
    for (const part of ['//', '/./', '/../', '%2f', '%2F', '#']) {
      if (p.value.includes(part)) return bad(`must not contain "${part}"`);
    }
    if (p.value.endsWith('/..') || p.value.endsWith('/.')) bad('must not end with "/." or "/.."');
  });

export const HTTPQueryParamMatch = z.object({
  type: z.enum(['Exact', 'RegularExpression']).default('Exact'),
  name: HeaderName,
  value: z.string().min(1).max(1024),
});

export const HTTPMethod = z.enum([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

export const HTTPRouteMatch = z.object({
  path: HTTPPathMatch.prefault({}),
  headers: z.array(HeaderMatch).max(16).default([]),
  queryParams: z.array(HTTPQueryParamMatch).max(16).default([]),
  method: HTTPMethod.optional(),
});
export type HTTPRouteMatch = z.output<typeof HTTPRouteMatch>;

export const HTTPPathModifier = z
  .object({
    type: z.enum(['ReplaceFullPath', 'ReplacePrefixMatch']),
    replaceFullPath: z.string().max(1024).optional(),
    replacePrefixMatch: z.string().max(1024).optional(),
  })
  .superRefine((m, ctx) => {
    const full = m.replaceFullPath !== undefined;
    const prefix = m.replacePrefixMatch !== undefined;
    if (m.type === 'ReplaceFullPath' ? !full || prefix : !prefix || full) {
      const field = m.type === 'ReplaceFullPath' ? 'replaceFullPath' : 'replacePrefixMatch';
      addIssue(ctx, [field], `type ${m.type} takes ${field} and nothing else`);
    }
  });
export type HTTPPathModifier = z.output<typeof HTTPPathModifier>;

export const RequestRedirect = z.object({
  scheme: z.enum(['http', 'https']).optional(),
  hostname: PreciseHostname.optional(),
  path: HTTPPathModifier.optional(),
  port: PortNumber.optional(),
  statusCode: z.literal([301, 302, 303, 307, 308]).default(302),
});
export type RequestRedirect = z.output<typeof RequestRedirect>;

export const URLRewrite = z.object({
  hostname: PreciseHostname.optional(),
  path: HTTPPathModifier.optional(),
});
export type URLRewrite = z.output<typeof URLRewrite>;

const HTTP_FILTER_FIELDS = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  CORS: 'cors',
  ExternalAuth: 'externalAuth',
  ExtensionRef: 'extensionRef',
} as const;

/** Types the spec lets appear once per list (RequestMirror and ExtensionRef may repeat). */
const HTTP_FILTERS_ONCE = [
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestRedirect',
  'URLRewrite',
  'CORS',
];

export const HTTPRouteFilter = z
  .object({
    type: z.string().min(1),
    requestHeaderModifier: HeaderModifier.optional(),
    responseHeaderModifier: HeaderModifier.optional(),
    requestMirror: RequestMirror.optional(),
    requestRedirect: RequestRedirect.optional(),
    urlRewrite: URLRewrite.optional(),
    cors: OpaqueFilterConfig.optional(),
    externalAuth: OpaqueFilterConfig.optional(),
    extensionRef: LocalObjectReference.optional(),
  })
  .superRefine((f, ctx) => checkFilterFields(f, HTTP_FILTER_FIELDS, ctx));
export type HTTPRouteFilter = z.output<typeof HTTPRouteFilter>;

/** CEL on a filter list: a redirect and a rewrite cannot be combined; most types cannot repeat. */
function checkHTTPFilters(
  filters: readonly HTTPRouteFilter[],
  ctx: z.RefinementCtx,
  path: readonly PropertyKey[],
): void {
  checkFilterRepeats(filters, HTTP_FILTERS_ONCE, ctx, path);
  if (filters.some((f) => f.type === 'RequestRedirect') && filters.some((f) => f.type === 'URLRewrite')) {
    addIssue(ctx, path, 'RequestRedirect and URLRewrite cannot be used together');
  }
}

export const HTTPBackendRef = BackendRef.extend({
  filters: z.array(HTTPRouteFilter).max(16).default([]),
}).superRefine((b, ctx) => checkHTTPFilters(b.filters, ctx, ['filters']));
export type HTTPBackendRef = z.output<typeof HTTPBackendRef>;

function usesPrefixReplacement(filters: readonly HTTPRouteFilter[]): boolean {
  return filters.some((f) => (f.requestRedirect ?? f.urlRewrite)?.path?.type === 'ReplacePrefixMatch');
}

export const HTTPRouteRule = z
  .object({
    name: SectionName.optional(),
    matches: z.array(HTTPRouteMatch).max(64).prefault([{}]),
    filters: z.array(HTTPRouteFilter).max(16).default([]),
    backendRefs: z.array(HTTPBackendRef).max(16).default([]),
    timeouts: Timeouts.optional(),
  })
  .superRefine((r, ctx) => {
    checkHTTPFilters(r.filters, ctx, ['filters']);
    if (r.backendRefs.length > 0 && r.filters.some((f) => f.type === 'RequestRedirect')) {
      addIssue(ctx, ['filters'], 'RequestRedirect filter must not be used together with backendRefs');
    }
    // ReplacePrefixMatch replaces the matched prefix, so there must be exactly one, and it a PathPrefix.
    const prefixReplaced =
      usesPrefixReplacement(r.filters) || r.backendRefs.some((b) => usesPrefixReplacement(b.filters));
    const single = r.matches.length === 1 && r.matches[0]?.path.type === 'PathPrefix';
    if (prefixReplaced && !single) {
      addIssue(ctx, ['matches'], 'ReplacePrefixMatch needs exactly one match, with a PathPrefix path');
    }
  });
export type HTTPRouteRule = z.output<typeof HTTPRouteRule>;

export const HTTPRouteSpec = CommonRouteSpec.extend({
  hostnames: z.array(Hostname).max(16).default([]),
  rules: z.array(HTTPRouteRule).min(1).max(16).prefault([{}]),
}).superRefine((s, ctx) => {
  checkRuleNames(s.rules, ctx);
  const matches = s.rules.reduce((n, r) => n + r.matches.length, 0);
  if (matches > 128) addIssue(ctx, ['rules'], `${matches} matches in all; at most 128 are allowed`);
});
export type HTTPRouteSpec = z.output<typeof HTTPRouteSpec>;

export const HTTPRoute = routeResource('HTTPRoute', HTTPRouteSpec);
export type HTTPRoute = z.output<typeof HTTPRoute>;
