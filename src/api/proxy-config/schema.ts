/**
 * The wire ProxyConfig: everything one proxy needs, modelled on Envoy's listener / route / cluster split
 * (DESIGN.md §3) and kept small. This schema is the single source of the type, its defaults and the
 * reference documentation (docs/reference/proxy-config.md). The proxy validates every config it receives
 * against it before compiling a snapshot, whether it came from a file or, later, from the control plane.
 *
 * The proxy process does not load zod (5 MB of memory per proxy): `npm run docs` exports this schema as
 * JSON Schema (schema.json, kept in step by a test) and validate.ts checks input against that.
 */
import { z } from 'zod';
import { parseDuration } from '../../core/duration.ts';
import { GRPC_STATUS_NAMES } from '../../core/grpc-status.ts';

const duration = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `not a duration: ${JSON.stringify(v)} (use e.g. "250ms", "5s")`,
      });
      return z.NEVER;
    }
    return ms;
  })
  .meta({
    description: 'A duration: "250ms", "1.5s", "2m", or a number of milliseconds.',
    format: 'duration',
  });

const port = z.number().int().min(0).max(65535);
const address = z.string().min(1).describe('An IP address or host name to listen on or connect to.');

export const Protocol = z
  .enum(['http1', 'http2', 'grpc', 'tcp', 'opaque', 'detect'])
  .describe(
    'http1, http2 (h2c prior knowledge), grpc (HTTP/2), tcp/opaque (bytes, no detection), detect (sniff HTTP/1, HTTP/2, TLS, else TCP).',
  );

export const PathMatch = z.strictObject({
  type: z
    .enum(['Exact', 'PathPrefix', 'Prefix', 'RegularExpression'])
    .default('PathPrefix')
    .describe(
      'PathPrefix matches whole path elements (Gateway API: "/foo" matches "/foo/bar", not "/foobar"); Prefix is a plain string prefix (Istio: "/foo" matches "/foobar").',
    ),
  value: z.string().default('/'),
  ignoreCase: z.boolean().optional().describe("Case-insensitive path matching (Istio's ignoreUriCase)."),
});

const ValueMatchType = z
  .enum(['Exact', 'Prefix', 'RegularExpression', 'Present', 'Absent'])
  .default('Exact')
  .describe('Prefix is a plain string prefix.');

export const HeaderMatch = z.strictObject({
  name: z.string().min(1).describe('Lower or upper case; `host` also matches the HTTP/2 :authority.'),
  type: ValueMatchType,
  value: z.string().optional(),
  invert: z
    .boolean()
    .optional()
    .describe("Matches when the condition does not hold (Istio's withoutHeaders)."),
});

export const QueryParamMatch = z.strictObject({
  name: z.string().min(1),
  type: ValueMatchType,
  value: z.string().optional(),
  invert: z.boolean().optional(),
});

export const RouteMatch = z.strictObject({
  path: PathMatch.optional(),
  headers: z.array(HeaderMatch).default([]),
  queryParams: z.array(QueryParamMatch).default([]),
  method: z.string().optional(),
});

export const HeaderModifier = z.strictObject({
  set: z.record(z.string(), z.string()).default({}),
  add: z.record(z.string(), z.string()).default({}),
  remove: z.array(z.string()).default([]),
});

export const PathModifier = z.strictObject({
  type: z
    .enum(['ReplaceFullPath', 'ReplacePrefixMatch', 'ReplacePrefix'])
    .describe(
      'ReplacePrefixMatch: Gateway API (the matched path elements, slashes joined); ReplacePrefix: Envoy and Istio (the matched string prefix, replaced as written: prefix "/foo" rewritten to "/" turns "/foo/bar" into "//bar").',
    ),
  value: z.string(),
});

const percentage = (what: string) =>
  z
    .number()
    .min(0)
    .max(100)
    .default(100)
    .describe(`Share of requests ${what}, 0–100 (fractions allowed, like Istio's percentages).`);

