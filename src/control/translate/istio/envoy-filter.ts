/**
 * Istio EnvoyFilters to the local rate limits Weft applies. Istio has no API of its own for local rate
 * limiting, so its users patch Envoy's `envoy.filters.http.local_ratelimit` into the sidecar with an
 * EnvoyFilter; Weft recognises the two patterns of Istio's documentation and samples and reports
 * everything else as not supported (CONFIG_UNSUPPORTED, with the path of the patch), never silently:
 *
 * - An HTTP_FILTER patch at SIDECAR_INBOUND that inserts the filter with a token bucket
 *   (tasks/local-rate-limit.yaml): a LocalRateLimit filter on every inbound HTTP entry of the selected
 *   workloads (one bucket per port, as Envoy has one filter instance per inbound filter chain), or on the
 *   entry of `listener.portNumber`.
 * - That patch with the filter disabled (no token bucket), plus an HTTP_ROUTE patch that MERGEs a
 *   `typed_per_filter_config` for it into the inbound route of a vhost `inbound|http|<service port>`
 *   (ratelimit/local-rate-limit-service.yaml): the inbound vhost has one route that takes every request,
 *   so the per-route config is the port's filter config. Its `descriptors` are matched with the route's
 *   `rate_limits` actions that produce them, and become descriptor matches (`header_value_match` on
 *   `:path` prefix /productpage → a Prefix path match).
 *
 * Envoy's defaults are written out, since the proxy's are not Envoy's: a filter without `filter_enabled`
 * checks 0% of requests (it does nothing), without `filter_enforced` it rejects none. Fractions become
 * percentages (HUNDRED n → n, TEN_THOUSAND → n/100, MILLION → n/10000); a runtime key counts as its
 * `default_value`, since Weft has no runtime layer. Envoy's JSON is read as protojson reads it: field
 * names in snake_case or lowerCamelCase.
 *
 * Scoping is Istio's (PushContext.EnvoyFilters): an EnvoyFilter in the root namespace applies to the
 * workloads of every namespace that its `workloadSelector` selects (all of them without one); one in
 * another namespace only to that namespace's workloads. Root-namespace filters come first, then the
 * workload namespace's, each by priority, creation time and name.
 */
import type { EnvoyFilter } from '../../../api/resources/istio/index.ts';
import { parseDuration } from '../../../core/duration.ts';
import type { EnvoyFilterModel, FilterInput, LocalRateLimitInput, PortProtocol } from '../../model/types.ts';
import type { IstioStatus } from './destination-rule.ts';
import { DEFAULT_ROOT_NAMESPACE } from './peer-authentication.ts';

export interface ParsedEnvoyFilter {
  namespace: string;
  name: string;
  created: string;
  spec: EnvoyFilter['spec'];
}

type Patch = NonNullable<EnvoyFilter['spec']['configPatches']>[number];
type Json = Record<string, unknown>;
type Descriptor = NonNullable<LocalRateLimitInput['descriptors']>[number];
type DescriptorMatch = Descriptor['match'];
type TokenBucket = LocalRateLimitInput['tokenBucket'];

const LOCAL_RATE_LIMIT = 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const GLOBAL_RATE_LIMIT = 'envoy.extensions.filters.http.ratelimit.v3.RateLimit';
const TYPE_PREFIX = 'type.googleapis.com/';
const TYPED_STRUCTS = new Set([
  `${TYPE_PREFIX}udpa.type.v1.TypedStruct`,
  `${TYPE_PREFIX}xds.type.v3.TypedStruct`,
]);
const HTTP_CONNECTION_MANAGERS = new Set([
  'envoy.filters.network.http_connection_manager',
  'envoy.http_connection_manager',
]);
const ROUTERS = new Set(['envoy.filters.http.router', 'envoy.router']);
/** Istio's sidecar inbound listener; its filter chains are matched by destination (workload) port. */
const VIRTUAL_INBOUND = 'virtualInbound';
/** The name of the one route of an inbound vhost (Istio's BuildDefaultHTTPInboundRoute). */
const DEFAULT_INBOUND_ROUTE = 'default';

/** A patch, or a part of one, that Weft cannot apply: reported with the path of what it cannot map. */
class Unmapped extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

interface Ctx {
  notes: Array<{ path: string; message: string }>;
}

