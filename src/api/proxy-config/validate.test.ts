/**
 * Unit tests for ProxyConfig validation: a full example passes and gets its defaults; each kind of bad
 * input is rejected with its registry code and the dotted path of the offending field; the version is a
 * stable content hash when the producer sets none.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ConfigIssue } from '../../core/errors.ts';
import type { ProxyConfigInput } from './schema.ts';
import { contentVersion, validateProxyConfig } from './validate.ts';

/** A config that uses every section; each test copies it and breaks one thing. */
function fullExample(): ProxyConfigInput {
  return {
    version: 'v1',
    node: { id: 'web-1', workload: 'web', namespace: 'shop' },
    admin: { address: '127.0.0.1', port: 15000 },
    httpProxy: { address: '127.0.0.1', port: 15080 },
    inbound: [
      {
        name: 'web-http',
        listen: { address: '0.0.0.0', port: 15006 },
        protocol: 'detect',
        target: { address: '127.0.0.1', port: 8080 },
        targetProtocol: 'http1',
        timeout: '30s',
      },
    ],
    outbound: [
      {
        name: 'api',
        hosts: ['api', 'api.shop.svc.cluster.local'],
        vip: '10.96.0.10',
        port: 80,
        listen: { address: '127.0.0.1', port: 15101 },
        protocol: 'http1',
        routeOrder: 'precedence',
        routes: [
          {
            name: 'v2',
            matches: [
              {
                path: { type: 'PathPrefix', value: '/v2' },
                method: 'GET',
                headers: [
                  { name: 'x-canary', type: 'Exact', value: 'true' },
                  { name: 'x-user', type: 'RegularExpression', value: '[a-z]+' },
                  { name: 'x-debug', type: 'Present' },
                  { name: 'x-skip', type: 'Absent' },
                ],
                queryParams: [{ name: 'v', type: 'Exact', value: '2' }],
              },
              { path: { type: 'RegularExpression', value: '/items/[0-9]+' } },
              { path: { type: 'Exact', value: '/health' } },
            ],
            filters: [
              {
                type: 'RequestHeaderModifier',
                requestHeaderModifier: { set: { 'x-a': '1' }, remove: ['x-b'] },
              },
              { type: 'ResponseHeaderModifier', responseHeaderModifier: { add: { 'x-c': '2' } } },
              {
                type: 'URLRewrite',
                urlRewrite: { hostname: 'api-v2', path: { type: 'ReplacePrefixMatch', value: '/' } },
              },
            ],
            backends: [
              { backend: 'api-v2', weight: 90 },
              { backend: 'api-v1', weight: 10, filters: [] },
            ],
            timeout: '2.5s',
          },
          {
            name: 'old',
            matches: [{ path: { type: 'PathPrefix', value: '/old' } }],
            redirect: { scheme: 'https', hostname: 'new.example', port: 443, statusCode: 301 },
          },
          {
            name: 'teapot',
            matches: [{ path: { type: 'Exact', value: '/tea' } }],
            directResponse: { status: 418, body: 'short and stout', headers: { 'x-tea': 'yes' } },
          },
          { name: 'default', backends: [{ backend: 'api-v1' }] },
        ],
      },
      {
        name: 'db',
        port: 5432,
        protocol: 'tcp',
        tcpBackends: [{ backend: 'db' }],
      },
    ],
    backends: [
      {
        name: 'api-v1',
        endpoints: [
          { address: '10.0.0.1', port: 8080 },
          { address: '10.0.0.2', port: 8080, weight: 2, labels: { zone: 'a' } },
        ],
      },
      {
        name: 'api-v2',
        protocol: 'http2',
        endpoints: [{ address: '10.0.1.1', port: 8080 }],
        loadBalancer: { type: 'ring-hash', hashOn: { header: 'x-user' }, ringSize: 2048 },
        connectTimeout: '1s',
        idleTimeout: 2000,
        maxConnectionsPerEndpoint: 8,
      },
      { name: 'db', protocol: 'tcp', endpoints: [{ address: 'db.internal', port: 5432 }] },
    ],
    settings: {
      detectTimeout: '1s',
      maxRequestHeadersBytes: 32768,
      http2MaxConcurrentStreams: 50,
      drainTimeout: '15s',
      requestTimeout: '1m',
    },
  };
}

type Example = ProxyConfigInput;

function rejects(input: unknown): ConfigIssue[] {
  const result = validateProxyConfig(input);
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.ok ? [] : result.issues;
}

