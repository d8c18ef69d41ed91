/**
 * What Istio's traffic kinds (networking.istio.io VirtualService, DestinationRule, ServiceEntry and
 * EnvoyFilter) share: the group and its versions, the resource envelope, and the small types and checks
 * that recur across them (durations, string matches, percentages, destinations, labels, host names,
 * `exportTo`, header operations).
 *
 * Field names and types follow istio/api networking/v1alpha3 (v1 and v1beta1 are the same schema) and the
 * CRDs generated from it (kubernetes/customresourcedefinitions.gen.yaml). Istio's CRDs are structural with
 * no preserved unknown fields in `spec`, so the API server refuses a misspelt field (kubectl's strict field
 * validation): objects here are strict, and a typo is an error on the object that holds it. The CRDs' CEL
 * rules and istiod's validation webhook (pkg/config/validation) are refinements, with Istio's wording where
 * it is clear, so a manifest Istio refuses is refused here too. Warnings of the webhook are not errors here.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration } from '../../../core/duration.ts';
import { ObjectMeta } from '../meta.ts';

export const ISTIO_NETWORKING_GROUP = 'networking.istio.io';

/** VirtualService, DestinationRule and ServiceEntry are served at all three, with one schema. */
export const NETWORKING_API_VERSIONS = [
  'networking.istio.io/v1',
  'networking.istio.io/v1beta1',
  'networking.istio.io/v1alpha3',
] as const;

/** Reports an issue at `path`, relative to the value refined. Zod prefixes paths in place: copy them. */
export function issue(ctx: z.RefinementCtx, path: readonly PropertyKey[], message: string): void {
  ctx.addIssue({ code: 'custom', path: [...path], message });
}

/** A networking.istio.io resource: its versions, object metadata and the kind's spec (absent is `{}`). */
export function networkingResource<
  const K extends string,
  const V extends readonly [string, ...string[]],
  S extends z.ZodType,
>(kind: K, versions: V, spec: S) {
  return z.object({
    apiVersion: z.enum(versions),
    kind: z.literal(kind),
    metadata: ObjectMeta,
    spec: spec.prefault({} as z.input<S>),
  });
}

export const UInt32 = z.number().int().min(0).max(4_294_967_295);
export const Int32 = z.number().int().min(-2_147_483_648).max(2_147_483_647);
/** An int32 istiod requires to be non-negative. */
export const NonNegativeInt32 = Int32.min(0, 'must be non-negative');
/** A port number where the API has a uint32 and istiod checks the range. */
export const PortNumber = z
  .number()
  .int()
  .min(1, 'port must be between 1-65535')
  .max(65535, 'port must be between 1-65535');

/**
 * Durations as Istio reads them: Go duration strings ("5s", "0.5s", "1m", "100ms", "1h30m"), which is
 * what the CRDs' `duration()` rules parse. The string is kept; translation converts it. Weft's parser
 * (core/duration.ts) reads the same units and compound form; the rare Go spellings it does not (".5s",
 * "+5s", the Greek "μs") are refused with this message rather than guessed at.
 *
 * - `positive`: the CRD's `duration(self) >= duration('1ms')` and the webhook's millisecond precision.
 * - `zeroOrPositive`: as positive, but "0s" (disabled) is allowed, as for a TCP idle timeout.
 * - `any`: any duration, zero included (a cookie's TTL: 0 makes a session cookie).
 */
export function duration(kind: 'positive' | 'zeroOrPositive' | 'any' = 'positive') {
  return z.string().superRefine((text, ctx) => {
    const ms = /^\S+$/.test(text) ? parseDuration(text) : undefined;
    if (ms === undefined) {
      return issue(ctx, [], `"${text}" is not a duration: write it as "5s", "0.5s", "1m" or "100ms"`);
    }
    if (kind === 'any' || (kind === 'zeroOrPositive' && ms === 0)) return;
    if (ms < 1) return issue(ctx, [], 'must be a valid duration greater than 1ms');
    if (Math.abs(ms - Math.round(ms)) > 1e-6) issue(ctx, [], 'only durations to ms precision are supported');
  });
}
export const Duration = duration();

const MATCH_TYPES = ['exact', 'prefix', 'regex'] as const;