export const FaultConfig = z
  .strictObject({
    delay: z
      .strictObject({
        fixedDelay: duration.describe('How long a sampled request is held before it goes on.'),
        percentage: percentage('delayed'),
      })
      .optional(),
    abort: z
      .strictObject({
        httpStatus: z.number().int().min(200).max(599).optional().describe('The status to answer with.'),
        grpcStatus: z
          .union([z.enum(GRPC_STATUS_NAMES), z.number().int().min(0).max(16)])
          .optional()
          .describe(
            'Instead of httpStatus: the grpc-status to answer with, by name (UNAVAILABLE) or number (14). As Envoy does, a request that is not gRPC then gets HTTP 200.',
          ),
        percentage: percentage('aborted'),
      })
      .optional()
      .describe('Exactly one of httpStatus and grpcStatus.'),
  })
  .describe(
    "Fault injection (Istio's HTTPFaultInjection, Envoy's fault filter): a sampled share of requests is held for `delay.fixedDelay` before it goes on (the delay does not count against the route timeout; a client that goes away meanwhile cancels the request, and nothing reaches the upstream), and a sampled share is answered at once with `abort`'s status, marked `weft-error: FAULT_ABORT` (gRPC requests get a Trailers-Only response with the grpc-status: the configured one, or gRPC's mapping of the HTTP status). Delay and abort are sampled independently; a request can be delayed, then aborted. Delays are counted in weft_fault_delays_total; aborts in weft_requests_total with response_flags FAULT_ABORT.",
  );

export const TokenBucketConfig = z.strictObject({
  maxTokens: z.number().int().min(1).describe('The capacity of the bucket, which starts full.'),
  tokensPerFill: z
    .number()
    .int()
    .min(1)
    .default(1)
    .describe('Tokens added every fillInterval, up to maxTokens.'),
  fillInterval: duration.describe('At least 50 ms, as Envoy requires.'),
});

export const LocalRateLimitConfig = z
  .strictObject({
    tokenBucket: TokenBucketConfig,
    descriptors: z
      .array(
        z.strictObject({
          match: RouteMatch.describe('The requests this bucket counts, matched as a route match.'),
          tokenBucket: TokenBucketConfig,
        }),
      )
      .default([])
      .describe(
        "Extra buckets for some requests (Envoy's descriptors, with the rate_limits actions that produce them written as a match). A request takes a token from every descriptor it matches, the slowest-filling first, and then from tokenBucket, as Envoy does by default (always_consume_default_token_bucket); the first empty one rejects it.",
      ),
    filterEnabled: percentage('checked against the limit').describe(
      "Envoy's filter_enabled: share of requests that take a token; the others pass uncounted. Default 100 (Envoy's is 0 when unset: a translator writes it).",
    ),
    filterEnforced: percentage('rejected when over the limit').describe(
      'Envoy\'s filter_enforced: share of over-the-limit requests that are rejected; the others go on and are only counted (weft_rate_limited_total{enforced="false"}). Default 100 (Envoy\'s is 0 when unset).',
    ),
    status: z.number().int().min(400).max(599).default(429).describe('The status of a rejection.'),
    responseHeadersToAdd: z
      .record(z.string(), z.string())
      .default({})
      .describe('Headers set on rejections (Envoy response_headers_to_add with append: false).'),
    enableXRateLimitHeaders: z
      .boolean()
      .default(false)
      .describe(
        "Envoy's enable_x_ratelimit_headers: DRAFT_VERSION_03: every response to a checked request carries x-ratelimit-limit (the bucket's maxTokens), x-ratelimit-remaining (tokens left) and x-ratelimit-reset (seconds to the next fill), for the descriptor bucket the request matched, else tokenBucket.",
      ),
  })
  .describe(
    "Envoy's local rate limit: a token bucket shared by every connection and stream of this proxy (not per connection). A request that finds it empty is answered by the proxy with `status` (429), `weft-error: RATE_LIMITED` and responseHeadersToAdd (gRPC requests: grpc-status 8, RESOURCE_EXHAUSTED), and counted in weft_rate_limited_total. On a route, the bucket is the route's; in an inbound entry's filters, it is the port's, shared by every request to it. Buckets survive config reloads while the filter's place (service, route) and settings are unchanged; a changed setting starts a full bucket. Refill is lazy, on the proxy's monotonic clock.",
  );