export function translateEnvoyFilters(list: readonly ParsedEnvoyFilter[]): {
  envoyFilters: EnvoyFilterModel[];
  statuses: Map<string, IstioStatus>;
} {
  const statuses = new Map<string, IstioStatus>();
  const envoyFilters: EnvoyFilterModel[] = [];
  // istiod's order (PushContext.initEnvoyFilters): priority, then creation time, then name.namespace.
  const sorted = [...list].sort(
    (a, b) =>
      (a.spec.priority ?? 0) - (b.spec.priority ?? 0) ||
      compare(a.created, b.created) ||
      compare(`${a.name}.${a.namespace}`, `${b.name}.${b.namespace}`),
  );
  for (const ef of sorted) {
    const resource = `EnvoyFilter/${ef.namespace}/${ef.name}`;
    const ctx: Ctx = { notes: [] };
    const unsupported: Array<{ path: string; message: string }> = [];
    const model: EnvoyFilterModel = {
      resource,
      namespace: ef.namespace,
      selector: selectorOf(ef.spec.workloadSelector?.labels),
      filters: [],
      routes: [],
    };
    const patches = ef.spec.configPatches ?? [];
    if (ef.spec.targetRefs !== undefined) {
      // istiod skips these (they are meant for waypoints, which Weft does not have).
      unsupported.push({
        path: 'spec.targetRefs',
        message:
          'an EnvoyFilter with targetRefs applies to no sidecar (istiod skips it too); use workloadSelector',
      });
    } else {
      patches.forEach((p, i) => {
        const at = `spec.configPatches.${i}`;
        try {
          if (p.applyTo === 'HTTP_FILTER') model.filters.push(filterPatch(p, at, ctx));
          else if (p.applyTo === 'HTTP_ROUTE') model.routes.push(routePatch(p, at, ctx));
          else
            throw new Unmapped(
              `${at}.applyTo`,
              `applyTo ${p.applyTo} is not supported: Weft's proxy is not Envoy, and of EnvoyFilter it applies only local rate limiting (HTTP_FILTER and HTTP_ROUTE patches at SIDECAR_INBOUND); the patch is ignored`,
            );
        } catch (err) {
          if (!(err instanceof Unmapped)) throw err;
          unsupported.push({ path: err.path, message: err.message });
        }
      });
    }
    const applied = model.filters.length + model.routes.length;
    if (patches.length === 0 && ef.spec.targetRefs === undefined)
      ctx.notes.push({ path: 'spec', message: 'no configPatches: the EnvoyFilter changes nothing' });
    if (model.routes.length > 0 && model.filters.length === 0)
      ctx.notes.push({
        path: 'spec.configPatches',
        message:
          'a per-route local rate limit config takes effect only where an HTTP_FILTER patch (of this or another EnvoyFilter) inserts the filter',
      });
    const status: IstioStatus =
      applied === 0 && unsupported.length > 0
        ? // Nothing of it applies: the resource is `unsupported`, with every reason.
          { accepted: false, issues: [], notes: unsupported }
        : {
            accepted: true,
            issues: unsupported.map((u) => ({ code: 'CONFIG_UNSUPPORTED', ...u })),
            notes: ctx.notes,
          };
    statuses.set(resource, status);
    if (applied > 0) envoyFilters.push(model);
  }
  return { envoyFilters, statuses };
}

/** An HTTP_FILTER patch: the local rate limit filter inserted in the inbound HTTP filter chains. */
function filterPatch(p: Patch, at: string, ctx: Ctx): EnvoyFilterModel['filters'][number] {
  const value = p.patch?.value ?? {};
  const vat = `${at}.patch.value`;
  const typed = field(value, 'typed_config');
  if (typed === undefined)
    throw new Unmapped(
      vat,
      `the HTTP filter ${String(field(value, 'name') ?? '')} has no typed_config: Weft applies only Envoy's local rate limit filter (${LOCAL_RATE_LIMIT}); the patch is ignored`,
    );
  const { config, at: cat } = unwrapLocalRateLimit(
    typed,
    `${vat}.typed_config`,
    String(field(value, 'name') ?? ''),
  );
  inboundContext(p, at);
  const op = p.patch?.operation ?? 'INVALID';
  const sub = p.match?.listener?.filterChain?.filter?.subFilter?.name;
  if (op === 'INSERT_AFTER' && (sub === undefined || ROUTERS.has(sub)))
    throw new Unmapped(
      `${at}.patch.operation`,
      'INSERT_AFTER the router (or without a subFilter, which istiod appends after it) puts the filter after the terminal router, which Envoy refuses; use INSERT_BEFORE',
    );
  if (op === 'ADD')
    throw new Unmapped(
      `${at}.patch.operation`,
      'ADD appends the filter after the terminal router, which Envoy refuses; use INSERT_BEFORE',
    );
  if (op !== 'INSERT_BEFORE' && op !== 'INSERT_FIRST' && op !== 'INSERT_AFTER')
    throw new Unmapped(
      `${at}.patch.operation`,
      `operation ${op} is not supported for HTTP_FILTER: Weft inserts the local rate limit filter (INSERT_BEFORE, INSERT_FIRST, INSERT_AFTER); it has no Envoy filters of its own to change`,
    );
  const port = listenerPort(p, at);
  checkFields(value, ['name', 'typed_config', 'is_optional'], vat);
  const name = field(value, 'name');
  if (typeof name !== 'string' || name === '')
    throw new Unmapped(`${vat}.name`, 'the HTTP filter needs a name (Envoy refuses one without)');
  const parsed = parseLocalRateLimit(config, cat);
  if (parsed.descriptors.length > 0)
    throw new Unmapped(
      `${cat}.descriptors`,
      "descriptors in the listener's filter config are not supported: put them in the HTTP_ROUTE patch's typed_per_filter_config, next to the route's rate_limits that produce them (as Istio's local-rate-limit-service sample does)",
    );
  if (parsed.config === undefined)
    ctx.notes.push({
      path: cat,
      message:
        "no token_bucket: the filter limits nothing until a route's typed_per_filter_config (an HTTP_ROUTE patch) gives it one",
    });
  else noteDisabled(parsed.config, cat, ctx);
  return { name, port, localRateLimit: parsed.config };
}

