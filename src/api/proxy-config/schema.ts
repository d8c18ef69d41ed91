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

export const Filter = z.discriminatedUnion('type', [
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
  filters: z.array(Filter).default([]),
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

export const Route = z
  .object({
    name: z.string().default(''),
    matches: z.array(RouteMatch).default([{ headers: [], queryParams: [] }]),
    filters: z.array(Filter).default([]),
    backends: z.array(WeightedBackend).optional(),
    redirect: Redirect.optional(),
    directResponse: DirectResponse.optional(),
    timeout: duration.optional().describe('Whole-request timeout; the proxy answers 504 when it expires.'),
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
export type EndpointConfig = z.output<typeof Endpoint>;
export type OutboundConfig = z.output<typeof Outbound>;
export type InboundConfig = z.output<typeof Inbound>;
export type LoadBalancerConfig = z.output<typeof LoadBalancer>;
export type WeightedBackendConfig = z.output<typeof WeightedBackend>;
export type ProtocolName = z.output<typeof Protocol>;
