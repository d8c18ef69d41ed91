/**
 * Istio's `VirtualService` (networking.istio.io v1, v1beta1, v1alpha3): the routing of requests to a set
 * of hosts, as ordered first-match rules for HTTP (`http`), TLS by SNI (`tls`) and opaque TCP (`tcp`).
 * An HTTP rule routes to weighted destinations, redirects, answers directly or delegates to another
 * VirtualService, with rewrites, header operations, timeouts, retries, fault injection, mirroring and CORS.
 *
 * Field names follow istio/api networking/v1alpha3/virtual_service.proto; deprecated fields the CRD still
 * serves are accepted (`mirrorPercent`, `mirror_percent`, `corsPolicy.allowOrigin`, `fault.delay.percent`).
 * The cross-field rules are istiod's webhook (pkg/config/validation/virtualservice.go and validation.go):
 * an HTTP rule needs `route`, `redirect`, `directResponse` or `delegate`, and these do not mix; retries,
 * faults, percentages, weights, redirects and rewrites are checked as Istio checks them.
 */
import { z } from 'zod';
import { parseDuration } from '../../../core/duration.ts';
import {
  authorityHeaders,
  checkWeights,
  Destination,
  Duration,
  exportTo,
  FaultPercent,
  GatewayNames,
  Headers,
  headerMatchNameError,
  hostSubsetOf,
  hostsOverlap,
  Int32,
  ipSubnetError,
  isDns1123Label,
  isIPAddress,
  issue,
  Labels,
  MirrorPercent,
  NETWORKING_API_VERSIONS,
  networkingResource,
  StringMatch,
  stringMatch,
  UInt32,
  Weight,
  wildcardDomainError,
} from './networking.ts';

/** A match's port: 0 (or absent) is any port; anything else must be a port number. */
const MatchPort = UInt32.refine((p) => p === 0 || p <= 65535, 'port must be between 1-65535');

const SourceNamespace = z.string().refine((ns) => ns === '' || isDns1123Label(ns), {
  error: (i) => `sourceNamespace match ${String(i.input)} is invalid`,
});

/** `headers` and `withoutHeaders`: header names, each with a StringMatch. */
const HeaderMatches = z.record(z.string(), StringMatch).superRefine((headers, ctx) => {
  for (const name of Object.keys(headers)) {
    const e = headerMatchNameError(name);
    if (e) issue(ctx, [name], e);
  }
});

export const HTTPMatchRequest = z.strictObject({
  name: z.string().optional(),
  uri: stringMatch({ emptyPrefix: true }).optional(),
  scheme: StringMatch.optional(),
  method: StringMatch.optional(),
  authority: StringMatch.optional(),
  headers: HeaderMatches.optional(),
  port: MatchPort.optional(),
  sourceLabels: Labels.optional(),
  gateways: GatewayNames.optional(),
  queryParams: z.record(z.string(), StringMatch).optional(),
  ignoreUriCase: z.boolean().optional(),
  withoutHeaders: HeaderMatches.optional(),
  sourceNamespace: SourceNamespace.optional(),
  statPrefix: z.string().optional(),
});
export type HTTPMatchRequest = z.output<typeof HTTPMatchRequest>;

export const HTTPRouteDestination = z.strictObject({
  destination: Destination,
  weight: Weight.optional(),
  headers: Headers.optional(),
});
export type HTTPRouteDestination = z.output<typeof HTTPRouteDestination>;

export const HTTPRedirect = z
  .strictObject({
    uri: z.string().optional(),
    authority: z.string().optional(),
    port: UInt32.optional(),
    derivePort: z.enum(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']).optional(),
    scheme: z.string().optional(),
    redirectCode: UInt32.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.port !== undefined && r.derivePort !== undefined)
      issue(ctx, ['derivePort'], 'set port or derivePort, not both');
    if (!r.uri && !r.authority && r.port === undefined && r.derivePort === undefined && !r.scheme) {
      issue(ctx, [], 'redirect must specify URI, authority, scheme, or port');
    }
    if (r.redirectCode && (r.redirectCode < 300 || r.redirectCode > 399)) {
      issue(ctx, ['redirectCode'], `${r.redirectCode} is not a valid redirect code, must be 3xx`);
    }
    if (r.scheme && r.scheme !== 'http' && r.scheme !== 'https') {
      issue(ctx, ['scheme'], 'invalid redirect scheme, must be "http" or "https"');
    }
    if (r.port && r.port > 65535) issue(ctx, ['port'], 'port must be between 1-65535');
  });