/**
 * istio.networking.v1alpha3.StringMatch: at most one of exact, prefix and regex (none matches any value,
 * or only presence for a header). Regexes are RE2; they are checked for length here, not compiled, as
 * JavaScript's engine is not RE2 (it would refuse valid `(?i)`, for one).
 * - `emptyPrefix`: an empty prefix is allowed (a URI; Envoy refuses it for headers, scheme, method, authority).
 * - `required`: one non-empty value is required (CORS allowOrigins).
 */
export function stringMatch(options: { emptyPrefix?: boolean; required?: boolean } = {}) {
  return z
    .strictObject({
      exact: z.string().optional(),
      prefix: z.string().optional(),
      regex: z.string().optional(),
    })
    .superRefine((m, ctx) => {
      const set = MATCH_TYPES.filter((t) => m[t] !== undefined);
      if (set.length > 1)
        return issue(ctx, [set[1] as string], `set one of exact, prefix or regex, not ${set.join(' and ')}`);
      const type = set[0];
      if (options.required && (type === undefined || m[type] === '')) {
        return issue(ctx, [type ?? 'exact'], 'a non-empty exact, prefix or regex is required');
      }
      if (type === 'prefix' && m.prefix === '' && !options.emptyPrefix) {
        issue(ctx, ['prefix'], 'prefix string match should not be empty');
      }
      if (type === 'regex' && m.regex === '') issue(ctx, ['regex'], 'regex string match should not be empty');
      if (type === 'regex' && (m.regex?.length ?? 0) > 1024) {
        issue(ctx, ['regex'], 'regex is too large, max length allowed is 1024');
      }
    });
}
export const StringMatch = stringMatch();
export type StringMatch = z.output<typeof StringMatch>;

/** istio.networking.v1alpha3.Percent as fault injection reads it: 0, or 0.0001 to 100. */
export const FaultPercent = z.strictObject({ value: z.number().optional() }).superRefine((p, ctx) => {
  const v = p.value ?? 0;
  if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) {
    issue(ctx, ['value'], `percentage ${v} is neither 0.0, nor in range [0.0001, 100.0]`);
  }
});
/** A Percent as mirroring reads it: 0 to 100. */
export const MirrorPercent = z.strictObject({ value: z.number().optional() }).superRefine((p, ctx) => {
  const v = p.value ?? 0;
  if (v < 0 || v > 100) issue(ctx, ['value'], `mirror percentage must be between 0 and 100 (it has ${v})`);
});
export type Percent = z.output<typeof MirrorPercent>;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const WILDCARD_LABEL = /^(\*|(\*|\*-)?[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function isIPAddress(s: string): boolean {
  return isIP(s) !== 0;
}

/**
 * istiod's checks on a domain's labels: DNS-1123 labels, a top-level label not all digits. `whole` is the
 * name the message shows, when `domain` is its part after a wildcard label.
 */
function dnsLabelsError(domain: string, whole = domain): string | undefined {
  const parts = domain.split('.');
  const top = parts[parts.length - 1] ?? '';
  if (/^\d+$/.test(top))
    return `domain name "${whole}" invalid (top level domain "${top}" cannot be all-numeric)`;
  for (const [i, label] of parts.entries()) {
    // The last label may be empty, for an unambiguous name such as "istio.io.".
    if (i === parts.length - 1 && label === '') return undefined;
    if (!isDns1123Label(label)) return `domain name "${whole}" invalid (label "${label}" invalid)`;
  }
  return undefined;
}

function domainPreconditionError(name: string): string | undefined {
  if (name.length > 255) return `domain name "${name}" too long (max 255)`;
  if (name.length === 0) return 'empty domain name not allowed';
  return undefined;
}

/** istiod's ValidateFQDN: a domain name without wildcard ("reviews", "httpbin.org"). */
export function fqdnError(name: string): string | undefined {
  return domainPreconditionError(name) ?? dnsLabelsError(name);
}

/** istiod's ValidateWildcardDomain: a domain name whose first label may be a wildcard ("*.example.com"). */
export function wildcardDomainError(name: string): string | undefined {
  const pre = domainPreconditionError(name);
  if (pre) return pre;
  const dot = name.indexOf('.');
  const first = dot === -1 ? name : name.slice(0, dot);
  if (first.length > 63 || !WILDCARD_LABEL.test(first))
    return `domain name "${name}" invalid (label "${first}" invalid)`;
  return dot === -1 ? undefined : dnsLabelsError(name.slice(dot + 1), name);
}

/** An IP address, or a CIDR block ("10.0.0.0/8", "2001:db8::/32"). */
export function ipSubnetError(subnet: string): string | undefined {
  const parts = subnet.split('/');
  if (parts.length > 2) return `${subnet} is not a valid CIDR block`;
  const [ip = '', bits] = parts;
  const family = isIP(ip);
  if (family === 0)
    return bits === undefined ? `${subnet} is not a valid IP` : `${subnet} is not a valid CIDR block`;
  if (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128))) {
    return `${subnet} is not a valid CIDR block`;
  }
  return undefined;
}

