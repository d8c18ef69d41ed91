/**
 * The view of one proxy: the ProxyConfig its workload instance needs, computed from the mesh model.
 * Every service port becomes an outbound entry (by virtual IP in transparent mode, by name through the
 * HTTP proxy listener in explicit mode) with the routes attached to it for this client's namespace, and a
 * backend with the service's ready endpoints; every application port becomes an inbound entry.
 *
 * Mutual TLS follows Istio's PeerAuthentication and auto-mTLS: each inbound entry enforces the mode that
 * applies to its workload port, and each endpoint carries the SPIFFE id of the Weft sidecar in front of
 * it (every instance of the local runtime has one), so clients use mutual TLS and verify that id, except
 * where the endpoint's port is DISABLE, where Istio's clients send plaintext.
 */
import { spiffeId, validateIdentity } from '../../api/ca/spiffe.ts';
import type { ProxyConfigInput } from '../../api/index.ts';
import type { MeshModel } from '../index/index.ts';
import {
  type BackendInput,
  type BackendPolicy,
  type DestinationPolicyModel,
  type InstanceModel,
  type MtlsMode,
  type OutboundInput,
  type PortProtocol,
  type RouteAttachment,
  type RouteInput,
  type ServiceModel,
  type ServicePortModel,
  serviceBackendName,
  splitBackendName,
} from '../model/types.ts';
import { envoyFiltersFor, inboundFilters } from '../translate/istio/envoy-filter.ts';
import { exportedTo } from '../translate/istio/hosts.ts';
import { ISTIO_DEFAULT_RETRIES } from '../translate/istio/resilience.ts';

const ISTIO_DEFAULT_ROUTE = { retries: ISTIO_DEFAULT_RETRIES, includeAttemptCount: true } as const;

import {
  DEFAULT_MTLS_MODE,
  DEFAULT_ROOT_NAMESPACE,
  type EffectiveMtls,
  effectiveMtls,
  modeOnPort,
} from '../translate/istio/peer-authentication.ts';
import { endpointsOf, type IdentityOf, selects, targetPortOf } from './endpoints.ts';
import { serviceHostnames } from './hosts.ts';

export interface ViewOptions {
  /** The trust domain of workload identities (the CA's): spiffe://<trustDomain>/ns/<ns>/sa/<account>. */
  trustDomain: string;
  /** Istio's root namespace: a PeerAuthentication there without selector is mesh-wide (istio-system). */
  rootNamespace?: string | undefined;
  /** The mode where no PeerAuthentication sets one (PERMISSIVE, as Istio). */
  defaultMtlsMode?: MtlsMode | undefined;
}

const backendProtocol = (p: PortProtocol): 'http1' | 'http2' | 'tcp' =>
  p === 'http2' || p === 'grpc' ? 'http2' : p === 'tcp' ? 'tcp' : 'http1';
const TCP_SUFFIX = '/tcp';

