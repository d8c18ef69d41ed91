/**
 * Compiles a validated ProxyConfig into a Snapshot: routers sorted once, filter chains composed once per
 * route and backend, balancers built, metric series bound, upstream pools acquired from the shared cache.
 * Nothing here runs per request.
 */
import type {
  BackendConfig,
  FilterConfig,
  InboundConfig,
  OutboundConfig,
  ProxyConfig,
  RouteConfig,
  WeightedBackendConfig,
} from '../../api/index.ts';
import {
  buildFilter,
  composeFilters,
  type FilterContext,
  FilterStateCache,
  type HttpFilter,
} from '../filters/index.ts';
import { type MetricsRegistry, PeerRequestCounters, RequestMetrics } from '../metrics/index.ts';
import { compileRetryPolicy, RetryBudget, RetryMetrics, type RetryPolicy } from '../retry/index.ts';
import { type RequestView, Router } from '../router/index.ts';
import { createBalancer, type Random, type WeightedEndpoint } from '../upstream/balancers/index.ts';
import type { Upstream, UpstreamCache } from '../upstream/upstream.ts';
import type {
  CompiledBackend,
  CompiledRoute,
  CompiledService,
  ListenerSpec,
  RouteBackend,
  Snapshot,
} from './types.ts';

export interface CompileDeps {
  upstreams: UpstreamCache;
  metrics: MetricsRegistry;
  random?: Random;
  /** State filters keep across snapshots (token buckets), one per proxy; without it, state starts afresh. */
  filterState?: FilterStateCache;
  /** The filters' clock in milliseconds (monotonic); performance.now unless injected. */
  now?: () => number;
}

export function compileSnapshot(config: ProxyConfig, input: CompileDeps): Snapshot {
  // Each compile is a generation of the filter state cache (filters/state.ts).
  const deps: CompileDeps = { ...input, filterState: input.filterState ?? new FilterStateCache() };
  deps.filterState?.begin();
  const random = deps.random ?? Math.random;
  const acquired: Upstream[] = [];
  const backends = new Map<string, CompiledBackend>();
  const multiplex = config.settings.meshHttp2;
  for (const b of config.backends) backends.set(b.name, compileBackend(b, deps, acquired, random, multiplex));

  const outbound = new Map<string, CompiledService>();
  const byHost = new Map<string, CompiledService>();
  for (const ob of config.outbound) {
    const svc = compileOutbound(ob, backends, config, deps, random);
    outbound.set(ob.name, svc);
    for (const h of ob.hosts) {
      const host = h.toLowerCase();
      if (!byHost.has(`${host}:${ob.port}`)) byHost.set(`${host}:${ob.port}`, svc);
      if (!host.includes(':') && !byHost.has(host)) byHost.set(host, svc);
    }
    if (ob.vip) byHost.set(`${ob.vip}:${ob.port}`, svc);
  }

  const inbound = new Map<string, CompiledService>();
  const inboundByPort = new Map<number, CompiledService>();
  for (const ib of config.inbound) {
    const svc = compileInbound(ib, backends, config, deps, acquired, random);
    inbound.set(ib.name, svc);
    if (!ib.listen) inboundByPort.set(ib.target.port, svc);
  }

  const listeners: ListenerSpec[] = [];
  const add = (
    address: string,
    port: number,
    kind: ListenerSpec['kind'],
    protocol: ListenerSpec['protocol'],
    service?: string,
    path?: string,
  ) =>
    listeners.push({
      key: `${kind}|${path ?? `${address}:${port}`}|${service ?? ''}`,
      address,
      port,
      path,
      kind,
      protocol,
      service,
    });
  // Detection: HTTP/1 clients send absolute-form requests; HTTP/2 clients (gRPC with HTTP_PROXY) send
  // prior-knowledge h2c with the service in :authority.
  if (config.httpProxy) add(config.httpProxy.address, config.httpProxy.port, 'http-proxy', 'detect');
  for (const ib of config.inbound)
    if (ib.listen) add(ib.listen.address, ib.listen.port, 'inbound', ib.protocol, ib.name);
  if (config.interception) {
    const { outbound: o, inbound: i } = config.interception;
    add(o.address, o.port, 'transparent-outbound', 'detect');
    add(i.address, i.port, 'transparent-inbound', 'detect');
  }
  for (const ob of config.outbound)
    if (ob.listen) add(ob.listen.address, ob.listen.port, 'outbound', ob.protocol, ob.name, ob.listen.path);

  return {
    version: config.version ?? '',
    config,
    compiledAt: new Date(),
    outbound,
    inbound,
    inboundConfigs: config.inbound,
    inboundByPort,
    byHost,
    listeners,
    upstreams: acquired,
  };
}