function accepts(input: unknown) {
  const result = validateProxyConfig(input);
  if (!result.ok) assert.fail(`expected the config to pass: ${JSON.stringify(result.issues)}`);
  return result.config;
}

/** Asserts that one of the issues has this code and path. */
function assertIssue(issues: ConfigIssue[], code: ConfigIssue['code'], path: string): ConfigIssue {
  const found = issues.find((i) => i.code === code && i.path === path);
  assert.ok(found, `no ${code} at ${path}; got ${JSON.stringify(issues)}`);
  assert.ok(found.message.length > 0);
  return found;
}

function broken(edit: (c: Example) => void): Example {
  const c = fullExample();
  edit(c);
  return c;
}

describe('a valid config', () => {
  test('the full example is accepted as given', () => {
    const config = accepts(fullExample());
    assert.equal(config.version, 'v1');
    assert.equal(config.outbound.length, 2);
    assert.equal(config.outbound[0]?.routes.length, 4);
    assert.equal(config.backends.length, 3);
  });

  test('durations are converted to milliseconds', () => {
    const config = accepts(fullExample());
    assert.equal(config.inbound[0]?.timeout, 30_000);
    assert.equal(config.outbound[0]?.routes[0]?.timeout, 2500);
    assert.equal(config.backends[1]?.connectTimeout, 1000);
    assert.equal(config.backends[1]?.idleTimeout, 2000);
    assert.equal(config.settings.requestTimeout, 60_000);
    assert.equal(config.settings.drainTimeout, 15_000);
  });

  test('an empty object is a valid config with every default', () => {
    const config = accepts({});
    assert.deepEqual(config.node, { id: '', workload: '', namespace: 'default' });
    assert.deepEqual(config.admin, { address: '127.0.0.1', port: 15000 });
    assert.equal(config.httpProxy, undefined);
    assert.deepEqual(config.inbound, []);
    assert.deepEqual(config.outbound, []);
    assert.deepEqual(config.backends, []);
    assert.deepEqual(config.settings, {
      detectTimeout: 5000,
      maxRequestHeadersBytes: 16384,
      http2MaxConcurrentStreams: 100,
      http1FastPath: true,
      drainTimeout: 10000,
      meshHttp2: false,
      requestTimeout: 15000,
    });
  });

  test('defaults fill in the sections that are present', () => {
    const config = accepts({
      inbound: [{ name: 'in', listen: { port: 15006 }, target: { port: 8080 } }],
      outbound: [{ name: 'svc', port: 80, routes: [{ backends: [{ backend: 'b' }] }] }],
      backends: [{ name: 'b', endpoints: [{ address: '10.0.0.1', port: 80 }] }],
    });
    const ib = config.inbound[0];
    assert.equal(ib?.protocol, 'detect');
    assert.equal(ib?.listen?.address, '127.0.0.1');
    assert.equal(ib?.target.address, '127.0.0.1');
    assert.equal(ib?.targetProtocol, undefined);

    const ob = config.outbound[0];
    assert.equal(ob?.protocol, 'http1');
    assert.equal(ob?.routeOrder, 'precedence');
    assert.deepEqual(ob?.hosts, []);
    assert.deepEqual(ob?.tcpBackends, []);
    const route = ob?.routes[0];
    assert.equal(route?.name, '');
    assert.deepEqual(route?.matches, [{ headers: [], queryParams: [] }]);
    assert.deepEqual(route?.filters, []);
    assert.deepEqual(route?.backends, [{ backend: 'b', weight: 1, filters: [] }]);
    assert.equal(route?.timeout, undefined);

    const b = config.backends[0];
    assert.equal(b?.protocol, 'http1');
    assert.deepEqual(b?.loadBalancer, { type: 'p2c-ewma' });
    assert.equal(b?.connectTimeout, 5000);
    assert.equal(b?.idleTimeout, 3000);
    assert.equal(b?.maxConnectionsPerEndpoint, 64);
    assert.deepEqual(b?.endpoints[0], { address: '10.0.0.1', port: 80, weight: 1, labels: {} });
  });

  test('match and filter defaults', () => {
    const config = accepts({
      outbound: [
        {
          name: 'svc',
          port: 80,
          routes: [
            {
              matches: [
                { path: {}, headers: [{ name: 'x', value: 'y' }], queryParams: [{ name: 'q', value: '1' }] },
              ],
              filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: {} }],
              redirect: {},
            },
          ],
        },
      ],
    });
    const route = config.outbound[0]?.routes[0];
    const m = route?.matches[0];
    assert.deepEqual(m?.path, { type: 'PathPrefix', value: '/' });
    assert.equal(m?.headers[0]?.type, 'Exact');
    assert.equal(m?.queryParams[0]?.type, 'Exact');
    assert.deepEqual(route?.filters[0], {
      type: 'RequestHeaderModifier',
      requestHeaderModifier: { set: {}, add: {}, remove: [] },
    });
    assert.equal(route?.redirect?.statusCode, 302);
  });

  test('listeners on port 0 never conflict (the OS picks distinct ports)', () => {
    accepts({
      admin: { port: 0 },
      inbound: [
        { name: 'a', listen: { port: 0 }, target: { port: 1 } },
        { name: 'b', listen: { port: 0 }, target: { port: 2 } },
      ],
    });
  });

  test('the same port on different addresses is not a conflict', () => {
    accepts({
      inbound: [
        { name: 'a', listen: { address: '127.0.0.1', port: 15006 }, target: { port: 1 } },
        { name: 'b', listen: { address: '127.0.0.2', port: 15006 }, target: { port: 2 } },
      ],
    });
  });

  test('does not modify its input', () => {
    const input = fullExample();
    const copy = structuredClone(input);
    accepts(input);
    assert.deepEqual(input, copy);
  });
});

