/**
 * The circuit breaker's counters and limits on their own; the pools that count against them are tested
 * with real sockets in test/integration/resilience-upstream.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MetricsRegistry } from '../metrics/index.ts';
import { BackendState } from './backend-state.ts';
import { CircuitBreaker, NO_LIMITS, overflowCounters } from './circuit-breaker.ts';
import { Upstream } from './upstream.ts';

function breaker(limits: Partial<typeof NO_LIMITS> = {}) {
  const metrics = new MetricsRegistry();
  const b = new CircuitBreaker({ ...NO_LIMITS, ...limits }, overflowCounters(metrics, 'svc'));
  const overflow = (kind: string) => {
    const m = new RegExp(`^weft_upstream_overflow_total\\{backend="svc",kind="${kind}"\\} (\\d+)$`, 'm').exec(
      metrics.render(),
    );
    return Number(m?.[1]);
  };
  return { b, overflow };
}

describe('circuit breaker', () => {
  test('no limits: everything is admitted and nothing is counted', () => {
    const { b, overflow } = breaker();
    b.requests = 1e9;
    b.pending = 1e9;
    b.connections = 1e9;
    assert.equal(b.admitRequest(), true);
    assert.equal(b.admitPending(), true);
    assert.equal(b.admitConnection(false), true);
    for (let i = 0; i < 1000; i++) assert.equal(b.tryAcquireRetry(), true);
    for (const kind of ['pending', 'requests', 'connections', 'retries']) assert.equal(overflow(kind), 0);
  });

  test('maxRequests refuses the request over the limit and counts it', () => {
    const { b, overflow } = breaker({ maxRequests: 2 });
    b.requests = 1;
    assert.equal(b.admitRequest(), true);
    b.requests = 2;
    assert.equal(b.admitRequest(), false);
    assert.equal(b.admitRequest(), false);
    assert.equal(overflow('requests'), 2);
    b.requests = 1;
    assert.equal(b.admitRequest(), true);
  });

  test('maxPendingRequests refuses the request over the limit; 0 refuses every one', () => {
    const { b, overflow } = breaker({ maxPendingRequests: 1 });
    assert.equal(b.admitPending(), true);
    b.pending = 1;
    assert.equal(b.admitPending(), false);
    assert.equal(overflow('pending'), 1);
    const zero = breaker({ maxPendingRequests: 0 });
    assert.equal(zero.b.admitPending(), false);
  });

  test('maxConnections: over it only an endpoint with no connection may open one, and it is counted', () => {
    const { b, overflow } = breaker({ maxConnections: 1 });
    assert.equal(b.admitConnection(false), true);
    b.connections = 1;
    assert.equal(b.admitConnection(false), false);
    assert.equal(b.admitConnection(true), true, 'an endpoint alone still gets its one connection');
    assert.equal(overflow('connections'), 2);
  });

  test('maxRetries: slots are taken and given back; the one over is refused and counted', () => {
    const { b, overflow } = breaker({ maxRetries: 2 });
    assert.equal(b.tryAcquireRetry(), true);
    assert.equal(b.tryAcquireRetry(), true);
    assert.equal(b.tryAcquireRetry(), false);
    assert.equal(overflow('retries'), 1);
    b.releaseRetry();
    assert.equal(b.retries, 1);
    assert.equal(b.tryAcquireRetry(), true);
    b.releaseRetry();
    b.releaseRetry();
    b.releaseRetry();
    assert.equal(b.retries, 0, 'an extra release never goes below zero');
    const none = breaker({ maxRetries: 0 });
    assert.equal(none.b.tryAcquireRetry(), false);
  });

  test('new limits apply in place: counts in flight carry over a reload', () => {
    const state = new BackendState('svc');
    state.configure({ circuitBreaker: { maxRequests: 10 } });
    const b = state.breaker;
    b.requests = 5;
    state.configure({ circuitBreaker: { maxRequests: 5 } });
    assert.equal(state.breaker, b);
    assert.equal(b.requests, 5);
    assert.equal(b.admitRequest(), false);
    state.configure({});
    assert.equal(b.admitRequest(), true, 'no circuitBreaker: no limits');
  });

  test('the retry API on an upstream is the backend’s, shared by all its endpoints', () => {
    const state = new BackendState('svc');
    state.configure({ circuitBreaker: { maxRetries: 1 } });
    const settings = {
      protocol: 'tcp' as const,
      connectTimeout: 1,
      idleTimeout: 1,
      maxConnections: 1,
      identity: undefined,
    };
    const a = new Upstream('a', '10.0.0.1', 80, settings, undefined, state);
    const c = new Upstream('c', '10.0.0.2', 80, settings, undefined, state);
    assert.equal(a.tryAcquireRetry(), true);
    assert.equal(c.tryAcquireRetry(), false, 'the slot is the backend’s');
    c.releaseRetry();
    assert.equal(a.tryAcquireRetry(), true);
  });
});
