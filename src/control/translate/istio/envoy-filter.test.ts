/**
 * Istio EnvoyFilters to local rate limits: Istio's two local rate limit samples (copies in
 * test/fixtures/compat/samples/istio) translate to the exact filters, reach the inbound entries of the
 * workloads they select and no others (Istio's scoping rules), and pass the proxy's own validator; any
 * other EnvoyFilter, or patch, is reported as not supported at its path.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { validateProxyConfig } from '../../../api/index.ts';
import type { MeshIndex } from '../../index/index.ts';
import type { EnvoyFilterModel, LocalRateLimitInput } from '../../model/types.ts';
import { parseDocuments } from '../../sources/file/parse.ts';
import { buildView } from '../../views/build.ts';
import { istioMesh } from './testing.ts';

const ROOT = new URL('../../../../', import.meta.url).pathname;
const SAMPLES = path.join(
  process.env.WEFT_COMPAT_SAMPLES ?? path.join(ROOT, 'test/fixtures/compat/samples'),
  'istio',
);
const BOOKINFO = path.join(SAMPLES, 'bookinfo/platform/kube/bookinfo.yaml');
const TASK = path.join(SAMPLES, 'tasks/local-rate-limit.yaml');
const SERVICE_SAMPLE = path.join(SAMPLES, 'ratelimit/local-rate-limit-service.yaml');

const file = (f: string) => parseDocuments(readFileSync(f, 'utf8'), f);
const inline = (yaml: string, name = 'inline.yaml') => parseDocuments(yaml, name);

/** The given documents in the index, with one ready transparent instance per Deployment. */
const mesh = (docs: ReturnType<typeof file>): MeshIndex => istioMesh(docs);

/** The view of one instance, after checking that the proxy's validator accepts it. */
function view(index: MeshIndex, node: string) {
  const v = buildView(index.model, node, { trustDomain: 'cluster.local' });
  assert.ok(v, `no view for ${node}`);
  const checked = validateProxyConfig(structuredClone(v));
  assert.deepEqual(checked.ok ? [] : checked.issues, [], 'the proxy would refuse this view');
  return v;
}

/** Each inbound entry's name and filters (undefined when it has none). */
function inboundFiltersOf(index: MeshIndex, node: string) {
  return (view(index, node).inbound ?? []).map((ib) => [ib.name, ib.filters]);
}

/** State, issues (line, code, path, message) and notes (line, path) of one resource. */
function statusOf(index: MeshIndex, name: string) {
  const r = index.resources().find((x) => x.key?.kind === 'EnvoyFilter' && x.key.name === name);
  assert.ok(r, `no EnvoyFilter ${name}`);
  return {
    state: r.state,
    issues: r.issues.map((i) => `${i.at.line} ${i.code} ${i.path}: ${i.message}`),
    notes: (r.notes ?? []).map((n) => `${n.at.line} ${n.path}: ${n.message}`),
  };
}

/** tasks/local-rate-limit.yaml: 4 tokens a minute, every request checked and enforced. */
const TASK_LIMIT: LocalRateLimitInput = {
  tokenBucket: { maxTokens: 4, tokensPerFill: 4, fillInterval: '60s' },
  filterEnabled: 100,
  filterEnforced: 100,
  responseHeadersToAdd: { 'x-local-rate-limit': 'true' },
};

/** ratelimit/local-rate-limit-service.yaml's per-route config, with its descriptor resolved. */
const SERVICE_LIMIT: LocalRateLimitInput = {
  tokenBucket: { maxTokens: 100, tokensPerFill: 100, fillInterval: '60s' },
  filterEnabled: 100,
  filterEnforced: 100,
  responseHeadersToAdd: { 'x-local-rate-limit': 'true' },
  enableXRateLimitHeaders: true,
  descriptors: [
    {
      match: { path: { type: 'Prefix', value: '/productpage', ignoreCase: true } },
      tokenBucket: { maxTokens: 10, tokensPerFill: 10, fillInterval: '60s' },
    },
  ],
};