/** An HTTP_ROUTE patch: a per-route config (and rate_limits) merged into the inbound route of a port. */
function routePatch(p: Patch, at: string, ctx: Ctx): EnvoyFilterModel['routes'][number] {
  inboundContext(p, at);
  if ((p.patch?.operation ?? 'INVALID') !== 'MERGE')
    throw new Unmapped(
      `${at}.patch.operation`,
      `operation ${p.patch?.operation} is not supported for HTTP_ROUTE: Weft applies only a MERGE of typed_per_filter_config (and rate_limits) for the local rate limit filter`,
    );
  if (p.match?.proxy !== undefined) throw proxyMatch(at);
  const mat = `${at}.match.routeConfiguration`;
  const rc = p.match?.routeConfiguration;
  if (p.match?.listener !== undefined || p.match?.cluster !== undefined)
    throw new Unmapped(`${at}.match`, 'an HTTP_ROUTE patch is matched by routeConfiguration');
  let port: number | undefined = rc?.portNumber;
  if (rc?.portName !== undefined || rc?.gateway !== undefined)
    throw new Unmapped(mat, 'portName and gateway match gateway routes, which Weft does not run');
  if (rc?.name !== undefined) {
    // An inbound route configuration is named after its cluster: inbound|<workload port>||.
    const m = /^inbound\|(\d+)\|\|$/.exec(rc.name);
    if (!m)
      throw new Unmapped(
        `${mat}.name`,
        `${rc.name} is not an inbound route configuration (inbound|<port>||); the patch matches no sidecar inbound route Weft knows`,
      );
    const n = Number(m[1]);
    if (port !== undefined && port !== n)
      throw new Unmapped(`${mat}.name`, 'the name and portNumber disagree');
    port = n;
  }
  let servicePort: number | undefined;
  const vhost = rc?.vhost;
  if (vhost?.name !== undefined) {
    const m = /^inbound\|http\|(\d+)$/.exec(vhost.name);
    if (!m)
      throw new Unmapped(
        `${mat}.vhost.name`,
        `${vhost.name} is not an inbound virtual host (inbound|http|<service port>); the patch matches nothing Weft knows`,
      );
    servicePort = Number(m[1]);
  }
  if (vhost?.domainName !== undefined && vhost.domainName !== '*')
    throw new Unmapped(`${mat}.vhost.domainName`, "an inbound virtual host's only domain is *");
  const action = vhost?.route?.action ?? 'ANY';
  if (action !== 'ANY' && action !== 'ROUTE')
    throw new Unmapped(
      `${mat}.vhost.route.action`,
      `the inbound route forwards (ROUTE): action ${action} matches nothing`,
    );
  if (vhost?.route?.name !== undefined && vhost.route.name !== DEFAULT_INBOUND_ROUTE)
    throw new Unmapped(
      `${mat}.vhost.route.name`,
      `the inbound route is named ${DEFAULT_INBOUND_ROUTE}: ${vhost.route.name} matches nothing`,
    );
  const value = p.patch?.value ?? {};
  const vat = `${at}.patch.value`;
  checkFields(value, ['route', 'typed_per_filter_config'], vat);
  const route = field(value, 'route');
  let rateLimits: RateLimit[] = [];
  if (route !== undefined) {
    const r = obj(route, `${vat}.route`);
    checkFields(r, ['rate_limits'], `${vat}.route`);
    rateLimits = parseRateLimits(field(r, 'rate_limits'), `${vat}.route.rate_limits`);
  }
  const tpfc = field(value, 'typed_per_filter_config');
  if (tpfc === undefined)
    throw new Unmapped(
      vat,
      'the patch sets no typed_per_filter_config: Weft applies route patches that give the local rate limit filter a per-route config (rate_limits alone are not supported)',
    );
  const perFilter: EnvoyFilterModel['routes'][number]['perFilter'] = [];
  const tat = `${vat}.typed_per_filter_config`;
  for (const [name, typed] of Object.entries(obj(tpfc, tat))) {
    const { config, at: cat } = unwrapLocalRateLimit(typed, `${tat}.${name}`, name);
    const parsed = parseLocalRateLimit(config, cat);
    const base = parsed.config;
    if (base === undefined)
      throw new Unmapped(
        cat,
        'a per-route local rate limit config needs a token_bucket (Envoy refuses it without)',
      );
    const descriptors = resolveDescriptors(parsed.descriptors, rateLimits, cat, ctx);
    const localRateLimit: LocalRateLimitInput = descriptors.length > 0 ? { ...base, descriptors } : base;
    noteDisabled(localRateLimit, cat, ctx);
    perFilter.push({ name, localRateLimit });
  }
  // rate_limits that no descriptor counts produce descriptors Envoy finds no bucket for: no effect.
  rateLimits.forEach((rl) => {
    if (!rl.used)
      ctx.notes.push({
        path: rl.at,
        message: `this rate_limits entry (${rl.actions.map((a) => a.kind).join(', ')}) produces descriptors that no descriptor of the filter's config counts: it has no effect, as in Envoy`,
      });
  });
  return { port, servicePort, perFilter };
}

/** Only SIDECAR_INBOUND: the one place where a Weft sidecar has Envoy's inbound HTTP filter chain. */
function inboundContext(p: Patch, at: string): void {
  const context = p.match?.context ?? 'ANY';
  if (context === 'SIDECAR_INBOUND') return;
  const why: Record<string, string> = {
    ANY: `context ANY${p.match?.context === undefined ? ' (the default)' : ''} also patches outbound listeners and gateways, which Weft cannot do; set context: SIDECAR_INBOUND`,
    SIDECAR_OUTBOUND:
      'context SIDECAR_OUTBOUND is not supported: Weft applies local rate limits from EnvoyFilter to inbound traffic only (SIDECAR_INBOUND)',
    GATEWAY: 'context GATEWAY is not supported: Weft runs no Istio gateways',
    WAYPOINT: 'context WAYPOINT is not supported: Weft runs no waypoints',
  };
  throw new Unmapped(
    `${at}.match.context`,
    `${why[context] ?? `context ${context} is not supported`}; the patch is ignored`,
  );
}

function proxyMatch(at: string): Unmapped {
  return new Unmapped(
    `${at}.match.proxy`,
    'match.proxy (Istio proxy version and metadata) is not supported: Weft sidecars are not Istio proxies',
  );
}

