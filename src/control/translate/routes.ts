/**
 * The route front doors the index runs: today the Gateway API (GAMMA); Istio's VirtualService and
 * Linkerd's routes will add their translators here and share the same attachments.
 */
import type { GatewayRoute } from '../../api/resources/gateway-api/index.ts';
import type { RouteTranslator } from '../index/index.ts';
import { parsedRoute, translateGatewayRoutes } from './gateway-api/index.ts';

export const ROUTE_KINDS: readonly string[] = ['HTTPRoute', 'GRPCRoute', 'TCPRoute'];

export const translateRoutes: RouteTranslator = (routes, services) => {
  const out = translateGatewayRoutes(
    routes.map((r) => parsedRoute(r.value as GatewayRoute, r.namespace)),
    services,
  );
  return { attachments: out.attachments, statuses: out.statuses };
};
