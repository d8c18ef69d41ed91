/**
 * Unit tests for the balancers. Randomness is a seeded PRNG (mulberry32) or a scripted sequence, so
 * every proportion asserted here is reproducible; tolerances are wide enough for the seed to be changed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LoadBalancerConfig } from '../../../api/index.ts';
import { seededRandom } from '../../../core/random.ts';
import { Upstream } from '../upstream.ts';
import { createMaglev, createRingHash, hash32 } from './hash.ts';
import { createBalancer } from './index.ts';
import { createP2C } from './p2c.ts';
import { createRoundRobin } from './round-robin.ts';
import { type Balancer, createWeightedPicker, type Random, type WeightedEndpoint } from './types.ts';

/** A Random that returns the given values in turn, then fails loudly if asked for more. */
function scripted(...values: number[]): Random {
  let i = 0;
  return () => {
    if (i >= values.length) throw new Error('scripted random exhausted');
    return values[i++] as number;
  };
}

function endpoint(n: number, weight = 1): WeightedEndpoint {
  const address = `10.0.${n >> 8}.${n & 255}`;
  // tcp upstreams create no undici pool, so nothing here opens a socket or leaves a handle behind.
  const upstream = new Upstream(`tcp|${address}|8080`, address, 8080, {
    protocol: 'tcp',
    connectTimeout: 1000,
    idleTimeout: 1000,
    maxConnections: 1,
    identity: undefined,
  });
  return { upstream, weight, labels: {}, id: `${address}:8080` };
}

function endpoints(weights: number[]): WeightedEndpoint[] {
  return weights.map((w, i) => endpoint(i, w));
}

/** Counts picks per endpoint index over `n` calls. */
function tally(
  eps: readonly WeightedEndpoint[],
  n: number,
  pick: (i: number) => WeightedEndpoint | undefined,
) {
  const counts = new Array<number>(eps.length).fill(0);
  for (let i = 0; i < n; i++) {
    const e = pick(i);
    assert.ok(e, 'pick returned undefined');
    const idx = eps.indexOf(e);
    assert.notEqual(idx, -1, 'pick returned an endpoint not in the list');
    counts[idx]!++;
  }
  return counts;
}

function assertShares(counts: number[], weights: number[], tolerance: number): void {
  const total = counts.reduce((a, b) => a + b, 0);
  const wTotal = weights.reduce((a, b) => a + b, 0);
  counts.forEach((c, i) => {
    const share = c / total;
    const expected = (weights[i] as number) / wTotal;
    assert.ok(
      Math.abs(share - expected) <= tolerance,
      `endpoint ${i}: share ${share.toFixed(4)}, expected ${expected.toFixed(4)} ± ${tolerance}`,
    );
  });
}

describe('round robin', () => {
  test('equal weights rotate strictly', () => {
    const eps = endpoints([1, 1, 1]);
    const rr = createRoundRobin(eps);
    const seq = Array.from({ length: 6 }, () => eps.indexOf(rr.pick(undefined) as WeightedEndpoint));
    assert.deepEqual(seq, [0, 1, 2, 0, 1, 2]);
  });

  test('weights 5:1:1 interleave smoothly (nginx: a a b a c a a)', () => {
    const eps = endpoints([5, 1, 1]);
    const rr = createRoundRobin(eps);
    const seq = Array.from({ length: 14 }, () => 'abc'[eps.indexOf(rr.pick(undefined) as WeightedEndpoint)]);
    assert.equal(seq.join(''), 'aabacaa'.repeat(2));
  });

  test('every cycle of sum(weights) picks gives exact proportions', () => {
    const weights = [3, 2, 1, 4];
    const eps = endpoints(weights);
    const rr = createRoundRobin(eps);
    const cycle = weights.reduce((a, b) => a + b, 0);
    for (let round = 0; round < 50; round++) {
      assert.deepEqual(
        tally(eps, cycle, () => rr.pick(undefined)),
        weights,
        `cycle ${round}`,
      );
    }
  });

  test('a heavy endpoint never takes two cycles worth of picks in a burst', () => {
    const eps = endpoints([10, 1]);
    const rr = createRoundRobin(eps);
    const seq = Array.from({ length: 22 }, () => eps.indexOf(rr.pick(undefined) as WeightedEndpoint));
    // The light endpoint appears once in each cycle of 11, not at the edges of a burst of 20.
    assert.deepEqual(
      seq.flatMap((e, i) => (e === 1 ? [i] : [])),
      [5, 16],
    );
  });

  test('ignores the hash key and returns undefined with no endpoints', () => {
    assert.equal(createRoundRobin([]).pick(undefined), undefined);
    const eps = endpoints([1, 1]);
    const rr = createRoundRobin(eps);
    assert.equal(rr.pick('k'), eps[0]);
    assert.equal(rr.pick('k'), eps[1]);
  });
});

