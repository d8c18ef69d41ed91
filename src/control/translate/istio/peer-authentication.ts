/**
 * Istio PeerAuthentication → the mutual TLS mode in effect on one workload port. The view builder uses
 * it twice: for the inbound entry of each application port (what the sidecar accepts), and for each
 * endpoint a client dials (auto-mTLS: no identity, so plaintext, when the server port's mode is DISABLE).
 *
 * Precedence follows istiod (pilot/pkg/security/authn/policy_applier.go, ComposePeerAuthentication):
 * a workload policy (a selector in the workload's namespace) over the namespace policy (no selector) over
 * the mesh policy (no selector, in the root namespace) over the built-in default (PERMISSIVE in Istio). A
 * level whose mode is UNSET, or that has no policy, inherits from the level above; a port-level mode of
 * the chosen workload policy overrides its workload mode on that port, and UNSET there inherits the
 * workload mode. Where several policies compete at one level, the oldest (creationTimestamp, then name)
 * wins, as istiod sorts configs by creation time, then name.
 *
 * Root namespace and selectors: the API reference's comment on `selector` says a selector in the root
 * namespace "will additionally match with workloads in all namespace", but istiod never did so. It only
 * looks for workload policies in the workload's own namespace (`cfg.Namespace != rootNamespace` in
 * ComposePeerAuthentication), and istio/api#3604 corrected the reference: "PeerAuthentication policies with
 * workload selectors are ignored when deployed in the root namespace". Weft does what istiod does: such a
 * policy applies to no workload (the index notes it on the resource).
 */
import type { PeerAuthentication } from '../../../api/resources/istio/peer-authentication.ts';
import type { MtlsMode, PeerAuthenticationModel } from '../../model/types.ts';

/** Istio's default `meshConfig.rootNamespace`. */
export const DEFAULT_ROOT_NAMESPACE = 'istio-system';
/** Istio's mode when no policy applies: plaintext and mutual TLS are both accepted. */
export const DEFAULT_MTLS_MODE: MtlsMode = 'PERMISSIVE';

/** A validated resource as the model carries it. */
export function translatePeerAuthentication(
  resource: PeerAuthentication,
  namespace: string,
): PeerAuthenticationModel {
  const labels = resource.spec.selector?.matchLabels;
  return {
    resource: `PeerAuthentication/${namespace}/${resource.metadata.name}`,
    namespace,
    name: resource.metadata.name,
    created: resource.metadata.creationTimestamp ?? '',
    selector: labels && Object.keys(labels).length > 0 ? { ...labels } : undefined,
    mode: resource.spec.mtls?.mode ?? 'UNSET',
    portLevel: Object.entries(resource.spec.portLevelMtls ?? {})
      .map(([port, m]) => ({ port: Number(port), mode: m.mode }))
      .sort((a, b) => a.port - b.port),
  };
}

/** A workload policy in the root namespace: istiod applies it to no workload (see the module comment). */
export function ignoredInRootNamespace(policy: PeerAuthenticationModel, rootNamespace: string): boolean {
  return policy.selector !== undefined && policy.namespace === rootNamespace;
}

export interface WorkloadRef {
  namespace: string;
  labels: Record<string, string>;
}

/** The modes in effect on a workload: one for every port, and the port-level exceptions. */
export interface EffectiveMtls {
  mode: MtlsMode;
  ports: ReadonlyMap<number, MtlsMode>;
}

/** Creation time in ms; a policy without one counts as created first (Go's zero time, for istiod). */
function createdAt(p: PeerAuthenticationModel): number {
  const t = Date.parse(p.created);
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

const older = (a: PeerAuthenticationModel, b: PeerAuthenticationModel) => {
  const ta = createdAt(a);
  const tb = createdAt(b);
  return ta === tb ? a.name < b.name : ta < tb;
};

function oldest(list: readonly PeerAuthenticationModel[]): PeerAuthenticationModel | undefined {
  let chosen: PeerAuthenticationModel | undefined;
  for (const p of list) if (chosen === undefined || older(p, chosen)) chosen = p;
  return chosen;
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

/** The policies that apply to a workload and what they resolve to (see the module comment). */
export function effectiveMtls(
  policies: readonly PeerAuthenticationModel[],
  workload: WorkloadRef,
  rootNamespace: string = DEFAULT_ROOT_NAMESPACE,
  defaultMode: MtlsMode = DEFAULT_MTLS_MODE,
): EffectiveMtls {
  const mesh: PeerAuthenticationModel[] = [];
  const namespace: PeerAuthenticationModel[] = [];
  const workloadLevel: PeerAuthenticationModel[] = [];
  for (const p of policies) {
    if (p.selector === undefined) {
      // In the root namespace, a policy without selector is the mesh policy, also for the root
      // namespace's own workloads.
      if (p.namespace === rootNamespace) mesh.push(p);
      else if (p.namespace === workload.namespace) namespace.push(p);
    } else if (
      p.namespace === workload.namespace &&
      !ignoredInRootNamespace(p, rootNamespace) &&
      selects(p.selector, workload.labels)
    ) {
      workloadLevel.push(p);
    }
  }
  let mode = defaultMode;
  for (const level of [oldest(mesh), oldest(namespace)]) {
    if (level !== undefined && level.mode !== 'UNSET') mode = level.mode;
  }
  const chosen = oldest(workloadLevel);
  if (chosen !== undefined && chosen.mode !== 'UNSET') mode = chosen.mode;
  const ports = new Map<number, MtlsMode>();
  for (const p of chosen?.portLevel ?? []) ports.set(p.port, p.mode === 'UNSET' ? mode : p.mode);
  return { mode, ports };
}

/** The mode in effect on one port of a workload (its containerPort). */
export function mtlsModeFor(
  policies: readonly PeerAuthenticationModel[],
  workload: WorkloadRef,
  port: number,
  rootNamespace: string = DEFAULT_ROOT_NAMESPACE,
  defaultMode: MtlsMode = DEFAULT_MTLS_MODE,
): MtlsMode {
  return modeOnPort(effectiveMtls(policies, workload, rootNamespace, defaultMode), port);
}

export function modeOnPort(effective: EffectiveMtls, port: number): MtlsMode {
  return effective.ports.get(port) ?? effective.mode;
}
