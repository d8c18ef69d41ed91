/**
 * HTTPRoute and GRPCRoute matches in ProxyConfig RouteMatch form. gRPC calls are HTTP/2 requests to
 * `/<service>/<method>`, so method matches become path matches. Regular expressions are compiled here as
 * the proxy will compile them: one that does not compile would make the proxy refuse its whole config, so
 * the rule is dropped instead (the spec's "Dropped Rule" choice) and the issue recorded.
 */
import type {
  GRPCRouteMatch,
  HeaderMatch,
  HTTPRouteMatch,
} from '../../../api/resources/gateway-api/index.ts';
import type { Report, RouteMatchInput } from './types.ts';

type HeaderMatchInput = NonNullable<RouteMatchInput['headers']>[number];

/** The proxy checks a regex alone and matches it anchored as `^(?:…)$`; both must compile. */
export function regexError(source: string): string | undefined {
  try {
    new RegExp(source);
    new RegExp(`^(?:${source})$`);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function checkRegex(source: string, path: string, report: Report): boolean {
  const error = regexError(source);
  if (error === undefined) return true;
  report.issue('CONFIG_REGEX', path, `${error}; the rule is dropped`);
  return false;
}

/**
 * The spec: of several entries with equivalent names only the first is considered. Header names compare
 * case-insensitively, query parameter names exactly.
 */
function firstOfEachName<T extends { name: string }>(list: readonly T[], foldCase: boolean): T[] {
  const seen = new Set<string>();
  return list.filter((m) => {
    const key = foldCase ? m.name.toLowerCase() : m.name;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function valueMatches(
  list: readonly HeaderMatch[],
  foldCase: boolean,
  path: string,
  report: Report,
): HeaderMatchInput[] | undefined {
  let ok = true;
  const out = firstOfEachName(list, foldCase).map((m) => {
    if (m.type === 'RegularExpression')
      ok = checkRegex(m.value, `${path}.${list.indexOf(m)}.value`, report) && ok;
    return { name: m.name, type: m.type, value: m.value };
  });
  return ok ? out : undefined;
}

/** Returns undefined when a regex does not compile (the issue is recorded). */
export function translateHTTPMatches(
  matches: readonly HTTPRouteMatch[],
  path: string,
  report: Report,
): RouteMatchInput[] | undefined {
  let ok = true;
  const out = matches.map((m, i) => {
    const at = `${path}.${i}`;
    const match: RouteMatchInput = { path: { type: m.path.type, value: m.path.value } };
    if (m.path.type === 'RegularExpression') ok = checkRegex(m.path.value, `${at}.path.value`, report) && ok;
    const headers = valueMatches(m.headers, true, `${at}.headers`, report);
    const queryParams = valueMatches(m.queryParams, false, `${at}.queryParams`, report);
    if (headers === undefined || queryParams === undefined) ok = false;
    if (headers?.length) match.headers = headers;
    if (queryParams?.length) match.queryParams = queryParams;
    if (m.method !== undefined) match.method = m.method;
    return match;
  });
  return ok ? out : undefined;
}

const ANY_SEGMENT = '[^/]+';

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * A gRPC method match as a path match (the proxy anchors regexes at both ends):
 * service and method → Exact `/svc/method`; service only → PathPrefix `/svc/` (element-wise, so
 * `pkg.Svc` does not match `pkg.SvcAdmin`); method only → a regex over any service; RegularExpression →
 * each part as a group confined to its path segment by the surrounding slashes.
 */
function grpcPath(method: NonNullable<GRPCRouteMatch['method']>): NonNullable<RouteMatchInput['path']> {
  const service = method.service || undefined;
  const name = method.method || undefined;
  if (method.type === 'RegularExpression') {
    const s = service === undefined ? ANY_SEGMENT : `(?:${service})`;
    const m = name === undefined ? ANY_SEGMENT : `(?:${name})`;
    return { type: 'RegularExpression', value: `/${s}/${m}` };
  }
  if (service !== undefined && name !== undefined) return { type: 'Exact', value: `/${service}/${name}` };
  if (service !== undefined) return { type: 'PathPrefix', value: `/${service}/` };
  return { type: 'RegularExpression', value: `/${ANY_SEGMENT}/${escapeRegex(name ?? '')}` };
}

/** Returns undefined when a regex does not compile (the issue is recorded). A rule without matches matches every call. */
export function translateGRPCMatches(
  matches: readonly GRPCRouteMatch[],
  path: string,
  report: Report,
): RouteMatchInput[] | undefined {
  if (matches.length === 0) return [{ path: { type: 'PathPrefix', value: '/' } }];
  let ok = true;
  const out = matches.map((m, i) => {
    const at = `${path}.${i}`;
    const match: RouteMatchInput = {};
    if (m.method !== undefined) {
      const p = grpcPath(m.method);
      if (m.method.type === 'RegularExpression') ok = checkRegex(p.value ?? '', `${at}.method`, report) && ok;
      match.path = p;
    } else {
      match.path = { type: 'PathPrefix', value: '/' };
    }
    const headers = valueMatches(m.headers, true, `${at}.headers`, report);
    if (headers === undefined) ok = false;
    if (headers?.length) match.headers = headers;
    return match;
  });
  return ok ? out : undefined;
}