describe('weighted picker (random)', () => {
  test('maps the unit interval onto cumulative weights', () => {
    const eps = endpoints([1, 2, 7]);
    const at = (r: number) => eps.indexOf(createWeightedPicker(eps, () => r)());
    assert.equal(at(0), 0);
    assert.equal(at(0.0999), 0);
    assert.equal(at(0.1), 1);
    assert.equal(at(0.2999), 1);
    assert.equal(at(0.3), 2);
    assert.equal(at(0.999999), 2);
  });

  test('uniform weights map the interval evenly', () => {
    const eps = endpoints([4, 4, 4, 4]);
    const at = (r: number) => eps.indexOf(createWeightedPicker(eps, () => r)());
    assert.deepEqual([0, 0.24, 0.25, 0.5, 0.74, 0.75, 0.9999].map(at), [0, 0, 1, 2, 2, 3, 3]);
  });

  test('picks in proportion to weight with a seeded PRNG', () => {
    const weights = [1, 2, 7];
    const eps = endpoints(weights);
    const pick = createWeightedPicker(eps, seededRandom(42));
    assertShares(
      tally(eps, 100_000, () => pick()),
      weights,
      0.01,
    );
  });

  test('picks uniformly when weights are equal', () => {
    const eps = endpoints([1, 1, 1, 1, 1]);
    const pick = createWeightedPicker(eps, seededRandom(7));
    assertShares(
      tally(eps, 50_000, () => pick()),
      [1, 1, 1, 1, 1],
      0.01,
    );
  });

  test('the same seed gives the same sequence', () => {
    const eps = endpoints([1, 3, 5]);
    const a = createWeightedPicker(eps, seededRandom(99));
    const b = createWeightedPicker(eps, seededRandom(99));
    for (let i = 0; i < 100; i++) assert.equal(a(), b());
  });

  test('createBalancer random uses the weights and ignores the key', () => {
    const weights = [3, 1];
    const eps = endpoints(weights);
    const b = createBalancer({ type: 'random' }, eps, seededRandom(1));
    assertShares(
      tally(eps, 40_000, (i) => b.pick(`same-key-${i % 2}`)),
      weights,
      0.01,
    );
  });
});

