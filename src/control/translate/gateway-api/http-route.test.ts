/**
 * Golden tests for HTTPRoute: YAML through the schema and the translator to RouteAttachment[], starting
 * with Istio's Bookinfo routes in their Gateway API form, then the mesh rules one by one (parent ports,
 * unresolvable backends, consumer routes, filters, timeouts). Every result is also checked against the
 * proxy's own ProxyConfig validator, so the routes produced are routes the proxy accepts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteAttachment, ServiceModel } from '../../model/types.ts';
import { BOOKINFO_SERVICES, noCompatSamples, readSample, service, translateYaml } from './testing.ts';
import type { RouteMatchInput } from './types.ts';

const translate = (yaml: string, services: ServiceModel[] = BOOKINFO_SERVICES) =>
  translateYaml(yaml, services);

const ALL: RouteMatchInput[] = [{ path: { type: 'PathPrefix', value: '/' } }];

/** A Bookinfo route: one rule, every request to the given weighted versions of the parent Service. */
function bookinfoRoute(name: string, versions: [string, number?][]): RouteAttachment {
  const refs = versions.map(([v]) => ({ namespace: 'default', name: `${name}-${v}`, port: 9080 }));
  return {
    route: `HTTPRoute/default/${name}`,
    kind: 'HTTPRoute',
    namespace: 'default',
    service: { namespace: 'default', name },
    port: 9080,
    order: { created: '', key: `default/${name}` },
    routes: [
      {
        name: `HTTPRoute/default/${name}/rule-0`,
        matches: ALL,
        filters: [],
        backends: versions.map(([v, weight]) => ({
          backend: `default/${name}-${v}:9080`,
          weight: weight ?? 1,
        })),
      },
    ],
    tcpBackends: [],
    backendRefs: refs,
  };
}

const ok = { accepted: true, issues: [], notes: [] };

describe('Bookinfo (Istio samples, gateway-api/)', { skip: noCompatSamples }, () => {
  test('route-reviews-90-10.yaml: a 90/10 split between reviews-v1 and reviews-v2', () => {
    const { attachments, statuses } = translate(
      readSample('istio/bookinfo/gateway-api/route-reviews-90-10.yaml'),
    );
    assert.deepEqual(attachments, [
      {
        route: 'HTTPRoute/default/reviews',
        kind: 'HTTPRoute',
        namespace: 'default',
        service: { namespace: 'default', name: 'reviews' },
        port: 9080,
        order: { created: '', key: 'default/reviews' },
        routes: [
          {
            name: 'HTTPRoute/default/reviews/rule-0',
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            filters: [],
            backends: [
              { backend: 'default/reviews-v1:9080', weight: 90 },
              { backend: 'default/reviews-v2:9080', weight: 10 },
            ],
          },
        ],
        tcpBackends: [],
        backendRefs: [
          { namespace: 'default', name: 'reviews-v1', port: 9080 },
          { namespace: 'default', name: 'reviews-v2', port: 9080 },
        ],
      },
    ]);
    assert.deepEqual(Object.fromEntries(statuses), { 'HTTPRoute/default/reviews': ok });
  });

  test('route-all-v1.yaml: four routes, each to the v1 of its Service, ordered by namespace/name', () => {
    const { attachments, statuses } = translate(readSample('istio/bookinfo/gateway-api/route-all-v1.yaml'));
    assert.deepEqual(attachments, [
      bookinfoRoute('details', [['v1']]),
      bookinfoRoute('productpage', [['v1']]),
      bookinfoRoute('ratings', [['v1']]),
      bookinfoRoute('reviews', [['v1']]),
    ]);
    assert.equal(statuses.size, 4);
    for (const status of statuses.values()) assert.deepEqual(status, ok);
  });

  test('route-reviews-v1.yaml: all of reviews to v1', () => {
    const { attachments } = translate(readSample('istio/bookinfo/gateway-api/route-reviews-v1.yaml'));
    assert.deepEqual(attachments, [bookinfoRoute('reviews', [['v1']])]);
  });

  test('route-reviews-50-v3.yaml: half to v1, half to v3', () => {
    const { attachments } = translate(readSample('istio/bookinfo/gateway-api/route-reviews-50-v3.yaml'));
    assert.deepEqual(attachments, [
      bookinfoRoute('reviews', [
        ['v1', 50],
        ['v3', 50],
      ]),
    ]);
  });

  test('bookinfo-gateway.yaml: a route on a Gateway is noted and not attached', () => {
    const { attachments, statuses } = translate(
      readSample('istio/bookinfo/gateway-api/bookinfo-gateway.yaml'),
    );
    assert.deepEqual(attachments, []);
    assert.deepEqual(statuses.get('HTTPRoute/default/bookinfo'), {
      accepted: false,
      issues: [],
      notes: [
        {
          path: 'spec.parentRefs.0',
          message: 'gateway.networking.k8s.io/Gateway bookinfo-gateway is not a Service: ignored by the mesh',
        },
      ],
    });
  });
});

