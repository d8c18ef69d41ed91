/**
 * Istio VirtualServices (bound to the mesh) to route attachments on the services they name, with Istio's
 * semantics rather than GAMMA's: rules are tried in order and the first match wins, every client within
 * `exportTo` gets them (no consumer/producer choice), and a match can be limited to some clients
 * (`sourceLabels`, `sourceNamespace`) or ports. Each match of a rule becomes one route, as istiod makes
 * one Envoy route per match, so a prefix rewrite always knows the prefix that matched.
 *
 * When several VirtualServices name one host, the oldest wins for it (Istio merges them only at
 * gateways) and the others are reported. A destination subset that no DestinationRule defines is an
 * error on the status (the route still ships, and answers 503 NO_ENDPOINT), not a silent 503.
 * Mechanisms the proxy's model does not have yet are noted on the status, never silently dropped.
 */
import type {
  HTTPMatchRequest,
  HTTPRoute as IstioHTTPRoute,
  StringMatch,
  VirtualService,
} from '../../../api/resources/istio/index.ts';
import { parseDuration } from '../../../core/duration.ts';
import type {
  DestinationPolicyModel,
  MatchSource,
  RouteAttachment,
  RouteInput,
  ServiceBackendRef,
  ServiceModel,
  ServicePortModel,
  WeightedBackendInput,
} from '../../model/types.ts';
import { serviceBackendName } from '../../model/types.ts';
import { regexError } from '../gateway-api/matches.ts';
import type { IstioStatus } from './destination-rule.ts';
import { resolveHost, type ServiceLookup } from './hosts.ts';

export interface ParsedVirtualService {
  namespace: string;
  name: string;
  created: string;
  spec: VirtualService['spec'];
}

type RouteMatchInput = NonNullable<RouteInput['matches']>[number];
type ValueMatchInput = NonNullable<RouteMatchInput['headers']>[number];
type FilterInput = NonNullable<RouteInput['filters']>[number];

/** Mechanisms of an HTTP rule that map onto proxy features added separately (retries, faults, CORS). */
export type RuleExtras = (
  rule: IstioHTTPRoute,
  at: string,
  note: (path: string, message: string) => void,
) => {
  route?: Partial<RouteInput>;
  filters?: FilterInput[];
};

interface Ctx {
  vs: ParsedVirtualService;
  lookup: ServiceLookup;
  policies: ReadonlyMap<string, DestinationPolicyModel>;
  status: IstioStatus;
  refs: Map<string, ServiceBackendRef>;
  extras: RuleExtras | undefined;
}

