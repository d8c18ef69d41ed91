/** Kubernetes `ServiceAccount` and `Namespace` (core/v1): identities and the namespaces that hold them. */
import { z } from 'zod';
import { ObjectMeta } from '../meta.ts';

export const ServiceAccount = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('ServiceAccount'),
  metadata: ObjectMeta,
});
export type ServiceAccount = z.output<typeof ServiceAccount>;

export const Namespace = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Namespace'),
  metadata: ObjectMeta,
});
export type Namespace = z.output<typeof Namespace>;