/** The workload port an HTTP_FILTER patch is limited to (listener.portNumber), if any. */
function listenerPort(p: Patch, at: string): number | undefined {
  if (p.match?.proxy !== undefined) throw proxyMatch(at);
  if (p.match?.routeConfiguration !== undefined || p.match?.cluster !== undefined)
    throw new Unmapped(`${at}.match`, 'an HTTP_FILTER patch is matched by listener');
  const l = p.match?.listener;
  if (l === undefined) return undefined;
  const lat = `${at}.match.listener`;
  if (l.name !== undefined && l.name !== VIRTUAL_INBOUND)
    throw new Unmapped(
      `${lat}.name`,
      `the sidecar's inbound listener is ${VIRTUAL_INBOUND}: ${l.name} matches nothing`,
    );
  if (l.portName !== undefined)
    throw new Unmapped(`${lat}.portName`, 'portName matches gateway listeners only');
  if (l.listenerFilter !== undefined)
    throw new Unmapped(`${lat}.listenerFilter`, 'listenerFilter does not apply to HTTP_FILTER patches');
  let port = l.portNumber;
  const fc = l.filterChain;
  if (fc !== undefined) {
    const fat = `${lat}.filterChain`;
    for (const k of ['name', 'sni', 'transportProtocol', 'applicationProtocols'] as const)
      if (fc[k] !== undefined)
        throw new Unmapped(
          `${fat}.${k}`,
          `filterChain.${k} is not supported: a Weft sidecar has one HTTP filter chain per port, whatever the TLS or ALPN`,
        );
    if (fc.destinationPort !== undefined) {
      if (port !== undefined && port !== fc.destinationPort)
        throw new Unmapped(
          `${fat}.destinationPort`,
          'portNumber and destinationPort disagree: the patch matches nothing',
        );
      port = fc.destinationPort;
    }
    const name = fc.filter?.name;
    if (name !== undefined && !HTTP_CONNECTION_MANAGERS.has(name))
      throw new Unmapped(
        `${fat}.filter.name`,
        `HTTP filters live in envoy.filters.network.http_connection_manager: ${name} has none`,
      );
  }
  return port;
}

/** The LocalRateLimit config in a typed_config (TypedStruct or the message itself), or Unmapped. */
function unwrapLocalRateLimit(typed: unknown, at: string, filterName: string): { config: Json; at: string } {
  const t = obj(typed, at);
  let type = t['@type'];
  let config: Json = t;
  let cat = at;
  if (typeof type === 'string' && TYPED_STRUCTS.has(type)) {
    type = field(t, 'type_url');
    cat = `${at}.value`;
    config = field(t, 'value') === undefined ? {} : obj(field(t, 'value'), cat);
  } else {
    const { '@type': _type, ...rest } = t;
    config = rest;
  }
  const name = typeof type === 'string' ? type.replace(TYPE_PREFIX, '') : String(type);
  if (name === GLOBAL_RATE_LIMIT)
    throw new Unmapped(
      at,
      `the HTTP filter ${filterName ? `${filterName} ` : ''}(${name}) is global rate limiting, through a rate limit service: it is not supported; local rate limiting (${LOCAL_RATE_LIMIT}) is. The patch is ignored`,
    );
  if (name !== LOCAL_RATE_LIMIT)
    throw new Unmapped(
      at,
      `the HTTP filter ${filterName ? `${filterName} ` : ''}(${name}) is not supported: Weft's proxy is not Envoy, and of EnvoyFilter it applies only Envoy's local rate limit (${LOCAL_RATE_LIMIT}); the patch is ignored`,
    );
  return { config, at: cat };
}

interface ParsedLocalRateLimit {
  /** Undefined without a token bucket. */
  config: LocalRateLimitInput | undefined;
  descriptors: Array<{
    entries: Array<{ key: string; value: string }>;
    tokenBucket: TokenBucket;
    at: string;
  }>;
}

const LOCAL_RATE_LIMIT_FIELDS = [
  'stat_prefix',
  'status',
  'token_bucket',
  'filter_enabled',
  'filter_enforced',
  'response_headers_to_add',
  'descriptors',
  'stage',
  'local_rate_limit_per_downstream_connection',
  'enable_x_ratelimit_headers',
  'vh_rate_limits',
  'always_consume_default_token_bucket',
  'rate_limited_as_resource_exhausted',
];

/** Envoy's LocalRateLimit (extensions/filters/http/local_ratelimit/v3) to the proxy's LocalRateLimit. */
function parseLocalRateLimit(c: Json, at: string): ParsedLocalRateLimit {
  checkFields(c, LOCAL_RATE_LIMIT_FIELDS, at);
  const unsupportedIf = (name: string, bad: (v: unknown) => boolean, why: string) => {
    const v = field(c, name);
    if (v !== undefined && bad(v)) throw new Unmapped(`${at}.${name}`, why);
  };
  unsupportedIf('stage', (v) => Number(v) !== 0, 'only stage 0 (the default) is supported');
  unsupportedIf(
    'local_rate_limit_per_downstream_connection',
    (v) => v === true,
    'a bucket per downstream connection is not supported: Weft has one bucket per place, shared by every connection',
  );
  unsupportedIf(
    'always_consume_default_token_bucket',
    (v) => v === false,
    'Weft always takes a token from the main bucket too (Envoy’s default, true)',
  );
  const tb = field(c, 'token_bucket');
  const descriptors = parseDescriptors(field(c, 'descriptors'), `${at}.descriptors`);
  // Envoy: no token bucket at the listener level disables the filter until a route configures it (the
  // caller refuses a per-route config without one, as Envoy does).
  if (tb === undefined) return { config: undefined, descriptors };
  const config: LocalRateLimitInput = {
    tokenBucket: tokenBucket(tb, `${at}.token_bucket`),
    filterEnabled: runtimePercent(field(c, 'filter_enabled'), `${at}.filter_enabled`),
    filterEnforced: runtimePercent(field(c, 'filter_enforced'), `${at}.filter_enforced`),
  };
  const status = field(c, 'status');
  if (status !== undefined) config.status = statusCode(status, `${at}.status`);
  const headers = responseHeaders(field(c, 'response_headers_to_add'), `${at}.response_headers_to_add`);
  if (Object.keys(headers).length > 0) config.responseHeadersToAdd = headers;
  const xrl = field(c, 'enable_x_ratelimit_headers');
  if (xrl === 'DRAFT_VERSION_03' || xrl === 1) config.enableXRateLimitHeaders = true;
  else if (xrl !== undefined && xrl !== 'OFF' && xrl !== 0)
    throw new Unmapped(`${at}.enable_x_ratelimit_headers`, `${String(xrl)} is not OFF or DRAFT_VERSION_03`);
  return { config, descriptors };
}

