/**
 * The control plane's internal model: what translators produce from valid resources, and what the view
 * builder turns into one ProxyConfig per proxy. Names here are the glossary's (docs/GLOSSARY.md).
 */
import type { ProxyConfigInput } from '../../api/index.ts';
import type { PortProtocol } from '../../api/runtime/types.ts';

export type {
  InstanceModel,
  InstancePortModel,
  PortProtocol,
  SidecarModel,
  WorkloadModel,
} from '../../api/runtime/types.ts';

export type OutboundInput = NonNullable<ProxyConfigInput['outbound']>[number];
export type RouteInput = NonNullable<OutboundInput['routes']>[number];
export type WeightedBackendInput = NonNullable<OutboundInput['tcpBackends']>[number];
export type BackendInput = NonNullable<ProxyConfigInput['backends']>[number];

export interface ServicePortModel {
  name: string;
  port: number;
  /** A number, or the name of a container port. */
  targetPort: number | string;
  protocol: PortProtocol;
}

export interface ServiceModel {
  namespace: string;
  name: string;
  /** Virtual IP in transparent mode; undefined in explicit mode. */
  vip: string | undefined;
  ports: ServicePortModel[];
  /** Undefined: a Service without selector (no endpoints from instances). */
  selector: Record<string, string> | undefined;
}

/** A backend reference resolved against services: backend name `<ns>/<service>:<port>[|<subset>]`. */
export interface ServiceBackendRef {
  namespace: string;
  name: string;
  port: number;
  /** An Istio DestinationRule subset: only the endpoints with its labels. */
  subset?: string | undefined;
}

/** The backend name the view uses for one service port (and subset). */
export function serviceBackendName(ref: ServiceBackendRef): string {
  const base = `${ref.namespace}/${ref.name}:${ref.port}`;
  return ref.subset === undefined ? base : `${base}|${ref.subset}`;
}

/** Splits a backend name into the service port's name and the subset. */
export function splitBackendName(name: string): { base: string; subset: string | undefined } {
  const bar = name.indexOf('|');
  return bar === -1
    ? { base: name, subset: undefined }
    : { base: name.slice(0, bar), subset: name.slice(bar + 1) };
}

/**
 * A route resource attached to a service (GAMMA): its rules already in ProxyConfig form. The view builder
 * picks, per client namespace, the consumer routes (route namespace = client namespace) over the producer
 * routes (route namespace = service namespace), and concatenates the chosen attachments in `order`.
 */
export interface RouteAttachment {
  /** "HTTPRoute/default/reviews". */
  route: string;
  kind: 'HTTPRoute' | 'GRPCRoute' | 'TCPRoute' | 'VirtualService';
  /** The route's own namespace. */
  namespace: string;
  service: { namespace: string; name: string };
  /** parentRef.port; undefined attaches to every port of the service. */
  port: number | undefined;
  /** Oldest first, then by namespace/name (Gateway API conflict resolution). */
  order: { created: string; key: string };
  /** HTTPRoute / GRPCRoute rules in ProxyConfig form; backends named with serviceBackendName. */
  routes: RouteInput[];
  /** TCPRoute rules (the first rule's backends, as the spec allows one). */
  tcpBackends: WeightedBackendInput[];
  /** Every service port the routes reference, so the view includes those backends. */
  backendRefs: ServiceBackendRef[];
  /**
   * VirtualService: its rules apply to every client (no consumer/producer choice) within `exportTo`,
   * first match wins, and some matches only hold for some clients (`sourceLabels`, `sourceNamespace`):
   * `matchSources[i][j]` is the condition of `routes[i].matches[j]` (undefined: every client).
   */
  istio?:
    | {
        exportTo: string[] | undefined;
        matchSources: Array<Array<MatchSource | undefined>>;
      }
    | undefined;
}

/** The client a VirtualService match is limited to. */
export interface MatchSource {
  labels?: Record<string, string> | undefined;
  namespace?: string | undefined;
}

