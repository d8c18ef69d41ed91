/**
 * The Gateway API GRPCRoute (gateway.networking.k8s.io v1, v1beta1, v1alpha2): matches on the gRPC
 * service and method and on headers; header filters and mirroring; weighted backends. A rule with no
 * matches matches every call. The CRD's CEL rules on method matches are refinements here.
 */
import { z } from 'zod';
import {
  addIssue,
  BackendRef,
  CommonRouteSpec,
  checkFilterFields,
  checkFilterRepeats,
  checkRuleNames,
  HeaderMatch,
  HeaderModifier,
  Hostname,
  LocalObjectReference,
  RequestMirror,
  routeResource,
  SectionName,
} from './shared.ts';

/** Names an Exact match may use: a protobuf package-qualified service, a method identifier. */
const SERVICE_NAME = /^\.?[a-zA-Z_][a-zA-Z_0-9]*(\.[a-zA-Z_][a-zA-Z_0-9]*)*$/;
const METHOD_NAME = /^[A-Za-z_][A-Za-z_0-9]*$/;

export const GRPCMethodMatch = z
  .object({
    type: z.enum(['Exact', 'RegularExpression']).default('Exact'),
    service: z.string().max(1024).optional(),
    method: z.string().max(1024).optional(),
  })
  .superRefine((m, ctx) => {
    if (!m.service && !m.method) addIssue(ctx, [], "one or both of 'service' or 'method' must be specified");
    if (m.type !== 'Exact') return;
    if (m.service && !SERVICE_NAME.test(m.service)) {
      addIssue(ctx, ['service'], 'must be a gRPC service name such as "pkg.Service"');
    }
    if (m.method && !METHOD_NAME.test(m.method)) {
      addIssue(ctx, ['method'], 'must be a gRPC method name such as "GetUser"');
    }
  });
export type GRPCMethodMatch = z.output<typeof GRPCMethodMatch>;

export const GRPCRouteMatch = z.object({
  method: GRPCMethodMatch.optional(),
  headers: z.array(HeaderMatch).max(16).default([]),
});
export type GRPCRouteMatch = z.output<typeof GRPCRouteMatch>;

const GRPC_FILTER_FIELDS = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  ExtensionRef: 'extensionRef',
} as const;

const GRPC_FILTERS_ONCE = ['RequestHeaderModifier', 'ResponseHeaderModifier'];

export const GRPCRouteFilter = z
  .object({
    type: z.string().min(1),
    requestHeaderModifier: HeaderModifier.optional(),
    responseHeaderModifier: HeaderModifier.optional(),
    requestMirror: RequestMirror.optional(),
    extensionRef: LocalObjectReference.optional(),
  })
  .superRefine((f, ctx) => checkFilterFields(f, GRPC_FILTER_FIELDS, ctx));
export type GRPCRouteFilter = z.output<typeof GRPCRouteFilter>;

export const GRPCBackendRef = BackendRef.extend({
  filters: z.array(GRPCRouteFilter).max(16).default([]),
}).superRefine((b, ctx) => checkFilterRepeats(b.filters, GRPC_FILTERS_ONCE, ctx, ['filters']));
export type GRPCBackendRef = z.output<typeof GRPCBackendRef>;

export const GRPCRouteRule = z
  .object({
    name: SectionName.optional(),
    matches: z.array(GRPCRouteMatch).max(8).default([]),
    filters: z.array(GRPCRouteFilter).max(16).default([]),
    backendRefs: z.array(GRPCBackendRef).max(16).default([]),
  })
  .superRefine((r, ctx) => checkFilterRepeats(r.filters, GRPC_FILTERS_ONCE, ctx, ['filters']));
export type GRPCRouteRule = z.output<typeof GRPCRouteRule>;

export const GRPCRouteSpec = CommonRouteSpec.extend({
  hostnames: z.array(Hostname).max(16).default([]),
  /** Absent rules: one rule that matches every call (as HTTPRoute's default). */
  rules: z.array(GRPCRouteRule).max(16).prefault([{}]),
}).superRefine((s, ctx) => checkRuleNames(s.rules, ctx));
export type GRPCRouteSpec = z.output<typeof GRPCRouteSpec>;

export const GRPCRoute = routeResource('GRPCRoute', GRPCRouteSpec);
export type GRPCRoute = z.output<typeof GRPCRoute>;
