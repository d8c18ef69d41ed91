/** Creates the balancer a backend's loadBalancer config names. */
import type { LoadBalancerConfig } from '../../../api/index.ts';
import { createMaglev, createRingHash } from './hash.ts';
import { createP2C } from './p2c.ts';
import { createRoundRobin } from './round-robin.ts';
import { type Balancer, createWeightedPicker, type Random, type WeightedEndpoint } from './types.ts';

export { hash32 } from './hash.ts';
export type { Balancer, Random, WeightedEndpoint } from './types.ts';

export function createBalancer(
  config: LoadBalancerConfig,
  endpoints: readonly WeightedEndpoint[],
  random: Random = Math.random,
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