export type HTTPRedirect = z.output<typeof HTTPRedirect>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_BODY = 1024 * 1024;

/** A direct response: its status and an optional body, as text or base64 bytes (under 1 MB). */
export const HTTPDirectResponse = z
  .strictObject({
    status: UInt32,
    body: z.strictObject({ string: z.string().optional(), bytes: z.string().optional() }).optional(),
  })
  .superRefine((d, ctx) => {
    if (d.status < 200 || d.status > 600)
      issue(ctx, ['status'], `HTTP status ${d.status} is not in range 200-599`);
    const body = d.body;
    if (body?.string !== undefined && body.bytes !== undefined) {
      return issue(ctx, ['body', 'bytes'], 'set body.string or body.bytes, not both');
    }
    if (body?.bytes !== undefined && !BASE64.test(body.bytes)) {
      return issue(ctx, ['body', 'bytes'], 'bytes must be base64-encoded');
    }
    const size =
      body?.string !== undefined
        ? Buffer.byteLength(body.string)
        : Math.floor(((body?.bytes?.length ?? 0) * 3) / 4);
    if (size > MAX_BODY) {
      issue(
        ctx,
        ['body'],
        'large direct_responses may impact control plane performance, must be less than 1MB',
      );
    }
  });
export type HTTPDirectResponse = z.output<typeof HTTPDirectResponse>;

export const Delegate = z.strictObject({ name: z.string().optional(), namespace: z.string().optional() });

export const HTTPRewrite = z
  .strictObject({
    uri: z.string().optional(),
    authority: z.string().optional(),
    uriRegexRewrite: z
      .strictObject({ match: z.string().optional(), rewrite: z.string().optional() })
      .optional(),
  })
  .superRefine((r, ctx) => {
    if (r.uri && r.uriRegexRewrite) {
      return issue(ctx, ['uriRegexRewrite'], 'rewrite may only contain one of URI or UriRegexRewrite');
    }
    if (!r.uri && !r.uriRegexRewrite && !r.authority) {
      return issue(ctx, [], 'rewrite must specify at least one of URI, UriRegexRewrite, or authority');
    }
    const regex = r.uriRegexRewrite;
    if (regex && (!regex.match || !regex.rewrite)) {
      issue(
        ctx,
        ['uriRegexRewrite'],
        'UriRegexRewrite requires both Rewrite and Match fields to be specified',
      );
    } else if (regex?.match && regex.match.length > 1024) {
      issue(ctx, ['uriRegexRewrite', 'match'], 'regex is too large, max length allowed is 1024');
    }
  });
export type HTTPRewrite = z.output<typeof HTTPRewrite>;

/** Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on conditions that Istio accepts in `retryOn`. */
export const RETRY_ON_CONDITIONS: readonly string[] = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'envoy-ratelimited',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
];

/** Status codes with a name in Go's net/http (istiod accepts a bare code in `retryOn` if it has one). */
const KNOWN_STATUS = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307,
  308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421,
  422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

/**
 * Retries. Istio's defaults apply when the field is absent (translation's concern); `attempts: 0` turns
 * retries off, and then no other retry field may be set.
 */
export const HTTPRetry = z
  .strictObject({
    attempts: Int32.min(0, 'attempts cannot be negative').optional(),
    perTryTimeout: Duration.optional(),
    retryOn: z.string().optional(),
    retryRemoteLocalities: z.boolean().optional(),
    retryIgnorePreviousHosts: z.boolean().optional(),
    backoff: Duration.optional(),
  })
  .superRefine((r, ctx) => {
    if (
      (r.attempts ?? 0) === 0 &&
      (r.perTryTimeout !== undefined || r.retryOn || r.retryRemoteLocalities !== undefined)
    ) {
      issue(ctx, ['attempts'], 'http retry policy configured when attempts are set to 0 (disabled)');
    }
    if (!r.retryOn) return;
    // Split as istiod does, without trimming: "5xx, reset" has a condition " reset" that Envoy does not know.
    for (const condition of r.retryOn.split(',')) {
      const code = /^\d+$/.test(condition) ? Number(condition) : Number.NaN;
      if (!KNOWN_STATUS.has(code) && !RETRY_ON_CONDITIONS.includes(condition)) {
        issue(ctx, ['retryOn'], `"${condition}" is not a valid retryOn policy`);
      }
    }
  });
export type HTTPRetry = z.output<typeof HTTPRetry>;

