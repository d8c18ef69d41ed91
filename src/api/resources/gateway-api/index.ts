/**
 * Gateway API route kinds (gateway.networking.k8s.io): one schema per kind, and a table from kind to
 * schema for sources that dispatch on `kind`. Routes of other API groups (policy.linkerd.io HTTPRoute)
 * share kind names with these: check `apiVersion` with isGatewayApiVersion before choosing a schema.
 */
import { GRPCRoute } from './grpc-route.ts';
import { HTTPRoute } from './http-route.ts';
import { GATEWAY_API_VERSIONS } from './shared.ts';
import { TCPRoute } from './tcp-route.ts';

export * from './grpc-route.ts';
export * from './http-route.ts';
export * from './shared.ts';
export * from './tcp-route.ts';

export const GATEWAY_ROUTE_SCHEMAS = { HTTPRoute, GRPCRoute, TCPRoute } as const;
export type GatewayRouteKind = keyof typeof GATEWAY_ROUTE_SCHEMAS;
export type GatewayRoute = HTTPRoute | GRPCRoute | TCPRoute;

const VERSIONS: ReadonlySet<string> = new Set(GATEWAY_API_VERSIONS);

/** True when an apiVersion names the Gateway API group at a version Weft reads. */
export function isGatewayApiVersion(apiVersion: unknown): boolean {
  return typeof apiVersion === 'string' && VERSIONS.has(apiVersion);
}
