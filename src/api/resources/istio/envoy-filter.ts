/**
 * Istio's `EnvoyFilter` (networking.istio.io v1alpha3, the only version Istio serves): patches to the
 * Envoy configuration istiod generates, each with where it applies (`applyTo`, `match`) and what it does
 * (`patch.operation`, `patch.value`).
 *
 * Weft has no Envoy configuration to patch. The translator recognises the local rate-limit patterns of
 * Istio's tasks and reports any other EnvoyFilter as not supported; so the schema only checks the shape
 * the CRD defines (field names, enums, the CEL rules) and keeps `patch.value`, which is free-form Envoy
 * configuration, as it is.
 */
import { z } from 'zod';
import { AlphaWorkloadSelector, Int32, issue, networkingResource, UInt32 } from './networking.ts';

export const ENVOY_FILTER_API_VERSIONS = ['networking.istio.io/v1alpha3'] as const;

const SubFilter = z.strictObject({ name: z.string().optional() });
const FilterMatch = z.strictObject({ name: z.string().optional(), subFilter: SubFilter.optional() });

const ListenerMatch = z.strictObject({
  portNumber: UInt32.optional(),
  portName: z.string().optional(),
  filterChain: z
    .strictObject({
      name: z.string().optional(),
      sni: z.string().optional(),
      transportProtocol: z.string().optional(),
      applicationProtocols: z.string().optional(),
      filter: FilterMatch.optional(),
      destinationPort: UInt32.optional(),
    })
    .optional(),
  listenerFilter: z.string().optional(),
  name: z.string().optional(),
});

const RouteConfigurationMatch = z.strictObject({
  portNumber: UInt32.optional(),
  portName: z.string().optional(),
  gateway: z.string().optional(),
  vhost: z
    .strictObject({
      name: z.string().optional(),
      domainName: z.string().optional(),
      route: z
        .strictObject({
          name: z.string().optional(),
          action: z.enum(['ANY', 'ROUTE', 'REDIRECT', 'DIRECT_RESPONSE']).optional(),
        })
        .optional(),
    })
    .optional(),
  name: z.string().optional(),
});

const ClusterMatch = z.strictObject({
  portNumber: UInt32.optional(),
  service: z.string().optional(),
  subset: z.string().optional(),
  name: z.string().optional(),
});

const WaypointMatch = z.strictObject({
  filter: FilterMatch.optional(),
  route: z.strictObject({ name: z.string().optional() }).optional(),
  portNumber: UInt32.refine((p) => p > 0 && p <= 65535, 'port must be between 1-65535').optional(),
});

const OBJECT_MATCHES = ['listener', 'routeConfiguration', 'cluster', 'waypoint'] as const;

export const EnvoyConfigObjectMatch = z
  .strictObject({
    context: z.enum(['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY', 'WAYPOINT']).optional(),
    proxy: z
      .strictObject({
        proxyVersion: z.string().optional(),
        metadata: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
    listener: ListenerMatch.optional(),
    routeConfiguration: RouteConfigurationMatch.optional(),
    cluster: ClusterMatch.optional(),
    waypoint: WaypointMatch.optional(),
  })
  .superRefine((m, ctx) => {
    const set = OBJECT_MATCHES.filter((k) => m[k] !== undefined);
    if (set.length > 1)
      issue(ctx, [set[1] as string], `set one of ${OBJECT_MATCHES.join(', ')}, not ${set.join(' and ')}`);
    if (m.waypoint !== undefined && m.context !== 'WAYPOINT') {
      issue(ctx, ['waypoint'], 'only support waypointMatch when context is WAYPOINT');
    }
  });

export const EnvoyConfigObjectPatch = z
  .strictObject({
    applyTo: z
      .enum([
        'INVALID',
        'LISTENER',
        'FILTER_CHAIN',
        'NETWORK_FILTER',
        'HTTP_FILTER',
        'ROUTE_CONFIGURATION',
        'VIRTUAL_HOST',
        'HTTP_ROUTE',
        'CLUSTER',
        'EXTENSION_CONFIG',
        'BOOTSTRAP',
        'LISTENER_FILTER',
      ])
      .optional(),
    match: EnvoyConfigObjectMatch.optional(),
    patch: z
      .strictObject({
        operation: z
          .enum([
            'INVALID',
            'MERGE',
            'ADD',
            'REMOVE',
            'INSERT_BEFORE',
            'INSERT_AFTER',
            'INSERT_FIRST',
            'REPLACE',
          ])
          .optional(),
        /** Envoy configuration in its JSON form, kept as written. */
        value: z.record(z.string(), z.unknown()).optional(),
        filterClass: z.enum(['UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS']).optional(),
      })
      .optional(),
  })
  .superRefine((p, ctx) => {
    if ((p.applyTo ?? 'INVALID') === 'INVALID') issue(ctx, ['applyTo'], 'Envoy filter: missing applyTo');
    if (!p.patch) issue(ctx, ['patch'], 'Envoy filter: missing patch');
  });
export type EnvoyConfigObjectPatch = z.output<typeof EnvoyConfigObjectPatch>;

const PolicyTargetReference = z.strictObject({
  group: z.string().max(253).optional(),
  kind: z.string().min(1).max(63),
  name: z.string().min(1).max(253),
  namespace: z.string().max(0, 'cross namespace referencing is not currently supported').optional(),
});

export const EnvoyFilterSpec = z
  .strictObject({
    workloadSelector: AlphaWorkloadSelector.optional(),
    targetRefs: z.array(PolicyTargetReference).max(16).optional(),
    configPatches: z.array(EnvoyConfigObjectPatch).optional(),
    priority: Int32.optional(),
  })
  .superRefine((f, ctx) => {
    if (f.workloadSelector && f.targetRefs) {
      issue(ctx, ['targetRefs'], 'only one of targetRefs or workloadSelector can be set');
    }
  });
export type EnvoyFilterSpec = z.output<typeof EnvoyFilterSpec>;

export const EnvoyFilter = networkingResource('EnvoyFilter', ENVOY_FILTER_API_VERSIONS, EnvoyFilterSpec);
export type EnvoyFilter = z.output<typeof EnvoyFilter>;