/** If the config checks or rejects nothing (Envoy's 0% defaults), say so: a common surprise. */
function noteDisabled(config: LocalRateLimitInput, at: string, ctx: Ctx): void {
  if (config.filterEnabled === 0)
    ctx.notes.push({
      path: `${at}.filter_enabled`,
      message:
        'filter_enabled is 0% (Envoy’s default when it is not set): the filter checks no request; set default_value numerator 100, denominator HUNDRED',
    });
  else if (config.filterEnforced === 0)
    ctx.notes.push({
      path: `${at}.filter_enforced`,
      message:
        'filter_enforced is 0% (Envoy’s default when it is not set): requests over the limit are counted, none rejected',
    });
}

function tokenBucket(v: unknown, at: string): TokenBucket {
  const o = obj(v, at);
  checkFields(o, ['max_tokens', 'tokens_per_fill', 'fill_interval'], at);
  const maxTokens = positiveInt(field(o, 'max_tokens'), `${at}.max_tokens`);
  const perFill = field(o, 'tokens_per_fill');
  const tokensPerFill = perFill === undefined ? 1 : positiveInt(perFill, `${at}.tokens_per_fill`);
  const fill = field(o, 'fill_interval');
  // A protobuf Duration in JSON: seconds with up to 9 decimals and an "s".
  if (typeof fill !== 'string' || !/^\d+(\.\d{1,9})?s$/.test(fill))
    throw new Unmapped(
      `${at}.fill_interval`,
      `fill_interval must be a protobuf duration such as "60s" or "0.5s"`,
    );
  if ((parseDuration(fill) ?? 0) < 50)
    throw new Unmapped(`${at}.fill_interval`, 'fill_interval must be at least 50ms, as Envoy requires');
  return { maxTokens, tokensPerFill, fillInterval: fill };
}

const DENOMINATORS: Record<string, number> = { HUNDRED: 1, TEN_THOUSAND: 100, MILLION: 10_000 };

/** A RuntimeFractionalPercent as a percentage: its default_value (there is no runtime); absent is 0%. */
function runtimePercent(v: unknown, at: string): number {
  if (v === undefined) return 0;
  const o = obj(v, at);
  checkFields(o, ['default_value', 'runtime_key'], at);
  const d = field(o, 'default_value');
  if (d === undefined) return 0;
  const dat = `${at}.default_value`;
  const fp = obj(d, dat);
  checkFields(fp, ['numerator', 'denominator'], dat);
  const n = field(fp, 'numerator');
  const numerator = n === undefined ? 0 : nonNegativeInt(n, `${dat}.numerator`);
  const den = field(fp, 'denominator') ?? 'HUNDRED';
  const scale =
    typeof den === 'number' ? [1, 100, 10_000][den] : typeof den === 'string' ? DENOMINATORS[den] : undefined;
  if (scale === undefined)
    throw new Unmapped(`${dat}.denominator`, `${String(den)} is not HUNDRED, TEN_THOUSAND or MILLION`);
  // Envoy caps a fraction above its denominator at 100%.
  return Math.min(100, numerator / scale);
}

/** Envoy's StatusCode names for the statuses a rejection can have (4xx and 5xx). */
const STATUS_CODES: Record<string, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  PaymentRequired: 402,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  ProxyAuthenticationRequired: 407,
  RequestTimeout: 408,
  Conflict: 409,
  Gone: 410,
  LengthRequired: 411,
  PreconditionFailed: 412,
  PayloadTooLarge: 413,
  URITooLong: 414,
  UnsupportedMediaType: 415,
  RangeNotSatisfiable: 416,
  ExpectationFailed: 417,
  MisdirectedRequest: 421,
  UnprocessableEntity: 422,
  Locked: 423,
  FailedDependency: 424,
  UpgradeRequired: 426,
  PreconditionRequired: 428,
  TooManyRequests: 429,
  RequestHeaderFieldsTooLarge: 431,
  InternalServerError: 500,
  NotImplemented: 501,
  BadGateway: 502,
  ServiceUnavailable: 503,
  GatewayTimeout: 504,
  HTTPVersionNotSupported: 505,
  VariantAlsoNegotiates: 506,
  InsufficientStorage: 507,
  LoopDetected: 508,
  NotExtended: 510,
  NetworkAuthenticationRequired: 511,
};

function statusCode(v: unknown, at: string): number {
  const o = obj(v, at);
  checkFields(o, ['code'], at);
  const code = field(o, 'code');
  const n =
    typeof code === 'number'
      ? code
      : typeof code === 'string'
        ? (STATUS_CODES[code] ?? Number(code))
        : Number.NaN;
  if (!Number.isInteger(n) || n > 599)
    throw new Unmapped(`${at}.code`, `${String(code)} is not an HTTP status`);
  // Envoy answers 429 when the configured status is below 400.
  return n < 400 ? 429 : n;
}

function responseHeaders(v: unknown, at: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined) return out;
  if (!Array.isArray(v)) throw new Unmapped(at, 'must be a list');
  v.forEach((item, i) => {
    const hat = `${at}.${i}`;
    const o = obj(item, hat);
    // A rejection is the proxy's own reply, so appending and overwriting give the same headers.
    checkFields(o, ['header', 'append', 'append_action', 'keep_empty_value'], hat);
    const h = obj(field(o, 'header'), `${hat}.header`);
    checkFields(h, ['key', 'value'], `${hat}.header`);
    const key = field(h, 'key');
    const value = field(h, 'value') ?? '';
    if (typeof key !== 'string' || key === '' || typeof value !== 'string')
      throw new Unmapped(`${hat}.header`, 'a header needs a key and a string value');
    out[key.toLowerCase()] = value;
  });
  return out;
}