/** Istio's host.Name.Matches: the two names overlap (equal, or a wildcard covers the other). */
export function hostsOverlap(a: string, b: string): boolean {
  const aw = a.startsWith('*');
  const bw = b.startsWith('*');
  if (aw && bw)
    return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/** Istio's host.Name.SubsetOf: every name `a` matches is matched by `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
  if (a === b) return true;
  if (!b.startsWith('*')) return false;
  if (a.startsWith('*')) return a.length >= b.length && a.slice(1).endsWith(b.slice(1));
  return a.endsWith(b.slice(1));
}

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function labelKeyError(key: string): string | undefined {
  const parts = key.split('/');
  const name = parts.length === 2 ? (parts[1] ?? '') : key;
  if (parts.length > 2) return `invalid tag key: "${key}"`;
  if (parts.length === 2 && !((parts[0] ?? '').length <= 253 && SUBDOMAIN.test(parts[0] ?? ''))) {
    return `invalid tag key: "${key}" (the prefix must be a DNS subdomain)`;
  }
  if (name.length > 63 || !LABEL_NAME.test(name)) return `invalid tag key: "${key}"`;
  return undefined;
}

/** Kubernetes-style labels, as Istio's labels.Instance.Validate checks them (subset and source labels). */
export const Labels = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const [k, v] of Object.entries(labels)) {
    const keyError = labelKeyError(k);
    if (keyError) issue(ctx, [k], keyError);
    if (v.length > 63 || !LABEL_VALUE.test(v)) issue(ctx, [k], `invalid tag value: "${v}"`);
  }
});

/** networking.v1alpha3 WorkloadSelector (`labels`), used by ServiceEntry and EnvoyFilter. */
export const AlphaWorkloadSelector = z.strictObject({
  labels: z
    .record(z.string(), z.string().max(63))
    .optional()
    .superRefine((labels, ctx) => {
      if (labels === undefined) return;
      if (Object.keys(labels).length > 256) issue(ctx, [], 'at most 256 labels');
      for (const [k, v] of Object.entries(labels)) {
        if (k === '') issue(ctx, [k], 'empty key is not supported in selector');
        if (k.includes('*') || v.includes('*')) issue(ctx, [k], 'wildcard is not supported in selector');
      }
    }),
});

/** Gateway names of a VirtualService or match: `mesh`, `<name>`, `<namespace>/<name>` (or legacy `name.ns`). */
export const GatewayNames = z.array(z.string()).superRefine((names, ctx) => {
  names.forEach((name, i) => {
    const e = gatewayNameError(name);
    if (e) issue(ctx, [i], e);
  });
});

function gatewayNameError(name: string): string | undefined {
  const slash = name.indexOf('/');
  if (slash === -1) return fqdnError(name);
  const ns = name.slice(0, slash);
  const gw = name.slice(slash + 1);
  if (ns === '' || gw === '') return 'config namespace and gateway name cannot be empty';
  if (!isDns1123Label(ns)) return `invalid value for namespace: "${ns}"`;
  if (!isDns1123Label(gw)) return `invalid value for gateway name: "${gw}"`;
  return undefined;
}

/**
 * `exportTo`: "." (this namespace), "*" (every namespace), a namespace name, or, for a ServiceEntry only,
 * "~" (no namespace). No duplicates, and "*" or "~" only alone.
 */
export function exportTo(serviceEntry: boolean) {
  return z.array(z.string()).superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((e, i) => {
      if (seen.has(e)) issue(ctx, [i], `duplicate entries in exportTo for entry ${e}`);
      seen.add(e);
      if (e === '~' && !serviceEntry) {
        issue(ctx, [i], 'exportTo ~ (none) is not allowed for Istio configuration objects');
      } else if (e !== '.' && e !== '*' && e !== '~' && !isDns1123Label(e)) {
        issue(ctx, [i], 'only ., *, or a valid DNS 1123 label is allowed as exportTo entry');
      }
    });
    if (seen.has('*') && list.length > 1) {
      issue(ctx, [], 'cannot have both public (*) and non-public exportTo values for a resource');
    }
    if (serviceEntry && seen.has('~') && list.length > 1) {
      issue(ctx, [], 'cannot export service entry to no one (~) and someone');
    }
  });
}

