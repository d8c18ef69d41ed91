/**
 * What every resource kind shares: Kubernetes object metadata and the identity of a resource (its key).
 * Kubernetes kinds are read with loose objects (unknown fields are ignored, as a cluster would keep them):
 * manifests users already have carry volumes, probes and annotations Weft does not use.
 */
import { z } from 'zod';

/** A DNS-1123 label or subdomain, as Kubernetes requires for names and namespaces. */
export const Name = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be lower-case letters, digits, "-" and "."');

export const ObjectMeta = z.looseObject({
  name: Name,
  namespace: Name.optional(),
  labels: z.record(z.string(), z.string()).default({}),
  annotations: z.record(z.string(), z.string()).default({}),
  creationTimestamp: z.string().optional(),
});
export type ObjectMeta = z.output<typeof ObjectMeta>;

/** The identity of a resource: group-less kind, namespace and name ("HTTPRoute/default/reviews"). */
export interface ResourceKey {
  kind: string;
  namespace: string;
  name: string;
}

export function keyString(k: ResourceKey): string {
  return `${k.kind}/${k.namespace}/${k.name}`;
}

/** Where a resource was read from, for errors that point at a line. */
export interface Origin {
  file: string;
  line: number;
  column: number;
}