function parseDescriptors(v: unknown, at: string): ParsedLocalRateLimit['descriptors'] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new Unmapped(at, 'must be a list');
  return v.map((item, i) => {
    const dat = `${at}.${i}`;
    const o = obj(item, dat);
    checkFields(o, ['entries', 'token_bucket'], dat);
    const entries = field(o, 'entries');
    if (!Array.isArray(entries) || entries.length === 0)
      throw new Unmapped(`${dat}.entries`, 'a descriptor needs entries');
    return {
      entries: entries.map((e, j) => {
        const eat = `${dat}.entries.${j}`;
        const eo = obj(e, eat);
        checkFields(eo, ['key', 'value'], eat);
        const key = field(eo, 'key');
        const value = field(eo, 'value');
        if (typeof key !== 'string' || key === '') throw new Unmapped(`${eat}.key`, 'an entry needs a key');
        if (typeof value !== 'string' || value === '')
          throw new Unmapped(
            `${eat}.value`,
            'an entry without a value (a bucket per distinct value) is not supported: give the value it counts',
          );
        return { key, value };
      }),
      tokenBucket: tokenBucket(field(o, 'token_bucket'), `${dat}.token_bucket`),
      at: dat,
    };
  });
}

/** What part of a request a descriptor condition looks at, as a piece of a route match. */
type MatchPiece = Partial<Pick<DescriptorMatch, 'path' | 'headers' | 'method'>>;

/** One action of a route's rate_limits entry: the descriptor entry it produces, and when. */
interface Action {
  kind: string;
  /** The entry's key; undefined when it cannot be known. */
  key: string | undefined;
  /** A fixed value; undefined when it comes from the request. */
  value: string | undefined;
  /** The requests that produce the entry with this value, or why that cannot be expressed. */
  condition: ((value: string) => MatchPiece) | string;
  at: string;
}

interface RateLimit {
  at: string;
  actions: Action[];
  used: boolean;
}

function parseRateLimits(v: unknown, at: string): RateLimit[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new Unmapped(at, 'must be a list');
  return v.map((item, i) => {
    const rat = `${at}.${i}`;
    const o = obj(item, rat);
    checkFields(o, ['actions', 'stage'], rat);
    if (Number(field(o, 'stage') ?? 0) !== 0)
      throw new Unmapped(`${rat}.stage`, 'only stage 0 (the local rate limit filter’s) is supported');
    const actions = field(o, 'actions');
    if (!Array.isArray(actions) || actions.length === 0)
      throw new Unmapped(`${rat}.actions`, 'a rate limit needs actions');
    return { at: rat, actions: actions.map((a, j) => parseAction(a, `${rat}.actions.${j}`)), used: false };
  });
}

function parseAction(v: unknown, at: string): Action {
  const o = obj(v, at);
  const kinds = Object.keys(o);
  const [kind] = kinds;
  if (kinds.length !== 1 || kind === undefined) throw new Unmapped(at, 'an action has exactly one kind');
  const snake = kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const body = o[kind] === null ? {} : obj(o[kind], `${at}.${kind}`);
  const bat = `${at}.${kind}`;
  const str = (name: string): string | undefined => {
    const s = field(body, name);
    return typeof s === 'string' && s !== '' ? s : undefined;
  };
  switch (snake) {
    case 'generic_key': {
      checkFields(body, ['descriptor_key', 'descriptor_value'], bat);
      const value = str('descriptor_value');
      if (value === undefined)
        throw new Unmapped(`${bat}.descriptor_value`, 'generic_key needs a descriptor_value');
      return { kind: snake, key: str('descriptor_key') ?? 'generic_key', value, condition: () => ({}), at };
    }
    case 'header_value_match': {
      checkFields(body, ['descriptor_key', 'descriptor_value', 'expect_match', 'headers'], bat);
      const value = str('descriptor_value');
      if (value === undefined)
        throw new Unmapped(`${bat}.descriptor_value`, 'header_value_match needs a descriptor_value');
      const headers = field(body, 'headers') ?? [];
      if (!Array.isArray(headers)) throw new Unmapped(`${bat}.headers`, 'must be a list');
      const expect = field(body, 'expect_match') !== false;
      // The conditions do not depend on the value: the entry's value is the fixed descriptor_value.
      let condition: Action['condition'];
      try {
        const piece = headerValueMatch(headers, expect, `${bat}.headers`);
        condition = () => piece;
      } catch (err) {
        if (!(err instanceof Unmapped)) throw err;
        condition = `${err.message} (at ${err.path})`;
      }
      return { kind: snake, key: str('descriptor_key') ?? 'header_match', value, condition, at };
    }
    case 'request_headers': {
      checkFields(body, ['header_name', 'descriptor_key', 'skip_if_absent'], bat);
      const header = str('header_name');
      const key = str('descriptor_key');
      if (header === undefined || key === undefined)
        throw new Unmapped(bat, 'request_headers needs header_name and descriptor_key');
      const name = header.toLowerCase();
      const condition: Action['condition'] = name.startsWith(':')
        ? name === ':method'
          ? (value) => ({ method: value })
          : name === ':authority'
            ? (value) => ({ headers: [{ name: 'host', type: 'Exact', value }] })
            : `request_headers on ${header} is not supported`
        : (value) => ({ headers: [{ name, type: 'Exact', value }] });
      return { kind: snake, key, value: undefined, condition, at };
    }
    case 'remote_address':
    case 'source_cluster':
    case 'destination_cluster':
    case 'masked_remote_address':
      return {
        kind: snake,
        key: snake,
        value: undefined,
        condition: `${snake} descriptors (one per client address or cluster) are not supported`,
        at,
      };
    default:
      return {
        kind: snake,
        key: str('descriptor_key'),
        value: undefined,
        condition: `the ${snake} action is not supported`,
        at,
      };
  }
}

