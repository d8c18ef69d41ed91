/**
 * CORS (Istio's CorsPolicy, Envoy's cors filter, source/extensions/filters/http/cors/cors_filter.cc). A
 * request with an Origin header is a CORS request; its origin is allowed when one of `allowOrigins`
 * matches it, or matches "*" (an allow-everything entry), as Envoy checks.
 *
 * - A preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin is answered
 *   by the proxy, as Envoy answers it: 200, no body, Access-Control-Allow-Origin echoing the origin, and
 *   -Allow-Credentials, -Allow-Methods, -Allow-Headers ("*" echoes what the browser asked for) and
 *   -Max-Age as configured. It is not an error, so it carries no `weft-error`.
 * - A preflight from another origin goes to the upstream (Istio's unmatchedPreflights FORWARD, the
 *   default), or is answered 200 with no CORS headers (IGNORE), so the browser refuses the request.
 * - Any other request from an allowed origin goes on, and its response, whoever makes it, gets
 *   Access-Control-Allow-Origin, -Allow-Credentials and -Expose-Headers. Requests from other origins, or
 *   without an Origin, get no CORS headers at all (Envoy sends some on an IGNOREd preflight; browsers
 *   ignore them without -Allow-Origin, and leaving them out says plainly that the origin is refused).
 */
import type { FilterConfig } from '../../../api/index.ts';
import type { Admission, FilterFactory, HttpFilter, LocalReply, Verdict } from '../types.ts';

export type CorsConfig = Extract<FilterConfig, { type: 'CORS' }>['cors'];

/** A predicate over an origin, from the configured matches. */
export function compileOrigins(matches: CorsConfig['allowOrigins']): (origin: string) => boolean {
  const tests = matches.map((m): ((o: string) => boolean) => {
    const v = m.value;
    if (m.type === 'Prefix') return (o) => o.startsWith(v);
    if (m.type === 'RegularExpression') {
      // Envoy's safe_regex matches the whole value (RE2 full match).
      const re = new RegExp(`^(?:${v})$`);
      return (o) => re.test(o);
    }
    return (o) => o === v;
  });
  // Envoy also allows every origin when a match accepts the literal "*".
  if (tests.some((t) => t('*'))) return () => true;
  return (origin) => {
    for (const t of tests) if (t(origin)) return true;
    return false;
  };
}

const IGNORED: LocalReply = {
  kind: 'reply',
  status: 200,
  code: undefined,
  grpcStatus: 0,
  headers: { 'content-length': '0' },
};

function one(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : v?.[0];
}

export const cors: FilterFactory<CorsConfig> = {
  type: 'CORS',
  build(config): HttpFilter {
    const allowed = compileOrigins(config.allowOrigins);
    const methods = config.allowMethods.join(',');
    const headers = config.allowHeaders.join(',');
    const expose = config.exposeHeaders.join(',');
    const maxAge = config.maxAge === undefined ? undefined : String(Math.floor(config.maxAge / 1000));
    const credentials = config.allowCredentials;
    const ignore = config.unmatchedPreflights === 'IGNORE';

    /** The preflight answer for an allowed origin: depends on the request only when "*" echoes it. */
    const preflight = (origin: string, req: Admission['request']): LocalReply => {
      const h: Record<string, string> = { 'access-control-allow-origin': origin, 'content-length': '0' };
      if (credentials) h['access-control-allow-credentials'] = 'true';
      if (methods !== '')
        h['access-control-allow-methods'] =
          methods === '*' ? (one(req.headers['access-control-request-method']) ?? '') : methods;
      if (headers !== '') {
        const asked = headers === '*' ? one(req.headers['access-control-request-headers']) : headers;
        if (asked) h['access-control-allow-headers'] = asked;
      }
      if (maxAge !== undefined) h['access-control-max-age'] = maxAge;
      return { kind: 'reply', status: 200, code: undefined, grpcStatus: 0, headers: h };
    };

    return {
      onAdmit(admission: Admission): Verdict | undefined {
        const req = admission.request;
        const origin = one(req.headers.origin);
        if (origin === undefined || origin === '') return undefined;
        const ok = allowed(origin);
        if (req.method === 'OPTIONS' && one(req.headers['access-control-request-method'])) {
          if (ok) return preflight(origin, req);
          return ignore ? IGNORED : undefined;
        }
        if (!ok) return undefined;
        const h = (admission.responseHeaders ??= {});
        h['access-control-allow-origin'] = origin;
        if (credentials) h['access-control-allow-credentials'] = 'true';
        if (expose !== '') h['access-control-expose-headers'] = expose;
        return undefined;
      },
    };
  },
};
