/**
 * Istio host names to the mesh's services. A short name ("reviews") means a service in the namespace of
 * the rule that names it, as Istio documents; a fully qualified one is `<name>.<namespace>.svc.cluster.local`.
 * `<name>.<namespace>.svc` and `<name>.<namespace>` are read the same way (Kubernetes DNS resolves them).
 * Anything else (an external host, a wildcard) is not a service of the mesh.
 */
import type { ServiceModel } from '../../model/types.ts';

export const CLUSTER_DOMAIN = 'cluster.local';

export type ServiceLookup = (namespace: string, name: string) => ServiceModel | undefined;

export function resolveHost(
  host: string,
  ruleNamespace: string,
  lookup: ServiceLookup,
): ServiceModel | undefined {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h.includes('*')) return undefined;
  const parts = h.split('.');
  if (parts.length === 1) return lookup(ruleNamespace, h);
  const [name, namespace, ...rest] = parts as [string, string, ...string[]];
  const suffix = rest.join('.');
  if (suffix === '' || suffix === 'svc' || suffix === `svc.${CLUSTER_DOMAIN}`) return lookup(namespace, name);
  return undefined;
}

/** Whether a rule exported to `exportTo` (from `ruleNamespace`) is visible to a client in `clientNamespace`. */
export function exportedTo(
  exportTo: readonly string[] | undefined,
  ruleNamespace: string,
  clientNamespace: string,
): boolean {
  if (exportTo === undefined || exportTo.length === 0) return true;
  return exportTo.some(
    (e) => e === '*' || e === clientNamespace || (e === '.' && ruleNamespace === clientNamespace),
  );
}