describe('CONFIG_REFERENCE', () => {
  test('a route naming an unknown backend', () => {
    const issues = rejects(
      broken((c) => {
        c.outbound![0]!.routes![0]!.backends![1]!.backend = 'api-v3';
      }),
    );
    const issue = assertIssue(issues, 'CONFIG_REFERENCE', 'outbound.0.routes.0.backends.1.backend');
    assert.match(issue.message, /api-v3/);
  });

  test('a tcp service naming an unknown backend', () => {
    const issues = rejects(
      broken((c) => {
        c.outbound![1]!.tcpBackends![0]!.backend = 'nope';
      }),
    );
    assertIssue(issues, 'CONFIG_REFERENCE', 'outbound.1.tcpBackends.0.backend');
  });
});

describe('CONFIG_REGEX', () => {
  test('a path regex that does not compile', () => {
    const issues = rejects(
      broken((c) => {
        c.outbound![0]!.routes![0]!.matches![1]!.path!.value = '/items/[0-9';
      }),
    );
    assertIssue(issues, 'CONFIG_REGEX', 'outbound.0.routes.0.matches.1.path.value');
  });

  test('a header regex that does not compile', () => {
    const issues = rejects(
      broken((c) => {
        c.outbound![0]!.routes![0]!.matches![0]!.headers![1]!.value = '(unclosed';
      }),
    );
    assertIssue(issues, 'CONFIG_REGEX', 'outbound.0.routes.0.matches.0.headers.1.value');
  });

  test('a query parameter regex that does not compile', () => {
    const issues = rejects({
      outbound: [
        {
          name: 's',
          port: 80,
          routes: [
            {
              matches: [{ queryParams: [{ name: 'q', type: 'RegularExpression', value: '*bad' }] }],
              directResponse: { status: 200 },
            },
          ],
        },
      ],
    });
    assertIssue(issues, 'CONFIG_REGEX', 'outbound.0.routes.0.matches.0.queryParams.0.value');
  });
});

describe('CONFIG_CONFLICT', () => {
  test('two inbound listeners on the same address and port', () => {
    const issues = rejects(
      broken((c) => {
        c.inbound!.push({ ...c.inbound![0]!, name: 'web-other' });
      }),
    );
    const issue = assertIssue(issues, 'CONFIG_CONFLICT', 'inbound.1.listen');
    assert.match(issue.message, /0\.0\.0\.0:15006/);
    assert.match(issue.message, /inbound\.0\.listen/);
  });

  test('an outbound listener on the admin port', () => {
    const issues = rejects(
      broken((c) => {
        c.outbound![0]!.listen = { address: '127.0.0.1', port: 15000 };
      }),
    );
    assertIssue(issues, 'CONFIG_CONFLICT', 'outbound.0.listen');
  });

  test('a wildcard address clashes with a specific address on the same port', () => {
    const issues = rejects(
      broken((c) => {
        c.outbound![0]!.listen = { address: '127.0.0.1', port: 15006 };
      }),
    );
    assertIssue(issues, 'CONFIG_CONFLICT', 'outbound.0.listen');
  });

  test('an inbound listener on the HTTP proxy port', () => {
    const issues = rejects(
      broken((c) => {
        c.inbound![0]!.listen = { address: '127.0.0.1', port: 15080 };
      }),
    );
    assertIssue(issues, 'CONFIG_CONFLICT', 'inbound.0.listen');
  });

  test('two backends with the same name', () => {
    const issues = rejects(
      broken((c) => {
        c.backends![2]!.name = 'api-v1';
      }),
    );
    assertIssue(issues, 'CONFIG_CONFLICT', 'backends.2.name');
  });

  test('two outbound services with the same name', () => {
    const issues = rejects(
      broken((c) => {
        c.outbound![1]!.name = 'api';
      }),
    );
    assertIssue(issues, 'CONFIG_CONFLICT', 'outbound.1.name');
  });

  test('two inbound listeners with the same name', () => {
    const issues = rejects(
      broken((c) => {
        c.inbound!.push({ ...c.inbound![0]!, listen: { address: '0.0.0.0', port: 15007 } });
      }),
    );
    assertIssue(issues, 'CONFIG_CONFLICT', 'inbound.1.name');
  });
});