describe("Istio's local rate limit task (tasks/local-rate-limit.yaml)", () => {
  const index = mesh([...file(BOOKINFO), ...file(TASK)]);

  test('translates to one LocalRateLimit filter for every inbound port of the selected workloads', () => {
    assert.deepEqual(index.model.envoyFilters, [
      {
        resource: 'EnvoyFilter/istio-system/filter-local-ratelimit-svc',
        namespace: 'istio-system',
        selector: { app: 'productpage' },
        filters: [
          { name: 'envoy.filters.http.local_ratelimit', port: undefined, localRateLimit: TASK_LIMIT },
        ],
        routes: [],
      },
    ] satisfies EnvoyFilterModel[]);
    assert.deepEqual(statusOf(index, 'filter-local-ratelimit-svc'), {
      state: 'accepted',
      issues: [],
      notes: [],
    });
  });

  test("productpage's sidecar (selected from the root namespace) has it on its inbound entry; reviews' has not", () => {
    assert.deepEqual(inboundFiltersOf(index, 'default/productpage-v1-0'), [
      ['inbound-9080', [{ type: 'LocalRateLimit', localRateLimit: TASK_LIMIT }]],
    ]);
    assert.deepEqual(inboundFiltersOf(index, 'default/reviews-v1-0'), [['inbound-9080', undefined]]);
    assert.deepEqual(inboundFiltersOf(index, 'default/details-v1-0'), [['inbound-9080', undefined]]);
  });

  test("the filter is the proxy's: defaults filled in by its validator", () => {
    const checked = validateProxyConfig(structuredClone(view(index, 'default/productpage-v1-0')));
    assert.ok(checked.ok);
    assert.deepEqual(checked.config.inbound[0]?.filters, [
      {
        type: 'LocalRateLimit',
        localRateLimit: {
          tokenBucket: { maxTokens: 4, tokensPerFill: 4, fillInterval: 60_000 },
          descriptors: [],
          filterEnabled: 100,
          filterEnforced: 100,
          status: 429,
          responseHeadersToAdd: { 'x-local-rate-limit': 'true' },
          enableXRateLimitHeaders: false,
        },
      },
    ]);
  });
});

/** The service sample names vhost inbound|http|8000: a productpage whose Service port 8000 targets 9080. */
const SHOP = `apiVersion: v1
kind: Service
metadata: { name: productpage, namespace: shop }
spec:
  selector: { app: productpage }
  ports: [{ name: http, port: 8000, targetPort: 9080 }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: productpage-v1, namespace: shop }
spec:
  selector: { matchLabels: { app: productpage } }
  template:
    metadata: { labels: { app: productpage, version: v1 } }
    spec:
      containers:
      - name: productpage
        image: registry.istio.io/release/examples-bookinfo-productpage-v1:1.20.3
        ports: [{ containerPort: 9080 }, { containerPort: 9090 }]
---
apiVersion: v1
kind: Service
metadata: { name: details, namespace: shop }
spec:
  selector: { app: details }
  ports: [{ name: http, port: 8000, targetPort: 9080 }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: details-v1, namespace: shop }
spec:
  selector: { matchLabels: { app: details } }
  template:
    metadata: { labels: { app: details, version: v1 } }
    spec:
      containers:
      - name: details
        image: registry.istio.io/release/examples-bookinfo-details-v1:1.20.3
        ports: [{ containerPort: 9080 }]
`;