const PARENT = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews, port: 9080 }]
`;

describe('matches', () => {
  test('a header match (end-user: jason) sends to v2, everything else to v1', () => {
    const { attachments } = translate(`${PARENT}
  rules:
  - matches:
    - headers: [{ name: end-user, value: jason }]
    backendRefs: [{ name: reviews-v2, port: 9080 }]
  - backendRefs: [{ name: reviews-v1, port: 9080 }]
`);
    assert.deepEqual(attachments[0]?.routes, [
      {
        name: 'HTTPRoute/default/reviews/rule-0',
        matches: [
          {
            path: { type: 'PathPrefix', value: '/' },
            headers: [{ name: 'end-user', type: 'Exact', value: 'jason' }],
          },
        ],
        filters: [],
        backends: [{ backend: 'default/reviews-v2:9080', weight: 1 }],
      },
      {
        name: 'HTTPRoute/default/reviews/rule-1',
        matches: ALL,
        filters: [],
        backends: [{ backend: 'default/reviews-v1:9080', weight: 1 }],
      },
    ]);
  });

  test('path, query, method and several matches in one rule; rule names; first of equal header names', () => {
    const { attachments } = translate(`${PARENT}
  rules:
  - name: writes
    matches:
    - path: { type: Exact, value: /reviews }
      method: POST
    - path: { type: RegularExpression, value: "/reviews/[0-9]+" }
      queryParams: [{ name: draft, value: "true" }]
      headers: [{ name: X-Tenant, value: a }, { name: x-tenant, value: b }]
    backendRefs: [{ name: reviews-v3, port: 9080 }]
`);
    assert.deepEqual(attachments[0]?.routes[0]?.name, 'HTTPRoute/default/reviews/writes');
    assert.deepEqual(attachments[0]?.routes[0]?.matches, [
      { path: { type: 'Exact', value: '/reviews' }, method: 'POST' },
      {
        path: { type: 'RegularExpression', value: '/reviews/[0-9]+' },
        headers: [{ name: 'X-Tenant', type: 'Exact', value: 'a' }],
        queryParams: [{ name: 'draft', type: 'Exact', value: 'true' }],
      },
    ]);
  });

  test('a regex that does not compile drops its rule, and only it', () => {
    const { attachments, statuses } = translate(`${PARENT}
  rules:
  - matches: [{ path: { type: RegularExpression, value: "/a(" } }]
    backendRefs: [{ name: reviews-v2, port: 9080 }]
  - backendRefs: [{ name: reviews-v1, port: 9080 }]
`);
    assert.deepEqual(
      attachments[0]?.routes.map((r) => r.name),
      ['HTTPRoute/default/reviews/rule-1'],
    );
    const status = statuses.get('HTTPRoute/default/reviews');
    assert.equal(status?.accepted, true);
    assert.deepEqual(
      status?.issues.map((i) => [i.code, i.path]),
      [['CONFIG_REGEX', 'spec.rules.0.matches.0.path.value']],
    );
  });
});

describe('parents', () => {
  const multi = [
    service('default', 'reviews', [
      ['http', 9080],
      ['grpc', 9090],
    ]),
    ...BOOKINFO_SERVICES.slice(4),
  ];

  test('parentRef.port narrows the route to that port; sectionName names a port', () => {
    const { attachments, statuses } = translate(
      `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews }
spec:
  parentRefs:
  - { group: "", kind: Service, name: reviews, port: 9090 }
  - { group: core, kind: Service, name: reviews, sectionName: http }
  rules: [{ backendRefs: [{ name: reviews-v1, port: 9080 }] }]
`,
      multi,
    );
    assert.deepEqual(
      attachments.map((a) => a.port),
      [9090, 9080],
    );
    assert.deepEqual(statuses.get('HTTPRoute/default/reviews'), ok);
  });

  test('a port or port name the Service does not have is an issue; the other parent still attaches', () => {
    const { attachments, statuses } = translate(
      `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews }
