/**
 * The Gateway API TCPRoute (gateway.networking.k8s.io v1alpha2, also accepted as v1 and v1beta1): no
 * matches, only weighted backends. The CRD requires at least one rule and one backend per rule.
 */
import { z } from 'zod';
import { BackendRef, CommonRouteSpec, checkRuleNames, routeResource, SectionName } from './shared.ts';

export const TCPRouteRule = z.object({
  name: SectionName.optional(),
  backendRefs: z.array(BackendRef).min(1).max(16),
});
export type TCPRouteRule = z.output<typeof TCPRouteRule>;

export const TCPRouteSpec = CommonRouteSpec.extend({
  rules: z.array(TCPRouteRule).min(1).max(16),
}).superRefine((s, ctx) => checkRuleNames(s.rules, ctx));
export type TCPRouteSpec = z.output<typeof TCPRouteSpec>;

export const TCPRoute = routeResource('TCPRoute', TCPRouteSpec);
export type TCPRoute = z.output<typeof TCPRoute>;