export const OriginMatch = z.strictObject({
  type: z.enum(['Exact', 'Prefix', 'RegularExpression']).default('Exact'),
  value: z.string().describe('RegularExpression matches the whole origin.'),
});

export const CorsConfig = z
  .strictObject({
    allowOrigins: z
      .array(OriginMatch)
      .default([])
      .describe('Origins allowed (scheme://host[:port]); a match that accepts "*" allows every origin.'),
    allowMethods: z
      .array(z.string())
      .default([])
      .describe('Access-Control-Allow-Methods; "*" echoes the requested method.'),
    allowHeaders: z
      .array(z.string())
      .default([])
      .describe('Access-Control-Allow-Headers; "*" echoes the requested headers.'),
    exposeHeaders: z
      .array(z.string())
      .default([])
      .describe('Access-Control-Expose-Headers on actual responses.'),
    maxAge: duration.optional().describe('Access-Control-Max-Age, in whole seconds.'),
    allowCredentials: z.boolean().default(false).describe('Access-Control-Allow-Credentials: true.'),
    unmatchedPreflights: z
      .enum(['FORWARD', 'IGNORE'])
      .default('FORWARD')
      .describe(
        "Istio's unmatchedPreflights: a preflight from an origin that is not allowed goes to the upstream (FORWARD), or is answered 200 by the proxy with no CORS headers (IGNORE).",
      ),
  })
  .describe(
    "CORS (Istio's CorsPolicy, Envoy's cors filter). A preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin is answered by the proxy: 200, no body, Access-Control-Allow-Origin (the request's origin), -Allow-Methods, -Allow-Headers, -Max-Age, -Allow-Credentials. Other requests from an allowed origin go on, and their response gets Access-Control-Allow-Origin, -Allow-Credentials and -Expose-Headers. Requests from other origins, or with no Origin, get no CORS headers.",
  );

export const Filter = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('Fault'), fault: FaultConfig }),
  z.strictObject({ type: z.literal('LocalRateLimit'), localRateLimit: LocalRateLimitConfig }),
  z.strictObject({ type: z.literal('CORS'), cors: CorsConfig }),
  z.strictObject({ type: z.literal('RequestHeaderModifier'), requestHeaderModifier: HeaderModifier }),
  z.strictObject({ type: z.literal('ResponseHeaderModifier'), responseHeaderModifier: HeaderModifier }),
  z.strictObject({
    type: z.literal('URLRewrite'),
    urlRewrite: z.strictObject({ hostname: z.string().optional(), path: PathModifier.optional() }),
  }),
  z.strictObject({
    type: z.literal('RequestMirror'),
    requestMirror: z
      .strictObject({
        backend: z
          .string()
          .min(1)
          .describe('Name of an entry in `backends` (HTTP) that receives the copies.'),
        percent: z
          .number()
          .min(0)
          .max(100)
          .default(100)
          .describe("Share of requests mirrored, 0–100 (fractions allowed, like Istio's mirrorPercentage)."),
      })
      .describe(
        'Sends a copy of each sampled request to another backend and ignores its response (fire and forget). The copy carries the request as the other filters left it, with "-shadow" appended to the host (before any port), as Envoy does; it uses the route timeout. Bodies the proxy buffers (up to 64 KiB) are copied whole; streamed bodies are teed while the copy keeps up.',
      ),
  }),
]);

export const WeightedBackend = z.strictObject({
  backend: z.string().min(1).describe('Name of an entry in `backends`.'),
  weight: z.number().int().min(0).default(1),
  filters: z
    .array(Filter)
    .default([])
    .describe(
      "Filters for requests sent to this backend, after the route's. Fault, LocalRateLimit and CORS act on the whole route before a backend is chosen, so they are refused here.",
    ),
});