describe('power of two choices', () => {
  test('with one endpoint always picks it, without drawing', () => {
    const eps = endpoints([1]);
    const b = createP2C(eps, scripted(), 'ewma');
    assert.equal(b.pick(undefined), eps[0]);
  });

  test('with no endpoints returns undefined', () => {
    assert.equal(createP2C([], scripted(), 'ewma').pick(undefined), undefined);
    assert.equal(createP2C([], scripted(), 'requests').pick(undefined), undefined);
  });

  test('p2c-ewma picks the endpoint with the lower latency', () => {
    const [a, b] = endpoints([1, 1]) as [WeightedEndpoint, WeightedEndpoint];
    a.upstream.ewma = 100;
    b.upstream.ewma = 10;
    // Draw a then b, and b then a: the less loaded wins either way.
    assert.equal(createP2C([a, b], scripted(0.1, 0.9), 'ewma').pick(undefined), b);
    assert.equal(createP2C([a, b], scripted(0.9, 0.1), 'ewma').pick(undefined), b);
  });

  test('p2c-ewma weighs latency by outstanding requests', () => {
    const [a, b] = endpoints([1, 1]) as [WeightedEndpoint, WeightedEndpoint];
    a.upstream.ewma = 10;
    a.upstream.active = 9; // cost 10 * 10 = 100
    b.upstream.ewma = 30;
    b.upstream.active = 1; // cost 30 * 2 = 60
    assert.equal(createP2C([a, b], scripted(0.1, 0.9), 'ewma').pick(undefined), b);
    b.upstream.active = 4; // cost 30 * 5 = 150
    assert.equal(createP2C([a, b], scripted(0.1, 0.9), 'ewma').pick(undefined), a);
  });

  test('p2c-ewma divides cost by weight', () => {
    const [a, b] = endpoints([4, 1]) as [WeightedEndpoint, WeightedEndpoint];
    a.upstream.ewma = 40; // 40 / 4 = 10
    b.upstream.ewma = 20; // 20 / 1 = 20
    // Weighted draw over [4, 1]: 0.1 -> a, 0.9 -> b.
    assert.equal(createP2C([a, b], scripted(0.1, 0.9), 'ewma').pick(undefined), a);
  });

  test('least-request picks the endpoint with fewer requests in flight', () => {
    const [a, b] = endpoints([1, 1]) as [WeightedEndpoint, WeightedEndpoint];
    a.upstream.active = 5;
    b.upstream.active = 2;
    // Latency must not matter for least-request.
    b.upstream.ewma = 10_000;
    assert.equal(createP2C([a, b], scripted(0.1, 0.9), 'requests').pick(undefined), b);
    assert.equal(createP2C([a, b], scripted(0.9, 0.1), 'requests').pick(undefined), b);
  });

  test('least-request divides outstanding requests by weight', () => {
    const [a, b] = endpoints([4, 1]) as [WeightedEndpoint, WeightedEndpoint];
    a.upstream.active = 3; // (3 + 1) / 4 = 1
    b.upstream.active = 1; // (1 + 1) / 1 = 2
    assert.equal(createP2C([a, b], scripted(0.1, 0.9), 'requests').pick(undefined), a);
  });

  test('draws again once when both choices are the same endpoint', () => {
    const [a, b] = endpoints([1, 1]) as [WeightedEndpoint, WeightedEndpoint];
    a.upstream.active = 10;
    // a, a, then b on the redraw: b is less loaded and wins.
    assert.equal(createP2C([a, b], scripted(0.1, 0.2, 0.9), 'requests').pick(undefined), b);
  });

  test('ties keep the first choice', () => {
    const [a, b] = endpoints([1, 1]) as [WeightedEndpoint, WeightedEndpoint];
    assert.equal(createP2C([a, b], scripted(0.1, 0.9), 'requests').pick(undefined), a);
    assert.equal(createP2C([a, b], scripted(0.9, 0.1), 'requests').pick(undefined), b);
  });

  test('a heavily loaded endpoint is rarely picked', () => {
    const eps = endpoints([1, 1, 1, 1]);
    (eps[0] as WeightedEndpoint).upstream.active = 100;
    for (const load of ['ewma', 'requests'] as const) {
      const b = createP2C(eps, seededRandom(3), load);
      const counts = tally(eps, 20_000, () => b.pick(undefined));
      // Only picked when all three draws land on it: (1/4)^3 ≈ 1.6 %.
      assert.ok((counts[0] as number) / 20_000 < 0.03, `${load}: loaded endpoint got ${counts[0]}`);
      // The idle ones share the rest evenly.
      for (let i = 1; i < 4; i++) assert.ok(Math.abs((counts[i] as number) / 20_000 - 0.33) < 0.02);
    }
  });

  test('createBalancer maps p2c-ewma and least-request to their cost functions', () => {
    const [a, b] = endpoints([1, 1]) as [WeightedEndpoint, WeightedEndpoint];
    a.upstream.ewma = 1000; // slow but idle
    b.upstream.active = 3; // fast but busy: ewma 30 * 4 = 120 < 1000, requests 4 > 1
    assert.equal(createBalancer({ type: 'p2c-ewma' }, [a, b], scripted(0.1, 0.9)).pick(undefined), b);
    assert.equal(createBalancer({ type: 'least-request' }, [a, b], scripted(0.1, 0.9)).pick(undefined), a);
  });
});

