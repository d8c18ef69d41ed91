/**
 * Outlier detection and its effect on the balancers, with an injected clock and seeded randomness: no test
 * here waits for real time. The sweep is called by hand where the detector's timer would call it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '../../core/random.ts';
import { MetricsRegistry } from '../metrics/index.ts';
import { BackendState } from './backend-state.ts';
import { createBalancer, type WeightedEndpoint } from './balancers/index.ts';
import { HostHealth, type OutlierConfig, OutlierDetector } from './outlier.ts';
import { Upstream, UpstreamCache } from './upstream.ts';

const BASE: OutlierConfig = {
  consecutive5xx: 3,
  consecutiveGatewayErrors: 0,
  interval: 1000,
  baseEjectionTime: 30_000,
  maxEjectionTime: 300_000,
  maxEjectionPercent: 100,
  minHealthPercent: 0,
};

/** A detector over `n` hosts with a clock the test moves. */
function setup(n: number, config: Partial<OutlierConfig> = {}) {
  const clock = { now: 0 };
  const metrics = new MetricsRegistry();
  const detector = new OutlierDetector(() => clock.now, {
    ejections: metrics.counter('ejections', ''),
    ejected: metrics.gauge('ejected', ''),
  });
  detector.configure({ ...BASE, ...config });
  const hosts = Array.from({ length: n }, (_, i) => new HostHealth(`10.0.0.${i}:80`));
  detector.setHosts(hosts);
  const fail = (h: HostHealth, times: number, status = 500) => {
    for (let i = 0; i < times; i++) detector.record(h, status);
  };
  return { clock, detector, hosts, fail, metrics };
}

describe('outlier detection: consecutive errors', () => {
  test('consecutive 5xx eject at the threshold, not before', () => {
    const { detector, hosts, fail } = setup(3);
    const h = hosts[0] as HostHealth;
    fail(h, 2);
    assert.equal(h.ejected, false);
    fail(h, 1);
    assert.equal(h.ejected, true);
    assert.equal(detector.ejectedCount, 1);
  });

  test('a success resets the count', () => {
    const { detector, hosts, fail } = setup(3);
    const h = hosts[0] as HostHealth;
    fail(h, 2);
    detector.record(h, 200);
    fail(h, 2);
    assert.equal(h.ejected, false, '2 + success + 2 is not 3 in a row');
    detector.record(h, 404);
    fail(h, 2);
    assert.equal(h.ejected, false, 'a 4xx is not an error');
    fail(h, 1);
    assert.equal(h.ejected, true);
  });

  test('gateway errors: 502, 503, 504 count; a 500 breaks the run but counts as a 5xx', () => {
    const { hosts, fail } = setup(3, { consecutive5xx: 0, consecutiveGatewayErrors: 3 });
    const [a, b] = hosts as [HostHealth, HostHealth];
    fail(a, 1, 502);
    fail(a, 1, 503);
    fail(a, 1, 500);
    fail(a, 1, 504);
    assert.equal(a.ejected, false, 'the 500 reset the gateway run');
    fail(a, 2, 503);
    assert.equal(a.ejected, true);
    fail(b, 10, 500);
    assert.equal(b.ejected, false, 'consecutive5xx 0 is off: 500s alone never eject');
  });

  test('local failures count as gateway errors (connect failure, reset 503; timeout 504)', () => {
    const state = new BackendState('b');
    state.configure({ outlierDetection: { ...BASE, consecutive5xx: 0, consecutiveGatewayErrors: 3 } });
    const u = new Upstream('k', '10.0.0.1', 80, tcpSettings(), undefined, state);
    state.setHosts([u.health]);
    u.outcome('connect-failure');
    u.outcome('reset');
    assert.equal(u.health.ejected, false);
    u.outcome('timeout');
    assert.equal(u.health.ejected, true);
  });

  test('nothing is recorded with detection off', () => {
    const state = new BackendState('b');
    const u = new Upstream('k', '10.0.0.1', 80, tcpSettings(), undefined, state);
    state.setHosts([u.health]);
    for (let i = 0; i < 10; i++) u.outcome(503);
    assert.equal(u.health.ejected, false);
    assert.equal(u.health.consecutive5xx, 0);
  });
});