function compileBackend(
  b: BackendConfig,
  deps: CompileDeps,
  acquired: Upstream[],
  random: Random,
  multiplex = false,
): CompiledBackend {
  // Circuit breaker and outlier detection: the backend's state outside the snapshot, updated in place.
  const state = deps.upstreams.backend(b, deps.metrics);
  const endpoints: WeightedEndpoint[] = b.endpoints.map((e) => {
    const upstream = deps.upstreams.acquire(
      e.address,
      e.port,
      {
        protocol: b.protocol,
        connectTimeout: b.connectTimeout,
        idleTimeout: b.idleTimeout,
        maxConnections: b.maxConnectionsPerEndpoint,
        identity: e.identity,
        multiplex: multiplex && e.identity !== undefined && b.protocol === 'http1',
        maxRequestsPerConnection: b.maxRequestsPerConnection,
      },
      state,
    );
    acquired.push(upstream);
    return { upstream, weight: e.weight, labels: e.labels, id: `${e.address}:${e.port}` };
  });
  state.setHosts(endpoints.map((e) => e.upstream.health));
  return {
    name: b.name,
    protocol: b.protocol,
    endpoints,
    balancer: createBalancer(b.loadBalancer, endpoints, random, state.ejections),
    hashKey: compileHashKey(b),
    retryBudget: b.retryBudget ? new RetryBudget(b.retryBudget, endpoints) : undefined,
  };
}

function compileHashKey(b: BackendConfig): CompiledBackend['hashKey'] {
  const lb = b.loadBalancer;
  if (lb.type !== 'ring-hash' && lb.type !== 'maglev') return undefined;
  const on = lb.hashOn ?? { sourceIp: true };
  if (on.header) {
    const name = on.header.toLowerCase();
    return (req) => {
      const v = req.headers[name];
      return v === undefined ? undefined : typeof v === 'string' ? v : v.join(',');
    };
  }
  if (on.cookie) {
    const name = on.cookie;
    return (req) => readCookie(req.headers.cookie, name);
  }
  if (on.queryParam) {
    const name = on.queryParam;
    return (req) => new URLSearchParams(req.query).get(name) ?? undefined;
  }
  return (_req, sourceIp) => sourceIp;
}

export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const text = typeof header === 'string' ? header : header.join('; ');
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function buildFilters(filters: readonly FilterConfig[], context: FilterContext): HttpFilter[] {
  return filters.map((f) => buildFilter(f, context));
}

/** What filters may use when built for one route (or a tcp service, whose filters never run). */
function filterContext(
  backends: ReadonlyMap<string, CompiledBackend>,
  deps: CompileDeps,
  random: Random,
  timeoutMs: number,
  labels: FilterContext['labels'],
): FilterContext {
  return {
    backend: (name) => backends.get(name),
    random,
    metrics: deps.metrics,
    timeoutMs,
    now: deps.now ?? (() => performance.now()),
    labels,
    state: deps.filterState ?? new FilterStateCache(),
  };
}

/**
 * `routeFilters` are built once per route and shared by every backend's chain, so a filter with state
 * (a mirror's in-flight count) is one per route however many backends the route splits between.
 */