describe("Istio's local rate limit by path (ratelimit/local-rate-limit-service.yaml)", () => {
  const index = mesh([...inline(SHOP, 'shop.yaml'), ...file(SERVICE_SAMPLE)]);

  test('patch 1 inserts the filter disabled; patch 2 gives vhost inbound|http|8000 its config, with the /productpage descriptor', () => {
    assert.deepEqual(index.model.envoyFilters, [
      {
        resource: 'EnvoyFilter/istio-system/filter-local-ratelimit-svc',
        namespace: 'istio-system',
        selector: { app: 'productpage' },
        filters: [{ name: 'envoy.filters.http.local_ratelimit', port: undefined, localRateLimit: undefined }],
        routes: [
          {
            port: undefined,
            servicePort: 8000,
            perFilter: [{ name: 'envoy.filters.http.local_ratelimit', localRateLimit: SERVICE_LIMIT }],
          },
        ],
      },
    ] satisfies EnvoyFilterModel[]);
    // Accepted; the notes say what does nothing, as in Envoy.
    assert.deepEqual(statusOf(index, 'filter-local-ratelimit-svc'), {
      state: 'accepted',
      issues: [],
      notes: [
        "29 spec.configPatches.0.patch.value.typed_config.value: no token_bucket: the filter limits nothing until a route's typed_per_filter_config (an HTTP_ROUTE patch) gives it one",
        "43 spec.configPatches.1.patch.value.route.rate_limits.0: this rate_limits entry (remote_address) produces descriptors that no descriptor of the filter's config counts: it has no effect, as in Envoy",
      ],
    });
  });

  test('the inbound entry the service port 8000 targets gets the per-route config; the port no service targets gets nothing', () => {
    assert.deepEqual(inboundFiltersOf(index, 'shop/productpage-v1-0'), [
      ['inbound-9080', [{ type: 'LocalRateLimit', localRateLimit: SERVICE_LIMIT }]],
      ['inbound-9090', undefined],
    ]);
    assert.deepEqual(inboundFiltersOf(index, 'shop/details-v1-0'), [['inbound-9080', undefined]]);
  });

  test("on Bookinfo's productpage (port 9080, vhost inbound|http|9080) the route patch matches nothing, as in Istio", () => {
    const bookinfo = mesh([...file(BOOKINFO), ...file(SERVICE_SAMPLE)]);
    assert.deepEqual(inboundFiltersOf(bookinfo, 'default/productpage-v1-0'), [['inbound-9080', undefined]]);
  });
});

/** An EnvoyFilter with the task's filter; `spec` replaces parts of it. */
function limitFilter(meta: string, spec: string): string {
  return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: ${meta}
spec:
${spec}
`;
}

const TASK_PATCH = `  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager } } }
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          stat_prefix: http_local_rate_limiter
          token_bucket: { max_tokens: 10, tokens_per_fill: 5, fill_interval: 1s }
          filter_enabled: { runtime_key: e, default_value: { numerator: 5000, denominator: TEN_THOUSAND } }
          filter_enforced: { runtime_key: f, default_value: { numerator: 250000, denominator: MILLION } }
          status: { code: ServiceUnavailable }`;

describe('scoping (workloadSelector, namespaces) and mappings', () => {
  const TWO_NAMESPACES = `${SHOP}---
apiVersion: apps/v1
kind: Deployment
metadata: { name: productpage-v1, namespace: other }
spec:
  selector: { matchLabels: { app: productpage } }
  template:
    metadata: { labels: { app: productpage } }
    spec:
      containers:
      - name: productpage
        image: registry.istio.io/release/examples-bookinfo-productpage-v1:1.20.3
        ports: [{ containerPort: 9080 }]