export function translateVirtualServices(
  list: readonly ParsedVirtualService[],
  lookup: ServiceLookup,
  policies: readonly DestinationPolicyModel[],
  extras?: RuleExtras,
): { attachments: RouteAttachment[]; statuses: Map<string, IstioStatus> } {
  const byService = new Map(policies.map((p) => [`${p.service.namespace}/${p.service.name}`, p]));
  const statuses = new Map<string, IstioStatus>();
  const attachments: RouteAttachment[] = [];
  const claimed = new Map<string, string>();
  const sorted = [...list].sort(
    (a, b) =>
      compare(a.created, b.created) || compare(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`),
  );
  for (const vs of sorted) {
    const key = `VirtualService/${vs.namespace}/${vs.name}`;
    const status: IstioStatus = { accepted: false, issues: [], notes: [] };
    statuses.set(key, status);
    const gateways = vs.spec.gateways ?? [];
    if (gateways.length > 0 && !gateways.includes('mesh')) {
      status.notes.push({
        path: 'spec.gateways',
        message:
          'bound to gateways only (no "mesh"): Weft has no ingress gateway yet, so this applies to nothing',
      });
      continue;
    }
    const ctx: Ctx = { vs, lookup, policies: byService, status, refs: new Map(), extras };
    (vs.spec.hosts ?? []).forEach((host, h) => {
      const svc = resolveHost(host, vs.namespace, lookup);
      if (!svc) {
        status.notes.push({
          path: `spec.hosts.${h}`,
          message: `${host} is not a service of the mesh (ServiceEntry hosts are not supported yet)`,
        });
        return;
      }
      const svcKey = `${svc.namespace}/${svc.name}`;
      const owner = claimed.get(svcKey);
      if (owner && owner !== key) {
        status.issues.push({
          code: 'CONFIG_CONFLICT',
          path: `spec.hosts.${h}`,
          message: `${owner} already routes ${svcKey} (for sidecars the oldest VirtualService of a host wins)`,
        });
        return;
      }
      claimed.set(svcKey, key);
      for (const sp of svc.ports) {
        ctx.refs = new Map();
        const per = translatePort(ctx, svc, sp);
        if (per.routes.length === 0 && per.tcpBackends.length === 0) continue;
        status.accepted = true;
        attachments.push({
          route: key,
          kind: 'VirtualService',
          namespace: vs.namespace,
          service: { namespace: svc.namespace, name: svc.name },
          port: sp.port,
          order: { created: vs.created, key: `${vs.namespace}/${vs.name}` },
          routes: per.routes,
          tcpBackends: per.tcpBackends,
          backendRefs: [...ctx.refs.values()],
          istio: { exportTo: vs.spec.exportTo, matchSources: per.matchSources },
        });
      }
    });
    if (!status.accepted && status.issues.length === 0 && status.notes.length === 0)
      status.notes.push({ path: 'spec', message: 'no rule applies to a port of the services it names' });
  }
  return { attachments, statuses };
}

function translatePort(
  ctx: Ctx,
  svc: ServiceModel,
  sp: ServicePortModel,
): {
  routes: RouteInput[];
  matchSources: Array<Array<MatchSource | undefined>>;
  tcpBackends: WeightedBackendInput[];
} {
  const routes: RouteInput[] = [];
  const matchSources: Array<Array<MatchSource | undefined>> = [];
  let tcpBackends: WeightedBackendInput[] = [];
  if (sp.protocol !== 'tcp') {
    (ctx.vs.spec.http ?? []).forEach((rule, i) => {
      const at = `spec.http.${i}`;
      const matches = rule.match ?? [];
      const applicable = matches
        .map((m, j) => ({ m, j }))
        .filter(({ m }) => (!m.port || m.port === sp.port) && meshGateway(m.gateways));
      if (matches.length > 0 && applicable.length === 0) return;
      const action = translateAction(ctx, rule, at, svc, sp);
      if (!action) return;
      // One route per match (istiod makes one Envoy route per match); no match: one catch-all route.
      const each = applicable.length > 0 ? applicable : [{ m: undefined, j: -1 }];
      for (const { m, j } of each) {
        const match = m ? translateMatch(ctx, m, `${at}.match.${j}`) : { headers: [], queryParams: [] };
        if (match === undefined) continue;
        const route: RouteInput = {
          name: `${ctx.vs.name}.${rule.name ?? i}${m?.name ? `.${m.name}` : ''}`,
          matches: [match],
          ...action.route,
          filters: [...action.filters, ...rewriteFilters(rule, m)],
        };
        routes.push(route);
        matchSources.push([m ? sourceOf(m) : undefined]);
      }
    });
  }
  if (sp.protocol === 'tcp' || sp.protocol === 'detect') {
    const tcp = (ctx.vs.spec.tcp ?? []).find((r) =>
      (r.match ?? [{}]).some((m) => !('port' in m) || !m.port || m.port === sp.port),
    );
    if (tcp) {
      const i = (ctx.vs.spec.tcp ?? []).indexOf(tcp);
      tcpBackends = weighted(ctx, tcp.route ?? [], `spec.tcp.${i}.route`, svc, sp);
      if ((tcp.match ?? []).some((m) => m.sourceLabels || m.sourceNamespace))
        ctx.status.notes.push({
          path: `spec.tcp.${i}.match`,
          message: 'sourceLabels and sourceNamespace are not applied to TCP routes yet',
        });
    }
  }
  if ((ctx.vs.spec.tls ?? []).length > 0)
    ctx.status.notes.push({ path: 'spec.tls', message: 'TLS (SNI) routes are not applied yet' });
  return { routes, matchSources, tcpBackends };
}

function meshGateway(gateways: readonly string[] | undefined): boolean {
  return gateways === undefined || gateways.length === 0 || gateways.includes('mesh');
}

function sourceOf(m: HTTPMatchRequest): MatchSource | undefined {
  if (!m.sourceLabels && !m.sourceNamespace) return undefined;
  return { labels: m.sourceLabels, namespace: m.sourceNamespace || undefined };
}

interface Action {
  route: Partial<RouteInput>;
  filters: FilterInput[];
}

function translateAction(
  ctx: Ctx,
  rule: IstioHTTPRoute,
  at: string,
  svc: ServiceModel,
  sp: ServicePortModel,
): Action | undefined {
  const note = (path: string, message: string) => ctx.status.notes.push({ path, message });
  const filters: FilterInput[] = [...headerFilters(rule.headers)];
  const route: Partial<RouteInput> = {};
  // Istio: no timeout unless the rule sets one.
  route.timeout = rule.timeout !== undefined ? (parseDuration(rule.timeout) ?? 0) : 0;
  if (rule.route && rule.route.length > 0) {
    route.backends = weighted(ctx, rule.route, `${at}.route`, svc, sp).map((wb, k) => {
      const dh = rule.route?.[k]?.headers;
      return dh ? { ...wb, filters: headerFilters(dh) } : wb;
    });
  } else if (rule.redirect) {
    const r = rule.redirect;
    const code = r.redirectCode ?? 301;
    const statusCode = [301, 302, 303, 307, 308].includes(code) ? code : 302;
    if (statusCode !== code) note(`${at}.redirect.redirectCode`, `${code} is sent as 302`);
    route.redirect = {
      statusCode: statusCode as 301 | 302 | 303 | 307 | 308,
      ...(r.scheme ? { scheme: r.scheme as 'http' | 'https' } : {}),
      ...(r.authority ? { hostname: r.authority } : {}),
      ...(r.port ? { port: r.port } : {}),
      ...(r.uri ? { path: { type: 'ReplaceFullPath' as const, value: r.uri } } : {}),
    };
  } else if (rule.directResponse) {
    const d = rule.directResponse;
    const body =
      d.body?.string ??
      (d.body?.bytes !== undefined ? Buffer.from(d.body.bytes, 'base64').toString('utf8') : '');
    route.directResponse = { status: d.status, body };
  } else if (rule.delegate) {
    note(`${at}.delegate`, 'delegate VirtualServices are not applied yet; the rule is skipped');
    return undefined;
  } else return undefined;
  const mirrors = [
    ...(rule.mirror
      ? [
          {
            destination: rule.mirror,
            percent: rule.mirrorPercentage?.value ?? rule.mirror_percent ?? rule.mirrorPercent ?? 100,
            at: `${at}.mirror`,
          },
        ]
      : []),
    ...(rule.mirrors ?? []).map((m, k) => ({
      destination: m.destination,
      percent: m.percentage?.value ?? 100,
      at: `${at}.mirrors.${k}.destination`,
    })),
  ];
  for (const m of mirrors) {
    const ref = destinationRef(ctx, m.destination, m.at, svc, sp);
    if (ref)
      filters.push({
        type: 'RequestMirror',
        requestMirror: { backend: serviceBackendName(ref), percent: m.percent },
      });
  }
  const extra = ctx.extras?.(rule, at, note);
  if (extra?.route) Object.assign(route, extra.route);
  if (extra?.filters) filters.push(...extra.filters);
  if (!ctx.extras) {
    for (const field of ['retries', 'fault', 'corsPolicy'] as const)
      if (rule[field] !== undefined) note(`${at}.${field}`, `${field} is not applied yet`);
  }
  return { route, filters };
}

function rewriteFilters(rule: IstioHTTPRoute, m: HTTPMatchRequest | undefined): FilterInput[] {
  const rw = rule.rewrite;
  if (!rw || !(rule.route && rule.route.length > 0)) return [];
  const urlRewrite: {
    hostname?: string;
    path?: { type: 'ReplacePrefix' | 'ReplaceFullPath'; value: string };
  } = {};
  if (rw.authority) urlRewrite.hostname = rw.authority;
  if (rw.uri !== undefined)
    // Envoy's prefix_rewrite as istiod sets it: the matched prefix is replaced; an exact or regex match,
    // or none, has the whole path replaced.
    urlRewrite.path =
      m?.uri?.prefix !== undefined
        ? { type: 'ReplacePrefix', value: rw.uri }
        : { type: 'ReplaceFullPath', value: rw.uri };
  return urlRewrite.hostname || urlRewrite.path ? [{ type: 'URLRewrite', urlRewrite }] : [];
}

function headerFilters(h: IstioHTTPRoute['headers']): FilterInput[] {
  const out: FilterInput[] = [];
  const mod = (ops: NonNullable<NonNullable<IstioHTTPRoute['headers']>['request']>) => ({
    set: ops.set ?? {},
    add: ops.add ?? {},
    remove: ops.remove ?? [],
  });
  if (h?.request) out.push({ type: 'RequestHeaderModifier', requestHeaderModifier: mod(h.request) });
  if (h?.response) out.push({ type: 'ResponseHeaderModifier', responseHeaderModifier: mod(h.response) });
  return out;
}

function weighted(
  ctx: Ctx,
  dests: ReadonlyArray<{ destination: IstioHTTPRoute['mirror'] & object; weight?: number | undefined }>,
  at: string,
  svc: ServiceModel,
  sp: ServicePortModel,
): WeightedBackendInput[] {
  const out: WeightedBackendInput[] = [];
  dests.forEach((d, k) => {
    const ref = destinationRef(ctx, d.destination, `${at}.${k}.destination`, svc, sp);
    if (!ref) return;
    // One destination takes everything; with several, an unset weight is 0 (Istio).
    const weight = dests.length === 1 ? 1 : (d.weight ?? 0);
    out.push({ backend: serviceBackendName(ref), weight });
  });
  return out;
}

function destinationRef(
  ctx: Ctx,
  dest: { host: string; subset?: string | undefined; port?: { number?: number | undefined } | undefined },
  at: string,
  current: ServiceModel,
  currentPort: ServicePortModel,
): ServiceBackendRef | undefined {
  const svc = resolveHost(dest.host, ctx.vs.namespace, ctx.lookup);
  if (!svc) {
    ctx.status.issues.push({
      code: 'CONFIG_REFERENCE',
      path: `${at}.host`,
      message: `${dest.host} is not a service of the mesh`,
    });
    return undefined;
  }
  let port = dest.port?.number;
  if (port === undefined) {
    if (svc.ports.length === 1) port = svc.ports[0]?.port;
    else if (svc.namespace === current.namespace && svc.name === current.name) port = currentPort.port;
  }
  if (port === undefined || !svc.ports.some((p) => p.port === port)) {
    ctx.status.issues.push({
      code: 'CONFIG_REFERENCE',
      path: `${at}.port`,
      message:
        port === undefined
          ? `${svc.namespace}/${svc.name} has several ports: the destination must name one`
          : `${svc.namespace}/${svc.name} has no port ${port}`,
    });
    return undefined;
  }
  if (dest.subset !== undefined) {
    const policy = ctx.policies.get(`${svc.namespace}/${svc.name}`);
    if (!policy?.subsets.some((s) => s.name === dest.subset))
      ctx.status.issues.push({
        code: 'CONFIG_REFERENCE',
        path: `${at}.subset`,
        message: `subset "${dest.subset}" is not defined by any DestinationRule for ${svc.namespace}/${svc.name}: requests to it get 503 NO_ENDPOINT`,
      });
  }
  const ref: ServiceBackendRef = { namespace: svc.namespace, name: svc.name, port, subset: dest.subset };
  ctx.refs.set(serviceBackendName(ref), ref);
  return ref;
}

function translateMatch(ctx: Ctx, m: HTTPMatchRequest, at: string): RouteMatchInput | undefined {
  const note = (path: string, message: string) => ctx.status.notes.push({ path, message });
  const out: RouteMatchInput = { headers: [], queryParams: [] };
  if (m.uri) {
    const v = stringMatchOf(m.uri);
    if (v.type === 'RegularExpression' && !regexOk(ctx, v.value, `${at}.uri.regex`)) return undefined;
    out.path = {
      type: v.type === 'Exact' ? 'Exact' : v.type === 'Prefix' ? 'Prefix' : 'RegularExpression',
      value: v.value,
      ...(m.ignoreUriCase ? { ignoreCase: true } : {}),
    };
  }
  if (m.method) {
    if (m.method.exact !== undefined) out.method = m.method.exact;
    else note(`${at}.method`, 'only exact method matches are applied; this one is ignored');
  }
  if (m.scheme) note(`${at}.scheme`, 'a sidecar only sees http: the scheme match is ignored');
  const headers: ValueMatchInput[] = [];
  if (m.authority) headers.push({ name: 'host', ...valueMatch(m.authority) });
  for (const [name, sm] of Object.entries(m.headers ?? {})) headers.push({ name, ...valueMatch(sm) });
  for (const [name, sm] of Object.entries(m.withoutHeaders ?? {}))
    headers.push({ name, ...valueMatch(sm), invert: true });
  for (const [k, h] of headers.entries())
    if (h.type === 'RegularExpression' && !regexOk(ctx, h.value ?? '', `${at}.headers.${k}`))
      return undefined;
  out.headers = headers;
  out.queryParams = Object.entries(m.queryParams ?? {}).map(([name, sm]) => ({ name, ...valueMatch(sm) }));
  return out;
}

function stringMatchOf(sm: StringMatch): { type: 'Exact' | 'Prefix' | 'RegularExpression'; value: string } {
  if (sm.exact !== undefined) return { type: 'Exact', value: sm.exact };
  if (sm.prefix !== undefined) return { type: 'Prefix', value: sm.prefix };
  return { type: 'RegularExpression', value: sm.regex ?? '' };
}

/** An empty StringMatch means "present" (for withoutHeaders, inverted: "absent"). */
function valueMatch(sm: StringMatch): Omit<ValueMatchInput, 'name'> {
  if (sm.exact === undefined && sm.prefix === undefined && sm.regex === undefined) return { type: 'Present' };
  return stringMatchOf(sm);
}

function regexOk(ctx: Ctx, source: string, path: string): boolean {
  const error = regexError(source);
  if (error === undefined) return true;
  ctx.status.issues.push({ code: 'CONFIG_REGEX', path, message: `${error}; the match is dropped` });
  return false;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
