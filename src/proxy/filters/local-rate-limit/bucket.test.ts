/**
 * Token bucket arithmetic with an injected clock: starts full, one token a request, tokensPerFill added
 * per whole fill interval up to maxTokens, missed fills caught up lazily on the start-aligned grid, and
 * the x-ratelimit-reset seconds as Envoy computes them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TokenBucket } from './bucket.ts';

function clock(start = 1000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('TokenBucket', () => {
  test('starts full and gives one token a request', () => {
    const c = clock();
    const b = new TokenBucket({ maxTokens: 4, tokensPerFill: 4, fillInterval: 60_000 }, c.now);
    assert.equal(b.remaining, 4);
    assert.deepEqual(
      [1, 2, 3, 4, 5].map(() => b.consume()),
      [true, true, true, true, false],
    );
    assert.equal(b.remaining, 0);
  });

  test('refills tokensPerFill at each whole interval, capped at maxTokens', () => {
    const c = clock();
    const b = new TokenBucket({ maxTokens: 5, tokensPerFill: 2, fillInterval: 1000 }, c.now);
    for (let i = 0; i < 5; i++) assert.ok(b.consume());
    c.t += 999;
    assert.equal(b.consume(), false, 'no fill before the interval ends');
    c.t += 1;
    assert.equal(b.remaining, 2);
    c.t += 10_000; // ten missed fills: capped
    assert.equal(b.remaining, 5);
  });

  test('fills stay on the grid the bucket started on', () => {
    const c = clock(0);
    const b = new TokenBucket({ maxTokens: 1, tokensPerFill: 1, fillInterval: 1000 }, c.now);
    assert.ok(b.consume());
    c.t = 1500; // fill at 1000
    assert.ok(b.consume());
    c.t = 1999;
    assert.equal(b.consume(), false);
    c.t = 2000; // next fill at 2000, not 2500
    assert.ok(b.consume());
  });

  test('resetSeconds: the interval less the whole seconds since the last fill', () => {
    const c = clock(0);
    const b = new TokenBucket({ maxTokens: 4, tokensPerFill: 4, fillInterval: 60_000 }, c.now);
    assert.equal(b.resetSeconds, 60);
    c.t = 500;
    assert.equal(b.resetSeconds, 60);
    c.t = 1200;
    assert.equal(b.resetSeconds, 59);
    c.t = 60_000 + 30_000;
    assert.equal(b.resetSeconds, 30);
    const fast = new TokenBucket({ maxTokens: 1, tokensPerFill: 1, fillInterval: 100 }, c.now);
    assert.equal(fast.resetSeconds, 0, 'sub-second intervals truncate to 0, as in Envoy');
  });
});
