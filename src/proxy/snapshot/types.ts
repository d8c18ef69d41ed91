/**
 * The compiled, immutable view the request path reads. A request takes `proxy.snapshot` once at its
 * start and finishes on it, so a reload never changes a request half-way.
 */
import type { InboundConfig, ProxyConfig } from '../../api/index.ts';
import type { AdmitPhase, FilterChain } from '../filters/index.ts';
import type { PeerRequestCounters, RequestMetrics } from '../metrics/index.ts';
import type { RetryBudget, RouteRetry } from '../retry/index.ts';
import type { RequestView, Router } from '../router/index.ts';
import type { Balancer, WeightedEndpoint } from '../upstream/balancers/index.ts';
import type { Upstream } from '../upstream/upstream.ts';

export interface CompiledBackend {
  name: string;
  protocol: 'http1' | 'http2' | 'tcp';
  endpoints: readonly WeightedEndpoint[];
  balancer: Balancer;
  /** Extracts the consistent-hash key, or undefined for balancers that need none. */
  hashKey: ((req: RequestView, sourceIp: string | undefined) => string | undefined) | undefined;
  /** The backend's retry budget (shared by every route's retries to it); undefined when it has none. */
  retryBudget?: RetryBudget | undefined;
}

export interface RouteBackend {
  backend: CompiledBackend;
  weight: number;
  /** Route filters followed by this backend's own filters. */
  chain: FilterChain;
  metrics: RequestMetrics;
  /** The route's retry policy with this backend's metrics and budget; undefined when the route has none. */
  retry?: RouteRetry | undefined;
}

export type RouteAction =
  | { kind: 'backends'; pick: () => RouteBackend | undefined; backends: readonly RouteBackend[] }
  | {
      kind: 'redirect';
      scheme: string | undefined;
      hostname: string | undefined;
      port: number | undefined;
      path: { type: 'ReplaceFullPath' | 'ReplacePrefixMatch' | 'ReplacePrefix'; value: string } | undefined;
      statusCode: number;
      metrics: RequestMetrics;
    }
  | {
      kind: 'direct';
      status: number;
      body: Buffer;
      headers: Record<string, string>;
      metrics: RequestMetrics;
    };

export interface CompiledRoute {
  name: string;
  action: RouteAction;
  chain: FilterChain;
  /** Filters that may answer or hold a request before the route acts (fault, rate limit, CORS). */
  admit?: AdmitPhase | undefined;
  timeoutMs: number;
  /** Send x-envoy-attempt-count upstream (Envoy's include_request_attempt_count). */
  includeAttemptCount?: boolean;
}

export interface CompiledService {
  name: string;
  direction: 'inbound' | 'outbound';
  protocol: ProxyConfig['outbound'][number]['protocol'];
  port: number;
  router: Router<CompiledRoute>;
  /** Inbound detect ports: the router used for HTTP/2 clients, whose application side is HTTP/2 too. */
  routerH2: Router<CompiledRoute> | undefined;
  /** Weighted choice among tcp backends (tcp/opaque services and detect fallback). */
  pickTcp: () => RouteBackend | undefined;
  /** Metrics for requests that matched no route. */
  unrouted: RequestMetrics;
  /** For inbound: the protocol to speak to the application, when not the downstream one. */
  targetProtocol: 'http1' | 'http2' | undefined;
  /** Inbound: how peers are authenticated (PeerAuthentication); undefined for outbound. */
  mtls: 'PERMISSIVE' | 'STRICT' | 'DISABLE' | undefined;
  /** Inbound: requests by peer identity and whether mutual TLS carried them. */
  requestsByPeer?: PeerRequestCounters | undefined;
}

export interface ListenerSpec {
  /** Stable key: address:port. */
  key: string;
  address: string;
  port: number;
  /** A Unix socket path instead of address and port. */
  path?: string | undefined;
  /** transparent-*: connections redirected by iptables, dispatched by their original destination. */
  kind: 'outbound' | 'inbound' | 'http-proxy' | 'transparent-outbound' | 'transparent-inbound';
  protocol: ProxyConfig['outbound'][number]['protocol'];
  /** The service this listener serves (by name) for outbound and inbound listeners. */
  service: string | undefined;
}

export interface Snapshot {
  version: string;
  config: ProxyConfig;
  compiledAt: Date;
  outbound: ReadonlyMap<string, CompiledService>;
  inbound: ReadonlyMap<string, CompiledService>;
  inboundConfigs: readonly InboundConfig[];
  /** Transparent mode: inbound entries without a listener, by the application port they serve. */
  inboundByPort: ReadonlyMap<number, CompiledService>;
  /** host[:port] → service, for the HTTP proxy listener and (later) original-destination lookup. */
  byHost: ReadonlyMap<string, CompiledService>;
  listeners: readonly ListenerSpec[];
  /** Upstreams this snapshot retains; released when it is replaced. */
  upstreams: readonly Upstream[];
}