type HashFactory = (eps: readonly WeightedEndpoint[], random: Random) => Balancer;

const hashBalancers: Array<[string, HashFactory, { spread: number; weighted: number }]> = [
  ['ring-hash', (eps, random) => createRingHash(eps, random), { spread: 0.03, weighted: 0.03 }],
  ['maglev', (eps, random) => createMaglev(eps, random), { spread: 0.01, weighted: 0.01 }],
];

const keys = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

for (const [name, create, tolerance] of hashBalancers) {
  describe(name, () => {
    test('the same key always picks the same endpoint', () => {
      const eps = endpoints([1, 1, 1, 1, 1]);
      const b = create(eps, scripted());
      for (const key of keys.slice(0, 500)) {
        const first = b.pick(key);
        assert.equal(b.pick(key), first);
        assert.equal(b.pick(key), first);
      }
    });

    test('two balancers built from the same endpoints agree (as two proxies must)', () => {
      const a = create(endpoints([1, 2, 3]), scripted());
      const b = create(endpoints([1, 2, 3]), scripted());
      for (const key of keys.slice(0, 2000)) assert.equal(a.pick(key)?.id, b.pick(key)?.id);
    });

    test('the owner of a key does not depend on the order endpoints are listed in', () => {
      const eps = endpoints([1, 1, 1, 1]);
      const a = create(eps, scripted());
      const b = create([...eps].reverse(), scripted());
      let same = 0;
      for (const key of keys.slice(0, 2000)) if (a.pick(key)?.id === b.pick(key)?.id) same++;
      assert.ok(same / 2000 > 0.95, `only ${same} of 2000 keys kept their owner`);
    });

    test('keys spread evenly across equal endpoints', () => {
      const eps = endpoints([1, 1, 1, 1, 1]);
      const b = create(eps, scripted());
      assertShares(
        tally(eps, keys.length, (i) => b.pick(keys[i])),
        [1, 1, 1, 1, 1],
        tolerance.spread,
      );
    });

    test('keys spread in proportion to weight', () => {
      for (const weights of [
        [1, 1, 2],
        [1, 3],
        [5, 1, 1, 1],
      ]) {
        const eps = endpoints(weights);
        const b = create(eps, scripted());
        assertShares(
          tally(eps, keys.length, (i) => b.pick(keys[i])),
          weights,
          tolerance.weighted,
        );
      }
    });

    test('removing an endpoint moves its keys and few others', () => {
      for (const n of [3, 5, 10]) {
        const eps = endpoints(new Array<number>(n).fill(1));
        const removed = eps[n - 1] as WeightedEndpoint;
        const before = create(eps, scripted());
        const after = create(eps.slice(0, -1), scripted());
        let moved = 0;
        let ownedByRemoved = 0;
        for (const key of keys) {
          const was = before.pick(key);
          const now = after.pick(key);
          assert.notEqual(now, removed);
          if (was === removed) ownedByRemoved++;
          if (was !== now) moved++;
        }
        const fraction = moved / keys.length;
        const ideal = ownedByRemoved / keys.length;
        // Maglev stays within a few percent of the ideal 1/N. The ring gives each endpoint ringSize / N
        // points, as Envoy does, so the survivors gain points and trade about another 1/N of keys among
        // themselves; it still stays well below a rehash, which would move (N-1)/N.
        const bound = name === 'maglev' ? ideal + 0.02 : 2 * ideal + 0.03;
        assert.ok(
          fraction <= bound,
          `N=${n}: ${(fraction * 100).toFixed(1)}% of keys moved; ${(ideal * 100).toFixed(1)}% were on the removed endpoint`,
        );
        assert.ok(Math.abs(ideal - 1 / n) < 0.05, `N=${n}: the removed endpoint owned ${ideal}`);
      }
    });

    test('a missing key falls back to a weighted random pick', () => {
      const eps = endpoints([1, 1, 2]);
      assert.equal(create(eps, () => 0).pick(undefined), eps[0]);
      assert.equal(create(eps, () => 0.3).pick(undefined), eps[1]);
      assert.equal(create(eps, () => 0.99).pick(undefined), eps[2]);
      const b = create(eps, seededRandom(5));
      assertShares(
        tally(eps, 20_000, () => b.pick(undefined)),
        [1, 1, 2],
        0.015,
      );
    });

    test('with no endpoints returns undefined, with a key or without', () => {
      const b = create([], scripted());
      assert.equal(b.pick('k'), undefined);
      assert.equal(b.pick(undefined), undefined);
    });

    test('with one endpoint every key maps to it', () => {
      const eps = endpoints([3]);
      const b = create(eps, scripted());
      for (const key of keys.slice(0, 100)) assert.equal(b.pick(key), eps[0]);
    });
  });
}