export const Redirect = z.strictObject({
  scheme: z.enum(['http', 'https']).optional(),
  hostname: z.string().optional(),
  port: port.optional(),
  path: PathModifier.optional(),
  statusCode: z
    .union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)])
    .default(302),
});

export const DirectResponse = z.strictObject({
  status: z.number().int().min(100).max(599),
  body: z.string().default(''),
  headers: z.record(z.string(), z.string()).default({}),
});

/** Envoy's retry conditions (x-envoy-retry-on, x-envoy-retry-grpc-on) that the proxy implements. */
export const RETRY_CONDITIONS = [
  '5xx',
  'gateway-error',
  'reset',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;

export const Retries = z
  .strictObject({
    attempts: z
      .number()
      .int()
      .min(0)
      .describe(
        'Retries after the first try (Envoy num_retries, Istio attempts): at most 1 + attempts tries in all. 0 turns retries off.',
      ),
    perTryTimeout: duration
      .optional()
      .describe(
        "Timeout of each try, the first included, counted from when the try goes to the endpoint's connection pool (connecting included; for a streamed body, from the body's end) until its response head is passed to the client; it never extends the route timeout, which bounds all tries and back-offs together. A try that runs out is cancelled and retried when retryOn has 5xx, gateway-error or reset (as Envoy does); otherwise, or with no retry left, the client gets 504 PER_TRY_TIMEOUT. Unset or 0: none.",
      ),
    retryOn: z
      .array(
        z.union([
          z.enum(RETRY_CONDITIONS),
          z.number().int().min(100).max(599),
          z.string().regex(/^[1-5][0-9][0-9]$/),
        ]),
      )
      .describe(
        'When a failed try is retried, as Envoy\'s retry_on: `5xx` any 5xx response, or no response at all (connect failure, reset, refused stream, per-try timeout); `gateway-error` a 502, 503 or 504, or no response at all; `reset` no response at all; `connect-failure` the connection could not be opened (refused, unreachable, connect timeout, TLS handshake); `refused-stream` an HTTP/2 upstream refused the stream (REFUSED_STREAM or GOAWAY before a response: it did not process the request); `retriable-4xx` a 409; `retriable-status-codes` a status listed in retriableStatusCodes; for gRPC, `cancelled` (1), `deadline-exceeded` (4), `internal` (13), `resource-exhausted` (8) and `unavailable` (14) match the grpc-status of a response that carries no message: in its headers (Trailers-Only, as Envoy checks) or, for a gRPC request, in trailers that follow the headers with no message between (the proxy then holds the response head until the first message). A bare status code (503 or "503"), as Istio accepts, is added to retriableStatusCodes and turns retriable-status-codes on. Istio\'s default when a VirtualService sets no retries is attempts 2 with [connect-failure, refused-stream, unavailable, cancelled, 503].',
      ),
    retriableStatusCodes: z
      .array(z.number().int().min(100).max(599))
      .default([])
      .describe("The statuses `retriable-status-codes` retries (Envoy's retriable_status_codes)."),
    backoff: z
      .strictObject({
        baseInterval: duration
          .default(25)
          .describe('Back-off base interval (Envoy base_interval, default 25 ms). 0: retry at once.'),
        maxInterval: duration
          .optional()
          .describe(
            'Cap on the range a back-off is drawn from; default 10 × baseInterval (250 ms with the default base). A value below baseInterval is raised to it.',
          ),
      })
      .default({ baseInterval: 25 })
      .describe(
        "Envoy's fully jittered exponential back-off: before retry N the proxy waits a random time in [0, (2^N − 1) × baseInterval), the range capped at maxInterval; with the defaults 0–24 ms before the first retry, 0–74 ms before the second, 0–174 ms before the third, then 0–249 ms. A retry whose back-off would end after the route timeout is not sent: the client gets the failure at once.",
      ),
  })
  .describe(
    "Retries of failed tries (Istio's HTTPRetry, Envoy's retry policy). A retry goes to another endpoint of the same backend when there is one (Envoy's previous_hosts predicate with 5 host-selection attempts, as Istio configures it), and only while no byte of the response has reached the client and the request body can be sent again (no body, or one the proxy read whole: up to 64 KiB, arriving at once); a body the proxy streams is never retried. The client gets the last try's outcome. Counted in weft_retries_total{reason}. The one retry on a fresh connection after a dead pooled connection (each try may make it) is not a retry attempt.",
  );

export const Route = z
  .object({
    name: z.string().default(''),
    matches: z.array(RouteMatch).default([{ headers: [], queryParams: [] }]),
    filters: z.array(Filter).default([]),
    backends: z.array(WeightedBackend).optional(),
    redirect: Redirect.optional(),
    directResponse: DirectResponse.optional(),
    timeout: duration.optional().describe('Whole-request timeout; the proxy answers 504 when it expires.'),
    retries: Retries.optional(),
    includeAttemptCount: z
      .boolean()
      .default(false)
      .describe(
        "Send x-envoy-attempt-count (1 for the first try, 2 for the first retry, …) to the upstream, replacing any value the client sent (Envoy's include_request_attempt_count, which Istio turns on for every sidecar route).",
      ),
  })
  .refine((r) => [r.backends, r.redirect, r.directResponse].filter((x) => x !== undefined).length === 1, {
    message: 'a route needs exactly one action: backends, redirect or directResponse',
  });

export const Endpoint = z.strictObject({
  address,
  port,
  weight: z.number().int().min(1).default(1),
  labels: z.record(z.string(), z.string()).default({}),
  identity: z
    .string()
    .optional()
    .describe(
      'The SPIFFE id of the Weft proxy in front of this endpoint. When set and this proxy holds a certificate, ' +
        'connections use mutual TLS and the server must present a certificate naming exactly this id (auto-mTLS); ' +
        'without it, plaintext.',
    ),
});

export const LoadBalancer = z.strictObject({
  type: z
    .enum(['p2c-ewma', 'round-robin', 'least-request', 'random', 'ring-hash', 'maglev'])
    .default('p2c-ewma'),
  hashOn: z
    .object({
      header: z.string().optional(),
      cookie: z.string().optional(),
      sourceIp: z.boolean().optional(),
      queryParam: z.string().optional(),
    })
    .optional()
    .describe('For ring-hash and maglev: what identifies a request key. One field.'),
  ringSize: z
    .number()
    .int()
    .min(64)
    .max(1 << 20)
    .optional(),
});

export const CircuitBreaker = z.strictObject({
  maxConnections: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      "Connections open to all the endpoints together (Istio's tcp.maxConnections, Envoy's max_connections). A request that finds none free waits for one (it is pending); an endpoint with no connection at all still gets one, so up to maxConnections plus one per endpoint may be open, as in Envoy. maxConnectionsPerEndpoint applies too. On a tcp backend a connection over the limit is refused: the client's connection is reset.",
    ),
  maxPendingRequests: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      'Requests waiting for a connection (queued, or given one that is still connecting), all endpoints together (Istio\'s http.http1MaxPendingRequests, Envoy\'s max_pending_requests); one more is refused with OVERFLOW (kind="pending"). On HTTP/2 only requests sent while a connection is being made wait. 0 refuses every request that finds no connection ready.',
    ),
  maxRequests: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'Requests in flight on connections, all endpoints together, HTTP/1.1 and HTTP/2 alike (Istio\'s http.http2MaxRequests, Envoy\'s max_requests); one more is refused with OVERFLOW (kind="requests").',
    ),
  maxRetries: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      'Retries in flight, all endpoints together (Istio\'s http.maxRetries, Envoy\'s max_retries): a retry over it is not sent, the client gets the failure, and weft_upstream_overflow_total{kind="retries"} counts it.',
    ),
});