describe('outlier detection: return to service', () => {
  test('an ejected host returns at the first sweep after baseEjectionTime', () => {
    const { clock, detector, hosts, fail } = setup(3);
    const h = hosts[0] as HostHealth;
    fail(h, 3);
    clock.now = 29_999;
    detector.sweep();
    assert.equal(h.ejected, true);
    clock.now = 30_000;
    detector.sweep();
    assert.equal(h.ejected, false);
    assert.equal(detector.ejectedCount, 0);
  });

  test('the ejection lasts base × the number of times ejected, capped by maxEjectionTime', () => {
    const { clock, detector, hosts, fail } = setup(3, { maxEjectionTime: 70_000 });
    const h = hosts[0] as HostHealth;
    const ejectAndMeasure = (): number => {
      fail(h, 3);
      assert.equal(h.ejected, true);
      const from = clock.now;
      for (let i = 0; i < 1000 && h.ejected; i++) {
        clock.now += 1000;
        detector.sweep();
      }
      return clock.now - from;
    };
    assert.equal(ejectAndMeasure(), 30_000);
    assert.equal(ejectAndMeasure(), 60_000);
    assert.equal(ejectAndMeasure(), 70_000, '3 × 30 s capped at 70 s');
    assert.equal(ejectAndMeasure(), 70_000);
    assert.equal(h.ejections, 4);
  });

  test('the multiplier comes down while the host stays healthy', () => {
    const { clock, detector, hosts, fail } = setup(3);
    const h = hosts[0] as HostHealth;
    fail(h, 3);
    clock.now = 30_000;
    detector.sweep();
    fail(h, 3);
    assert.equal(h.multiplier, 2);
    clock.now += 60_000;
    detector.sweep();
    assert.equal(h.ejected, false);
    // Healthy for a base ejection time since its return: each sweep takes one off.
    clock.now += 30_000;
    detector.sweep();
    assert.equal(h.multiplier, 1);
    clock.now += 1000;
    detector.sweep();
    assert.equal(h.multiplier, 0);
    fail(h, 3);
    assert.equal(h.multiplier, 1, 'back to one base ejection time');
  });

  test('a returned host must fail the full count again before the next ejection', () => {
    const { clock, detector, hosts, fail } = setup(3);
    const h = hosts[0] as HostHealth;
    fail(h, 2);
    fail(h, 1);
    clock.now = 30_000;
    detector.sweep();
    fail(h, 2);
    assert.equal(h.ejected, false);
  });

  test('the ejection metrics follow', () => {
    const { clock, detector, hosts, fail, metrics } = setup(3);
    fail(hosts[0] as HostHealth, 3);
    fail(hosts[1] as HostHealth, 3);
    let text = metrics.render();
    assert.match(text, /^ejections 2$/m);
    assert.match(text, /^ejected 2$/m);
    clock.now = 30_000;
    detector.sweep();
    text = metrics.render();
    assert.match(text, /^ejections 2$/m);
    assert.match(text, /^ejected 0$/m);
  });
});

describe('outlier detection: limits', () => {
  test('maxEjectionPercent caps how many hosts are out at once', () => {
    const { hosts, fail, detector } = setup(3, { maxEjectionPercent: 34 });
    const [a, b] = hosts as [HostHealth, HostHealth];
    fail(a, 3);
    fail(b, 3);
    assert.equal(a.ejected, true);
    assert.equal(b.ejected, false, '2 of 3 is 67% > 34%');
    assert.equal(detector.ejectedCount, 1);
  });

  test("the default 10% ejects nothing below ten hosts (Envoy's rule), one of ten", () => {
    const three = setup(3, { maxEjectionPercent: 10 });
    three.fail(three.hosts[0] as HostHealth, 3);
    assert.equal(three.detector.ejectedCount, 0);
    const ten = setup(10, { maxEjectionPercent: 10 });
    for (const h of ten.hosts) ten.fail(h, 3);
    assert.equal(ten.detector.ejectedCount, 1);
  });

  test('turning detection off returns every host; a host that leaves the config is returned', () => {
    const { hosts, fail, detector } = setup(3);
    fail(hosts[0] as HostHealth, 3);
    fail(hosts[1] as HostHealth, 3);
    detector.setHosts(hosts.slice(1));
    assert.equal((hosts[0] as HostHealth).ejected, false);
    assert.equal(detector.ejectedCount, 1);
    detector.configure(undefined);
    assert.equal((hosts[1] as HostHealth).ejected, false);
  });

  test('a host not in the current set is never ejected', () => {
    const { fail, detector } = setup(3);
    const stranger = new HostHealth('10.9.9.9:80');
    fail(stranger, 10);
    assert.equal(stranger.ejected, false);
    assert.equal(detector.ejectedCount, 0);
  });
});

function tcpSettings() {
  return {
    protocol: 'tcp' as const,
    connectTimeout: 1000,
    idleTimeout: 1000,
    maxConnections: 1,
    identity: undefined,
  };
}

/** Endpoints of one backend whose outlier detection the test controls. */
function backendWith(n: number, config: Partial<OutlierConfig> = {}) {
  const state = new BackendState('b', undefined, () => 0);
  state.configure({ outlierDetection: { ...BASE, ...config } });
  const eps: WeightedEndpoint[] = Array.from({ length: n }, (_, i) => {
    const upstream = new Upstream(`b|${i}`, `10.0.0.${i}`, 80, tcpSettings(), undefined, state);
    return { upstream, weight: 1 + (i % 2), labels: {}, id: `10.0.0.${i}:80` };
  });
  state.setHosts(eps.map((e) => e.upstream.health));
  const eject = (i: number) => {
    for (let k = 0; k < BASE.consecutive5xx; k++) (eps[i] as WeightedEndpoint).upstream.outcome(500);
  };
  return { state, eps, eject };
}

