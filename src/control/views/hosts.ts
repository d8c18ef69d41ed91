/**
 * The names a service answers to, as a Kubernetes DNS search path gives them: the short name only inside
 * its own namespace, then `name.ns`, `name.ns.svc` and `name.ns.svc.cluster.local` everywhere.
 */
export const CLUSTER_DOMAIN = 'cluster.local';

export function serviceHostnames(name: string, namespace: string, clientNamespace: string): string[] {
  const fq = [
    `${name}.${namespace}`,
    `${name}.${namespace}.svc`,
    `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`,
  ];
  return namespace === clientNamespace ? [name, ...fq] : fq;
}