spec:
  parentRefs:
  - { group: "", kind: Service, name: reviews, port: 8080 }
  - { group: "", kind: Service, name: reviews, sectionName: admin }
  - { group: "", kind: Service, name: ratings }
  - { group: "", kind: Service, name: nowhere }
  rules: [{ backendRefs: [{ name: reviews-v1, port: 9080 }] }]
`,
      [...multi, service('default', 'ratings')],
    );
    assert.deepEqual(
      attachments.map((a) => [a.service.name, a.port]),
      [['ratings', undefined]],
    );
    assert.deepEqual(statuses.get('HTTPRoute/default/reviews'), {
      accepted: true,
      issues: [
        {
          code: 'CONFIG_REFERENCE',
          path: 'spec.parentRefs.0.port',
          message: 'Service default/reviews has no port 8080 (http 9080, grpc 9090)',
        },
        {
          code: 'CONFIG_REFERENCE',
          path: 'spec.parentRefs.1.sectionName',
          message: 'Service default/reviews has no port named admin (http 9080, grpc 9090)',
        },
        {
          code: 'CONFIG_REFERENCE',
          path: 'spec.parentRefs.3.name',
          message: 'Service default/nowhere does not exist',
        },
      ],
      notes: [],
    });
  });

  test('a rule without backendRefs goes to the parent; without a parent port, one attachment per port', () => {
    const { attachments } = translate(
      `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews }]
  rules: [{ timeouts: { request: 2s } }]
`,
      multi,
    );
    assert.deepEqual(
      attachments.map((a) => [a.port, a.routes[0]?.backends, a.routes[0]?.timeout, a.backendRefs]),
      [
        [
          9080,
          [{ backend: 'default/reviews:9080', weight: 1 }],
          '2s',
          [{ namespace: 'default', name: 'reviews', port: 9080 }],
        ],
        [
          9090,
          [{ backend: 'default/reviews:9090', weight: 1 }],
          '2s',
          [{ namespace: 'default', name: 'reviews', port: 9090 }],
        ],
      ],
    );
  });

  test('a backendRef without port: the parent port for the parent, else the only port, else an issue', () => {
    const { attachments, statuses } = translate(
      `${PARENT}
  rules:
  - backendRefs: [{ name: reviews }, { name: reviews-v1 }, { name: multi }]
`,
      [...BOOKINFO_SERVICES, service('default', 'multi', [80, ['admin', 81]])],
    );
    assert.deepEqual(attachments[0]?.routes[0]?.backends, [
      { backend: 'default/reviews:9080', weight: 1 },
      { backend: 'default/reviews-v1:9080', weight: 1 },
      { backend: 'default/multi:0', weight: 1 },
    ]);
    assert.deepEqual(statuses.get('HTTPRoute/default/reviews')?.issues, [
      {
        code: 'CONFIG_REFERENCE',
        path: 'spec.rules.0.backendRefs.2.port',
        message:
          'Service default/multi has several ports (80, 81): set port: its share of traffic (weight 1) fails with 503, no endpoints',
      },
    ]);
  });
});

describe('backends that do not resolve', () => {
  test('a missing Service with weight 0 is left out; the split is unchanged', () => {
    const { attachments, statuses } = translate(`${PARENT}
  rules:
  - backendRefs:
    - { name: reviews-v1, port: 9080, weight: 90 }
    - { name: reviews-v9, port: 9080, weight: 0 }
    - { name: reviews-v2, port: 9080, weight: 10 }
`);
    assert.deepEqual(attachments[0]?.routes[0]?.backends, [
      { backend: 'default/reviews-v1:9080', weight: 90 },
      { backend: 'default/reviews-v2:9080', weight: 10 },
    ]);
    assert.deepEqual(
      attachments[0]?.backendRefs.map((r) => r.name),
      ['reviews-v1', 'reviews-v2'],
    );
    assert.deepEqual(statuses.get('HTTPRoute/default/reviews'), {
      accepted: true,
      issues: [],
      notes: [
        {
          path: 'spec.rules.0.backendRefs.1.name',
          message: 'Service default/reviews-v9 does not exist; it has weight 0 and is left out',
        },
      ],
    });
  });

  test('a missing Service with a weight keeps its share on a backend with no endpoints', () => {
    const { attachments, statuses } = translate(`${PARENT}
  rules:
  - backendRefs:
    - { name: reviews-v1, port: 9080, weight: 75 }
    - { name: reviews-v9, port: 9080, weight: 25 }