/** header_value_match: the entry is produced when every header matcher holds (or, with expect_match false, not). */
function headerValueMatch(headers: unknown[], expect: boolean, at: string): MatchPiece {
  const pieces = headers.map((h, i) => headerMatcher(h, `${at}.${i}`));
  if (!expect) {
    const only = pieces[0];
    const header = only?.headers?.[0];
    if (pieces.length !== 1 || !header || only.path || only.method)
      throw new Unmapped(
        at,
        'expect_match false is supported for one header condition (not :path or :method): it becomes an inverted header match',
      );
    return { headers: [{ ...header, invert: !header.invert }] };
  }
  return mergePieces(pieces, at);
}

/** Envoy's HeaderMatcher (config/route/v3) as a route match piece. */
function headerMatcher(v: unknown, at: string): MatchPiece {
  const h = obj(v, at);
  checkFields(
    h,
    [
      'name',
      'exact_match',
      'safe_regex_match',
      'prefix_match',
      'suffix_match',
      'contains_match',
      'present_match',
      'string_match',
      'invert_match',
      'treat_missing_header_as_empty',
    ],
    at,
  );
  const rawName = field(h, 'name');
  if (typeof rawName !== 'string' || rawName === '')
    throw new Unmapped(`${at}.name`, 'a header matcher needs a name');
  const name = rawName.toLowerCase();
  if (field(h, 'treat_missing_header_as_empty') === true)
    throw new Unmapped(
      `${at}.treat_missing_header_as_empty`,
      'treat_missing_header_as_empty is not supported',
    );
  const invert = field(h, 'invert_match') === true;
  let type: 'Exact' | 'Prefix' | 'RegularExpression' | 'Present' | 'Absent' = 'Present';
  let value: string | undefined;
  let ignoreCase = false;
  const regexOf = (r: unknown, rat: string): string => {
    const ro = obj(r, rat);
    checkFields(ro, ['regex', 'google_re2'], rat);
    const re = field(ro, 'regex');
    if (typeof re !== 'string') throw new Unmapped(`${rat}.regex`, 'a regex is needed');
    return re;
  };
  const sm = field(h, 'string_match');
  if (sm !== undefined) {
    const sat = `${at}.string_match`;
    const s = obj(sm, sat);
    checkFields(s, ['exact', 'prefix', 'suffix', 'contains', 'safe_regex', 'ignore_case'], sat);
    ignoreCase = field(s, 'ignore_case') === true;
    const exact = field(s, 'exact');
    const prefix = field(s, 'prefix');
    const suffix = field(s, 'suffix');
    const contains = field(s, 'contains');
    const regex = field(s, 'safe_regex');
    if (typeof exact === 'string') [type, value] = ['Exact', exact];
    else if (typeof prefix === 'string') [type, value] = ['Prefix', prefix];
    else if (typeof suffix === 'string') [type, value] = ['RegularExpression', `.*${escapeRegex(suffix)}`];
    else if (typeof contains === 'string')
      [type, value] = ['RegularExpression', `.*${escapeRegex(contains)}.*`];
    else if (regex !== undefined) [type, value] = ['RegularExpression', regexOf(regex, `${sat}.safe_regex`)];
    else throw new Unmapped(sat, 'a string_match needs exact, prefix, suffix, contains or safe_regex');
  } else if (typeof field(h, 'exact_match') === 'string')
    [type, value] = ['Exact', field(h, 'exact_match') as string];
  else if (typeof field(h, 'prefix_match') === 'string')
    [type, value] = ['Prefix', field(h, 'prefix_match') as string];
  else if (typeof field(h, 'suffix_match') === 'string')
    [type, value] = ['RegularExpression', `.*${escapeRegex(field(h, 'suffix_match') as string)}`];
  else if (typeof field(h, 'contains_match') === 'string')
    [type, value] = ['RegularExpression', `.*${escapeRegex(field(h, 'contains_match') as string)}.*`];
  else if (field(h, 'safe_regex_match') !== undefined)
    [type, value] = ['RegularExpression', regexOf(field(h, 'safe_regex_match'), `${at}.safe_regex_match`)];
  else if (field(h, 'present_match') === false) type = 'Absent';
  if (name === ':path') {
    // Envoy's :path holds the query string too; the proxy matches the path without it, which is the
    // same for prefixes (the ones Istio's samples use) and differs for exact and regex values only when
    // a query string is sent.
    if (invert || type === 'Absent')
      throw new Unmapped(at, 'an inverted (or absent) :path condition is not supported');
    if (type === 'Present') return {};
    return {
      path: { type, value: value ?? '', ...(ignoreCase ? { ignoreCase: true } : {}) },
    };
  }
  if (name === ':method') {
    if (type !== 'Exact' || invert || ignoreCase)
      throw new Unmapped(at, 'a :method condition is supported as an exact, case-sensitive match');
    return { method: value ?? '' };
  }
  if (name.startsWith(':') && name !== ':authority')
    throw new Unmapped(`${at}.name`, `a condition on ${name} is not supported`);
  if (ignoreCase)
    throw new Unmapped(`${at}.string_match.ignore_case`, 'ignore_case is supported on :path only');
  return {
    headers: [
      {
        name: name === ':authority' ? 'host' : name,
        type,
        ...(value !== undefined ? { value } : {}),
        ...(invert ? { invert: true } : {}),
      },
    ],
  };
}