export const OutlierDetection = z.strictObject({
  consecutive5xx: z
    .number()
    .int()
    .min(0)
    .default(5)
    .describe("5xx in a row that eject an endpoint (Istio's consecutive5xxErrors, default 5); 0: off."),
  consecutiveGatewayErrors: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      "Gateway errors in a row that eject an endpoint (Istio's consecutiveGatewayErrors); 0 (default): off.",
    ),
  interval: duration
    .default(10000)
    .describe('How often ejected endpoints whose time is up return to service (default 10 s).'),
  baseEjectionTime: duration
    .default(30000)
    .describe(
      'An ejection lasts this long times the number of times the endpoint has been ejected (default 30 s).',
    ),
  maxEjectionTime: duration
    .default(300000)
    .describe(
      "The longest an ejection lasts (Envoy's max_ejection_time, default 300 s; Istio does not set it).",
    ),
  maxEjectionPercent: z
    .number()
    .min(0)
    .max(100)
    .default(10)
    .describe(
      "An endpoint is ejected only if the ejected endpoints, it included, stay within this share (default 10, as Istio documents and Envoy counts it: with fewer than ten endpoints nothing is ejected; Istio's samples set 100).",
    ),
  minHealthPercent: z
    .number()
    .min(0)
    .max(100)
    .default(0)
    .describe(
      "When fewer than this share of the endpoints are healthy, balancers ignore ejections and use them all (Envoy's panic threshold, as Istio maps it). 0 (Istio's default): ejections always hold, except that when every endpoint is ejected all of them are used again rather than none (where Envoy answers 503 no healthy upstream).",
    ),
});