/** A traffic policy as the view applies it to a backend (from an Istio DestinationRule). */
export interface BackendPolicy {
  loadBalancer?: BackendInput['loadBalancer'];
  /** Further backend fields (circuit breaking, outlier detection, …) as the proxy config names them. */
  extra?: Partial<BackendInput>;
}

/** An Istio DestinationRule, resolved to the service it names. */
export interface DestinationPolicyModel {
  /** "DestinationRule/default/reviews". */
  resource: string;
  namespace: string;
  service: { namespace: string; name: string };
  created: string;
  exportTo: string[] | undefined;
  /** The top-level policy, by port (undefined key: every port). */
  policy: BackendPolicy | undefined;
  portPolicies: Array<{ port: number; policy: BackendPolicy }>;
  subsets: Array<{
    name: string;
    labels: Record<string, string>;
    policy: BackendPolicy | undefined;
    portPolicies: Array<{ port: number; policy: BackendPolicy }>;
  }>;
}

/** A PeerAuthentication mode as written; UNSET inherits the mode of the parent level. */
export type PeerAuthenticationMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';
/** The mode in effect on a workload port: what its inbound entry enforces and its clients assume. */
export type MtlsMode = Exclude<PeerAuthenticationMode, 'UNSET'>;

/**
 * A valid Istio PeerAuthentication, as the mTLS resolution (translate/istio/peer-authentication.ts) reads
 * it: which workloads it selects, its mode, and its port-level modes.
 */
export interface PeerAuthenticationModel {
  /** "PeerAuthentication/foo/default". */
  resource: string;
  namespace: string;
  name: string;
  /** metadata.creationTimestamp ('' when unknown): the oldest of competing policies wins. */
  created: string;
  /** matchLabels; undefined without a selector or with no labels (a namespace- or mesh-wide policy). */
  selector: Record<string, string> | undefined;
  mode: PeerAuthenticationMode;
  /** By workload (container) port, in port order. */
  portLevel: Array<{ port: number; mode: PeerAuthenticationMode }>;
}

export type InboundInput = NonNullable<ProxyConfigInput['inbound']>[number];
export type FilterInput = NonNullable<InboundInput['filters']>[number];
export type LocalRateLimitInput = Extract<FilterInput, { type: 'LocalRateLimit' }>['localRateLimit'];

/**
 * An Istio EnvoyFilter, reduced to what Weft applies of it (translate/istio/envoy-filter.ts): local rate
 * limit filters inserted in the inbound HTTP filter chains of the workloads it selects, and per-route
 * configs that replace a filter's own on some ports. The view builder resolves which workloads it selects
 * (Istio's scoping rules) and which inbound entries it reaches.
 */
export interface EnvoyFilterModel {
  /** "EnvoyFilter/istio-system/filter-local-ratelimit-svc". */
  resource: string;
  namespace: string;
  /** workloadSelector.labels; undefined (or no labels): every workload in its scope. */
  selector: Record<string, string> | undefined;
  /** HTTP_FILTER patches at SIDECAR_INBOUND, in order. */
  filters: Array<{
    /** The HTTP filter's name, which a route's typed_per_filter_config refers to. */
    name: string;
    /** listener.portNumber: only this workload (container) port; undefined: every port. */
    port: number | undefined;
    /** Undefined: no token_bucket, so the filter limits nothing unless a route's config replaces it. */
    localRateLimit: LocalRateLimitInput | undefined;
  }>;
  /** HTTP_ROUTE patches at SIDECAR_INBOUND: a per-route config replaces the named filter's own. */
  routes: Array<{
    /** routeConfiguration.portNumber: the workload (container) port; undefined: any. */
    port: number | undefined;
    /** vhost.name `inbound|http|<port>`: the service port whose target the inbound entry serves. */
    servicePort: number | undefined;
    perFilter: Array<{ name: string; localRateLimit: LocalRateLimitInput }>;
  }>;
}