export function buildView(
  model: MeshModel,
  nodeId: string,
  options: ViewOptions,
): ProxyConfigInput | undefined {
  const inst = model.instances.find((i) => i.id === nodeId);
  if (!inst) return undefined;
  const mtls = createMtlsResolver(model, options);
  const transparent = inst.sidecar.mode === 'transparent';
  const backends = new Map<string, BackendInput>();
  const outbound: OutboundInput[] = [];
  const services = [...model.services].sort((a, b) => key(a).localeCompare(key(b)));
  const portOf = new Map<string, { svc: ServiceModel; sp: ServicePortModel }>();
  for (const svc of services)
    for (const sp of svc.ports) portOf.set(serviceBackendName({ ...svc, port: sp.port }), { svc, sp });

  const addBackend = (name: string, protocol: 'http1' | 'http2' | 'tcp') => {
    if (backends.has(name)) return;
    const { base, subset } = splitBackendName(
      name.endsWith(TCP_SUFFIX) ? name.slice(0, -TCP_SUFFIX.length) : name,
    );
    const target = portOf.get(base);
    const policy = target ? destinationPolicy(model, target.svc, inst.namespace) : undefined;
    const sub = subset === undefined ? undefined : policy?.subsets.find((s) => s.name === subset);
    let endpoints = target ? endpointsOf(target.svc, target.sp, model.instances, mtls.identityOf) : [];
    // A subset no DestinationRule defines has no endpoints (its VirtualService's status says so).
    if (subset !== undefined) endpoints = sub ? endpoints.filter((e) => selects(sub.labels, e.labels)) : [];
    const port = target?.sp.port;
    backends.set(name, {
      name,
      protocol,
      // Istio's default (Envoy's LEAST_REQUEST): with sequential requests, peak-EWMA can starve an
      // endpoint that once answered slowly (it only learns a lower latency by receiving traffic), and
      // users expect to see every version of Bookinfo's reviews in turn.
      loadBalancer: { type: 'least-request' },
      // DestinationRule policies, most specific last: top-level, its port, the subset, the subset's port.
      ...policyFields(policy?.policy),
      ...policyFields(policy?.portPolicies.find((p) => p.port === port)?.policy),
      ...policyFields(sub?.policy),
      ...policyFields(sub?.portPolicies.find((p) => p.port === port)?.policy),
      endpoints,
    });
  };

  for (const svc of services) {
    for (const sp of svc.ports) {
      const name = serviceBackendName({ namespace: svc.namespace, name: svc.name, port: sp.port });
      const attached = chooseAttachments(model.attachments, svc, sp.port, inst.namespace);
      const http = sp.protocol !== 'tcp';
      const tcp = sp.protocol === 'tcp' || sp.protocol === 'detect';
      const ob: OutboundInput = {
        name,
        hosts: serviceHostnames(svc.name, svc.namespace, inst.namespace),
        port: sp.port,
        protocol: sp.protocol,
        routes: [],
        tcpBackends: [],
      };
      if (transparent && svc.vip) ob.vip = svc.vip;
      const exposed = inst.expose?.find((e) => e.service === key(svc) && e.port === sp.port);
      if (exposed)
        ob.listen =
          'path' in exposed.listen ? { port: 0, path: exposed.listen.path } : { port: exposed.listen.port };
      if (http) {
        const httpRoutes = attached.filter((a) => a.kind !== 'TCPRoute');
        if (httpRoutes.length > 0) {
          for (const a of httpRoutes) {
            if (a.istio) {
              // Istio: first match wins, and some matches hold only for some clients.
              ob.routeOrder = 'declared';
              ob.routes?.push(...routesForClient(a, inst));
            } else ob.routes?.push(...a.routes);
            for (const ref of a.backendRefs) {
              const t = portOf.get(serviceBackendName({ ...ref, subset: undefined }));
              addBackend(
                serviceBackendName(ref),
                t ? backendProtocol(t.sp.protocol) : backendProtocol(sp.protocol),
              );
            }
          }
        } else {
          // Istio's default route for a service: its default retry policy and the attempt count.
          ob.routes?.push({ name: 'default', backends: [{ backend: name }], ...ISTIO_DEFAULT_ROUTE });
          addBackend(name, backendProtocol(sp.protocol));
        }
      }
      if (tcp) {
        const tcpRoute = attached.find(
          (a) => a.kind === 'TCPRoute' || (a.kind === 'VirtualService' && a.tcpBackends.length > 0),
        );
        if (tcpRoute) {
          for (const wb of tcpRoute.tcpBackends) {
            ob.tcpBackends?.push({ ...wb, backend: wb.backend + TCP_SUFFIX });
            addBackend(wb.backend + TCP_SUFFIX, 'tcp');
          }
        } else {
          ob.tcpBackends?.push({ backend: name + TCP_SUFFIX });
          addBackend(name + TCP_SUFFIX, 'tcp');
        }
      }
      outbound.push(ob);
    }
  }

  const view: ProxyConfigInput = {
    node: { id: inst.id, workload: inst.workload, namespace: inst.namespace },
    admin:
      inst.sidecar.mode === 'transparent'
        ? { address: '127.0.0.1', port: 15000, path: inst.sidecar.adminSocket }
        : { address: '127.0.0.1', port: inst.sidecar.adminPort, path: inst.sidecar.adminSocket },
    inbound: inboundOf(inst, model, mtls.modeOf, options.rootNamespace),
    outbound,
    backends: [...backends.values()].sort((a, b) => a.name.localeCompare(b.name)),
  };
  if (inst.sidecar.mode === 'transparent') view.interception = {};
  else view.httpProxy = { address: '127.0.0.1', port: inst.sidecar.httpProxyPort };
  return view;
}