export const GRPC_STATUS_NAMES: readonly string[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

const FaultDelay = z
  .strictObject({
    fixedDelay: Duration.optional(),
    exponentialDelay: Duration.optional(),
    percentage: FaultPercent.optional(),
    /** Deprecated: an integer percentage; `percentage` takes precedence. */
    percent: Int32.min(0, 'percent must be between 0 and 100')
      .max(100, 'percent must be between 0 and 100')
      .optional(),
  })
  .superRefine((d, ctx) => {
    if (d.fixedDelay !== undefined && d.exponentialDelay !== undefined) {
      issue(ctx, ['exponentialDelay'], 'set fixedDelay or exponentialDelay, not both');
    } else if (d.exponentialDelay !== undefined) {
      issue(ctx, ['exponentialDelay'], 'exponentialDelay not supported yet');
    }
  });

const FaultAbort = z
  .strictObject({
    httpStatus: Int32.optional(),
    grpcStatus: z.string().optional(),
    http2Error: z.string().optional(),
    percentage: FaultPercent.optional(),
  })
  .superRefine((a, ctx) => {
    const set = (['httpStatus', 'grpcStatus', 'http2Error'] as const).filter((k) => a[k] !== undefined);
    if (set.length > 1)
      return issue(
        ctx,
        [set[1] as string],
        `set one of httpStatus, grpcStatus or http2Error, not ${set.join(' and ')}`,
      );
    if (a.httpStatus !== undefined && (a.httpStatus < 200 || a.httpStatus > 600)) {
      issue(ctx, ['httpStatus'], `HTTP status ${a.httpStatus} is not in range 200-599`);
    }
    if (a.grpcStatus !== undefined && !GRPC_STATUS_NAMES.includes(a.grpcStatus)) {
      issue(
        ctx,
        ['grpcStatus'],
        `gRPC status "${a.grpcStatus}" is not supported; use a name such as NOT_FOUND or UNAVAILABLE`,
      );
    }
    if (a.http2Error !== undefined)
      issue(ctx, ['http2Error'], 'HTTP/2 abort fault injection not supported yet');
  });

export const HTTPFaultInjection = z
  .strictObject({ delay: FaultDelay.optional(), abort: FaultAbort.optional() })
  .superRefine((f, ctx) => {
    if (!f.delay && !f.abort) issue(ctx, [], 'HTTP fault injection must have an abort and/or a delay');
  });
export type HTTPFaultInjection = z.output<typeof HTTPFaultInjection>;

export const HTTPMirrorPolicy = z.strictObject({
  destination: Destination,
  percentage: MirrorPercent.optional(),
});

const CORS_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', '*'];
const CORS_HEADER = /^(\*|[!#$%&'*+\-.^_`|~A-Za-z0-9]+)$/;

function corsHeaders(field: string) {
  return z.array(z.string()).superRefine((names, ctx) => {
    names.forEach((n, i) => {
      if (!CORS_HEADER.test(n))
        issue(
          ctx,
          [i],
          n === '' ? `${field}: header name cannot be empty` : `header name ${n} is not a valid header name`,
        );
    });
  });
}

export const CorsPolicy = z.strictObject({
  allowOrigins: z.array(stringMatch({ required: true })).optional(),
  /** Deprecated: exact origins; use allowOrigins. */
  allowOrigin: z.array(z.string()).optional(),
  allowMethods: z
    .array(
      z.string().refine((m) => CORS_METHODS.includes(m), {
        error: (i) => `"${String(i.input)}" is not a supported HTTP method`,
      }),
    )
    .optional(),
  allowHeaders: corsHeaders('allowHeaders').optional(),
  exposeHeaders: corsHeaders('exposeHeaders').optional(),
  maxAge: Duration.refine(
    (d) => (parseDuration(d) ?? 0) % 1000 === 0,
    'max_age duration is accurate only to seconds precision',
  ).optional(),
  allowCredentials: z.boolean().optional(),
  unmatchedPreflights: z.enum(['UNSPECIFIED', 'FORWARD', 'IGNORE']).optional(),
});
export type CorsPolicy = z.output<typeof CorsPolicy>;

export const HTTPRoute = z.strictObject({
  name: z.string().optional(),
  match: z.array(HTTPMatchRequest).optional(),
  route: z.array(HTTPRouteDestination).optional(),
  redirect: HTTPRedirect.optional(),
  directResponse: HTTPDirectResponse.optional(),
  delegate: Delegate.optional(),
  rewrite: HTTPRewrite.optional(),
  timeout: Duration.optional(),
  retries: HTTPRetry.optional(),
  fault: HTTPFaultInjection.optional(),
  mirror: Destination.optional(),
  mirrors: z.array(HTTPMirrorPolicy).optional(),
  /** Deprecated: an integer percentage of requests to mirror; use mirrorPercentage. */
  mirrorPercent: UInt32.max(100, 'mirror_percent must have a max value of 100').optional(),
  /** The same deprecated field under its proto name, which the CRD also serves. */
  mirror_percent: UInt32.max(100, 'mirror_percent must have a max value of 100').optional(),
  mirrorPercentage: MirrorPercent.optional(),
  corsPolicy: CorsPolicy.optional(),
  headers: Headers.optional(),
});
export type HTTPRoute = z.output<typeof HTTPRoute>;

/**
 * istiod's rules between the actions of one HTTP rule. A root rule (with `delegate`) only delegates; a
 * rule of a delegate VirtualService (one without hosts) cannot delegate again.
 */
function checkHTTPRoute(
  r: HTTPRoute,
  inDelegate: boolean,
  ctx: z.RefinementCtx,
  path: readonly PropertyKey[],
): void {
  const at = (...p: PropertyKey[]) => [...path, ...p];
  const hasRoute = (r.route?.length ?? 0) > 0;
  if (r.delegate && !inDelegate) {
    if (r.redirect) issue(ctx, at('redirect'), 'a root HTTP route (with delegate) must not specify redirect');
    if (r.route) issue(ctx, at('route'), 'a root HTTP route (with delegate) must not specify route');
    return;
  }
  if (r.delegate) issue(ctx, at('delegate'), 'delegate HTTP route cannot contain delegate');
  if (r.redirect) {
    if (hasRoute) issue(ctx, at('redirect'), 'HTTP route cannot contain both route and redirect');
    if (r.fault) issue(ctx, at('fault'), 'HTTP route cannot contain both fault and redirect');
    if (r.rewrite) issue(ctx, at('rewrite'), 'HTTP route rule cannot contain both rewrite and redirect');
    if (r.directResponse)
      issue(ctx, at('directResponse'), 'HTTP route rule cannot contain both direct_response and redirect');
  } else if (r.directResponse) {
    if (hasRoute)
      issue(ctx, at('directResponse'), 'HTTP route cannot contain both route and direct_response');
    if (r.fault) issue(ctx, at('fault'), 'HTTP route cannot contain both fault and direct_response');
    if (r.rewrite)
      issue(ctx, at('rewrite'), 'HTTP route rule cannot contain both rewrite and direct_response');
  } else if (!hasRoute) {
    issue(ctx, path, 'HTTP route, redirect or direct_response is required');
  }
  if (r.mirror && (r.mirrors?.length ?? 0) > 0)
    issue(ctx, at('mirrors'), 'HTTP route cannot contain both mirror and mirrors');
  if (r.route) checkWeights(r.route, ctx, at('route'));
  const authority = [r.rewrite?.authority, ...authorityHeaders(r.headers)].filter((a) => a);
  if (authority.length > 1) {
    issue(
      ctx,
      at('headers', 'request'),
      `authority header cannot be set multiple times: ${authority.map((a) => `"${a}"`).join(', ')}`,
    );
  }
}

/** Destination subnets of an L4 or TLS match: IPs or CIDR blocks. */
const DestinationSubnets = z.array(z.string()).superRefine((subnets, ctx) => {
  subnets.forEach((s, i) => {
    const e = ipSubnetError(s);
    if (e) issue(ctx, [i], e);
  });
});

export const L4MatchAttributes = z.strictObject({
  destinationSubnets: DestinationSubnets.optional(),
  port: MatchPort.optional(),
  sourceLabels: Labels.optional(),
  gateways: GatewayNames.optional(),
  sourceNamespace: SourceNamespace.optional(),
  /** Deprecated, and ignored by Istio. */
  sourceSubnet: z.string().optional(),
});

export const TLSMatchAttributes = z.strictObject({
  sniHosts: z.array(z.string()).min(1, 'TLS match must have at least one SNI host'),
  destinationSubnets: DestinationSubnets.optional(),
  port: MatchPort.optional(),
  sourceLabels: Labels.optional(),
  gateways: GatewayNames.optional(),
  sourceNamespace: SourceNamespace.optional(),
});

export const RouteDestination = z.strictObject({ destination: Destination, weight: Weight.optional() });

export const TCPRoute = z
  .strictObject({ match: z.array(L4MatchAttributes).optional(), route: z.array(RouteDestination).optional() })
  .superRefine((r, ctx) => {
    if ((r.route?.length ?? 0) === 0) return issue(ctx, ['route'], 'TCP route is required');
    checkWeights(r.route ?? [], ctx, ['route']);
  });
export type TCPRoute = z.output<typeof TCPRoute>;

export const TLSRoute = z
  .strictObject({
    match: z.array(TLSMatchAttributes).min(1, 'TLS route must have at least one match condition'),
    route: z.array(RouteDestination).optional(),
  })
  .superRefine((r, ctx) => {
    if ((r.route?.length ?? 0) === 0) return issue(ctx, ['route'], 'TLS route is required');
    checkWeights(r.route ?? [], ctx, ['route']);
  });
export type TLSRoute = z.output<typeof TLSRoute>;

/** An SNI host is a domain (an IP address only draws a warning from Istio) within the VirtualService's hosts. */
function sniHostError(sni: string, hosts: readonly string[]): string | undefined {
  if (isIPAddress(sni)) return undefined;
  const e = wildcardDomainError(sni);
  if (e) return e;
  if (hosts.some((h) => hostSubsetOf(sni, h))) return undefined;
  return `SNI host "${sni}" is not a compatible subset of any of the virtual service hosts: [${hosts.join(', ')}]`;
}

export const VirtualServiceSpec = z
  .strictObject({
    hosts: z.array(z.string()).optional(),
    gateways: GatewayNames.optional(),
    http: z.array(HTTPRoute).optional(),
    tls: z.array(TLSRoute).optional(),
    tcp: z.array(TCPRoute).optional(),
    exportTo: exportTo(false).optional(),
  })
  .superRefine((vs, ctx) => {
    const hosts = vs.hosts ?? [];
    // Without hosts, this is a delegate VirtualService: only HTTP rules, reached from a root's delegate.
    const delegate = hosts.length === 0;
    if (delegate) {
      if ((vs.gateways?.length ?? 0) > 0)
        issue(ctx, ['gateways'], 'delegate virtual service must have no gateways specified');
      if ((vs.tls?.length ?? 0) > 0)
        issue(ctx, ['tls'], 'delegate virtual service must have no tls route specified');
      if ((vs.tcp?.length ?? 0) > 0)
        issue(ctx, ['tcp'], 'delegate virtual service must have no tcp route specified');
    }
    // Bound to gateways only, unless "mesh" is one of them (no gateways at all means the mesh).
    const gateways = vs.gateways ?? [];
    const meshBound = gateways.length === 0 || gateways.includes('mesh');
    let hostsValid = true;
    hosts.forEach((h, i) => {
      const e = wildcardDomainError(h);
      if (e && !isIPAddress(h)) {
        issue(ctx, ['hosts', i], e);
        hostsValid = false;
      } else if (h === '*' && meshBound) {
        issue(
          ctx,
          ['hosts', i],
          'wildcard host * is not allowed for virtual services bound to the mesh gateway',
        );
        hostsValid = false;
      }
    });
    if (hostsValid) {
      for (let i = 0; i < hosts.length; i++) {
        for (let j = i + 1; j < hosts.length; j++) {
          const [a, b] = [hosts[i] as string, hosts[j] as string];
          if (hostsOverlap(a, b)) issue(ctx, ['hosts', j], `duplicate hosts in virtual service: ${a} & ${b}`);
        }
      }
    }
    if (!vs.http?.length && !vs.tcp?.length && !vs.tls?.length) {
      issue(ctx, [], 'http, tcp or tls must be provided in virtual service');
    }
    vs.http?.forEach((r, i) => {
      checkHTTPRoute(r, delegate, ctx, ['http', i]);
    });
    vs.tls?.forEach((r, i) => {
      r.match.forEach((m, j) => {
        m.sniHosts.forEach((sni, k) => {
          const e = sniHostError(sni, hosts);
          if (e) issue(ctx, ['tls', i, 'match', j, 'sniHosts', k], e);
        });
      });
    });
  });

export type VirtualServiceSpec = z.output<typeof VirtualServiceSpec>;

export const VirtualService = networkingResource(
  'VirtualService',
  NETWORKING_API_VERSIONS,
  VirtualServiceSpec,
);
export type VirtualService = z.output<typeof VirtualService>;
