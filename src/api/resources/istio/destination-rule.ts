/**
 * Istio's `DestinationRule` (networking.istio.io v1, v1beta1, v1alpha3): what happens to traffic for a
 * host after routing. A traffic policy (load balancing, connection pool limits, outlier detection, TLS to
 * the upstream, per-port overrides, tunnelling, PROXY protocol, retry budget) for the host and, overriding
 * it, for named subsets of its endpoints selected by labels.
 *
 * Field names follow istio/api networking/v1alpha3/destination_rule.proto and its CRD (which has
 * `retryBudget` with `percent` and `minRetryConcurrency`). The cross-field rules are istiod's webhook
 * (ValidateDestinationRule, validateTrafficPolicy, agent.ValidateTLS): a traffic policy or a port-level
 * policy sets at least one field, subset names are unique DNS labels, one hash key and one hash algorithm,
 * Maglev table sizes are primes, TLS certificates go with the modes that use them.
 */
import { z } from 'zod';
import {
  Duration,
  duration,
  exportTo,
  fqdnError,
  Int32,
  isDns1123Label,
  isIPAddress,
  issue,
  Labels,
  NETWORKING_API_VERSIONS,
  NonNegativeInt32,
  networkingResource,
  PortNumber,
  UInt32,
  wildcardDomainError,
} from './networking.ts';
import { WorkloadSelector } from './peer-authentication.ts';

const Percentage = Int32.min(0, 'must be between 0 and 100').max(100, 'must be between 0 and 100');
const UInt64 = z.number().int().min(0);

/** Envoy's own primality test for Maglev table sizes (source/common/common/utility.cc). */
function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  for (let f = 3; f * f <= x; f += 2) if (x % f === 0) return false;
  return true;
}

const HASH_KEYS = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'] as const;

export const ConsistentHashLB = z
  .strictObject({
    httpHeaderName: z.string().optional(),
    httpCookie: z
      .strictObject({
        name: z.string().min(1, 'name required for HttpCookie'),
        path: z.string().optional(),
        /** Absent or 0: a session cookie. */
        ttl: duration('any').optional(),
        attributes: z.array(z.strictObject({ name: z.string(), value: z.string().optional() })).optional(),
      })
      .optional(),
    useSourceIp: z.boolean().optional(),
    httpQueryParameterName: z.string().optional(),
    ringHash: z.strictObject({ minimumRingSize: UInt64.optional() }).optional(),
    maglev: z.strictObject({ tableSize: UInt64.optional() }).optional(),
    /** Deprecated: use ringHash.minimumRingSize. */
    minimumRingSize: UInt64.optional(),
  })
  .superRefine((h, ctx) => {
    const keys = HASH_KEYS.filter((k) => h[k] !== undefined);
    if (keys.length > 1) issue(ctx, [keys[1] as string], `set one hash key, not ${keys.join(' and ')}`);
    if (h.ringHash && h.maglev) issue(ctx, ['maglev'], 'set ringHash or maglev, not both');
    if (h.minimumRingSize && (h.ringHash || h.maglev)) {
      issue(ctx, ['minimumRingSize'], 'only one of MinimumRingSize or Maglev/Ringhash can be specified');
    }
    const size = h.maglev?.tableSize;
    if (h.maglev && !size) issue(ctx, ['maglev', 'tableSize'], 'tableSize must be set for maglev');
    else if (size !== undefined && size >= 5_000_011) {
      issue(ctx, ['maglev', 'tableSize'], 'tableSize must be less than 5000011 for maglev');
    } else if (size !== undefined && !isPrime(size)) {
      issue(ctx, ['maglev', 'tableSize'], 'tableSize must be a prime number for maglev');
    }
  });
export type ConsistentHashLB = z.output<typeof ConsistentHashLB>;

export const LocalityLoadBalancerSetting = z
  .strictObject({
    distribute: z
      .array(z.strictObject({ from: z.string().optional(), to: z.record(z.string(), UInt32).optional() }))
      .optional(),
    failover: z.array(z.strictObject({ from: z.string().optional(), to: z.string().optional() })).optional(),
    failoverPriority: z.array(z.string()).optional(),
    enabled: z.boolean().optional(),
  })
  .superRefine((l, ctx) => {
    if ((l.distribute?.length ?? 0) > 0 && (l.failover?.length ?? 0) > 0) {
      issue(ctx, ['failover'], "can not simultaneously specify 'distribute' and 'failover'");
    }
  });