const key = (s: { namespace: string; name: string }) => `${s.namespace}/${s.name}`;

interface MtlsResolver {
  modeOf(inst: InstanceModel, containerPort: number): MtlsMode;
  identityOf: IdentityOf;
}

/** The PeerAuthentication mode and identity of instances' ports, resolved once per instance. */
function createMtlsResolver(model: MeshModel, options: ViewOptions): MtlsResolver {
  const rootNamespace = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const defaultMode = options.defaultMtlsMode ?? DEFAULT_MTLS_MODE;
  const effective = new Map<string, EffectiveMtls>();
  const modeOf = (inst: InstanceModel, containerPort: number): MtlsMode => {
    let e = effective.get(inst.id);
    if (!e) {
      e = effectiveMtls(model.peerAuthentications, inst, rootNamespace, defaultMode);
      effective.set(inst.id, e);
    }
    return modeOnPort(e, containerPort);
  };
  return {
    modeOf,
    identityOf: (inst, containerPort) => {
      if (modeOf(inst, containerPort) === 'DISABLE') return undefined;
      const id = {
        trustDomain: options.trustDomain,
        namespace: inst.namespace,
        serviceAccount: inst.serviceAccount,
      };
      // A name the CA would not sign for leaves that sidecar without a certificate: it only speaks
      // plaintext, so its clients must too.
      return validateIdentity(id) === undefined
        ? spiffeId(id.trustDomain, id.namespace, id.serviceAccount)
        : undefined;
    },
  };
}

/**
 * GAMMA: routes in the client's own namespace (consumer routes) win over routes in the service's
 * namespace (producer routes) for that client; routes elsewhere do not apply. Oldest first, then by name.
 */
export function chooseAttachments(
  all: readonly RouteAttachment[],
  svc: ServiceModel,
  port: number,
  clientNamespace: string,
): RouteAttachment[] {
  const forPort = all.filter(
    (a) =>
      a.service.namespace === svc.namespace &&
      a.service.name === svc.name &&
      (a.port === undefined || a.port === port),
  );
  // An Istio VirtualService exported to this client takes the service over (one per host: the oldest,
  // already chosen by the translator). Gateway API routes apply when there is none.
  const istio = forPort.find(
    (a) => a.kind === 'VirtualService' && exportedTo(a.istio?.exportTo, a.namespace, clientNamespace),
  );
  if (istio) return [istio];
  const gamma = forPort.filter((a) => a.kind !== 'VirtualService');
  const consumer =
    clientNamespace !== svc.namespace ? gamma.filter((a) => a.namespace === clientNamespace) : [];
  const chosen = consumer.length > 0 ? consumer : gamma.filter((a) => a.namespace === svc.namespace);
  return chosen.sort((a, b) =>
    a.order.created === b.order.created
      ? a.order.key.localeCompare(b.order.key)
      : a.order.created < b.order.created
        ? -1
        : 1,
  );
}

