/**
 * The route front doors the index runs: the Gateway API (GAMMA) and Istio's VirtualService with its
 * DestinationRules. Both produce attachments the view builder reads; Linkerd's routes will add theirs.
 * Istio's EnvoyFilters (local rate limits on sidecars' inbound ports) are translated here too.
 */
import type { GatewayRoute } from '../../api/resources/gateway-api/index.ts';
import type { DestinationRule, EnvoyFilter, VirtualService } from '../../api/resources/istio/index.ts';
import type { RouteTranslator } from '../index/index.ts';
import type { ServiceModel } from '../model/types.ts';
import { parsedRoute, translateGatewayRoutes } from './gateway-api/index.ts';
import { translateDestinationRules } from './istio/destination-rule.ts';
import { translateEnvoyFilters } from './istio/envoy-filter.ts';
import { policyExtras, ruleExtras } from './istio/resilience.ts';
import { translateVirtualServices } from './istio/virtual-service.ts';

export const ROUTE_KINDS: readonly string[] = [
  'HTTPRoute',
  'GRPCRoute',
  'TCPRoute',
  'VirtualService',
  'DestinationRule',
  'EnvoyFilter',
];

const ISTIO_KINDS = new Set(['VirtualService', 'DestinationRule', 'EnvoyFilter']);

export const translateRoutes: RouteTranslator = (routes, services) => {
  const gateway = translateGatewayRoutes(
    routes
      .filter((r) => !ISTIO_KINDS.has(r.kind))
      .map((r) => parsedRoute(r.value as GatewayRoute, r.namespace)),
    services,
  );
  const index = new Map<string, ServiceModel>(services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const lookup = (namespace: string, name: string) => index.get(`${namespace}/${name}`);
  const istio = (kind: string) =>
    routes
      .filter((r) => r.kind === kind)
      .map((r) => ({ namespace: r.namespace, name: r.name, created: r.created, spec: r.spec }));
  const drs = translateDestinationRules(
    istio('DestinationRule') as Array<{
      namespace: string;
      name: string;
      created: string;
      spec: DestinationRule['spec'];
    }>,
    lookup,
    policyExtras,
  );
  const vss = translateVirtualServices(
    istio('VirtualService') as Array<{
      namespace: string;
      name: string;
      created: string;
      spec: VirtualService['spec'];
    }>,
    lookup,
    drs.policies,
    ruleExtras,
  );
  const efs = translateEnvoyFilters(
    istio('EnvoyFilter') as Array<{
      namespace: string;
      name: string;
      created: string;
      spec: EnvoyFilter['spec'];
    }>,
  );
  const statuses = new Map([...gateway.statuses, ...drs.statuses, ...vss.statuses, ...efs.statuses]);
  return {
    attachments: [...gateway.attachments, ...vss.attachments],
    statuses,
    policies: drs.policies,
    envoyFilters: efs.envoyFilters,
  };
};