function mergePieces(pieces: readonly MatchPiece[], at: string): MatchPiece {
  const out: MatchPiece = {};
  for (const p of pieces) {
    if (p.path) {
      if (out.path) throw new Unmapped(at, 'two :path conditions in one descriptor are not supported');
      out.path = p.path;
    }
    if (p.method !== undefined) {
      if (out.method !== undefined)
        throw new Unmapped(at, 'two :method conditions in one descriptor are not supported');
      out.method = p.method;
    }
    if (p.headers) out.headers = [...(out.headers ?? []), ...p.headers];
  }
  return out;
}

/**
 * The filter config's descriptors as request matches. Envoy counts a request against a descriptor when
 * one of the route's rate_limits entries produces exactly its entries (each action one entry, in order;
 * an action that does not apply drops the whole entry list); the conditions of that entry's actions are
 * the descriptor's match.
 */
function resolveDescriptors(
  descriptors: ParsedLocalRateLimit['descriptors'],
  rateLimits: RateLimit[],
  at: string,
  ctx: Ctx,
): Descriptor[] {
  const out: Descriptor[] = [];
  for (const d of descriptors) {
    const producers = rateLimits.filter(
      (rl) =>
        rl.actions.length === d.entries.length &&
        rl.actions.every((a, i) => {
          const e = d.entries[i] as { key: string; value: string };
          return (a.key === undefined || a.key === e.key) && (a.value === undefined || a.value === e.value);
        }),
    );
    const describe = d.entries.map((e) => `${e.key}=${e.value}`).join(', ');
    const [producer] = producers;
    if (producer === undefined) {
      ctx.notes.push({
        path: d.at,
        message: `no rate_limits action of the route produces the descriptor ${describe}: it counts no request, as in Envoy`,
      });
      continue;
    }
    if (producers.length > 1)
      throw new Unmapped(
        d.at,
        `several rate_limits entries produce the descriptor ${describe}; this is not supported`,
      );
    producer.used = true;
    const pieces = producer.actions.map((a, i) => {
      if (typeof a.condition === 'string')
        throw new Unmapped(a.at, `${a.condition}, and the descriptor ${describe} (${at}) needs it`);
      return a.condition((d.entries[i] as { value: string }).value);
    });
    const piece = mergePieces(pieces, producer.at);
    const match: DescriptorMatch = {};
    if (piece.path) match.path = piece.path;
    if (piece.headers && piece.headers.length > 0) match.headers = piece.headers;
    if (piece.method !== undefined) match.method = piece.method;
    out.push({ match, tokenBucket: d.tokenBucket });
  }
  return out;
}

/**
 * The EnvoyFilters that apply to one workload instance, in the order istiod applies them: those of the
 * root namespace (selected by labels in any namespace, or all workloads without a selector), then those
 * of the workload's namespace.
 */
export function envoyFiltersFor(
  filters: readonly EnvoyFilterModel[],
  workload: { namespace: string; labels: Record<string, string> },
  rootNamespace: string = DEFAULT_ROOT_NAMESPACE,
): EnvoyFilterModel[] {
  const applies = (f: EnvoyFilterModel) =>
    f.selector === undefined || Object.entries(f.selector).every(([k, v]) => workload.labels[k] === v);
  const root = filters.filter((f) => f.namespace === rootNamespace && applies(f));
  const own =
    workload.namespace === rootNamespace
      ? []
      : filters.filter((f) => f.namespace === workload.namespace && applies(f));
  return [...root, ...own];
}

/**
 * The filters of one inbound entry: each local rate limit filter inserted on its port, with the config
 * of the last route patch for that port and filter name (proto merge replaces a map entry), else its
 * own; one without a token bucket limits nothing and is left out. TCP ports have no HTTP filters.
 */
export function inboundFilters(
  applied: readonly EnvoyFilterModel[],
  port: { port: number; servicePorts: readonly number[]; protocol: PortProtocol | undefined },
): FilterInput[] {
  if (port.protocol === 'tcp' || applied.length === 0) return [];
  const overrides = new Map<string, LocalRateLimitInput>();
  for (const f of applied)
    for (const r of f.routes) {
      if (r.port !== undefined && r.port !== port.port) continue;
      if (r.servicePort !== undefined && !port.servicePorts.includes(r.servicePort)) continue;
      for (const pf of r.perFilter) overrides.set(pf.name, pf.localRateLimit);
    }
  const out: FilterInput[] = [];
  for (const f of applied)
    for (const filter of f.filters) {
      if (filter.port !== undefined && filter.port !== port.port) continue;
      const config = overrides.get(filter.name) ?? filter.localRateLimit;
      if (config) out.push({ type: 'LocalRateLimit', localRateLimit: config });
    }
  return out;
}

function selectorOf(labels: Record<string, string> | undefined): Record<string, string> | undefined {
  return labels === undefined || Object.keys(labels).length === 0 ? undefined : labels;
}

/** A field of Envoy's JSON as protojson reads it: by its proto name or its lowerCamelCase JSON name. */
function field(o: Json, name: string): unknown {
  return o[name] ?? o[camel(name)];
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function checkFields(o: Json, known: readonly string[], at: string): void {
  const allowed = new Set(known.flatMap((k) => [k, camel(k)]));
  for (const k of Object.keys(o))
    if (!allowed.has(k)) throw new Unmapped(`${at}.${k}`, `${k} is not supported by Weft's local rate limit`);
}

function obj(v: unknown, at: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Unmapped(at, 'must be an object');
  return v as Json;
}

function positiveInt(v: unknown, at: string): number {
  const n = nonNegativeInt(v, at);
  if (n === 0) throw new Unmapped(at, 'must be above 0, as Envoy requires');
  return n;
}

function nonNegativeInt(v: unknown, at: string): number {
  // protojson reads integers from numbers and from strings of digits.
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
    throw new Unmapped(at, `${JSON.stringify(v)} is not a whole number`);
  return n;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
