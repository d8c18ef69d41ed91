/**
 * Kubernetes `Deployment` (apps/v1) as the local runtime reads it: replicas, the pod template's labels,
 * service account and containers. Each container image maps to a local program (see the control plane's
 * image map); volumes, resources and the rest of a pod spec are accepted and ignored.
 */
import { z } from 'zod';
import { ObjectMeta } from '../meta.ts';

const port = z.union([z.number().int().min(1).max(65535), z.string().min(1)]);

export const Probe = z.looseObject({
  httpGet: z.looseObject({ path: z.string().default('/'), port }).optional(),
  tcpSocket: z.looseObject({ port }).optional(),
  exec: z.looseObject({ command: z.array(z.string()) }).optional(),
  initialDelaySeconds: z.number().min(0).default(0),
  periodSeconds: z.number().min(0.1).default(1),
  timeoutSeconds: z.number().min(0.1).default(1),
  failureThreshold: z.number().int().min(1).default(3),
});
export type Probe = z.output<typeof Probe>;

export const EnvVar = z.looseObject({ name: z.string().min(1), value: z.string().optional() });

export const Container = z.looseObject({
  name: z.string().min(1),
  image: z.string().min(1),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  env: z.array(EnvVar).default([]),
  ports: z
    .array(
      z.looseObject({
        containerPort: z.number().int().min(1).max(65535),
        name: z.string().optional(),
        protocol: z.enum(['TCP', 'UDP', 'SCTP']).default('TCP'),
      }),
    )
    .default([]),
  readinessProbe: Probe.optional(),
});
export type Container = z.output<typeof Container>;

export const PodTemplate = z.looseObject({
  metadata: z
    .looseObject({
      labels: z.record(z.string(), z.string()).default({}),
      annotations: z.record(z.string(), z.string()).default({}),
    })
    .default({ labels: {}, annotations: {} }),
  spec: z.looseObject({
    serviceAccountName: z.string().optional(),
    containers: z.array(Container).min(1, 'a pod needs at least one container'),
  }),
});

export const Deployment = z.looseObject({
  apiVersion: z.literal('apps/v1'),
  kind: z.literal('Deployment'),
  metadata: ObjectMeta,
  spec: z.looseObject({
    replicas: z.number().int().min(0).max(64).default(1),
    selector: z.looseObject({ matchLabels: z.record(z.string(), z.string()).default({}) }).optional(),
    template: PodTemplate,
  }),
});
export type Deployment = z.output<typeof Deployment>;
