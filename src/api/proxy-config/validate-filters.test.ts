/**
 * Validation of the Fault, LocalRateLimit and CORS filters and of inbound filters: defaults filled in,
 * gRPC statuses by name or number, and each cross-field rule reported with its code and path.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FilterConfig, ProxyConfigInput } from './schema.ts';
import { validateProxyConfig } from './validate.ts';

type FilterInput = NonNullable<
  NonNullable<ProxyConfigInput['outbound']>[number]['routes']
>[number]['filters'];

function config(
  routeFilters: FilterInput,
  backendFilters: FilterInput = [],
  inboundFilters: FilterInput = [],
) {
  return {
    inbound: [{ name: 'in', listen: { port: 15006 }, target: { port: 8080 }, filters: inboundFilters }],
    outbound: [
      {
        name: 'svc',
        port: 80,
        listen: { port: 15001 },
        routes: [{ filters: routeFilters, backends: [{ backend: 'app', filters: backendFilters }] }],
      },
    ],
    backends: [{ name: 'app', endpoints: [{ address: '127.0.0.1', port: 8080 }] }],
  } satisfies ProxyConfigInput;
}

function issues(input: ProxyConfigInput): Array<[string, string]> {
  const v = validateProxyConfig(input);
  return v.ok ? [] : v.issues.map((i) => [i.code, i.path]);
}

function routeFilter(input: ProxyConfigInput, n = 0): FilterConfig {
  const v = validateProxyConfig(input);
  assert.ok(v.ok, JSON.stringify(!v.ok && v.issues));
  return v.config.outbound[0]?.routes[0]?.filters[n] as FilterConfig;
}

describe('filter validation', () => {
  test('defaults: percentages 100, status 429, FORWARD', () => {
    const f = routeFilter(
      config([
        { type: 'Fault', fault: { delay: { fixedDelay: '7s' }, abort: { grpcStatus: 'UNAVAILABLE' } } },
        { type: 'LocalRateLimit', localRateLimit: { tokenBucket: { maxTokens: 4, fillInterval: '60s' } } },
        { type: 'CORS', cors: { allowOrigins: [{ value: 'https://a.example' }], maxAge: '24h' } },
      ]),
    );
    assert.deepEqual(f, {
      type: 'Fault',
      fault: {
        delay: { fixedDelay: 7000, percentage: 100 },
        abort: { grpcStatus: 'UNAVAILABLE', percentage: 100 },
      },
    });
    const input = config([
      { type: 'LocalRateLimit', localRateLimit: { tokenBucket: { maxTokens: 4, fillInterval: '60s' } } },
      { type: 'CORS', cors: { allowOrigins: [{ value: 'https://a.example' }], maxAge: '24h' } },
    ]);
    assert.deepEqual(routeFilter(input, 0), {
      type: 'LocalRateLimit',
      localRateLimit: {
        tokenBucket: { maxTokens: 4, tokensPerFill: 1, fillInterval: 60_000 },
        descriptors: [],
        filterEnabled: 100,
        filterEnforced: 100,
        status: 429,
        responseHeadersToAdd: {},
        enableXRateLimitHeaders: false,
      },
    });
    assert.deepEqual(routeFilter(input, 1), {
      type: 'CORS',
      cors: {
        allowOrigins: [{ type: 'Exact', value: 'https://a.example' }],
        allowMethods: [],
        allowHeaders: [],
        exposeHeaders: [],
        maxAge: 86_400_000,
        allowCredentials: false,
        unmatchedPreflights: 'FORWARD',
      },
    });
  });

  test('gRPC status by number; unknown names refused', () => {
    assert.deepEqual(issues(config([{ type: 'Fault', fault: { abort: { grpcStatus: 14 } } }])), []);
    assert.deepEqual(issues(config([{ type: 'Fault', fault: { abort: { grpcStatus: 'NOPE' as 'OK' } } }])), [
      ['CONFIG_SCHEMA', 'outbound.0.routes.0.filters.0.fault.abort.grpcStatus'],
    ]);
  });

  test('a fault needs delay or abort, an abort exactly one status', () => {
    assert.deepEqual(issues(config([{ type: 'Fault', fault: {} }])), [
      ['CONFIG_SCHEMA', 'outbound.0.routes.0.filters.0.fault'],
    ]);
    assert.deepEqual(
      issues(config([{ type: 'Fault', fault: { abort: { httpStatus: 503, grpcStatus: 'UNAVAILABLE' } } }])),
      [['CONFIG_SCHEMA', 'outbound.0.routes.0.filters.0.fault.abort']],
    );
    assert.deepEqual(issues(config([{ type: 'Fault', fault: { abort: { percentage: 10 } } }])), [
      ['CONFIG_SCHEMA', 'outbound.0.routes.0.filters.0.fault.abort'],
    ]);
  });

  test('fill intervals of at least 50 ms; descriptor matches checked like route matches', () => {
    assert.deepEqual(
      issues(
        config([
          {
            type: 'LocalRateLimit',
            localRateLimit: {
              tokenBucket: { maxTokens: 1, fillInterval: '10ms' },
              descriptors: [
                {
                  match: { path: { type: 'RegularExpression', value: '(' } },
                  tokenBucket: { maxTokens: 1, fillInterval: '1s' },
                },
              ],
            },
          },
        ]),
      ),
      [
        ['CONFIG_SCHEMA', 'outbound.0.routes.0.filters.0.localRateLimit.tokenBucket.fillInterval'],
        ['CONFIG_REGEX', 'outbound.0.routes.0.filters.0.localRateLimit.descriptors.0.match.path.value'],
      ],
    );
  });

  test('CORS origin regexes must compile', () => {
    assert.deepEqual(
      issues(config([{ type: 'CORS', cors: { allowOrigins: [{ type: 'RegularExpression', value: '[' }] } }])),
      [['CONFIG_REGEX', 'outbound.0.routes.0.filters.0.cors.allowOrigins.0.value']],
    );
  });

  test('admit filters belong to a route or an inbound entry, not to one backend', () => {
    assert.deepEqual(issues(config([], [{ type: 'Fault', fault: { abort: { httpStatus: 500 } } }])), [
      ['CONFIG_SCHEMA', 'outbound.0.routes.0.backends.0.filters.0.type'],
    ]);
    const inbound = config(
      [],
      [],
      [
        { type: 'LocalRateLimit', localRateLimit: { tokenBucket: { maxTokens: 4, fillInterval: '1m' } } },
        { type: 'RequestMirror', requestMirror: { backend: 'missing' } },
      ],
    );
    assert.deepEqual(issues(inbound), [['CONFIG_REFERENCE', 'inbound.0.filters.1.requestMirror.backend']]);
  });
});