export const Backend = z.strictObject({
  name: z.string().min(1),
  protocol: z.enum(['http1', 'http2', 'tcp']).default('http1').describe('How the proxy talks to endpoints.'),
  endpoints: z.array(Endpoint).default([]),
  loadBalancer: LoadBalancer.default({ type: 'p2c-ewma' }),
  connectTimeout: duration.default(5000),
  idleTimeout: duration
    .default(3000)
    .describe('Pooled connections idle longer than this are closed; kept below common app keep-alive (5 s).'),
  maxConnectionsPerEndpoint: z.number().int().min(1).default(64),
  maxRequestsPerConnection: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      "Requests one upstream connection carries before the proxy closes it; for HTTP/2, streams one session carries before the next request opens a new one (Envoy's max_requests_per_connection, Istio's connectionPool.http.maxRequestsPerConnection). 1 turns keep-alive off. Unset or 0: no limit.",
    ),
  circuitBreaker: CircuitBreaker.optional().describe(
    "Envoy's circuit breaker thresholds (Istio's DestinationRule connectionPool), counted across all the backend's endpoints as Envoy counts them per cluster. A request refused by maxPendingRequests or maxRequests gets 503 with weft-error OVERFLOW (Envoy's response flag UO) and is counted in weft_upstream_overflow_total{backend, kind}; it never reaches an endpoint, so outlier detection does not see it. An unset field is no limit (Istio's default, 2³² − 1).",
  ),
  outlierDetection: OutlierDetection.optional().describe(
    "Outlier detection, Envoy's passive health check (Istio's DestinationRule outlierDetection): an endpoint whose tries end consecutive5xx times in a row with a 5xx, or consecutiveGatewayErrors times with a gateway error (502, 503, 504, or no response at all: connect failure, reset, timeout), is ejected at once, and no balancer picks it until a sweep (every interval) finds that baseEjectionTime × the number of times it was ejected (at most maxEjectionTime) has passed. Ejections hold across config reloads for the endpoints that stay. Counted in weft_outlier_ejections_total{backend} and weft_outlier_ejected{backend}.",
  ),
  retryBudget: z
    .strictObject({
      percent: z
        .number()
        .min(0)
        .max(100)
        .default(20)
        .describe(
          'Retries in flight, as a percentage of the requests in flight (Envoy budget_percent, default 20).',
        ),
      minRetryConcurrency: z
        .number()
        .int()
        .min(0)
        .default(3)
        .describe('Retries in flight allowed whatever the load (Envoy min_retry_concurrency, default 3).'),
    })
    .optional()
    .describe(
      "Envoy's retry budget: the retries in flight to this backend, from every route, may not exceed max(minRetryConcurrency, ⌊percent % × the requests in flight to its endpoints⌋). A retry is in flight from the moment it is decided (its back-off included) until its try gets a response head or fails. A retry the budget refuses is not sent: the client gets the failure that would have been retried, and weft_retry_budget_exhausted_total counts it. With a budget, circuitBreaker.maxRetries is ignored, as Envoy ignores max_retries; without one, maxRetries limits retries in flight (unset: no limit, as Istio leaves Envoy's max_retries at 2³² − 1).",
    ),
});

