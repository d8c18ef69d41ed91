/**
 * LocalRateLimit with an injected clock and seeded random: Istio's task result (4 tokens: four pass, the
 * fifth gets 429 with the configured header), the x-ratelimit headers, filterEnforced and filterEnabled
 * as percentages, descriptor buckets consumed before the main one, and buckets kept by the state cache
 * across rebuilds while the settings are unchanged.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '../../../core/index.ts';
import { MetricsRegistry } from '../../metrics/index.ts';
import type { RequestView } from '../../router/index.ts';
import { FilterStateCache } from '../state.ts';
import { testContext } from '../testing.ts';
import type { Admission, FilterContext, HttpFilter, Verdict } from '../types.ts';
import { type LocalRateLimitConfig, localRateLimit } from './index.ts';

function config(overrides: Partial<LocalRateLimitConfig> = {}): LocalRateLimitConfig {
  return {
    tokenBucket: { maxTokens: 4, tokensPerFill: 4, fillInterval: 60_000 },
    descriptors: [],
    filterEnabled: 100,
    filterEnforced: 100,
    status: 429,
    responseHeadersToAdd: { 'x-local-rate-limit': 'true' },
    enableXRateLimitHeaders: false,
    ...overrides,
  };
}

function view(path = '/', headers: RequestView['headers'] = {}): RequestView {
  return { method: 'GET', path, query: '', headers };
}

function run(filter: HttpFilter, request = view()): { verdict: Verdict | undefined; admission: Admission } {
  const admission: Admission = { request, responseHeaders: undefined };
  return { verdict: filter.onAdmit?.(admission), admission };
}

function setup(cfg: LocalRateLimitConfig, ctx: Partial<FilterContext> = {}) {
  const clock = { t: 0 };
  const metrics = new MetricsRegistry();
  const context = testContext({ now: () => clock.t, metrics, ...ctx });
  const filter = localRateLimit.build(cfg, context);
  const count = (enforced: 'true' | 'false') =>
    metrics.counter('weft_rate_limited_total', '', { ...context.labels, enforced }).value;
  return { clock, filter, count, context };
}

describe('LocalRateLimit', () => {
  test("Istio's task: 4 tokens a minute give 200, 200, 200, 200, 429", () => {
    const { filter, count, clock } = setup(config());
    const verdicts = [1, 2, 3, 4, 5].map(() => run(filter).verdict);
    assert.deepEqual(verdicts.slice(0, 4), [undefined, undefined, undefined, undefined]);
    const last = verdicts[4];
    assert.equal(last?.kind, 'reply');
    if (last?.kind !== 'reply') return;
    assert.equal(last.status, 429);
    assert.equal(last.code, 'RATE_LIMITED');
    assert.equal(last.grpcStatus, 8);
    assert.deepEqual(last.headers, { 'x-local-rate-limit': 'true' });
    assert.equal(count('true'), 1);
    clock.t = 60_000;
    assert.equal(run(filter).verdict, undefined, 'refilled after the interval');
  });

  test('x-ratelimit headers on every checked request when enabled', () => {
    const { filter, clock } = setup(config({ enableXRateLimitHeaders: true }));
    clock.t = 1500;
    const first = run(filter).admission.responseHeaders;
    assert.deepEqual(first, {
      'x-ratelimit-limit': '4',
      'x-ratelimit-remaining': '3',
      'x-ratelimit-reset': '59',
    });
    for (let i = 0; i < 3; i++) run(filter);
    const limited = run(filter);
    assert.equal(limited.verdict?.kind, 'reply');
    assert.equal(limited.admission.responseHeaders?.['x-ratelimit-remaining'], '0');
    assert.equal(run(setup(config()).filter).admission.responseHeaders, undefined, 'off by default');
  });

  test('filterEnforced 0: over the limit is counted, not rejected', () => {
    const { filter, count } = setup(config({ filterEnforced: 0 }));
    for (let i = 0; i < 10; i++) assert.equal(run(filter).verdict, undefined);
    assert.equal(count('false'), 6);
    assert.equal(count('true'), 0);
  });

  test('filterEnforced 50 rejects about half of the over-limit requests (seeded)', () => {
    const { filter, count } = setup(config({ filterEnforced: 50 }), { random: seededRandom(11) });
    let rejected = 0;
    for (let i = 0; i < 4004; i++) if (run(filter).verdict !== undefined) rejected++;
    assert.equal(rejected, count('true'));
    assert.equal(rejected + count('false'), 4000);
    assert.ok(Math.abs(rejected - 2000) < 4 * Math.sqrt(4000 * 0.25), `${rejected}`);
  });

  test('filterEnabled 0 turns the filter off; 50 checks about half the requests (seeded)', () => {
    assert.equal(localRateLimit.build(config({ filterEnabled: 0 }), testContext()).onAdmit, undefined);
    const { filter, count } = setup(
      config({ filterEnabled: 50, tokenBucket: { maxTokens: 100, tokensPerFill: 1, fillInterval: 60_000 } }),
      { random: seededRandom(3) },
    );
    let rejected = 0;
    for (let i = 0; i < 400; i++) if (run(filter).verdict !== undefined) rejected++;
    // About 200 of the 400 are checked; the first 100 checked take the tokens, the rest are rejected.
    assert.equal(rejected, count('true'));
    assert.ok(Math.abs(rejected - 100) < 4 * Math.sqrt(400 * 0.25), `${rejected}`);
  });

  test('descriptor buckets: matching requests take from theirs and the main bucket', () => {
    const cfg = config({
      tokenBucket: { maxTokens: 5, tokensPerFill: 5, fillInterval: 60_000 },
      enableXRateLimitHeaders: true,
      descriptors: [
        {
          match: {
            path: { type: 'Prefix', value: '/productpage', ignoreCase: true },
            headers: [],
            queryParams: [],
          },
          tokenBucket: { maxTokens: 2, tokensPerFill: 2, fillInterval: 60_000 },
        },
      ],
    });
    const { filter } = setup(cfg);
    const product = () => run(filter, view('/ProductPage/x'));
    const a = product();
    assert.equal(a.verdict, undefined);
    assert.equal(
      a.admission.responseHeaders?.['x-ratelimit-limit'],
      '2',
      'the descriptor bucket is reported',
    );
    assert.equal(product().verdict, undefined);
    const third = product();
    assert.equal(third.verdict?.kind, 'reply', 'descriptor bucket empty');
    assert.equal(third.admission.responseHeaders?.['x-ratelimit-limit'], '2');
    // Main bucket: 5 - 2 taken by /productpage requests = 3 left for the rest.
    const other = [1, 2, 3, 4].map(() => run(filter, view('/reviews')));
    assert.deepEqual(
      other.map((o) => o.verdict?.kind),
      [undefined, undefined, undefined, 'reply'],
    );
    assert.equal(other[0]?.admission.responseHeaders?.['x-ratelimit-limit'], '5');
  });

  test('buckets survive a rebuild with the same settings, not a changed one', () => {
    const state = new FilterStateCache();
    state.begin();
    const clock = { t: 0 };
    const ctx = () => testContext({ state, now: () => clock.t });
    const first = localRateLimit.build(config(), ctx());
    for (let i = 0; i < 4; i++) run(first);
    state.begin();
    const same = localRateLimit.build(config(), ctx());
    assert.equal(run(same).verdict?.kind, 'reply', 'the rebuilt filter shares the empty bucket');
    state.begin();
    const changed = localRateLimit.build(
      config({ tokenBucket: { maxTokens: 5, tokensPerFill: 5, fillInterval: 60_000 } }),
      ctx(),
    );
    assert.equal(run(changed).verdict, undefined, 'new settings: a full bucket');
  });
});
