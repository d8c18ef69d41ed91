/**
 * Weft's `Workload` kind (weft.dev/v1alpha1): a local program run by `weft up` with its sidecar, for
 * workloads that are not container images. Kubernetes has no equivalent outside a cluster; on Kubernetes
 * the same workload is a Deployment.
 */
import { z } from 'zod';
import { ObjectMeta } from '../meta.ts';

const port = z.number().int().min(1).max(65535);

export const WorkloadProbe = z.strictObject({
  httpGet: z.strictObject({ path: z.string().default('/'), port: z.union([port, z.string()]) }).optional(),
  tcpSocket: z.strictObject({ port: z.union([port, z.string()]) }).optional(),
  initialDelaySeconds: z.number().min(0).default(0),
  periodSeconds: z.number().min(0.1).default(1),
  timeoutSeconds: z.number().min(0.1).default(1),
  failureThreshold: z.number().int().min(1).default(3),
});

export const Workload = z.strictObject({
  apiVersion: z.enum(['weft.dev/v1alpha1']),
  kind: z.literal('Workload'),
  metadata: ObjectMeta,
  spec: z.strictObject({
    command: z
      .union([z.string().min(1), z.array(z.string()).min(1)])
      .describe('The program: a path or an argv array. Relative paths resolve against the file.'),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    workingDir: z.string().optional(),
    replicas: z.number().int().min(0).max(64).default(1),
    labels: z
      .record(z.string(), z.string())
      .optional()
      .describe('Labels of every instance (Services select on them); default {app: <name>}.'),
    serviceAccount: z.string().optional().describe('Default: the workload name.'),
    ports: z
      .array(
        z.strictObject({
          name: z.string().optional(),
          port,
          protocol: z.enum(['http1', 'http2', 'grpc', 'tcp']).optional(),
        }),
      )
      .default([]),
    readinessProbe: WorkloadProbe.optional(),
  }),
});
export type Workload = z.output<typeof Workload>;