export const Outbound = z.strictObject({
  name: z.string().min(1),
  hosts: z
    .array(z.string())
    .default([])
    .describe('Host names (with or without port) that select this service.'),
  vip: z.string().optional().describe('The virtual IP of the service, for original-destination lookup.'),
  port: port.describe('The service port.'),
  listen: z
    .object({
      address: address.default('127.0.0.1'),
      port,
      path: z.string().optional().describe('A Unix socket path to listen on instead of the TCP port.'),
    })
    .optional()
    .describe('Explicit mode: a local port the workload calls instead of the service.'),
  protocol: Protocol.default('http1'),
  routes: z.array(Route).default([]),
  tcpBackends: z.array(WeightedBackend).default([]).describe('For tcp/opaque services: weighted backends.'),
  routeOrder: z
    .enum(['precedence', 'declared'])
    .default('precedence')
    .describe(
      'precedence: Gateway API rules (exact > longest prefix > regex, method, headers, query); declared: first match.',
    ),
});

export const Inbound = z.strictObject({
  name: z.string().min(1),
  listen: z
    .strictObject({ address: address.default('127.0.0.1'), port })
    .optional()
    .describe(
      'Explicit mode: where the proxy accepts inbound traffic. Without it (transparent mode) the entry serves ' +
        'intercepted connections whose original destination port is `target.port`.',
    ),
  protocol: Protocol.default('detect'),
  target: z
    .strictObject({ address: address.default('127.0.0.1'), port })
    .describe('The local application port.'),
  targetProtocol: z.enum(['http1', 'http2']).optional().describe('Defaults to the downstream protocol.'),
  timeout: duration.optional(),
  filters: z
    .array(Filter)
    .default([])
    .describe(
      "Filters for every HTTP request to this port, ahead of any route's own (Envoy's HTTP filters on the inbound listener, which Istio's EnvoyFilter patches at SIDECAR_INBOUND): a LocalRateLimit here is one bucket for the whole port, whatever the path or protocol. Not applied to tcp/opaque traffic.",
    ),
  mtls: z
    .enum(['PERMISSIVE', 'STRICT', 'DISABLE'])
    .default('PERMISSIVE')
    .describe(
      "Istio's PeerAuthentication modes: PERMISSIVE accepts mutual TLS from Weft proxies and plaintext; STRICT " +
        'refuses plaintext (the connection is closed); DISABLE does not terminate mutual TLS. Only applies once ' +
        'the proxy holds a certificate.',
    ),
});