function compileWeighted(
  list: readonly WeightedBackendConfig[],
  routeFilters: readonly HttpFilter[],
  backends: ReadonlyMap<string, CompiledBackend>,
  labels: (backend: string) => Record<string, string>,
  metrics: MetricsRegistry,
  random: Random,
  context: FilterContext,
  retry?: { policy: RetryPolicy; attemptCount: boolean },
): { backends: RouteBackend[]; pick: () => RouteBackend | undefined } {
  const out: RouteBackend[] = list
    .filter((wb) => wb.weight > 0)
    .map((wb) => {
      const backend = backends.get(wb.backend) as CompiledBackend;
      return {
        backend,
        weight: wb.weight,
        chain: composeFilters([...routeFilters, ...buildFilters(wb.filters, context)]),
        metrics: new RequestMetrics(metrics, labels(wb.backend)),
        retry: retry && {
          policy: retry.policy,
          metrics: new RetryMetrics(metrics, labels(wb.backend)),
          budget: backend.retryBudget,
          attemptCount: retry.attemptCount,
        },
      };
    });
  const total = out.reduce((a, b) => a + b.weight, 0);
  if (out.length === 0) return { backends: out, pick: () => undefined };
  if (out.length === 1) {
    const only = out[0];
    return { backends: out, pick: () => only };
  }
  return {
    backends: out,
    pick() {
      let r = random() * total;
      for (const b of out) {
        r -= b.weight;
        if (r < 0) return b;
      }
      return out[out.length - 1];
    },
  };
}

function compileRoutes(
  svc: { name: string; direction: 'inbound' | 'outbound' },
  routes: readonly RouteConfig[],
  backends: ReadonlyMap<string, CompiledBackend>,
  config: ProxyConfig,
  deps: CompileDeps,
  random: Random,
  leading: readonly HttpFilter[] = [],
): Array<{ route: CompiledRoute; matches: RouteConfig['matches'] }> {
  return routes.map((r, i) => {
    const name = r.name || `${svc.name}-${i}`;
    const labels = (backend: string) => ({
      direction: svc.direction,
      service: svc.name,
      route: name,
      backend,
    });
    const timeoutMs = r.timeout ?? config.settings.requestTimeout;
    const context = filterContext(backends, deps, random, timeoutMs, {
      direction: svc.direction,
      service: svc.name,
      route: name,
    });
    // `leading`: the inbound entry's filters, built once for the port and shared by its routes.
    const routeFilters = [...leading, ...buildFilters(r.filters, context)];
    let action: CompiledRoute['action'];
    if (r.backends) {
      action = {
        kind: 'backends',
        ...compileWeighted(
          r.backends,
          routeFilters,
          backends,
          labels,
          deps.metrics,
          random,
          context,
          r.retries && r.retries.attempts > 0
            ? { policy: compileRetryPolicy(r.retries, random), attemptCount: r.includeAttemptCount }
            : undefined,
        ),
      };
    } else if (r.redirect) {
      action = {
        kind: 'redirect',
        scheme: r.redirect.scheme,
        hostname: r.redirect.hostname,
        port: r.redirect.port,
        path: r.redirect.path,
        statusCode: r.redirect.statusCode,
        metrics: new RequestMetrics(deps.metrics, labels('-')),
      };
    } else {
      const d = r.directResponse as NonNullable<RouteConfig['directResponse']>;
      const body = Buffer.from(d.body);
      action = {
        kind: 'direct',
        status: d.status,
        body,
        // The whole response head, built once: names lower-cased (the writers compare them as they are),
        // the length, and the mark that the proxy made this response.
        headers: {
          ...Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k.toLowerCase(), v])),
          'content-length': String(body.length),
          'weft-error': 'DIRECT_RESPONSE',
        },
        metrics: new RequestMetrics(deps.metrics, labels('-')),
      };
    }
    const chain = composeFilters(routeFilters);
    return {
      route: {
        name,
        action,
        chain,
        admit: chain.onAdmit && {
          run: chain.onAdmit,
          metrics: new RequestMetrics(deps.metrics, labels('-')),
        },
        timeoutMs,
        includeAttemptCount: r.includeAttemptCount,
      },
      matches: r.matches,
    };
  });
}