`;
  const SCALED: LocalRateLimitInput = {
    tokenBucket: { maxTokens: 10, tokensPerFill: 5, fillInterval: '1s' },
    filterEnabled: 50,
    filterEnforced: 25,
    status: 503,
  };
  const filtered = (index: MeshIndex, node: string) =>
    inboundFiltersOf(index, node).filter(([, f]) => f !== undefined).length > 0;
  const placed = (meta: string, selector = '') => {
    const index = mesh([
      ...inline(TWO_NAMESPACES),
      ...inline(limitFilter(meta, `${selector}  configPatches:\n${TASK_PATCH}`), 'filter.yaml'),
    ]);
    return ['shop/productpage-v1-0', 'shop/details-v1-0', 'other/productpage-v1-0'].filter((n) =>
      filtered(index, n),
    );
  };

  test('root namespace without selector: every workload; with one: the selected ones in every namespace', () => {
    assert.deepEqual(placed('{ name: f, namespace: istio-system }'), [
      'shop/productpage-v1-0',
      'shop/details-v1-0',
      'other/productpage-v1-0',
    ]);
    assert.deepEqual(
      placed(
        '{ name: f, namespace: istio-system }',
        '  workloadSelector: { labels: { app: productpage } }\n',
      ),
      ['shop/productpage-v1-0', 'other/productpage-v1-0'],
    );
  });

  test('another namespace without selector: its own workloads; with one: the selected ones there', () => {
    assert.deepEqual(placed('{ name: f, namespace: shop }'), ['shop/productpage-v1-0', 'shop/details-v1-0']);
    assert.deepEqual(
      placed('{ name: f, namespace: shop }', '  workloadSelector: { labels: { app: productpage } }\n'),
      ['shop/productpage-v1-0'],
    );
  });

  test('fractions of TEN_THOUSAND and MILLION become percentages; a named status its code; listener.portNumber one port', () => {
    const patch = TASK_PATCH.replace('listener: {', 'listener: { portNumber: 9090,');
    const index = mesh([
      ...inline(SHOP),
      ...inline(limitFilter('{ name: f, namespace: shop }', `  configPatches:\n${patch}`), 'filter.yaml'),
    ]);
    assert.deepEqual(inboundFiltersOf(index, 'shop/productpage-v1-0'), [
      ['inbound-9080', undefined],
      ['inbound-9090', [{ type: 'LocalRateLimit', localRateLimit: SCALED }]],
    ]);
  });

  test('without filter_enabled the filter checks nothing (Envoy: 0%), written out and noted', () => {
    const patch = TASK_PATCH.replace(/ {10}filter_enabled:.*\n/, '');
    const index = mesh([
      ...inline(SHOP),
      ...inline(limitFilter('{ name: f, namespace: shop }', `  configPatches:\n${patch}`), 'filter.yaml'),
    ]);
    const [[, filters]] = inboundFiltersOf(index, 'shop/details-v1-0') as [[string, unknown]];
    assert.deepEqual(filters, [{ type: 'LocalRateLimit', localRateLimit: { ...SCALED, filterEnabled: 0 } }]);
    assert.deepEqual(statusOf(index, 'f').notes, [
      '15 spec.configPatches.0.patch.value.typed_config.filter_enabled: filter_enabled is 0% (Envoy’s default when it is not set): the filter checks no request; set default_value numerator 100, denominator HUNDRED',
    ]);
  });
});

/** Istio's Lua example (docs: EnvoyFilter reference): a filter and a cluster Weft has no use for. */
const LUA = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: reviews-lua
  namespace: default
spec:
  workloadSelector:
    labels:
      app: reviews
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        portNumber: 9080
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter: { name: envoy.filters.http.router }
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.lua
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
          inlineCode: |
            function envoy_on_request(request_handle)
              request_handle:logInfo("hello")
            end
  - applyTo: CLUSTER
    match:
      context: SIDECAR_OUTBOUND
    patch:
      operation: ADD
      value:
        name: lua_cluster
        type: STRICT_DNS
        connect_timeout: 0.5s
`;

