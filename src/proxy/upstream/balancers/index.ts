/**
 * Creates the balancer a backend's loadBalancer config names. With outlier detection on, the balancer
 * is built over the endpoints that are not ejected, and built again when that set changes, as Envoy
 * rebuilds its load balancer over the healthy hosts: every algorithm skips ejected endpoints the same way,
 * and consistent hashing moves only the keys of the ejected ones.
 */
import type { LoadBalancerConfig } from '../../../api/index.ts';
import { createMaglev, createRingHash } from './hash.ts';
import { createP2C } from './p2c.ts';
import { createRoundRobin } from './round-robin.ts';
import {
  type Balancer,
  createWeightedPicker,
  type EjectionView,
  type Random,
  type WeightedEndpoint,
} from './types.ts';

export { hash32 } from './hash.ts';
export type { Balancer, EjectionView, Random, WeightedEndpoint } from './types.ts';

export function createBalancer(
  config: LoadBalancerConfig,
  endpoints: readonly WeightedEndpoint[],
  random: Random = Math.random,
  ejections?: EjectionView,
): Balancer {
  const all = createFor(config, endpoints, random);
  if (ejections === undefined || endpoints.length === 0) return all;
  return skipEjected(endpoints, all, ejections, (healthy) => createFor(config, healthy, random));
}

/**
 * Picks among the endpoints that are not ejected. When none is left, or fewer than `minHealthPercent`
 * of them, it picks among all of them (Envoy's panic mode): traffic to a failing endpoint has a chance,
 * no traffic at all has none. The healthy set is computed on the first pick after a change (also the
 * first pick of a new snapshot, so ejections made before a reload still hold), not per request.
 */
function skipEjected(
  endpoints: readonly WeightedEndpoint[],
  all: Balancer,
  view: EjectionView,
  create: (healthy: readonly WeightedEndpoint[]) => Balancer,
): Balancer {
  let seen = -1;
  let current = all;
  return {
    pick(key) {
      if (view.generation !== seen) {
        seen = view.generation;
        const healthy = endpoints.filter((e) => !e.upstream.health.ejected);
        const panic = healthy.length === 0 || healthy.length * 100 < endpoints.length * view.minHealthPercent;
        current = panic || healthy.length === endpoints.length ? all : create(healthy);
      }
      return current.pick(key);
    },
  };
}

function createFor(
  config: LoadBalancerConfig,
  endpoints: readonly WeightedEndpoint[],
  random: Random,
): Balancer {
  switch (config.type) {
    case 'p2c-ewma':
      return createP2C(endpoints, random, 'ewma');
    case 'least-request':
      return createP2C(endpoints, random, 'requests');
    case 'round-robin':
      return createRoundRobin(endpoints);
    case 'random': {
      if (endpoints.length === 0) return { pick: () => undefined };
      const pick = createWeightedPicker(endpoints, random);
      return { pick: () => pick() };
    }
    case 'ring-hash':
      return createRingHash(endpoints, random, config.ringSize);
    case 'maglev':
      return createMaglev(endpoints, random, config.ringSize ? nextPrime(config.ringSize) : undefined);
  }
}

function nextPrime(n: number): number {
  const isPrime = (k: number) => {
    if (k < 2) return false;
    for (let d = 2; d * d <= k; d++) if (k % d === 0) return false;
    return true;
  };
  while (!isPrime(n)) n++;
  return n;
}