/** A VirtualService's routes as one client sees them: matches limited to other clients are dropped. */
function routesForClient(a: RouteAttachment, inst: InstanceModel): RouteInput[] {
  const sources = a.istio?.matchSources ?? [];
  const out: RouteInput[] = [];
  a.routes.forEach((route, i) => {
    const conditions = sources[i] ?? [];
    if (conditions.every((c) => c === undefined)) {
      out.push(route);
      return;
    }
    const matches = (route.matches ?? []).filter((_, j) => {
      const c = conditions[j];
      return (
        c === undefined ||
        ((c.namespace === undefined || c.namespace === inst.namespace) &&
          (c.labels === undefined || selects(c.labels, inst.labels)))
      );
    });
    if (matches.length > 0) out.push({ ...route, matches });
  });
  return out;
}

/** The DestinationRule for a service that this client sees (exportTo), if any. */
function destinationPolicy(
  model: MeshModel,
  svc: ServiceModel,
  clientNamespace: string,
): DestinationPolicyModel | undefined {
  return model.destinationPolicies.find(
    (p) =>
      p.service.namespace === svc.namespace &&
      p.service.name === svc.name &&
      exportedTo(p.exportTo, p.namespace, clientNamespace),
  );
}

function policyFields(policy: BackendPolicy | undefined): Partial<BackendInput> {
  if (!policy) return {};
  return { ...(policy.loadBalancer ? { loadBalancer: policy.loadBalancer } : {}), ...(policy.extra ?? {}) };
}

/**
 * One inbound entry per application port, with the protocol of the service port that targets it, and
 * the HTTP filters Istio EnvoyFilters put on it (local rate limits; see translate/istio/envoy-filter.ts).
 */
function inboundOf(
  inst: InstanceModel,
  model: MeshModel,
  modeOf: MtlsResolver['modeOf'],
  rootNamespace: string | undefined,
): NonNullable<ProxyConfigInput['inbound']> {
  // Keyed by containerPort: what services target and what intercepted connections were addressed to.
  const ports = new Map<number, PortProtocol | undefined>();
  // The service ports that target each container port: an EnvoyFilter's vhost inbound|http|<port> names one.
  const servicePorts = new Map<number, number[]>();
  for (const p of inst.ports) ports.set(p.containerPort, undefined);
  for (const svc of model.services) {
    if (svc.namespace !== inst.namespace || !selects(svc.selector, inst.labels)) continue;
    for (const sp of svc.ports) {
      const port = targetPortOf(inst, sp);
      if (port === undefined) continue;
      if (ports.get(port) === undefined) ports.set(port, sp.protocol);
      servicePorts.set(port, [...(servicePorts.get(port) ?? []), sp.port]);
    }
  }
  const envoyFilters = envoyFiltersFor(model.envoyFilters, inst, rootNamespace);
  return [...ports.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([port, protocol]) => {
      const declared = inst.ports.find((p) => p.containerPort === port);
      const explicit = inst.sidecar.mode === 'explicit' ? declared?.inboundPort : undefined;
      const filters = inboundFilters(envoyFilters, {
        port,
        servicePorts: servicePorts.get(port) ?? [],
        protocol,
      });
      return {
        name: `inbound-${port}`,
        // Detection serves HTTP/1, HTTP/2 and TCP alike; a port declared TCP skips the wait for a first
        // byte that server-first protocols (MySQL, SMTP) would never send.
        protocol: protocol === 'tcp' ? ('tcp' as const) : ('detect' as const),
        target: { address: '127.0.0.1', port: declared?.port ?? port },
        ...(explicit !== undefined ? { listen: { address: '127.0.0.1', port: explicit } } : {}),
        ...(filters.length > 0 ? { filters } : {}),
        // PeerAuthentication's port-level modes name the workload port: containerPort, as here.
        mtls: modeOf(inst, port),
      };
    })
    .filter((ib) => inst.sidecar.mode === 'transparent' || ib.listen !== undefined);
}