const TYPES = ['p2c-ewma', 'round-robin', 'least-request', 'random', 'ring-hash', 'maglev'] as const;

describe('balancers skip ejected endpoints', () => {
  for (const type of TYPES) {
    test(`${type}: an ejected endpoint gets no picks, and gets them again once returned`, () => {
      const { state, eps, eject } = backendWith(4);
      const b = createBalancer({ type }, eps, seededRandom(3), state.ejections);
      eject(1);
      assert.equal((eps[1] as WeightedEndpoint).upstream.health.ejected, true);
      const seen = new Set<WeightedEndpoint>();
      for (let i = 0; i < 2000; i++) seen.add(b.pick(`key-${i}`) as WeightedEndpoint);
      assert.ok(!seen.has(eps[1] as WeightedEndpoint), 'the ejected endpoint was picked');
      assert.equal(seen.size, 3, 'every other endpoint still gets traffic');
      state.outlier.sweep(30_000);
      const after = new Set<WeightedEndpoint>();
      for (let i = 0; i < 2000; i++) after.add(b.pick(`key-${i}`) as WeightedEndpoint);
      assert.equal(after.size, 4);
    });

    test(`${type}: with every endpoint ejected it uses them all (panic)`, () => {
      const { state, eps, eject } = backendWith(3);
      const b = createBalancer({ type }, eps, seededRandom(5), state.ejections);
      for (let i = 0; i < 3; i++) eject(i);
      assert.equal(state.outlier.ejectedCount, 3);
      const seen = new Set<WeightedEndpoint>();
      for (let i = 0; i < 2000; i++) seen.add(b.pick(`key-${i}`) as WeightedEndpoint);
      assert.equal(seen.size, 3);
    });
  }

  test('consistent hashing moves only the keys of the ejected endpoint', () => {
    for (const type of ['ring-hash', 'maglev'] as const) {
      const { state, eps, eject } = backendWith(5);
      const b = createBalancer({ type }, eps, seededRandom(1), state.ejections);
      const before = Array.from({ length: 3000 }, (_, i) => b.pick(`user-${i}`));
      eject(2);
      let moved = 0;
      for (let i = 0; i < 3000; i++) {
        const now = b.pick(`user-${i}`);
        if (before[i] !== eps[2] && now !== before[i]) moved++;
      }
      // Maglev keeps nearly every other key; the ring re-spreads its points, so a few percent move.
      assert.ok(moved / 3000 < 0.15, `${type}: ${moved} keys of healthy endpoints moved`);
    }
  });

  test('minHealthPercent: below it, ejections are ignored (panic)', () => {
    const { state, eps, eject } = backendWith(4, { minHealthPercent: 60 });
    const b = createBalancer({ type: 'round-robin' }, eps, seededRandom(2), state.ejections);
    const picked = () => new Set(Array.from({ length: 40 }, () => b.pick(undefined)));
    eject(0);
    assert.equal(picked().size, 3, '75% healthy: the ejection holds');
    eject(1);
    assert.equal(state.outlier.ejectedCount, 2);
    assert.equal(picked().size, 4, '50% healthy < 60%: all endpoints are used');
  });

  test('without outlier detection the balancer is the plain one', () => {
    const state = new BackendState('b');
    assert.equal(state.ejections, undefined);
  });
});

describe('ejection state across reloads', () => {
  test('an endpoint keeps its health when its backend is compiled again, even with new pool settings', () => {
    const cache = new UpstreamCache(10);
    const cfg = { name: 'b', outlierDetection: BASE };
    const s1 = cache.backend(cfg);
    const u1 = cache.acquire('10.0.0.1', 80, tcpSettings(), s1);
    s1.setHosts([u1.health]);
    for (let i = 0; i < 3; i++) u1.outcome(500);
    assert.equal(u1.health.ejected, true);
    const s2 = cache.backend({ ...cfg, outlierDetection: { ...BASE, consecutive5xx: 7 } });
    assert.equal(s2, s1, 'the same backend state, its config updated in place');
    const u2 = cache.acquire('10.0.0.1', 80, { ...tcpSettings(), idleTimeout: 2000 }, s2);
    assert.notEqual(u2, u1, 'new pool settings: a new upstream');
    assert.equal(u2.health, u1.health);
    assert.equal(u2.health.ejected, true);
    s2.setHosts([u2.health]);
    assert.equal(s2.outlier.ejectedCount, 1);
    cache.release(u1);
    cache.release(u2);
    void cache.destroyAll();
  });
});
