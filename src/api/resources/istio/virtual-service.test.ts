/**
 * The VirtualService schema: the versions Istio serves, strict field names (a typo is reported on the
 * object that holds it), Istio's durations, and the rules istiod's webhook enforces between fields.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { accepted, refused, verdict } from './testing.ts';
import type { VirtualService } from './virtual-service.ts';

const to = (host: string, subset?: string) => ({ destination: { host, ...(subset ? { subset } : {}) } });
/** A VirtualService for reviews with one HTTP rule. */
const rule = (http: object, extra: object = {}) => ({ hosts: ['reviews'], http: [http], ...extra });
const routed = (more: object = {}) => rule({ route: [to('reviews', 'v1')], ...more });

describe('VirtualService schema', () => {
  test('v1, v1beta1 and v1alpha3 are one schema; another version is refused with the ones Weft reads', () => {
    for (const v of ['v1', 'v1beta1', 'v1alpha3']) accepted('VirtualService', routed(), v);
    const old = verdict('VirtualService', routed(), 'v1alpha2');
    assert.equal(old.state, 'invalid');
    assert.match(
      old.state === 'invalid' ? (old.issues[0]?.message ?? '') : '',
      /networking\.istio\.io\/v1alpha3/,
    );
  });

  test('the fields keep the names and values the user wrote', () => {
    const value = accepted('VirtualService', {
      hosts: ['reviews'],
      http: [
        {
          name: 'jason',
          match: [{ headers: { 'end-user': { exact: 'jason' } }, uri: { prefix: '/' }, ignoreUriCase: true }],
          route: [{ ...to('reviews', 'v2'), weight: 100, headers: { request: { set: { 'x-a': 'b' } } } }],
          timeout: '0.5s',
          retries: { attempts: 3, perTryTimeout: '2s', retryOn: '5xx,connect-failure,503' },
          mirror: { host: 'reviews', subset: 'v3' },
          mirror_percent: 50,
        },
      ],
    }) as VirtualService;
    const http = value.spec.http?.[0];
    assert.equal(http?.timeout, '0.5s');
    assert.deepEqual(http?.retries, { attempts: 3, perTryTimeout: '2s', retryOn: '5xx,connect-failure,503' });
    assert.deepEqual(http?.match?.[0]?.headers, { 'end-user': { exact: 'jason' } });
    assert.equal(http?.mirror_percent, 50);
  });

  test('a misspelt field is an error on the object that holds it', () => {
    assert.deepEqual(refused('VirtualService', rule({ route: [{ ...to('reviews'), wieght: 50 }] })), [
      'spec.http.0.route.0: Unrecognized key: "wieght"',
    ]);
    assert.deepEqual(refused('VirtualService', { ...routed(), host: ['x'] }), [
      'spec: Unrecognized key: "host"',
    ]);
  });

  test('an HTTP rule routes, redirects or answers directly, and these do not mix', () => {
    assert.deepEqual(refused('VirtualService', rule({ timeout: '1s' })), [
      'spec.http.0: HTTP route, redirect or direct_response is required',
    ]);
    assert.deepEqual(refused('VirtualService', routed({ redirect: { uri: '/v2' } })), [
      'spec.http.0.redirect: HTTP route cannot contain both route and redirect',
    ]);
    assert.deepEqual(
      refused('VirtualService', rule({ redirect: { uri: '/a' }, directResponse: { status: 404 } })),
      ['spec.http.0.directResponse: HTTP route rule cannot contain both direct_response and redirect'],
    );
    assert.deepEqual(
      refused('VirtualService', rule({ directResponse: { status: 503 }, rewrite: { uri: '/' } })),
      ['spec.http.0.rewrite: HTTP route rule cannot contain both rewrite and direct_response'],
    );
    accepted('VirtualService', rule({ redirect: { uri: '/v2', redirectCode: 301 } }));
    accepted('VirtualService', rule({ directResponse: { status: 503, body: { string: 'down' } } }));
  });

  test('delegation: a root rule only delegates; a delegate VirtualService has no hosts and cannot delegate', () => {
    accepted('VirtualService', rule({ delegate: { name: 'reviews-v1', namespace: 'team' } }));
    assert.deepEqual(refused('VirtualService', routed({ delegate: { name: 'x' } })), [
      'spec.http.0.route: a root HTTP route (with delegate) must not specify route',
    ]);
    accepted('VirtualService', { http: [{ route: [to('reviews')] }] });
    assert.deepEqual(
      refused('VirtualService', { http: [{ delegate: { name: 'x' }, route: [to('reviews')] }] }),
      ['spec.http.0.delegate: delegate HTTP route cannot contain delegate'],
    );
    assert.deepEqual(refused('VirtualService', { gateways: ['gw'], tcp: [{ route: [to('db')] }] }), [
      'spec.gateways: delegate virtual service must have no gateways specified',
      'spec.tcp: delegate virtual service must have no tcp route specified',
    ]);
  });

  test('weights are not negative and, with several destinations, not all 0', () => {
    const weighted = (a: number, b: number) =>
      rule({
        route: [
          { ...to('reviews', 'v1'), weight: a },
          { ...to('reviews', 'v2'), weight: b },
        ],
      });
    accepted('VirtualService', weighted(80, 20));
    accepted('VirtualService', weighted(0, 1));
    assert.deepEqual(refused('VirtualService', weighted(0, 0)), [
      'spec.http.0.route: total destination weight = 0',
    ]);
    assert.deepEqual(refused('VirtualService', weighted(-1, 2)), [
      'spec.http.0.route.0.weight: weight must not be negative',
    ]);
  });

  test('retries: attempts not negative, nothing else when 0, retryOn from Envoy conditions and status codes', () => {
    accepted('VirtualService', routed({ retries: { attempts: 0 } }));
    assert.deepEqual(refused('VirtualService', routed({ retries: { attempts: -1 } })), [
      'spec.http.0.retries.attempts: attempts cannot be negative',
    ]);
    assert.deepEqual(refused('VirtualService', routed({ retries: { perTryTimeout: '2s' } })), [
      'spec.http.0.retries.attempts: http retry policy configured when attempts are set to 0 (disabled)',
    ]);
    accepted(
      'VirtualService',
      routed({ retries: { attempts: 2, retryOn: 'gateway-error,reset,retriable-4xx,409' } }),
    );
    assert.deepEqual(
      refused('VirtualService', routed({ retries: { attempts: 2, retryOn: '5xx, reset,599,boom' } })),
      [
        'spec.http.0.retries.retryOn: " reset" is not a valid retryOn policy',
        'spec.http.0.retries.retryOn: "599" is not a valid retryOn policy',
        'spec.http.0.retries.retryOn: "boom" is not a valid retryOn policy',
      ],
    );
  });

  test('durations are Go duration strings of at least 1 ms, to the millisecond', () => {
    for (const t of ['0.5s', '1m', '100ms', '1h30m', '7s'])
      accepted('VirtualService', routed({ timeout: t }));
    const bad = (t: unknown) => refused('VirtualService', routed({ timeout: t }));
    assert.deepEqual(bad('5'), [
      'spec.http.0.timeout: "5" is not a duration: write it as "5s", "0.5s", "1m" or "100ms"',
    ]);
    assert.deepEqual(bad('0s'), ['spec.http.0.timeout: must be a valid duration greater than 1ms']);
    assert.deepEqual(bad('1.5ms'), ['spec.http.0.timeout: only durations to ms precision are supported']);
    for (const t of [' 5s', '.5s', '5 s', '5sec']) assert.equal(bad(t).length, 1, t);
    assert.match(bad(5)[0] ?? '', /^spec\.http\.0\.timeout: Invalid input: expected string/);
  });

  test('fault injection: a delay and/or an abort; one abort error type; Istio percentages', () => {
    const fault = (f: object) => routed({ fault: f });
    accepted('VirtualService', fault({ delay: { fixedDelay: '7s', percentage: { value: 100 } } }));
    accepted('VirtualService', fault({ abort: { httpStatus: 500, percentage: { value: 0.5 } } }));
    accepted(
      'VirtualService',
      fault({ abort: { grpcStatus: 'UNAVAILABLE' }, delay: { fixedDelay: '1s', percent: 10 } }),
    );
    assert.deepEqual(refused('VirtualService', fault({})), [
      'spec.http.0.fault: HTTP fault injection must have an abort and/or a delay',
    ]);
    assert.deepEqual(
      refused('VirtualService', fault({ abort: { httpStatus: 500, grpcStatus: 'INTERNAL' } })),
      [
        'spec.http.0.fault.abort.grpcStatus: set one of httpStatus, grpcStatus or http2Error, not httpStatus and grpcStatus',
      ],
    );
    assert.deepEqual(refused('VirtualService', fault({ abort: { http2Error: 'REFUSED_STREAM' } })), [
      'spec.http.0.fault.abort.http2Error: HTTP/2 abort fault injection not supported yet',
    ]);
    assert.deepEqual(refused('VirtualService', fault({ abort: { httpStatus: 700 } })), [
      'spec.http.0.fault.abort.httpStatus: HTTP status 700 is not in range 200-599',
    ]);
    assert.match(
      refused('VirtualService', fault({ abort: { grpcStatus: 'NOPE' } }))[0] ?? '',
      /gRPC status "NOPE"/,
    );
    for (const value of [101, -1, 0.00001]) {
      assert.deepEqual(
        refused('VirtualService', fault({ abort: { httpStatus: 503, percentage: { value } } })),
        [
          `spec.http.0.fault.abort.percentage.value: percentage ${value} is neither 0.0, nor in range [0.0001, 100.0]`,
        ],
      );
    }
    assert.deepEqual(refused('VirtualService', fault({ delay: { exponentialDelay: '1s' } })), [
      'spec.http.0.fault.delay.exponentialDelay: exponentialDelay not supported yet',
    ]);
    assert.equal(refused('VirtualService', fault({ delay: { fixedDelay: '1s', percent: 101 } })).length, 1);
  });

  test('mirroring: mirror or mirrors, percentages up to 100', () => {
    const mirror = { host: 'reviews', subset: 'v2' };
    accepted('VirtualService', routed({ mirror, mirrorPercentage: { value: 100 } }));
    accepted('VirtualService', routed({ mirrors: [{ destination: mirror, percentage: { value: 25 } }] }));
    accepted('VirtualService', routed({ mirror, mirrorPercent: 100 }));
    assert.deepEqual(refused('VirtualService', routed({ mirror, mirrors: [{ destination: mirror }] })), [
      'spec.http.0.mirrors: HTTP route cannot contain both mirror and mirrors',
    ]);
    assert.deepEqual(refused('VirtualService', routed({ mirror, mirrorPercentage: { value: 150 } })), [
      'spec.http.0.mirrorPercentage.value: mirror percentage must be between 0 and 100 (it has 150)',
    ]);
    assert.deepEqual(refused('VirtualService', routed({ mirror, mirror_percent: 101 })), [
      'spec.http.0.mirror_percent: mirror_percent must have a max value of 100',
    ]);
  });

  test('matches: one string match type, no empty prefix but for the URI, valid header names and ports', () => {
    const match = (m: object) => routed({ match: [m] });
    accepted('VirtualService', match({ uri: { prefix: '' }, method: { exact: 'GET' }, port: 9080 }));
    accepted(
      'VirtualService',
      match({ withoutHeaders: { 'x-canary': {} }, queryParams: { v: { regex: '^2' } } }),
    );
    accepted(
      'VirtualService',
      match({ sourceLabels: { app: 'productpage' }, sourceNamespace: 'default', gateways: ['mesh'] }),
    );
    assert.deepEqual(refused('VirtualService', match({ uri: { exact: '/a', prefix: '/a' } })), [
      'spec.http.0.match.0.uri.prefix: set one of exact, prefix or regex, not exact and prefix',
    ]);
    assert.deepEqual(refused('VirtualService', match({ headers: { 'end-user': { prefix: '' } } })), [
      'spec.http.0.match.0.headers.end-user.prefix: prefix string match should not be empty',
    ]);
    assert.deepEqual(refused('VirtualService', match({ headers: { 'bad header': { exact: 'x' } } })), [
      'spec.http.0.match.0.headers.bad header: header name bad header is not a valid header name',
    ]);
    assert.deepEqual(refused('VirtualService', match({ port: 70000 })), [
      'spec.http.0.match.0.port: port must be between 1-65535',
    ]);
    assert.deepEqual(refused('VirtualService', match({ sourceNamespace: 'Bad_NS' })), [
      'spec.http.0.match.0.sourceNamespace: sourceNamespace match Bad_NS is invalid',
    ]);
  });

  test('header operations: no pseudo-headers, Host only as the request authority, set once', () => {
    accepted(
      'VirtualService',
      routed({ headers: { request: { set: { host: 'ratings' } }, response: { remove: ['x-a'] } } }),
    );
    assert.deepEqual(refused('VirtualService', routed({ headers: { request: { set: { ':path': '/' } } } })), [
      'spec.http.0.headers.request.set.:path: invalid header ":path": header cannot have ":" prefix',
    ]);
    assert.deepEqual(refused('VirtualService', routed({ headers: { response: { set: { Host: 'x' } } } })), [
      'spec.http.0.headers.response.set.Host: invalid header "Host": cannot set Host header',
    ]);
    assert.deepEqual(
      refused(
        'VirtualService',
        routed({ rewrite: { authority: 'a' }, headers: { request: { add: { ':authority': 'b' } } } }),
      ),
      ['spec.http.0.headers.request: authority header cannot be set multiple times: "a", "b"'],
    );
  });

  test('redirects, rewrites, direct responses and CORS as istiod checks them', () => {
    const bad = (http: object) => refused('VirtualService', rule(http));
    assert.deepEqual(bad({ redirect: {} }), [
      'spec.http.0.redirect: redirect must specify URI, authority, scheme, or port',
    ]);
    assert.deepEqual(bad({ redirect: { uri: '/', redirectCode: 200 } }), [
      'spec.http.0.redirect.redirectCode: 200 is not a valid redirect code, must be 3xx',
    ]);
    assert.deepEqual(bad({ redirect: { port: 8080, derivePort: 'FROM_REQUEST_PORT' } }), [
      'spec.http.0.redirect.derivePort: set port or derivePort, not both',
    ]);
    assert.deepEqual(bad({ redirect: { scheme: 'ftp' } }), [
      'spec.http.0.redirect.scheme: invalid redirect scheme, must be "http" or "https"',
    ]);
    const rewrite = (r: object) => refused('VirtualService', routed({ rewrite: r }));
    assert.deepEqual(rewrite({ uri: '/', uriRegexRewrite: { match: '^/a', rewrite: '/b' } }), [
      'spec.http.0.rewrite.uriRegexRewrite: rewrite may only contain one of URI or UriRegexRewrite',
    ]);
    assert.deepEqual(rewrite({ uriRegexRewrite: { match: '^/a' } }), [
      'spec.http.0.rewrite.uriRegexRewrite: UriRegexRewrite requires both Rewrite and Match fields to be specified',
    ]);
    assert.deepEqual(bad({ directResponse: { status: 200, body: { string: 'a', bytes: 'YQ==' } } }), [
      'spec.http.0.directResponse.body.bytes: set body.string or body.bytes, not both',
    ]);
    assert.deepEqual(bad({ directResponse: { status: 200, body: { bytes: 'not base64!' } } }), [
      'spec.http.0.directResponse.body.bytes: bytes must be base64-encoded',
    ]);
    const cors = (c: object) => routed({ corsPolicy: c });
    accepted(
      'VirtualService',
      cors({
        allowOrigins: [{ exact: 'https://a.example' }, { regex: '.*\\.example' }],
        allowMethods: ['GET', 'POST'],
        maxAge: '24h',
        allowCredentials: true,
        unmatchedPreflights: 'IGNORE',
      }),
    );
    assert.deepEqual(refused('VirtualService', cors({ allowOrigins: [{}] })), [
      'spec.http.0.corsPolicy.allowOrigins.0.exact: a non-empty exact, prefix or regex is required',
    ]);
    assert.deepEqual(refused('VirtualService', cors({ allowMethods: ['FETCH'] })), [
      'spec.http.0.corsPolicy.allowMethods.0: "FETCH" is not a supported HTTP method',
    ]);
    assert.deepEqual(refused('VirtualService', cors({ maxAge: '1500ms' })), [
      'spec.http.0.corsPolicy.maxAge: max_age duration is accurate only to seconds precision',
    ]);
  });

  test('hosts: no "*" for the mesh, no duplicates; at least one of http, tcp or tls', () => {
    accepted('VirtualService', {
      hosts: ['*'],
      gateways: ['bookinfo-gateway'],
      http: [{ route: [to('productpage')] }],
    });
    assert.deepEqual(refused('VirtualService', { hosts: ['*'], http: [{ route: [to('productpage')] }] }), [
      'spec.hosts.0: wildcard host * is not allowed for virtual services bound to the mesh gateway',
    ]);
    assert.deepEqual(
      refused('VirtualService', { hosts: ['*.example.com', 'a.example.com'], http: [{ route: [to('a')] }] }),
      ['spec.hosts.1: duplicate hosts in virtual service: *.example.com & a.example.com'],
    );
    assert.deepEqual(refused('VirtualService', { hosts: ['Reviews'], http: [{ route: [to('reviews')] }] }), [
      'spec.hosts.0: domain name "Reviews" invalid (label "Reviews" invalid)',
    ]);
    assert.deepEqual(refused('VirtualService', { hosts: ['reviews'] }), [
      'spec: http, tcp or tls must be provided in virtual service',
    ]);
    assert.deepEqual(refused('VirtualService', rule({ route: [to('*')] })), [
      'spec.http.0.route.0.destination.host: invalid destination host *',
    ]);
    assert.deepEqual(refused('VirtualService', rule({ route: [to('reviews', 'V1')] })), [
      'spec.http.0.route.0.destination.subset: subset name is invalid: V1',
    ]);
  });

  test('TCP rules need a route; TLS rules need matches with SNI hosts within the VirtualService hosts', () => {
    accepted('VirtualService', {
      hosts: ['*.example.com'],
      tls: [{ match: [{ sniHosts: ['a.example.com'], port: 443 }], route: [to('a.example.com')] }],
    });
    accepted('VirtualService', {
      hosts: ['db'],
      tcp: [{ match: [{ port: 3306, destinationSubnets: ['10.0.0.0/8'] }], route: [to('db')] }],
    });
    assert.deepEqual(refused('VirtualService', { hosts: ['db'], tcp: [{ match: [{ port: 3306 }] }] }), [
      'spec.tcp.0.route: TCP route is required',
    ]);
    assert.deepEqual(
      refused('VirtualService', {
        hosts: ['db'],
        tcp: [{ match: [{ destinationSubnets: ['10.0.0.0/33'] }], route: [to('db')] }],
      }),
      ['spec.tcp.0.match.0.destinationSubnets.0: 10.0.0.0/33 is not a valid CIDR block'],
    );
    assert.deepEqual(
      refused('VirtualService', {
        hosts: ['a.example.com'],
        tls: [{ match: [{ port: 443 }], route: [to('a')] }],
      }),
      ['spec.tls.0.match.0.sniHosts: Invalid input: expected array, received undefined'],
    );
    assert.deepEqual(
      refused('VirtualService', {
        hosts: ['a.example.com'],
        tls: [{ match: [{ sniHosts: [] }], route: [to('a')] }],
      }),
      ['spec.tls.0.match.0.sniHosts: TLS match must have at least one SNI host'],
    );
    assert.deepEqual(
      refused('VirtualService', {
        hosts: ['a.example.com'],
        tls: [{ match: [{ sniHosts: ['b.example.com'] }], route: [to('b')] }],
      }),
      [
        'spec.tls.0.match.0.sniHosts.0: SNI host "b.example.com" is not a compatible subset of any of the virtual service hosts: [a.example.com]',
      ],
    );
  });

  test('exportTo: ".", "*" alone, or namespaces; no duplicates, no "~"', () => {
    accepted('VirtualService', routed({}), undefined);
    accepted('VirtualService', { ...routed(), exportTo: ['.', 'team-a'] });
    assert.deepEqual(refused('VirtualService', { ...routed(), exportTo: ['*', 'team-a'] }), [
      'spec.exportTo: cannot have both public (*) and non-public exportTo values for a resource',
    ]);
    assert.deepEqual(refused('VirtualService', { ...routed(), exportTo: ['~'] }), [
      'spec.exportTo.0: exportTo ~ (none) is not allowed for Istio configuration objects',
    ]);
  });
});
