import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateProxyConfig } from '../../api/index.ts';
import { ProxyConfig } from '../../api/proxy-config/schema.ts';
import { seededRandom } from '../../core/index.ts';
import { backoffDelay } from './backoff.ts';
import { RetryBudget } from './budget.ts';
import {
  compileRetryOn,
  type FailureKind,
  hasGrpcConditions,
  retryOnFailure,
  retryOnGrpcStatus,
  retryOnResponse,
} from './conditions.ts';
import { compileRetryPolicy } from './policy.ts';

describe('retry conditions', () => {
  const on = (...c: Array<string | number>) => compileRetryOn(c as never[]);

  test('5xx: every 5xx response and every failure without a response', () => {
    const c = on('5xx');
    for (const s of [500, 501, 502, 503, 504, 599]) assert.equal(retryOnResponse(c, s, undefined), '5xx');
    for (const s of [200, 404, 409, 429]) assert.equal(retryOnResponse(c, s, undefined), undefined);
    for (const k of ['connect', 'refused', 'reset', 'timeout'] as FailureKind[])
      assert.equal(retryOnFailure(c, k), '5xx');
  });

  test('gateway-error: 502, 503, 504 and failures, not 500', () => {
    const c = on('gateway-error');
    assert.equal(retryOnResponse(c, 500, undefined), undefined);
    for (const s of [502, 503, 504]) assert.equal(retryOnResponse(c, s, undefined), 'gateway-error');
    assert.equal(retryOnFailure(c, 'timeout'), 'gateway-error');
    assert.equal(retryOnFailure(c, 'connect'), 'gateway-error');
  });

  test('reset: failures only, per-try timeouts and connect failures included (Envoy)', () => {
    const c = on('reset');
    assert.equal(retryOnResponse(c, 503, undefined), undefined);
    for (const k of ['connect', 'refused', 'reset', 'timeout'] as FailureKind[])
      assert.equal(retryOnFailure(c, k), 'reset');
  });

  test('connect-failure and refused-stream: their own failures only', () => {
    const c = on('connect-failure');
    assert.equal(retryOnFailure(c, 'connect'), 'connect-failure');
    assert.equal(retryOnFailure(c, 'reset'), undefined);
    assert.equal(retryOnFailure(c, 'timeout'), undefined);
    assert.equal(retryOnResponse(c, 503, undefined), undefined);
    const r = on('refused-stream');
    assert.equal(retryOnFailure(r, 'refused'), 'refused-stream');
    assert.equal(retryOnFailure(r, 'reset'), undefined);
    assert.equal(retryOnFailure(r, 'connect'), undefined);
  });

  test('an overflow (the circuit breaker refused the try) is never retried', () => {
    assert.equal(
      retryOnFailure(on('5xx', 'reset', 'gateway-error', 'connect-failure'), 'overflow'),
      undefined,
    );
  });

  test('the condition named is the first Envoy checks', () => {
    const c = on('refused-stream', 'gateway-error', 'connect-failure', 'reset', '5xx');
    assert.equal(retryOnFailure(c, 'connect'), 'connect-failure');
    assert.equal(retryOnFailure(c, 'refused'), 'reset');
    assert.equal(retryOnResponse(c, 503, undefined), '5xx');
  });

  test('retriable-4xx is 409 only', () => {
    const c = on('retriable-4xx');
    assert.equal(retryOnResponse(c, 409, undefined), 'retriable-4xx');
    assert.equal(retryOnResponse(c, 429, undefined), undefined);
  });

  test('retriable-status-codes, and bare codes as Istio writes them', () => {
    const listed = compileRetryOn(['retriable-status-codes'], [503, 429]);
    assert.equal(retryOnResponse(listed, 429, undefined), 'retriable-status-codes');
    assert.equal(retryOnResponse(listed, 502, undefined), undefined);
    // Without the condition the list does nothing (Envoy).
    assert.equal(retryOnResponse(compileRetryOn(['5xx'], [429]), 429, undefined), undefined);
    for (const bare of ['503', 503]) {
      const c = on('connect-failure', bare);
      assert.equal(retryOnResponse(c, 503, undefined), 'retriable-status-codes');
      assert.equal(retryOnResponse(c, 500, undefined), undefined);
    }
    assert.throws(() => on('5xxx'), /unknown retry condition/);
  });

  test('gRPC conditions match grpc-status, in headers or on their own', () => {
    const c = on('cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable');
    assert.equal(hasGrpcConditions(c), true);
    assert.equal(hasGrpcConditions(on('5xx', 503)), false);
    const names: Array<[string, string]> = [
      ['1', 'cancelled'],
      ['4', 'deadline-exceeded'],
      ['8', 'resource-exhausted'],
      ['13', 'internal'],
      ['14', 'unavailable'],
    ];
    for (const [status, name] of names) {
      assert.equal(retryOnGrpcStatus(c, status), name);
      assert.equal(retryOnResponse(c, 200, status), name);
    }
    assert.equal(retryOnGrpcStatus(c, '0'), undefined);
    assert.equal(retryOnGrpcStatus(c, '2'), undefined);
    assert.equal(retryOnGrpcStatus(on('unavailable'), '1'), undefined);
    // A gRPC condition never retries on the HTTP status alone.
    assert.equal(retryOnResponse(on('unavailable'), 503, undefined), undefined);
  });
});

