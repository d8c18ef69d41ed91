/**
 * Compiles Gateway-API style matches (path, headers, query parameters, method) into predicates. Each
 * match becomes one closure built at snapshot compile time; a request is tested without allocating
 * except when query parameters must be parsed, which happens once per request and only when some
 * route of the service matches on them.
 */
import type { RouteMatchConfig } from '../../api/index.ts';

/** What routing needs from a request. Header names are lower case, as node:http and http2 give them. */
export interface RequestView {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed lazily from `query` by the router when some match needs it. */
  params?: URLSearchParams;
}

export type Predicate = (req: RequestView) => boolean;

export interface CompiledMatch {
  test: Predicate;
  /** Sort key for Gateway API precedence. */
  rank: {
    exact: boolean;
    prefixLength: number;
    regex: boolean;
    method: boolean;
    headers: number;
    query: number;
  };
  usesQuery: boolean;
  /** The normalised PathPrefix value, for ReplacePrefixMatch rewrites and redirects. */
  prefix: string | undefined;
}

export function compileMatch(m: RouteMatchConfig): CompiledMatch {
  const tests: Predicate[] = [];
  const path = m.path;
  if (path?.ignoreCase) {
    // Istio's ignoreUriCase: one case-insensitive regex for every kind of path match.
    const v = escapeRegex(path.type === 'PathPrefix' ? normalisePrefix(path.value) : path.value);
    const source =
      path.type === 'Exact'
        ? `^${v}$`
        : path.type === 'Prefix'
          ? `^${v}`
          : path.type === 'PathPrefix'
            ? v === '/'
              ? '^/'
              : `^${v}(?:/|$)`
            : `^(?:${path.value})$`;
    const re = new RegExp(source, 'i');
    tests.push((r) => re.test(r.path));
  } else if (path) {
    if (path.type === 'Exact') {
      const v = path.value;
      tests.push((r) => r.path === v);
    } else if (path.type === 'PathPrefix') {
      tests.push(compilePrefix(path.value));
    } else if (path.type === 'Prefix') {
      const v = path.value;
      tests.push((r) => r.path.startsWith(v));
    } else {
      // Gateway API regexes match the whole path (RE2 full match); anchor them.
      const re = new RegExp(`^(?:${path.value})$`);
      tests.push((r) => re.test(r.path));
    }
  }
  if (m.method) {
    const method = m.method.toUpperCase();
    tests.push((r) => r.method === method);
  }
  for (const h of m.headers) {
    const name = h.name.toLowerCase();
    const get = name === 'host' ? authorityValue : (r: RequestView) => headerValue(r, name);
    tests.push(invertIf(h.invert === true, compileValueMatch(h.type, h.value, get)));
  }
  for (const q of m.queryParams) {
    const name = q.name;
    tests.push(
      invertIf(
        q.invert === true,
        compileValueMatch(q.type, q.value, (r) => r.params?.get(name) ?? undefined),
      ),
    );
  }
  const test: Predicate =
    tests.length === 0
      ? () => true
      : tests.length === 1
        ? (tests[0] as Predicate)
        : (r) => {
            for (let i = 0; i < tests.length; i++) if (!(tests[i] as Predicate)(r)) return false;
            return true;
          };
  return {
    test,
    usesQuery: m.queryParams.length > 0,
    prefix:
      path?.type === 'PathPrefix'
        ? normalisePrefix(path.value)
        : path?.type === 'Prefix'
          ? path.value
          : path === undefined
            ? '/'
            : undefined,
    rank: {
      exact: path?.type === 'Exact',
      // The normalised length: a trailing slash is ignored when matching, so it must not win precedence.
      prefixLength:
        path === undefined
          ? 1
          : path.type === 'PathPrefix'
            ? normalisePrefix(path.value).length
            : path.type === 'Prefix'
              ? path.value.length
              : 0,
      regex: path?.type === 'RegularExpression',
      method: m.method !== undefined,
      headers: m.headers.length,
      query: m.queryParams.length,
    },
  };
}

/** Element-wise prefix: "/foo" matches "/foo", "/foo/" and "/foo/bar", never "/foobar". */
function compilePrefix(value: string): Predicate {
  const p = normalisePrefix(value);
  if (p === '/') return () => true;
  return (r) => {
    const path = r.path;
    if (!path.startsWith(p)) return false;
    return path.length === p.length || path.charCodeAt(p.length) === 47; /* '/' */
  };
}

export function normalisePrefix(value: string): string {
  return value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value;
}

function headerValue(r: RequestView, name: string): string | undefined {
  const v = r.headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(',');
}

/** The Host header, or HTTP/2's :authority. */
function authorityValue(r: RequestView): string | undefined {
  return headerValue(r, 'host') ?? headerValue(r, ':authority');
}

function invertIf(invert: boolean, p: Predicate): Predicate {
  return invert ? (r) => !p(r) : p;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compileValueMatch(
  type: 'Exact' | 'Prefix' | 'RegularExpression' | 'Present' | 'Absent',
  value: string | undefined,
  get: (r: RequestView) => string | undefined,
): Predicate {
  switch (type) {
    case 'Exact':
      return (r) => get(r) === value;
    case 'Prefix': {
      const p = value ?? '';
      return (r) => get(r)?.startsWith(p) === true;
    }
    case 'RegularExpression': {
      const re = new RegExp(`^(?:${value ?? ''})$`);
      return (r) => {
        const v = get(r);
        return v !== undefined && re.test(v);
      };
    }
    case 'Present':
      return (r) => get(r) !== undefined;
    case 'Absent':
      return (r) => get(r) === undefined;
  }
}