describe('hash balancers through createBalancer', () => {
  test('ring-hash honours ringSize', () => {
    const eps = endpoints([1, 1, 1]);
    const config: LoadBalancerConfig = { type: 'ring-hash', ringSize: 64 };
    const b = createBalancer(config, eps, scripted());
    const counts = tally(eps, keys.length, (i) => b.pick(keys[i]));
    assert.ok(counts.every((c) => c > 0));
  });

  test('maglev with a ringSize rounds the table up to a prime and still spreads by weight', () => {
    const weights = [1, 2];
    const eps = endpoints(weights);
    const b = createBalancer({ type: 'maglev', ringSize: 1000 }, eps, scripted());
    assertShares(
      tally(eps, keys.length, (i) => b.pick(keys[i])),
      weights,
      0.02,
    );
  });

  test('every balancer type returns undefined for an empty backend', () => {
    for (const type of [
      'p2c-ewma',
      'round-robin',
      'least-request',
      'random',
      'ring-hash',
      'maglev',
    ] as const) {
      assert.equal(createBalancer({ type }, [], scripted()).pick('k'), undefined, type);
    }
  });

  test('every balancer type picks one of the endpoints', () => {
    const eps = endpoints([1, 2]);
    for (const type of [
      'p2c-ewma',
      'round-robin',
      'least-request',
      'random',
      'ring-hash',
      'maglev',
    ] as const) {
      const b = createBalancer({ type }, eps, seededRandom(11));
      for (let i = 0; i < 20; i++) assert.ok(eps.includes(b.pick(`k${i}`) as WeightedEndpoint), type);
    }
  });
});

describe('hash32', () => {
  test('is stable across processes and versions (pinned values)', () => {
    // Proxies that hash the same key must agree, including across upgrades: these values must not change.
    const pinned = [hash32(''), hash32('a'), hash32('user-1'), hash32('10.0.0.1:8080_0'), hash32('a', 1)];
    assert.deepEqual(pinned, PINNED_HASHES);
  });

  test('the seed changes the hash', () => {
    assert.notEqual(hash32('key'), hash32('key', 1));
  });

  test('returns unsigned 32-bit integers', () => {
    for (const key of keys.slice(0, 1000)) {
      const h = hash32(key);
      assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff);
    }
  });
});

const PINNED_HASHES = [2872998923, 444641715, 2005895916, 3333706757, 1346473253];