`);
    assert.deepEqual(attachments[0]?.routes[0]?.backends, [
      { backend: 'default/reviews-v1:9080', weight: 75 },
      { backend: 'default/reviews-v9:9080', weight: 25 },
    ]);
    assert.deepEqual(attachments[0]?.backendRefs, [
      { namespace: 'default', name: 'reviews-v1', port: 9080 },
      { namespace: 'default', name: 'reviews-v9', port: 9080 },
    ]);
    assert.deepEqual(statuses.get('HTTPRoute/default/reviews')?.issues, [
      {
        code: 'CONFIG_REFERENCE',
        path: 'spec.rules.0.backendRefs.1.name',
        message:
          'Service default/reviews-v9 does not exist: its share of traffic (weight 25) fails with 503, no endpoints',
      },
    ]);
  });

  test('a kind other than Service is an issue, under a backend name no Service can have', () => {
    const { attachments, statuses } = translate(`${PARENT}
  rules:
  - backendRefs:
    - { name: reviews-v1, port: 9080 }
    - { group: multicluster.x-k8s.io, kind: ServiceImport, name: reviews, port: 9080 }
`);
    assert.deepEqual(attachments[0]?.routes[0]?.backends?.[1], {
      backend: 'default/multicluster.x-k8s.io/ServiceImport/reviews:9080',
      weight: 1,
    });
    assert.equal(
      statuses.get('HTTPRoute/default/reviews')?.issues[0]?.path,
      'spec.rules.0.backendRefs.1.kind',
    );
  });

  test('a port the backend Service does not have is an issue', () => {
    const { statuses } = translate(`${PARENT}
  rules: [{ backendRefs: [{ name: reviews-v1, port: 8080 }] }]
`);
    assert.match(statuses.get('HTTPRoute/default/reviews')?.issues[0]?.message ?? '', /has no port 8080/);
  });

  test('only zero-weight backends: the rule answers 500', () => {
    const { attachments, statuses } = translate(`${PARENT}
  rules: [{ backendRefs: [{ name: reviews-v1, port: 9080, weight: 0 }, { name: gone, port: 9080, weight: 0 }] }]
`);
    assert.deepEqual(attachments[0]?.routes[0], {
      name: 'HTTPRoute/default/reviews/rule-0',
      matches: ALL,
      filters: [],
      directResponse: { status: 500, body: 'no backend\n' },
    });
    assert.deepEqual(
      statuses.get('HTTPRoute/default/reviews')?.notes.map((n) => n.path),
      ['spec.rules.0.backendRefs.1.name', 'spec.rules.0.backendRefs'],
    );
  });
});

describe('consumer routes', () => {
  test('a route in the client namespace attaches to a Service in another; backendRefs default to the route namespace', () => {
    const services = [...BOOKINFO_SERVICES, service('clients', 'reviews-canary')];
    const { attachments, statuses } = translate(
      `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews-fast, namespace: clients, creationTimestamp: "2024-05-01T10:00:00Z" }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews, namespace: default, port: 9080 }]
  rules:
  - backendRefs:
    - { name: reviews-v1, namespace: default, port: 9080, weight: 9 }
    - { name: reviews-canary, port: 9080, weight: 1 }
    timeouts: { request: 100ms }
`,
      services,
    );
    assert.deepEqual(attachments, [
      {
        route: 'HTTPRoute/clients/reviews-fast',
        kind: 'HTTPRoute',
        namespace: 'clients',
        service: { namespace: 'default', name: 'reviews' },
        port: 9080,
        order: { created: '2024-05-01T10:00:00Z', key: 'clients/reviews-fast' },
        routes: [
          {
            name: 'HTTPRoute/clients/reviews-fast/rule-0',
            matches: ALL,
            filters: [],
            timeout: '100ms',
            backends: [
              { backend: 'default/reviews-v1:9080', weight: 9 },
              { backend: 'clients/reviews-canary:9080', weight: 1 },
            ],
          },
        ],
        tcpBackends: [],
        backendRefs: [
          { namespace: 'default', name: 'reviews-v1', port: 9080 },
          { namespace: 'clients', name: 'reviews-canary', port: 9080 },
        ],
      },
    ]);
    assert.deepEqual(statuses.get('HTTPRoute/clients/reviews-fast'), ok);
  });

  test('attachments are ordered oldest first, then by namespace/name', () => {
    const route = (name: string, namespace: string, created: string) => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: ${namespace}, creationTimestamp: "${created}" }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews, namespace: default }]
---`;
    const { attachments } = translate(
      route('b', 'default', '2024-01-02T00:00:00Z') +
        route('c', 'default', '2024-01-01T00:00:00Z') +
        route('a', 'other', '2024-01-02T00:00:00Z') +
        route('a', 'default', '2024-01-02T00:00:00Z'),
    );
    assert.deepEqual(
      attachments.map((a) => a.order.key),
      ['default/c', 'default/a', 'default/b', 'other/a'],
    );
  });
});

