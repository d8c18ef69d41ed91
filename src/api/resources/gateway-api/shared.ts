/**
 * What the Gateway API route kinds (gateway.networking.k8s.io HTTPRoute, GRPCRoute, TCPRoute) share: API
 * versions and the resource envelope, parent and backend references, header matches and modifiers, request
 * mirroring, durations, and the checks their refinements repeat.
 * Field names, defaults and limits follow the upstream Go types (apis/v1/shared_types.go and
 * httproute_types.go). Where the CRDs validate with CEL, the same rule is a refinement here, so a manifest
 * the API server would refuse is refused here too; unknown fields are ignored, as on a cluster.
 */
import { z } from 'zod';
import { parseDuration } from '../../../core/duration.ts';
import { ObjectMeta } from '../meta.ts';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

/** TCPRoute is only served as v1alpha2 by most clusters; the others are accepted for every kind alike. */
export const GATEWAY_API_VERSIONS = [
  'gateway.networking.k8s.io/v1',
  'gateway.networking.k8s.io/v1beta1',
  'gateway.networking.k8s.io/v1alpha2',
] as const;
export const ApiVersion = z.enum(GATEWAY_API_VERSIONS);

/**
 * Reports a refinement issue at `path`, relative to the value being refined. The path is copied: Zod
 * prefixes an issue's path in place as the issue bubbles up to the parent objects.
 */
export function addIssue(ctx: z.RefinementCtx, path: readonly PropertyKey[], message: string): void {
  ctx.addIssue({ code: 'custom', path: [...path], message });
}

/** A route resource of the given kind: the Gateway API versions, object metadata and the kind's spec. */
export function routeResource<const K extends string, S extends z.ZodType>(kind: K, spec: S) {
  return z.object({ apiVersion: ApiVersion, kind: z.literal(kind), metadata: ObjectMeta, spec });
}

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** "" is the core API group (Service); "core" is accepted too, as Linkerd's documentation writes it. */
export const Group = z
  .string()
  .max(253)
  .refine((g) => g === '' || SUBDOMAIN.test(g), 'must be "" or a DNS subdomain');
export const Kind = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/, 'must be a Kubernetes kind such as "Service"');
export const ObjectName = z.string().min(1).max(253);
export const Namespace = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label');
export const SectionName = z.string().min(1).max(253).regex(SUBDOMAIN, 'must be a DNS subdomain');
export const PortNumber = z.number().int().min(1).max(65535);
export const Hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a host name');
export const PreciseHostname = z.string().min(1).max(253).regex(SUBDOMAIN, 'must be a host name');
/** An HTTP field name (RFC 7230 token); pseudo-headers such as ":method" are not allowed. */
export const HeaderName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/, 'must be an HTTP header name');

/**
 * A Gateway API duration (GEP-2257): up to four number-unit pairs, units h, m, s and ms. Kept as the
 * string the user wrote; the ProxyConfig duration parser reads the same syntax.
 */
export const Duration = z
  .string()
  .regex(/^([0-9]{1,5}(h|m|s|ms)){1,4}$/, 'must be a duration such as "10s", "500ms" or "1h30m"');

/** A route's parent: a Service for the mesh (GAMMA), a Gateway otherwise (the upstream default). */
export const ParentReference = z.object({
  group: Group.default(GATEWAY_API_GROUP),
  kind: Kind.default('Gateway'),
  namespace: Namespace.optional(),
  name: ObjectName,
  /** For a Service parent: the name of one of its ports. */
  sectionName: SectionName.optional(),
  port: PortNumber.optional(),
});
export type ParentReference = z.output<typeof ParentReference>;

/**
 * A reference to a backend object. The CRD requires `port` for Services; it is optional here because the
 * translator can infer it (the parent's port, or the Service's only port) and reports when it cannot.
 */
export const BackendObjectReference = z.object({
  group: Group.default(''),
  kind: Kind.default('Service'),
  name: ObjectName,
  namespace: Namespace.optional(),
  port: PortNumber.optional(),
});
export type BackendObjectReference = z.output<typeof BackendObjectReference>;

export const BackendRef = BackendObjectReference.extend({
  /** Proportional, not a percentage; 0 sends no traffic to this backend. */
  weight: z.number().int().min(0).max(1_000_000).default(1),
});
export type BackendRef = z.output<typeof BackendRef>;

export const HeaderMatch = z.object({
  type: z.enum(['Exact', 'RegularExpression']).default('Exact'),
  name: HeaderName,
  value: z.string().min(1).max(4096),
});
export type HeaderMatch = z.output<typeof HeaderMatch>;

