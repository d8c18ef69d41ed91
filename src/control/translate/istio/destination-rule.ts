/**
 * Istio DestinationRules to the policies the view applies to backends: subsets (endpoints by labels) and
 * their traffic policies, load balancing first. One DestinationRule per host counts: when several name the
 * same service, the oldest wins (creationTimestamp, then namespace/name), as istiod keeps the first, and the
 * others are reported. A rule whose host is not a service of the mesh is reported too (ServiceEntry
 * hosts come with it).
 *
 * Policy precedence is Istio's: a subset's policy overrides the top-level one field by field (a
 * `loadBalancer` in the subset replaces the top-level `loadBalancer`), and a port-level setting overrides
 * the policy it is in for that port.
 */
import type {
  DestinationRule,
  LoadBalancerSettings,
  TrafficPolicy,
} from '../../../api/resources/istio/index.ts';
import type { BackendPolicy, DestinationPolicyModel, ServiceModel } from '../../model/types.ts';
import { resolveHost, type ServiceLookup } from './hosts.ts';

export interface ParsedDestinationRule {
  namespace: string;
  name: string;
  created: string;
  spec: DestinationRule['spec'];
}

export interface IstioStatus {
  accepted: boolean;
  issues: Array<{ code: string; path: string; message: string }>;
  notes: Array<{ path: string; message: string }>;
}

/** Extra policy mappings (circuit breaking, outlier detection, retry budget) plugged in by the proxy's model. */
export type PolicyExtras = (policy: TrafficPolicy, port: number | undefined) => BackendPolicy['extra'];