export const ProxyConfig = z.strictObject({
  version: z.string().optional().describe('Set by the producer; a content hash is used when absent.'),
  node: z
    .object({
      id: z.string().default(''),
      workload: z.string().default(''),
      namespace: z.string().default('default'),
    })
    .default({ id: '', workload: '', namespace: 'default' }),
  admin: z
    .object({
      address: address.default('127.0.0.1'),
      port,
      path: z
        .string()
        .optional()
        .describe('A Unix socket path to serve the admin API on instead of the TCP port.'),
    })
    .default({ address: '127.0.0.1', port: 15000 }),
  interception: z
    .strictObject({
      outbound: z
        .strictObject({ address: address.default('127.0.0.1'), port: port.default(15001) })
        .default({ address: '127.0.0.1', port: 15001 }),
      inbound: z
        .strictObject({ address: address.default('0.0.0.0'), port: port.default(15006) })
        .default({ address: '0.0.0.0', port: 15006 }),
      passthrough: z
        .boolean()
        .default(true)
        .describe(
          'Outbound connections to destinations no service claims go to their original destination (ALLOW_ANY).',
        ),
    })
    .optional()
    .describe(
      'Transparent mode: listeners for connections redirected by iptables; the original destination ' +
        '(SO_ORIGINAL_DST) picks the outbound service by virtual IP and port, or the inbound entry by port.',
    ),
  httpProxy: z
    .object({ address: address.default('127.0.0.1'), port })
    .optional()
    .describe('Explicit mode: an HTTP proxy listener (HTTP_PROXY) that picks the service by Host.'),
  identity: z
    .strictObject({
      trustBundle: z
        .array(z.string())
        .default([])
        .describe(
          'PEM of every trusted root, pushed by the control plane so that a trust-anchor rotation reaches every proxy before the issuer changes; empty: the bundle that came with the certificate.',
        ),
      issuer: z
        .string()
        .optional()
        .describe(
          'SHA-256 fingerprint (as Node prints it) of the issuer that signs now: a proxy whose certificate another issuer signed renews it soon (after a trust-anchor switch).',
        ),
    })
    .optional()
    .describe('Mutual TLS trust, from the control plane. The certificate itself never travels here.'),
  inbound: z.array(Inbound).default([]),
  outbound: z.array(Outbound).default([]),
  backends: z.array(Backend).default([]),
  settings: z
    .object({
      detectTimeout: duration.default(5000).describe('How long detection waits for a first byte before TCP.'),
      maxRequestHeadersBytes: z.number().int().min(1024).default(16384),
      http2MaxConcurrentStreams: z.number().int().min(1).default(100),
      http1FastPath: z
        .boolean()
        .default(true)
        .describe(
          'Serve plain HTTP/1.1 requests without node:http (bodies, Upgrade and the rest still use it).',
        ),
      drainTimeout: duration.default(10000).describe('On SIGTERM, how long in-flight requests may finish.'),
      meshHttp2: z
        .boolean()
        .default(false)
        .describe(
          'HTTP/1.1 requests to another Weft proxy over mutual TLS travel on one multiplexed HTTP/2 connection per endpoint (ALPN weft/h2) and are turned back into HTTP/1.1 before the application, as Linkerd does. Upgrades (WebSocket) keep an HTTP/1.1 connection.',
        ),
      requestTimeout: duration
        .default(15000)
        .describe('Default route timeout when a route sets none (0 = none).'),
    })
    .default({
      detectTimeout: 5000,
      maxRequestHeadersBytes: 16384,
      http2MaxConcurrentStreams: 100,
      http1FastPath: true,
      drainTimeout: 10000,
      meshHttp2: false,
      requestTimeout: 15000,
    }),
});

export type ProxyConfigInput = z.input<typeof ProxyConfig>;
export type ProxyConfig = z.output<typeof ProxyConfig>;
export type RouteConfig = z.output<typeof Route>;
export type RouteMatchConfig = z.output<typeof RouteMatch>;
export type FilterConfig = z.output<typeof Filter>;
export type BackendConfig = z.output<typeof Backend>;
export type CircuitBreakerConfig = z.output<typeof CircuitBreaker>;
export type OutlierDetectionConfig = z.output<typeof OutlierDetection>;
export type EndpointConfig = z.output<typeof Endpoint>;
export type OutboundConfig = z.output<typeof Outbound>;
export type InboundConfig = z.output<typeof Inbound>;
export type LoadBalancerConfig = z.output<typeof LoadBalancer>;
export type WeightedBackendConfig = z.output<typeof WeightedBackend>;
export type ProtocolName = z.output<typeof Protocol>;
export type RetriesConfig = z.output<typeof Retries>;
export type RetryCondition = (typeof RETRY_CONDITIONS)[number];