/** istio.networking.v1alpha3.PortSelector: the port of a destination (1-65535). */
export const PortSelector = z.strictObject({ number: PortNumber });

/**
 * istio.networking.v1alpha3.Destination: a service of the registry (a Kubernetes Service's short or full
 * name, or a ServiceEntry host), an optional subset of a DestinationRule, and a port.
 */
export const Destination = z
  .strictObject({ host: z.string(), subset: z.string().optional(), port: PortSelector.optional() })
  .superRefine((d, ctx) => {
    const hostError = d.host === '*' ? `invalid destination host ${d.host}` : wildcardDomainError(d.host);
    if (hostError) issue(ctx, ['host'], hostError);
    if (d.subset !== undefined && !isDns1123Label(d.subset)) {
      issue(
        ctx,
        ['subset'],
        d.subset === '' ? 'subset name cannot be empty' : `subset name is invalid: ${d.subset}`,
      );
    }
  });
export type Destination = z.output<typeof Destination>;

/** A route destination's weight (relative; istiod refuses negative ones). */
export const Weight = Int32.min(0, 'weight must not be negative');

/** The weights of a route: when there are several destinations, they cannot all be 0. */
export function checkWeights(
  routes: readonly { weight?: number | undefined }[],
  ctx: z.RefinementCtx,
  path: readonly PropertyKey[],
): void {
  if (routes.length > 1 && routes.every((r) => (r.weight ?? 0) === 0)) {
    issue(ctx, path, 'total destination weight = 0');
  }
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
const HEADER_VALUE = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;

/** A header name in a match: an HTTP token, a pseudo-header, or a JWT claim (`@request.auth.claims.*`). */
export function headerMatchNameError(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if ([':method', ':scheme', ':authority', ':path', ':status'].includes(name)) return undefined;
  if (name.startsWith('@request.auth.claims')) return undefined;
  return HEADER_NAME.test(name) ? undefined : `header name ${name} is not a valid header name`;
}

const HeaderOperations = z.strictObject({
  set: z.record(z.string(), z.string()).optional(),
  add: z.record(z.string(), z.string()).optional(),
  remove: z.array(z.string()).optional(),
});

/**
 * istio.networking.v1alpha3.Headers: set, add and remove on the request and the response. A request
 * header may be `host` or `:authority` in set and add (the authority rewrite); no other pseudo-header,
 * and never `host` in a response or a remove.
 */
export const Headers = z
  .strictObject({ request: HeaderOperations.optional(), response: HeaderOperations.optional() })
  .superRefine((h, ctx) => {
    for (const side of ['request', 'response'] as const) {
      const ops = h[side];
      if (!ops) continue;
      for (const op of ['set', 'add'] as const) {
        for (const [name, value] of Object.entries(ops[op] ?? {})) {
          const e = headerOperationError(name, side === 'request');
          if (e) issue(ctx, [side, op, name], e);
          if (!HEADER_VALUE.test(value))
            issue(ctx, [side, op, name], `header value configuration ${value} is invalid`);
        }
      }
      (ops.remove ?? []).forEach((name, i) => {
        const e = headerOperationError(name, false);
        if (e) issue(ctx, [side, 'remove', i], e);
      });
    }
  });
export type Headers = z.output<typeof Headers>;

function headerOperationError(name: string, mayBeAuthority: boolean): string | undefined {
  if (name === '') return 'header name cannot be empty';
  const lower = name.toLowerCase();
  const authority = lower === 'host' || lower === ':authority';
  if (mayBeAuthority && authority) return undefined;
  if (lower === 'host') return `invalid header "${name}": cannot set Host header`;
  if (name.startsWith(':')) return `invalid header "${name}": header cannot have ":" prefix`;
  return undefined;
}

/** The authority (Host) a request's `set`/`add` sets, if any, for the rewrite conflict check. */
export function authorityHeaders(h: Headers | undefined): string[] {
  const ops = h?.request;
  return [...Object.entries(ops?.set ?? {}), ...Object.entries(ops?.add ?? {})]
    .filter(([k]) => ['host', ':authority'].includes(k.toLowerCase()))
    .map(([, v]) => v);
}
