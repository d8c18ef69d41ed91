/**
 * Every resource kind Weft reads, by apiVersion group and kind, with its schema. `validateResource` turns
 * one parsed document into a typed resource or issues with paths; a document of a kind Weft does not know
 * gets an `unsupported` verdict so its status can say so without failing the others.
 */
import type { z } from 'zod';
import type { ConfigIssue } from '../../core/errors.ts';
import { GATEWAY_ROUTE_SCHEMAS } from './gateway-api/index.ts';
import {
  ISTIO_NETWORKING_GROUP,
  ISTIO_NETWORKING_KINDS,
  ISTIO_SECURITY_GROUP,
  PeerAuthentication,
} from './istio/index.ts';
import { Deployment } from './kubernetes/deployment.ts';
import { Service } from './kubernetes/service.ts';
import { Namespace, ServiceAccount } from './kubernetes/service-account.ts';
import type { ResourceKey } from './meta.ts';
import { Workload } from './weft/workload.ts';

export interface KindEntry {
  /** The API group ('' for core), as in `apiVersion: <group>/<version>`. */
  group: string;
  kind: string;
  versions: readonly string[];
  namespaced: boolean;
  schema: z.ZodType;
}

const kinds: KindEntry[] = [
  { group: '', kind: 'Service', versions: ['v1'], namespaced: true, schema: Service },
  { group: '', kind: 'ServiceAccount', versions: ['v1'], namespaced: true, schema: ServiceAccount },
  { group: '', kind: 'Namespace', versions: ['v1'], namespaced: false, schema: Namespace },
  { group: 'apps', kind: 'Deployment', versions: ['v1'], namespaced: true, schema: Deployment },
  { group: 'weft.dev', kind: 'Workload', versions: ['v1alpha1'], namespaced: true, schema: Workload },
  ...Object.entries(GATEWAY_ROUTE_SCHEMAS).map(([kind, schema]) => ({
    group: 'gateway.networking.k8s.io',
    kind,
    versions: ['v1', 'v1beta1', 'v1alpha2'],
    namespaced: true,
    schema,
  })),
  {
    group: ISTIO_SECURITY_GROUP,
    kind: 'PeerAuthentication',
    versions: ['v1', 'v1beta1'],
    namespaced: true,
    schema: PeerAuthentication,
  },
  ...ISTIO_NETWORKING_KINDS.map(({ kind, schema, versions }) => ({
    group: ISTIO_NETWORKING_GROUP,
    kind,
    versions,
    namespaced: true,
    schema,
  })),
];

/** Adds kinds of another front door (Gateway API, Istio, Linkerd) to the registry. */
export function registerKinds(entries: readonly KindEntry[]): void {
  for (const e of entries) {
    if (!kinds.some((k) => k.group === e.group && k.kind === e.kind)) kinds.push(e);
  }
}

export function knownKinds(): readonly KindEntry[] {
  return kinds;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash === -1
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export type ResourceVerdict =
  | { state: 'valid'; key: ResourceKey; group: string; value: unknown }
  | { state: 'invalid'; key: ResourceKey | undefined; group: string; issues: ConfigIssue[] }
  | { state: 'unsupported'; key: ResourceKey | undefined; group: string; issues: ConfigIssue[] };

/** Validates one document. `defaultNamespace` applies when metadata.namespace is absent. */
export function validateResource(doc: unknown, defaultNamespace = 'default'): ResourceVerdict {
  const head = (doc ?? {}) as {
    apiVersion?: unknown;
    kind?: unknown;
    metadata?: { name?: unknown; namespace?: unknown };
  };
  if (typeof head.apiVersion !== 'string' || typeof head.kind !== 'string') {
    return {
      state: 'invalid',
      key: undefined,
      group: '',
      issues: [{ code: 'CONFIG_SCHEMA', path: '', message: 'a resource needs apiVersion and kind' }],
    };
  }
  const { group, version } = splitApiVersion(head.apiVersion);
  const entry = kinds.find((k) => k.group === group && k.kind === head.kind);
  const name = typeof head.metadata?.name === 'string' ? head.metadata.name : '';
  const ns = typeof head.metadata?.namespace === 'string' ? head.metadata.namespace : defaultNamespace;
  const key: ResourceKey | undefined = name
    ? { kind: head.kind, namespace: entry && !entry.namespaced ? '' : ns, name }
    : undefined;
  if (!entry) {
    return {
      state: 'unsupported',
      key,
      group,
      issues: [
        {
          code: 'CONFIG_UNSUPPORTED',
          path: 'kind',
          message: `${head.kind} (${head.apiVersion}) is not a kind Weft reads; it is ignored`,
        },
      ],
    };
  }
  if (!entry.versions.includes(version)) {
    return {
      state: 'invalid',
      key,
      group,
      issues: [
        {
          code: 'CONFIG_SCHEMA',
          path: 'apiVersion',
          message: `${head.kind} is read at ${entry.versions.map((v) => (group ? `${group}/${v}` : v)).join(', ')}, not ${head.apiVersion}`,
        },
      ],
    };
  }
  const parsed = entry.schema.safeParse(doc);
  if (!parsed.success) {
    return {
      state: 'invalid',
      key,
      group,
      issues: parsed.error.issues.map((i) => ({
        code: 'CONFIG_SCHEMA' as const,
        path: i.path.join('.'),
        message: i.message,
      })),
    };
  }
  if (!key) {
    return {
      state: 'invalid',
      key,
      group,
      issues: [{ code: 'CONFIG_SCHEMA', path: 'metadata.name', message: 'metadata.name is required' }],
    };
  }
  return { state: 'valid', key, group, value: parsed.data };
}
