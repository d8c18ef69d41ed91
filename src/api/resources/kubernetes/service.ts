/**
 * Kubernetes `Service` (core/v1), read from local files exactly as on a cluster: the selector picks the
 * workload instances behind it, each port forwards to a container port by number or name, and the
 * protocol comes from appProtocol or the port name's prefix (Istio's and Linkerd's convention).
 */
import { z } from 'zod';
import { ObjectMeta } from '../meta.ts';

export const ServicePort = z.looseObject({
  name: z.string().optional(),
  port: z.number().int().min(1).max(65535),
  targetPort: z.union([z.number().int().min(1).max(65535), z.string().min(1)]).optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).default('TCP'),
  appProtocol: z.string().optional(),
});

export const Service = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Service'),
  metadata: ObjectMeta,
  spec: z.looseObject({
    selector: z.record(z.string(), z.string()).optional(),
    ports: z.array(ServicePort).min(1, 'a Service needs at least one port'),
    type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).default('ClusterIP'),
    clusterIP: z.string().optional(),
  }),
});
export type Service = z.output<typeof Service>;