export function translateDestinationRules(
  rules: readonly ParsedDestinationRule[],
  lookup: ServiceLookup,
  extras?: PolicyExtras,
): { policies: DestinationPolicyModel[]; statuses: Map<string, IstioStatus> } {
  const statuses = new Map<string, IstioStatus>();
  const byService = new Map<string, DestinationPolicyModel>();
  const sorted = [...rules].sort(
    (a, b) =>
      compare(a.created, b.created) || compare(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`),
  );
  for (const r of sorted) {
    const status: IstioStatus = { accepted: true, issues: [], notes: [] };
    statuses.set(`DestinationRule/${r.namespace}/${r.name}`, status);
    const svc = resolveHost(r.spec.host, r.namespace, lookup);
    if (!svc) {
      status.notes.push({
        path: 'spec.host',
        message: `${r.spec.host} is not a service of the mesh: the rule applies to nothing (ServiceEntry hosts are not supported yet)`,
      });
      continue;
    }
    const key = `${svc.namespace}/${svc.name}`;
    const first = byService.get(key);
    if (first) {
      status.accepted = false;
      status.issues.push({
        code: 'CONFIG_CONFLICT',
        path: 'spec.host',
        message: `${first.resource} already applies to ${key} (the oldest DestinationRule for a host wins)`,
      });
      continue;
    }
    const top = r.spec.trafficPolicy;
    byService.set(key, {
      resource: `DestinationRule/${r.namespace}/${r.name}`,
      namespace: r.namespace,
      service: { namespace: svc.namespace, name: svc.name },
      created: r.created,
      exportTo: r.spec.exportTo,
      policy: top ? policyOf(top, undefined, extras, status, 'spec.trafficPolicy') : undefined,
      portPolicies: portPolicies(top, svc, extras, status, 'spec.trafficPolicy'),
      subsets: (r.spec.subsets ?? []).map((s, i) => {
        const merged = s.trafficPolicy ? mergePolicy(top, s.trafficPolicy) : undefined;
        const at = `spec.subsets.${i}.trafficPolicy`;
        return {
          name: s.name,
          labels: s.labels ?? {},
          policy: merged ? policyOf(merged, undefined, extras, status, at) : undefined,
          portPolicies: merged ? portPolicies(merged, svc, extras, status, at) : [],
        };
      }),
    });
  }
  return { policies: [...byService.values()], statuses };
}

/** A subset's policy over the top-level one, field by field (Istio's merge). */
function mergePolicy(top: TrafficPolicy | undefined, subset: TrafficPolicy): TrafficPolicy {
  return { ...(top ?? {}), ...Object.fromEntries(Object.entries(subset).filter(([, v]) => v !== undefined)) };
}

function portPolicies(
  policy: TrafficPolicy | undefined,
  svc: ServiceModel,
  extras: PolicyExtras | undefined,
  status: IstioStatus,
  at: string,
): Array<{ port: number; policy: BackendPolicy }> {
  const out: Array<{ port: number; policy: BackendPolicy }> = [];
  (policy?.portLevelSettings ?? []).forEach((p, i) => {
    const port = p.port?.number;
    if (port === undefined) return;
    if (!svc.ports.some((sp) => sp.port === port))
      status.notes.push({
        path: `${at}.portLevelSettings.${i}.port.number`,
        message: `${svc.namespace}/${svc.name} has no port ${port}`,
      });
    const { port: _port, ...settings } = p;
    const merged = { ...policy, ...settings, portLevelSettings: undefined } as TrafficPolicy;
    out.push({ port, policy: policyOf(merged, port, extras, status, `${at}.portLevelSettings.${i}`) });
  });
  return out;
}

function policyOf(
  p: TrafficPolicy,
  port: number | undefined,
  extras: PolicyExtras | undefined,
  status: IstioStatus,
  at: string,
): BackendPolicy {
  const out: BackendPolicy = {};
  if (p.loadBalancer) out.loadBalancer = loadBalancerOf(p.loadBalancer, status, `${at}.loadBalancer`);
  const extra = extras?.(p, port);
  if (extra) out.extra = extra;
  if (p.tls && p.tls.mode !== 'ISTIO_MUTUAL' && p.tls.mode !== 'DISABLE' && p.tls.mode !== undefined)
    status.notes.push({
      path: `${at}.tls.mode`,
      message: `tls mode ${p.tls.mode} is not applied yet (Weft proxies use mutual TLS between themselves on their own)`,
    });
  if (p.tls?.mode === 'DISABLE')
    status.notes.push({
      path: `${at}.tls.mode`,
      message: 'DISABLE is not applied: mutual TLS between sidecars follows PeerAuthentication',
    });
  return out;
}

function loadBalancerOf(
  lb: LoadBalancerSettings,
  status: IstioStatus,
  at: string,
): BackendPolicy['loadBalancer'] {
  const hash = lb.consistentHash;
  if (hash) {
    const type = hash.maglev ? 'maglev' : 'ring-hash';
    const hashOn = hash.httpHeaderName
      ? { header: hash.httpHeaderName }
      : hash.httpCookie
        ? { cookie: hash.httpCookie.name }
        : hash.httpQueryParameterName
          ? { queryParam: hash.httpQueryParameterName }
          : { sourceIp: true };
    if (hash.httpCookie?.ttl !== undefined)
      status.notes.push({
        path: `${at}.consistentHash.httpCookie.ttl`,
        message: 'the cookie is hashed when the client sends it; the proxy does not set it yet',
      });
    const ringSize = hash.ringHash?.minimumRingSize ?? hash.minimumRingSize;
    return ringSize !== undefined && ringSize >= 64 ? { type, hashOn, ringSize } : { type, hashOn };
  }
  switch (lb.simple) {
    case 'ROUND_ROBIN':
      return { type: 'round-robin' };
    case 'RANDOM':
      return { type: 'random' };
    case 'PASSTHROUGH':
      status.notes.push({
        path: `${at}.simple`,
        message: 'PASSTHROUGH is served as LEAST_REQUEST among the service endpoints',
      });
      return { type: 'least-request' };
    default:
      // LEAST_REQUEST, LEAST_CONN (its deprecated name) and UNSPECIFIED: Istio's default.
      return { type: 'least-request' };
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