describe('CONFIG_SCHEMA', () => {
  test('a route with two actions', () => {
    const issues = rejects(
      broken((c) => {
        Object.assign(c.outbound![0]!.routes![1]!, { directResponse: { status: 200 } });
      }),
    );
    const issue = assertIssue(issues, 'CONFIG_SCHEMA', 'outbound.0.routes.1');
    assert.match(issue.message, /exactly one action/);
  });

  test('a route with no action', () => {
    const issues = rejects({ outbound: [{ name: 's', port: 80, routes: [{ name: 'empty' }] }] });
    assertIssue(issues, 'CONFIG_SCHEMA', 'outbound.0.routes.0');
  });

  test('a duration that is not a duration', () => {
    for (const bad of ['5 seconds', '5', '-1s', '1d', '']) {
      const issues = rejects(
        broken((c) => {
          c.backends![1]!.connectTimeout = bad;
        }),
      );
      const issue = assertIssue(issues, 'CONFIG_SCHEMA', 'backends.1.connectTimeout');
      assert.match(issue.message, /not a duration/, bad);
    }
  });

  test('a negative number of milliseconds', () => {
    const issues = rejects(
      broken((c) => {
        c.settings!.drainTimeout = -5;
      }),
    );
    assertIssue(issues, 'CONFIG_SCHEMA', 'settings.drainTimeout');
  });

  test('a bad route timeout', () => {
    const issues = rejects(
      broken((c) => {
        c.outbound![0]!.routes![0]!.timeout = 'soon';
      }),
    );
    assertIssue(issues, 'CONFIG_SCHEMA', 'outbound.0.routes.0.timeout');
  });

  test('wrong types and values', () => {
    assertIssue(rejects({ admin: { port: 70000 } }), 'CONFIG_SCHEMA', 'admin.port');
    assertIssue(rejects({ admin: { port: '15000' } }), 'CONFIG_SCHEMA', 'admin.port');
    assertIssue(
      rejects({ inbound: [{ name: 'x', listen: { port: 1 } }] }),
      'CONFIG_SCHEMA',
      'inbound.0.target',
    );
    assertIssue(
      rejects({ backends: [{ name: 'b', loadBalancer: { type: 'fastest' } }] }),
      'CONFIG_SCHEMA',
      'backends.0.loadBalancer.type',
    );
    assertIssue(
      rejects({ backends: [{ name: 'b', endpoints: [{ address: 'h', port: 1, weight: 0 }] }] }),
      'CONFIG_SCHEMA',
      'backends.0.endpoints.0.weight',
    );
    assertIssue(rejects([]), 'CONFIG_SCHEMA', '');
    assertIssue(rejects(null), 'CONFIG_SCHEMA', '');
  });

  test('an Exact path that does not start with "/"', () => {
    const issues = rejects(
      broken((c) => {
        c.outbound![0]!.routes![0]!.matches![2]!.path!.value = 'health';
      }),
    );
    assertIssue(issues, 'CONFIG_SCHEMA', 'outbound.0.routes.0.matches.2.path.value');
  });

  test('an Exact or RegularExpression header match without a value', () => {
    const issues = rejects(
      broken((c) => {
        delete c.outbound![0]!.routes![0]!.matches![0]!.headers![0]!.value;
      }),
    );
    assertIssue(issues, 'CONFIG_SCHEMA', 'outbound.0.routes.0.matches.0.headers.0.value');
  });
});