describe('what is not supported is reported, at its path', () => {
  test('a Lua EnvoyFilter is unsupported, each patch with its reason, and changes no view', () => {
    const index = mesh([...file(BOOKINFO), ...inline(LUA, 'lua.yaml')]);
    assert.deepEqual(statusOf(index, 'reviews-lua'), {
      state: 'unsupported',
      issues: [
        "25 CONFIG_UNSUPPORTED spec.configPatches.0.patch.value.typed_config: the HTTP filter envoy.lua (envoy.extensions.filters.http.lua.v3.Lua) is not supported: Weft's proxy is not Envoy, and of EnvoyFilter it applies only Envoy's local rate limit (envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit); the patch is ignored",
        "30 CONFIG_UNSUPPORTED spec.configPatches.1.applyTo: applyTo CLUSTER is not supported: Weft's proxy is not Envoy, and of EnvoyFilter it applies only local rate limiting (HTTP_FILTER and HTTP_ROUTE patches at SIDECAR_INBOUND); the patch is ignored",
      ],
      notes: [],
    });
    assert.deepEqual(index.model.envoyFilters, []);
    assert.deepEqual(inboundFiltersOf(index, 'default/reviews-v1-0'), [['inbound-9080', undefined]]);
  });

  test('a supported patch next to an unsupported one: accepted, with the other reported', () => {
    const outbound = TASK_PATCH.replace('context: SIDECAR_INBOUND', 'context: SIDECAR_OUTBOUND');
    const index = mesh([
      ...inline(SHOP),
      ...inline(
        limitFilter('{ name: f, namespace: shop }', `  configPatches:\n${TASK_PATCH}\n${outbound}`),
        'f.yaml',
      ),
    ]);
    assert.deepEqual(statusOf(index, 'f').state, 'accepted');
    assert.deepEqual(statusOf(index, 'f').issues, [
      '23 CONFIG_UNSUPPORTED spec.configPatches.1.match.context: context SIDECAR_OUTBOUND is not supported: Weft applies local rate limits from EnvoyFilter to inbound traffic only (SIDECAR_INBOUND); the patch is ignored',
    ]);
    assert.equal(index.model.envoyFilters[0]?.filters.length, 1);
  });

  test('context ANY (also the default), GATEWAY, and patches Weft cannot map each say why', () => {
    const reasons = (patch: string) => {
      const index = mesh(inline(limitFilter('{ name: f, namespace: shop }', `  configPatches:\n${patch}`)));
      const s = statusOf(index, 'f');
      assert.equal(s.state, 'unsupported', JSON.stringify(s));
      return s.issues.map((i) => i.replace(/^\d+ CONFIG_UNSUPPORTED /, ''));
    };
    assert.deepEqual(reasons(TASK_PATCH.replace('      context: SIDECAR_INBOUND\n', '')), [
      'spec.configPatches.0.match.context: context ANY (the default) also patches outbound listeners and gateways, which Weft cannot do; set context: SIDECAR_INBOUND; the patch is ignored',
    ]);
    assert.deepEqual(reasons(TASK_PATCH.replace('SIDECAR_INBOUND', 'GATEWAY')), [
      'spec.configPatches.0.match.context: context GATEWAY is not supported: Weft runs no Istio gateways; the patch is ignored',
    ]);
    assert.deepEqual(reasons(TASK_PATCH.replace('INSERT_BEFORE', 'REPLACE')), [
      'spec.configPatches.0.patch.operation: operation REPLACE is not supported for HTTP_FILTER: Weft inserts the local rate limit filter (INSERT_BEFORE, INSERT_FIRST, INSERT_AFTER); it has no Envoy filters of its own to change',
    ]);
    assert.deepEqual(
      reasons(
        TASK_PATCH.replace(
          'stat_prefix:',
          'local_rate_limit_per_downstream_connection: true\n          stat_prefix:',
        ),
      ),
      [
        'spec.configPatches.0.patch.value.typed_config.local_rate_limit_per_downstream_connection: a bucket per downstream connection is not supported: Weft has one bucket per place, shared by every connection',
      ],
    );
    assert.deepEqual(reasons(TASK_PATCH.replace('fill_interval: 1s', 'fill_interval: 0.01s')), [
      'spec.configPatches.0.patch.value.typed_config.token_bucket.fill_interval: fill_interval must be at least 50ms, as Envoy requires',
    ]);
  });

  test('a descriptor produced by an action Weft cannot express (remote_address) makes the route patch unsupported', () => {
    const yaml = readFileSync(SERVICE_SAMPLE, 'utf8').replace(
      '- key: header_match\n                      value: productpage',
      '- key: remote_address\n                      value: 10.0.0.1',
    );
    const index = mesh([...inline(SHOP), ...inline(yaml, 'svc.yaml')]);
    const s = statusOf(index, 'filter-local-ratelimit-svc');
    assert.equal(s.state, 'accepted');
    assert.deepEqual(s.issues, [
      '44 CONFIG_UNSUPPORTED spec.configPatches.1.patch.value.route.rate_limits.0.actions.0: remote_address descriptors (one per client address or cluster) are not supported, and the descriptor remote_address=10.0.0.1 (spec.configPatches.1.patch.value.typed_per_filter_config.envoy.filters.http.local_ratelimit) needs it',
    ]);
    // Patch 1 still applies, and limits nothing without a token bucket.
    assert.deepEqual(inboundFiltersOf(index, 'shop/productpage-v1-0'), [
      ['inbound-9080', undefined],
      ['inbound-9090', undefined],
    ]);
  });
});