describe('filters and timeouts', () => {
  test('header modifiers, URL rewrite and per-backend filters map to ProxyConfig filters', () => {
    const { attachments, statuses } = translate(`${PARENT}
  rules:
  - matches: [{ path: { value: /api/v1 } }]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{ name: x-mesh, value: weft }]
        add: [{ name: x-trace, value: "1" }]
        remove: [x-internal]
    - type: ResponseHeaderModifier
      responseHeaderModifier: { remove: [server] }
    - type: URLRewrite
      urlRewrite: { hostname: reviews.internal, path: { type: ReplacePrefixMatch, replacePrefixMatch: /v2 } }
    backendRefs:
    - name: reviews-v2
      port: 9080
      filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-version, value: v2 }] } }]
`);
    assert.deepEqual(attachments[0]?.routes[0]?.filters, [
      {
        type: 'RequestHeaderModifier',
        requestHeaderModifier: { set: { 'x-mesh': 'weft' }, add: { 'x-trace': '1' }, remove: ['x-internal'] },
      },
      { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: {}, add: {}, remove: ['server'] } },
      {
        type: 'URLRewrite',
        urlRewrite: { hostname: 'reviews.internal', path: { type: 'ReplacePrefixMatch', value: '/v2' } },
      },
    ]);
    assert.deepEqual(attachments[0]?.routes[0]?.backends, [
      {
        backend: 'default/reviews-v2:9080',
        weight: 1,
        filters: [
          {
            type: 'RequestHeaderModifier',
            requestHeaderModifier: { set: { 'x-version': 'v2' }, add: {}, remove: [] },
          },
        ],
      },
    ]);
    assert.deepEqual(statuses.get('HTTPRoute/default/reviews'), ok);
  });

  test('a RequestRedirect becomes the route redirect', () => {
    const { attachments } = translate(`${PARENT}
  rules:
  - matches: [{ path: { value: /old } }]
    filters:
    - type: RequestRedirect
      requestRedirect: { scheme: https, hostname: reviews.example, port: 8443, statusCode: 301, path: { type: ReplacePrefixMatch, replacePrefixMatch: /new } }
`);
    assert.deepEqual(attachments[0]?.routes[0], {
      name: 'HTTPRoute/default/reviews/rule-0',
      matches: [{ path: { type: 'PathPrefix', value: '/old' } }],
      filters: [],
      redirect: {
        statusCode: 301,
        scheme: 'https',
        hostname: 'reviews.example',
        port: 8443,
        path: { type: 'ReplacePrefixMatch', value: '/new' },
      },
    });
    assert.deepEqual(attachments[0]?.backendRefs, []);
  });

  test('unsupported filters: the rule answers 500 rather than skip them; the other rules work', () => {
    const { attachments, statuses } = translate(`${PARENT}
  rules:
  - matches: [{ path: { value: /admin } }]
    filters: [{ type: ExtensionRef, extensionRef: { group: example.com, kind: AuthFilter, name: strict } }]
    backendRefs: [{ name: reviews-v3, port: 9080 }]
  - matches: [{ path: { value: /magic } }]
    filters: [{ type: example.com/Magic }]
    backendRefs: [{ name: reviews-v3, port: 9080 }]
  - backendRefs:
    - { name: reviews-v1, port: 9080, filters: [{ type: RequestRedirect, requestRedirect: { hostname: x.example } }] }
  - backendRefs: [{ name: reviews-v1, port: 9080 }]
`);
    const routes = attachments[0]?.routes ?? [];
    for (const i of [0, 1, 2]) {
      assert.deepEqual(routes[i]?.directResponse, { status: 500, body: 'unsupported filter\n' }, `rule ${i}`);
    }
    assert.deepEqual(routes[3]?.backends, [{ backend: 'default/reviews-v1:9080', weight: 1 }]);
    const status = statuses.get('HTTPRoute/default/reviews');
    assert.equal(status?.accepted, true);
    assert.deepEqual(
      status?.issues.map((i) => [i.code, i.path]),
      [
        ['CONFIG_SCHEMA', 'spec.rules.0.filters.0.type'],
        ['CONFIG_SCHEMA', 'spec.rules.1.filters.0.type'],
        ['CONFIG_SCHEMA', 'spec.rules.2.backendRefs.0.filters.0.type'],
      ],
    );
    assert.match(status?.issues[0]?.message ?? '', /ExtensionRef is not supported/);
    assert.match(status?.issues[2]?.message ?? '', /RequestRedirect on a backendRef is not supported/);
  });

  test('RequestMirror: percent or fraction; a mirror backend that does not resolve is dropped', () => {
    const { attachments, statuses } = translate(`${PARENT}
  rules:
  - filters:
    - { type: RequestMirror, requestMirror: { backendRef: { name: reviews-v3, port: 9080 }, percent: 10 } }
    - { type: RequestMirror, requestMirror: { backendRef: { name: reviews-v2 }, fraction: { numerator: 1, denominator: 8 } } }
    - { type: RequestMirror, requestMirror: { backendRef: { name: shadow, port: 9080 } } }
    backendRefs: [{ name: reviews-v1, port: 9080 }]
`);
    assert.deepEqual(attachments[0]?.routes[0]?.filters, [
      { type: 'RequestMirror', requestMirror: { backend: 'default/reviews-v3:9080', percent: 10 } },
      { type: 'RequestMirror', requestMirror: { backend: 'default/reviews-v2:9080', percent: 12.5 } },
    ]);
    assert.deepEqual(
      attachments[0]?.backendRefs.map((r) => r.name),
      ['reviews-v3', 'reviews-v2', 'reviews-v1'],
    );
    assert.deepEqual(statuses.get('HTTPRoute/default/reviews')?.issues, [
      {
        code: 'CONFIG_REFERENCE',
        path: 'spec.rules.0.filters.2.requestMirror.backendRef.name',
        message: 'Service default/shadow does not exist: requests are not mirrored',
      },
    ]);
  });

  test('backendRequest alone is the route timeout; beside request it is noted', () => {
    const { attachments, statuses } = translate(`${PARENT}
  rules:
  - matches: [{ path: { value: /a } }]
    timeouts: { backendRequest: 500ms }
  - timeouts: { request: 1h, backendRequest: 10s }
`);
    assert.deepEqual(
      attachments[0]?.routes.map((r) => r.timeout),
      ['500ms', '1h'],
    );
    assert.deepEqual(
      statuses.get('HTTPRoute/default/reviews')?.notes.map((n) => n.path),
      ['spec.rules.0.timeouts.backendRequest', 'spec.rules.1.timeouts.backendRequest'],
    );
  });
});

