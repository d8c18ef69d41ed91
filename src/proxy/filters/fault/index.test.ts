/**
 * Fault with a seeded random: aborts and delays at 100 %, 0 % and in between (within 4σ over 10,000
 * draws), delay then abort, HTTP and gRPC statuses (names, numbers, and gRPC's mapping of an HTTP
 * status), and the delay counter.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '../../../core/index.ts';
import { MetricsRegistry } from '../../metrics/index.ts';
import { testContext } from '../testing.ts';
import type { Admission, HttpFilter, Verdict } from '../types.ts';
import { abortReply, type FaultConfig, fault } from './index.ts';

function admit(filter: HttpFilter): Verdict | undefined {
  const admission: Admission = {
    request: { method: 'GET', path: '/', query: '', headers: {} },
    responseHeaders: undefined,
  };
  return filter.onAdmit?.(admission);
}

describe('Fault', () => {
  test('a 100 % abort answers every request with the status and FAULT_ABORT', () => {
    const f = fault.build({ abort: { httpStatus: 503, percentage: 100 } }, testContext());
    for (let i = 0; i < 5; i++) {
      const v = admit(f);
      assert.equal(v?.kind, 'reply');
      if (v?.kind !== 'reply') return;
      assert.equal(v.status, 503);
      assert.equal(v.code, 'FAULT_ABORT');
      assert.equal(v.grpcStatus, 14);
    }
  });

  test('0 % or nothing configured builds an empty filter', () => {
    assert.equal(
      fault.build({ abort: { httpStatus: 500, percentage: 0 } }, testContext()).onAdmit,
      undefined,
    );
    assert.equal(
      fault.build({ delay: { fixedDelay: 0, percentage: 100 } }, testContext()).onAdmit,
      undefined,
    );
  });

  test('percentages sample with the injected random (within 4σ)', () => {
    const f = fault.build(
      { abort: { httpStatus: 500, percentage: 12.5 } },
      testContext({ random: seededRandom(42) }),
    );
    const n = 10_000;
    let aborted = 0;
    for (let i = 0; i < n; i++) if (admit(f) !== undefined) aborted++;
    const sigma = Math.sqrt(n * 0.125 * 0.875);
    assert.ok(Math.abs(aborted - n * 0.125) < 4 * sigma, `${aborted}`);
  });

  test('a delay holds; delay and abort together hold, then answer', () => {
    const metrics = new MetricsRegistry();
    const ctx = testContext({ metrics });
    const delayOnly = fault.build({ delay: { fixedDelay: 100, percentage: 100 } }, ctx);
    assert.deepEqual(admit(delayOnly), { kind: 'hold', ms: 100, reply: undefined });
    const both = fault.build(
      { delay: { fixedDelay: 7000, percentage: 100 }, abort: { httpStatus: 500, percentage: 100 } },
      ctx,
    );
    const v = admit(both);
    assert.equal(v?.kind, 'hold');
    if (v?.kind !== 'hold') return;
    assert.equal(v.ms, 7000);
    assert.equal(v.reply?.status, 500);
    assert.equal(metrics.counter('weft_fault_delays_total', '', ctx.labels).value, 2);
  });

  test('delay and abort are sampled independently', () => {
    const f = fault.build(
      { delay: { fixedDelay: 10, percentage: 50 }, abort: { httpStatus: 500, percentage: 50 } },
      testContext({ random: seededRandom(9) }),
    );
    const seen = { hold: 0, holdAbort: 0, abort: 0, none: 0 };
    for (let i = 0; i < 4000; i++) {
      const v = admit(f);
      if (v === undefined) seen.none++;
      else if (v.kind === 'reply') seen.abort++;
      else if (v.reply) seen.holdAbort++;
      else seen.hold++;
    }
    for (const [k, c] of Object.entries(seen))
      assert.ok(Math.abs(c - 1000) < 4 * Math.sqrt(4000 * 0.25 * 0.75), `${k}: ${c}`);
  });

  test('gRPC statuses: by name or number; HTTP statuses mapped as gRPC does', () => {
    const byName = abortReply({ grpcStatus: 'UNAVAILABLE', percentage: 100 });
    assert.equal(byName.status, 200, 'a non-gRPC request gets HTTP 200, as in Envoy');
    assert.equal(byName.grpcStatus, 14);
    assert.equal(abortReply({ grpcStatus: 5, percentage: 100 }).grpcStatus, 5);
    const mapped = (s: number) => abortReply({ httpStatus: s, percentage: 100 }).grpcStatus;
    assert.deepEqual(
      [400, 401, 403, 404, 429, 500, 502, 503, 504].map(mapped),
      [13, 16, 7, 12, 14, 2, 14, 14, 14],
    );
    assert.throws(() => abortReply({ percentage: 100 } as NonNullable<FaultConfig['abort']>));
  });
});