export const LoadBalancerSettings = z
  .strictObject({
    simple: z
      .enum(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'])
      .optional(),
    consistentHash: ConsistentHashLB.optional(),
    localityLbSetting: LocalityLoadBalancerSetting.optional(),
    /** Deprecated: use warmup.duration. */
    warmupDurationSecs: Duration.optional(),
    warmup: z
      .strictObject({
        duration: Duration,
        minimumPercent: z
          .number()
          .min(0)
          .max(100, 'minimumPercent value should be less than or equal to 100')
          .optional(),
        aggression: z.number().min(1, 'aggression should be greater than or equal to 1').optional(),
      })
      .optional(),
  })
  .superRefine((lb, ctx) => {
    if (lb.simple !== undefined && lb.consistentHash !== undefined) {
      issue(ctx, ['consistentHash'], 'set simple or consistentHash, not both');
    }
  });
export type LoadBalancerSettings = z.output<typeof LoadBalancerSettings>;

export const ConnectionPoolSettings = z
  .strictObject({
    tcp: z
      .strictObject({
        maxConnections: NonNegativeInt32.optional(),
        connectTimeout: Duration.optional(),
        tcpKeepalive: z
          .strictObject({
            probes: UInt32.optional(),
            time: Duration.optional(),
            interval: Duration.optional(),
          })
          .optional(),
        maxConnectionDuration: Duration.optional(),
        /** "0s" turns the idle timeout off. */
        idleTimeout: duration('zeroOrPositive').optional(),
      })
      .optional(),
    http: z
      .strictObject({
        http1MaxPendingRequests: NonNegativeInt32.optional(),
        http2MaxRequests: NonNegativeInt32.optional(),
        maxRequestsPerConnection: NonNegativeInt32.optional(),
        maxRetries: NonNegativeInt32.optional(),
        idleTimeout: Duration.optional(),
        h2UpgradePolicy: z.enum(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(),
        useClientProtocol: z.boolean().optional(),
        maxConcurrentStreams: NonNegativeInt32.optional(),
      })
      .superRefine((h, ctx) => {
        if (h.h2UpgradePolicy === 'UPGRADE' && h.useClientProtocol) {
          issue(
            ctx,
            ['useClientProtocol'],
            'use client protocol must not be true when H2UpgradePolicy is UPGRADE',
          );
        }
      })
      .optional(),
  })
  .superRefine((c, ctx) => {
    if (!c.tcp && !c.http) issue(ctx, [], 'connection pool must have at least one field');
  });
export type ConnectionPoolSettings = z.output<typeof ConnectionPoolSettings>;

export const OutlierDetection = z
  .strictObject({
    splitExternalLocalOriginErrors: z.boolean().optional(),
    consecutiveLocalOriginFailures: UInt32.optional(),
    consecutiveGatewayErrors: UInt32.optional(),
    consecutive5xxErrors: UInt32.optional(),
    interval: Duration.optional(),
    baseEjectionTime: Duration.optional(),
    maxEjectionPercent: Percentage.optional(),
    minHealthPercent: Percentage.optional(),
    /** Deprecated: use consecutive5xxErrors or consecutiveGatewayErrors. */
    consecutiveErrors: Int32.optional(),
  })
  .superRefine((o, ctx) => {
    if (!o.splitExternalLocalOriginErrors && (o.consecutiveLocalOriginFailures ?? 0) > 0) {
      issue(
        ctx,
        ['consecutiveLocalOriginFailures'],
        'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false',
      );
    }
  });
export type OutlierDetection = z.output<typeof OutlierDetection>;

/** TLS from the client proxy to the upstream. DISABLE is the proto's default. */
export const ClientTLSSettings = z
  .strictObject({
    mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']).optional(),
    clientCertificate: z.string().optional(),
    privateKey: z.string().optional(),
    caCertificates: z.string().optional(),
    credentialName: z.string().optional(),
    subjectAltNames: z.array(z.string()).optional(),
    sni: z.string().optional(),
    insecureSkipVerify: z.boolean().optional(),
    caCrl: z.string().optional(),
  })
  .superRefine((t, ctx) => {
    const mode = t.mode ?? 'DISABLE';
    if (
      t.insecureSkipVerify &&
      mode === 'SIMPLE' &&
      (t.caCertificates || t.credentialName || t.subjectAltNames)
    ) {
      issue(
        ctx,
        ['insecureSkipVerify'],
        'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true',
      );
    }
    if (t.insecureSkipVerify && mode === 'MUTUAL' && (t.caCertificates || t.subjectAltNames)) {
      issue(
        ctx,
        ['insecureSkipVerify'],
        'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true',
      );
    }
    if ((mode === 'SIMPLE' || mode === 'MUTUAL') && t.credentialName) {
      if (t.clientCertificate || t.caCertificates || t.privateKey || t.caCrl) {
        issue(
          ctx,
          ['credentialName'],
          'cannot specify client certificates or CA certificate or CA CRL If credentialName is set',
        );
      }
      return;
    }
    if (mode === 'MUTUAL' && !t.clientCertificate) {
      issue(ctx, ['clientCertificate'], 'client certificate required for mutual tls');
    }
    if (mode === 'MUTUAL' && !t.privateKey) issue(ctx, ['privateKey'], 'private key required for mutual tls');
  });
export type ClientTLSSettings = z.output<typeof ClientTLSSettings>;

export const PortTrafficPolicy = z
  .strictObject({
    port: z.strictObject({ number: UInt32.optional() }).optional(),
    loadBalancer: LoadBalancerSettings.optional(),
    connectionPool: ConnectionPoolSettings.optional(),
    outlierDetection: OutlierDetection.optional(),
    tls: ClientTLSSettings.optional(),
  })
  .superRefine((p, ctx) => {
    if (!p.port) issue(ctx, ['port'], 'portTrafficPolicy must have valid port');
    if (!p.loadBalancer && !p.connectionPool && !p.outlierDetection && !p.tls) {
      issue(ctx, [], 'port traffic policy must have at least one field');
    }
  });
export type PortTrafficPolicy = z.output<typeof PortTrafficPolicy>;

export const TunnelSettings = z
  .strictObject({ protocol: z.string().optional(), targetHost: z.string(), targetPort: UInt32 })
  .superRefine((t, ctx) => {
    if (t.protocol && t.protocol !== 'CONNECT' && t.protocol !== 'POST') {
      issue(ctx, ['protocol'], 'tunnel protocol must be "CONNECT" or "POST"');
    }
    const hostError = fqdnError(t.targetHost);
    if (hostError && !isIPAddress(t.targetHost)) {
      issue(ctx, ['targetHost'], `tunnel target host must be valid FQDN or IP address: ${hostError}`);
    }
    if (!PortNumber.safeParse(t.targetPort).success) {
      issue(
        ctx,
        ['targetPort'],
        `tunnel target port is invalid: port number ${t.targetPort} must be in the range 1..65535`,
      );
    }
  });

/** Retries in flight are capped at `percent` of active and pending requests, and never below the minimum. */
export const RetryBudget = z.strictObject({
  percent: z.number().min(0).max(100).optional(),
  minRetryConcurrency: UInt32.optional(),
});

export const TrafficPolicy = z
  .strictObject({
    loadBalancer: LoadBalancerSettings.optional(),
    connectionPool: ConnectionPoolSettings.optional(),
    outlierDetection: OutlierDetection.optional(),
    tls: ClientTLSSettings.optional(),
    portLevelSettings: z.array(PortTrafficPolicy).max(4096).optional(),
    tunnel: TunnelSettings.optional(),
    proxyProtocol: z.strictObject({ version: z.enum(['V1', 'V2']).optional() }).optional(),
    retryBudget: RetryBudget.optional(),
  })
  .superRefine((t, ctx) => {
    if (Object.values(t).every((v) => v === undefined))
      issue(ctx, [], 'traffic policy must have at least one field');
    if (t.tunnel && t.proxyProtocol)
      issue(ctx, ['proxyProtocol'], 'tunnel and proxyProtocol must not be set together');
  });
export type TrafficPolicy = z.output<typeof TrafficPolicy>;

export const Subset = z.strictObject({
  name: z.string().refine((n) => isDns1123Label(n), {
    error: (i) =>
      i.input === '' ? 'subset name cannot be empty' : `subset name is invalid: ${String(i.input)}`,
  }),
  labels: Labels.optional(),
  trafficPolicy: TrafficPolicy.optional(),
});
export type Subset = z.output<typeof Subset>;

export const DestinationRuleSpec = z
  .strictObject({
    host: z.string(),
    trafficPolicy: TrafficPolicy.optional(),
    subsets: z.array(Subset).optional(),
    exportTo: exportTo(false).optional(),
    workloadSelector: z.strictObject(WorkloadSelector.shape).optional(),
  })
  .superRefine((dr, ctx) => {
    const hostError = wildcardDomainError(dr.host);
    if (hostError) issue(ctx, ['host'], hostError);
    const names = new Set<string>();
    dr.subsets?.forEach((s, i) => {
      if (names.has(s.name)) issue(ctx, ['subsets', i, 'name'], `duplicate subset names: ${s.name}`);
      names.add(s.name);
    });
  });
export type DestinationRuleSpec = z.output<typeof DestinationRuleSpec>;

export const DestinationRule = networkingResource(
  'DestinationRule',
  NETWORKING_API_VERSIONS,
  DestinationRuleSpec,
);
export type DestinationRule = z.output<typeof DestinationRule>;