describe('Linkerd books (gateway.networking.k8s.io/v1beta1 HTTPRoutes)', { skip: noCompatSamples }, () => {
  test('rules without backendRefs go to the parent Service; the regex path compiles', () => {
    const books = [service('booksapp', 'books', [['service', 7002]])];
    const { attachments, statuses } = translate(
      readSample('linkerd/booksapp/httproutes/books-httproutes.yaml'),
      books,
    );
    assert.deepEqual(
      attachments.map((a) => [a.route, a.port, a.routes[0]?.matches, a.routes[0]?.backends]),
      [
        [
          'HTTPRoute/booksapp/books-create',
          7002,
          [{ path: { type: 'Exact', value: '/books.json' }, method: 'POST' }],
          [{ backend: 'booksapp/books:7002', weight: 1 }],
        ],
        [
          'HTTPRoute/booksapp/books-delete',
          7002,
          [{ path: { type: 'RegularExpression', value: '/books/\\d+.json' }, method: 'DELETE' }],
          [{ backend: 'booksapp/books:7002', weight: 1 }],
        ],
        [
          'HTTPRoute/booksapp/books-list',
          7002,
          [{ path: { type: 'Exact', value: '/books.json' } }],
          [{ backend: 'booksapp/books:7002', weight: 1 }],
        ],
      ],
    );
    for (const status of statuses.values()) assert.deepEqual(status, ok);
  });
});