const HTTPHeader = z.object({ name: HeaderName, value: z.string().min(1).max(4096) });

/** RequestHeaderModifier and ResponseHeaderModifier: set, add, remove. */
export const HeaderModifier = z
  .object({
    set: z.array(HTTPHeader).max(16).default([]),
    add: z.array(HTTPHeader).max(16).default([]),
    remove: z.array(z.string().min(1)).max(16).default([]),
  })
  .superRefine((m, ctx) => {
    // The spec allows one action per header name (names compare case-insensitively).
    const seen = new Set<string>();
    const names = [
      ...m.set.map((h, i) => ({ name: h.name, path: ['set', i, 'name'] })),
      ...m.add.map((h, i) => ({ name: h.name, path: ['add', i, 'name'] })),
      ...m.remove.map((name, i) => ({ name, path: ['remove', i] })),
    ];
    for (const { name, path } of names) {
      const key = name.toLowerCase();
      if (seen.has(key)) addIssue(ctx, path, `header "${name}" has more than one action`);
      seen.add(key);
    }
  });
export type HeaderModifier = z.output<typeof HeaderModifier>;

export const RequestMirror = z
  .object({
    backendRef: BackendObjectReference,
    percent: z.number().int().min(0).max(100).optional(),
    fraction: z
      .object({ numerator: z.number().int().min(0), denominator: z.number().int().min(1).default(100) })
      .refine((f) => f.numerator <= f.denominator, 'numerator must not exceed denominator')
      .optional(),
  })
  .refine((m) => m.percent === undefined || m.fraction === undefined, 'set percent or fraction, not both');
export type RequestMirror = z.output<typeof RequestMirror>;

/** ExtensionRef: an implementation-specific filter object (Weft supports none). */
export const LocalObjectReference = z.object({ group: Group, kind: Kind, name: ObjectName });

/** Filter types whose configuration Weft does not read; validated only as objects. */
export const OpaqueFilterConfig = z.record(z.string(), z.unknown());

/**
 * The CRDs' CEL rules for a filter union: the field named after the type must be set, and no other
 * filter field may be. `fields` maps each known type to its field; unknown types pass, so the
 * translator can report them on the route's status while the rest of the route still works.
 */
export function checkFilterFields(
  filter: { type: string } & Record<string, unknown>,
  fields: Readonly<Record<string, string>>,
  ctx: z.RefinementCtx,
): void {
  for (const [type, field] of Object.entries(fields)) {
    if (filter.type === type && filter[field] === undefined) {
      addIssue(ctx, [field], `${field} is required when type is ${type}`);
    } else if (filter.type !== type && filter[field] !== undefined) {
      addIssue(ctx, [field], `${field} must be unset unless type is ${type}`);
    }
  }
}

/** CEL: a filter type may appear at most once in a list, except the ones the spec lets repeat. */
export function checkFilterRepeats(
  filters: readonly { type: string }[],
  once: readonly string[],
  ctx: z.RefinementCtx,
  path: readonly PropertyKey[],
): void {
  const seen = new Set<string>();
  filters.forEach((f, i) => {
    if (once.includes(f.type) && seen.has(f.type)) {
      addIssue(ctx, [...path, i, 'type'], `${f.type} filter cannot be repeated`);
    }
    seen.add(f.type);
  });
}

export const Timeouts = z
  .object({ request: Duration.optional(), backendRequest: Duration.optional() })
  .refine(
    (t) => {
      if (t.request === undefined || t.backendRequest === undefined) return true;
      const request = parseDuration(t.request) ?? 0;
      return request === 0 || (parseDuration(t.backendRequest) ?? 0) <= request;
    },
    { message: 'backendRequest timeout cannot be longer than request timeout', path: ['backendRequest'] },
  );
export type Timeouts = z.output<typeof Timeouts>;

/** The fields every route spec starts with (upstream CommonRouteSpec). */
export const CommonRouteSpec = z.object({
  parentRefs: z.array(ParentReference).max(32).default([]),
});

/** CEL on rules: rule names are unique within a route. */
export function checkRuleNames(rules: readonly { name?: string | undefined }[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  rules.forEach((r, i) => {
    if (r.name === undefined) return;
    if (seen.has(r.name)) addIssue(ctx, ['rules', i, 'name'], 'rule name must be unique within the route');
    seen.add(r.name);
  });
}