describe('issue collection', () => {
  test('reports every reference problem at once, not only the first', () => {
    const issues = rejects(
      broken((c) => {
        c.outbound![0]!.routes![0]!.backends![0]!.backend = 'x';
        c.outbound![1]!.tcpBackends![0]!.backend = 'y';
        c.outbound![0]!.routes![0]!.matches![1]!.path!.value = '(';
        c.backends![2]!.name = 'api-v1';
      }),
    );
    assertIssue(issues, 'CONFIG_REFERENCE', 'outbound.0.routes.0.backends.0.backend');
    assertIssue(issues, 'CONFIG_REFERENCE', 'outbound.1.tcpBackends.0.backend');
    assertIssue(issues, 'CONFIG_REGEX', 'outbound.0.routes.0.matches.1.path.value');
    assertIssue(issues, 'CONFIG_CONFLICT', 'backends.2.name');
  });

  test('reports every schema problem at once', () => {
    const issues = rejects({ admin: { port: -1 }, settings: { detectTimeout: 'x' } });
    assertIssue(issues, 'CONFIG_SCHEMA', 'admin.port');
    assertIssue(issues, 'CONFIG_SCHEMA', 'settings.detectTimeout');
  });
});

describe('version', () => {
  test('an explicit version is kept', () => {
    assert.equal(accepts(fullExample()).version, 'v1');
  });

  test('without one, the version is a content hash', () => {
    const input: Example = fullExample();
    delete input.version;
    const version = accepts(input).version;
    assert.match(version ?? '', /^[0-9a-f]{12}$/);
    assert.equal(version, contentVersion(input));
  });

  test('the hash is stable: the same content gives the same version', () => {
    const a: Example = fullExample();
    const b: Example = fullExample();
    delete a.version;
    delete b.version;
    assert.equal(accepts(a).version, accepts(b).version);
    assert.equal(accepts(a).version, accepts(a).version);
    assert.equal(accepts({}).version, accepts({}).version);
  });

  test('different content gives a different version', () => {
    const a: Example = fullExample();
    const b: Example = fullExample();
    delete a.version;
    delete b.version;
    b.backends![0]!.endpoints![0]!.port = 8081;
    assert.notEqual(accepts(a).version, accepts(b).version);
  });

  test('a rejected config gets no version', () => {
    const result = validateProxyConfig({ admin: { port: -1 } });
    assert.equal(result.ok, false);
    assert.equal('config' in result, false);
  });
});

describe('RequestMirror filters', () => {
  const mirror = (backend: string, percent?: number) => ({
    type: 'RequestMirror' as const,
    requestMirror: percent === undefined ? { backend } : { backend, percent },
  });

  test('percent defaults to 100; route and backend filters may both mirror', () => {
    const config = accepts(
      broken((c) => {
        const route = c.outbound![0]!.routes![0]!;
        route.filters!.push(mirror('api-v1'));
        route.backends![1]!.filters = [mirror('api-v2', 12.5)];
      }),
    );
    const route = config.outbound[0]?.routes[0];
    assert.deepEqual(route?.filters[3], {
      type: 'RequestMirror',
      requestMirror: { backend: 'api-v1', percent: 100 },
    });
    assert.deepEqual(route?.backends?.[1]?.filters[0], {
      type: 'RequestMirror',
      requestMirror: { backend: 'api-v2', percent: 12.5 },
    });
  });

  test('a mirror naming an unknown backend, on a route or on a backend', () => {
    const issues = rejects(
      broken((c) => {
        const route = c.outbound![0]!.routes![0]!;
        route.filters!.push(mirror('shadow'));
        route.backends![1]!.filters = [mirror('ghost')];
      }),
    );
    const issue = assertIssue(
      issues,
      'CONFIG_REFERENCE',
      'outbound.0.routes.0.filters.3.requestMirror.backend',
    );
    assert.match(issue.message, /shadow/);
    assertIssue(issues, 'CONFIG_REFERENCE', 'outbound.0.routes.0.backends.1.filters.0.requestMirror.backend');
  });

  test('a mirror to a tcp backend, and a percent out of range', () => {
    const issues = rejects(
      broken((c) => {
        c.outbound![0]!.routes![0]!.filters!.push(mirror('db'));
      }),
    );
    assertIssue(issues, 'CONFIG_SCHEMA', 'outbound.0.routes.0.filters.3.requestMirror.backend');
    const range = rejects(
      broken((c) => {
        c.outbound![0]!.routes![0]!.filters!.push(mirror('api-v1', 150));
      }),
    );
    assert.ok(
      range.some((i) => i.code === 'CONFIG_SCHEMA' && i.path.includes('filters.3')),
      JSON.stringify(range),
    );
  });
});