function compileOutbound(
  ob: OutboundConfig,
  backends: ReadonlyMap<string, CompiledBackend>,
  config: ProxyConfig,
  deps: CompileDeps,
  random: Random,
): CompiledService {
  const svc = { name: ob.name, direction: 'outbound' as const };
  const router = new Router(compileRoutes(svc, ob.routes, backends, config, deps, random), ob.routeOrder);
  const tcp = compileWeighted(
    ob.tcpBackends,
    [],
    backends,
    (backend) => ({ direction: 'outbound', service: ob.name, route: 'tcp', backend }),
    deps.metrics,
    random,
    filterContext(backends, deps, random, 0, { direction: 'outbound', service: ob.name, route: 'tcp' }),
  );
  return {
    name: ob.name,
    direction: 'outbound',
    protocol: ob.protocol,
    port: ob.port,
    router,
    routerH2: undefined,
    pickTcp: tcp.pick,
    unrouted: new RequestMetrics(deps.metrics, {
      direction: 'outbound',
      service: ob.name,
      route: '-',
      backend: '-',
    }),
    targetProtocol: undefined,
    mtls: undefined,
  };
}

/** An inbound port is a service with one catch-all route to the local application. */
function compileInbound(
  ib: InboundConfig,
  allBackends: ReadonlyMap<string, CompiledBackend>,
  config: ProxyConfig,
  deps: CompileDeps,
  acquired: Upstream[],
  random: Random,
): CompiledService {
  const svc = { name: ib.name, direction: 'inbound' as const };
  const opaque = ib.protocol === 'tcp' || ib.protocol === 'opaque';
  const downstreamH2 = ib.protocol === 'http2' || ib.protocol === 'grpc';
  // The entry's filters are built once, so both HTTP variants below share them (one rate-limit bucket).
  const leading = buildFilters(
    ib.filters,
    filterContext(allBackends, deps, random, ib.timeout ?? 0, {
      direction: 'inbound',
      service: ib.name,
      route: 'inbound',
    }),
  );
  const target = (protocol: 'http1' | 'http2' | 'tcp') => {
    const name = `inbound|${ib.name}|${protocol}`;
    const backend = compileBackend(
      {
        name,
        protocol,
        endpoints: [{ address: ib.target.address, port: ib.target.port, weight: 1, labels: {} }],
        loadBalancer: { type: 'round-robin' },
        connectTimeout: 5000,
        idleTimeout: 3000,
        maxConnectionsPerEndpoint: 256,
      },
      deps,
      acquired,
      random,
    );
    const backends = new Map([[name, backend]]);
    const route: RouteConfig = {
      name: 'inbound',
      matches: [{ headers: [], queryParams: [] }],
      filters: [],
      backends: [{ backend: name, weight: 1, filters: [] }],
      timeout: ib.timeout ?? 0,
      includeAttemptCount: false,
    };
    return {
      backends,
      router: new Router(compileRoutes(svc, [route], backends, config, deps, random, leading), 'declared'),
      name,
    };
  };
  // The application speaks what the client spoke unless targetProtocol says otherwise; on a detect port
  // that is only known per connection, so both variants are compiled.
  const main = target(opaque ? 'tcp' : (ib.targetProtocol ?? (downstreamH2 ? 'http2' : 'http1')));
  const h2 = ib.protocol === 'detect' && ib.targetProtocol === undefined ? target('http2') : undefined;
  const tcp = compileWeighted(
    [{ backend: main.name, weight: 1, filters: [] }],
    [],
    main.backends,
    () => ({ direction: 'inbound', service: ib.name, route: 'tcp', backend: 'local' }),
    deps.metrics,
    random,
    filterContext(main.backends, deps, random, 0, { direction: 'inbound', service: ib.name, route: 'tcp' }),
  );
  return {
    name: ib.name,
    direction: 'inbound',
    protocol: ib.protocol,
    port: ib.listen?.port ?? ib.target.port,
    router: main.router,
    routerH2: h2?.router,
    pickTcp: tcp.pick,
    unrouted: new RequestMetrics(deps.metrics, {
      direction: 'inbound',
      service: ib.name,
      route: '-',
      backend: '-',
    }),
    targetProtocol: ib.targetProtocol,
    mtls: ib.mtls,
    requestsByPeer: new PeerRequestCounters(deps.metrics, ib.name),
  };
}

export type { RequestView };