describe('back-off', () => {
  test("Envoy's documented ranges: [0, (2^N − 1) × base), capped at 10 × base", () => {
    const top = () => 0.999999;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n, 25, 250, top)),
      [24, 74, 174, 249, 249, 249],
    );
    assert.deepEqual(
      [1, 2, 3].map((n) => backoffDelay(n, 25, 250, () => 0)),
      [0, 0, 0],
    );
  });

  test('drawn uniformly within the range (seeded)', () => {
    const random = seededRandom(7);
    const draws = Array.from({ length: 2000 }, () => backoffDelay(2, 25, 250, random));
    assert.ok(draws.every((d) => Number.isInteger(d) && d >= 0 && d < 75));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    assert.ok(Math.abs(mean - 37) < 3, `mean ${mean}`);
  });

  test('a zero base retries at once; a huge retry number stays finite', () => {
    assert.equal(backoffDelay(3, 0, 0, Math.random), 0);
    assert.equal(
      backoffDelay(1000, 25, 250, () => 0.5),
      125,
    );
  });

  test('the compiled policy fills the defaults and raises a max below the base', () => {
    const p = compileRetryPolicy(
      { attempts: 2, retryOn: ['5xx'], retriableStatusCodes: [], backoff: { baseInterval: 40 } },
      Math.random,
    );
    assert.equal(p.maxIntervalMs, 400);
    assert.equal(p.perTryTimeoutMs, 0);
    const q = compileRetryPolicy(
      {
        attempts: 1,
        retryOn: ['5xx'],
        retriableStatusCodes: [],
        backoff: { baseInterval: 40, maxInterval: 10 },
      },
      Math.random,
    );
    assert.equal(q.maxIntervalMs, 40);
  });
});

describe('retry budget', () => {
  const endpoints = (...active: number[]) => active.map((a) => ({ upstream: { active: a } }));

  test('max(minRetryConcurrency, ⌊percent × requests in flight⌋)', () => {
    assert.equal(new RetryBudget({ percent: 20, minRetryConcurrency: 3 }, endpoints(10, 20)).limit(), 6);
    assert.equal(new RetryBudget({ percent: 20, minRetryConcurrency: 3 }, endpoints(4, 5)).limit(), 3);
    assert.equal(new RetryBudget({ percent: 25, minRetryConcurrency: 0 }, endpoints(3)).limit(), 0);
  });

  test('slots are taken up to the limit and given back', () => {
    const b = new RetryBudget({ percent: 0, minRetryConcurrency: 2 }, endpoints(100));
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.tryAcquire(), false);
    b.release();
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.active, 2);
  });
});

describe('retries in the ProxyConfig', () => {
  const config = (retries: unknown, budget?: unknown) => ({
    outbound: [{ name: 'a', port: 80, routes: [{ backends: [{ backend: 'b' }], retries }] }],
    backends: [{ name: 'b', retryBudget: budget }],
  });

  test('defaults are filled in and bare codes accepted as strings or numbers', () => {
    const r = validateProxyConfig(config({ attempts: 2, retryOn: ['connect-failure', '503', 429] }, {}));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
    const route = r.config.outbound[0]?.routes[0];
    assert.deepEqual(route?.retries, {
      attempts: 2,
      retryOn: ['connect-failure', '503', 429],
      retriableStatusCodes: [],
      backoff: { baseInterval: 25 },
    });
    assert.equal(route?.includeAttemptCount, false);
    assert.deepEqual(r.config.backends[0]?.retryBudget, { percent: 20, minRetryConcurrency: 3 });
  });

  test('the zod-free validator gives what zod gives', () => {
    const input = config(
      {
        attempts: 3,
        perTryTimeout: '1s',
        retryOn: ['5xx', 'unavailable', '409', 503],
        retriableStatusCodes: [429],
        backoff: { baseInterval: '10ms', maxInterval: 200 },
      },
      { percent: 12.5 },
    );
    const r = validateProxyConfig(structuredClone(input));
    assert.ok(r.ok);
    const { version: _, ...ours } = r.config;
    assert.deepEqual(ours, ProxyConfig.parse(input));
    for (const bad of ['5xxx', '99']) {
      assert.equal(ProxyConfig.safeParse(config({ attempts: 1, retryOn: [bad] })).success, false, bad);
    }
  });

  test('durations are read and unknown conditions refused', () => {
    const ok = validateProxyConfig(
      config({ attempts: 1, perTryTimeout: '250ms', retryOn: ['5xx'], backoff: { maxInterval: '1s' } }),
    );
    assert.ok(ok.ok);
    assert.equal(ok.config.outbound[0]?.routes[0]?.retries?.perTryTimeout, 250);
    assert.deepEqual(ok.config.outbound[0]?.routes[0]?.retries?.backoff, {
      baseInterval: 25,
      maxInterval: 1000,
    });
    for (const bad of ['5xxx', 'envoy-ratelimited', '99', '700']) {
      const r = validateProxyConfig(config({ attempts: 1, retryOn: [bad] }));
      assert.equal(r.ok, false, bad);
      assert.ok(!r.ok && r.issues.some((i) => i.path === 'outbound.0.routes.0.retries.retryOn.0'));
    }
    assert.equal(validateProxyConfig(config({ retryOn: ['5xx'] })).ok, false);
    assert.equal(validateProxyConfig(config({ attempts: 1, retryOn: ['5xx'] }, { percent: 120 })).ok, false);
  });
});
