/**
 * Smooth weighted round robin (nginx's algorithm): each pick adds every endpoint's weight to its current
 * score, takes the highest, and subtracts the total from it, so weights 5:1:1 interleave as a a b a c a a
 * rather than bursting.
 */
import type { Balancer, WeightedEndpoint } from './types.ts';

export function createRoundRobin(endpoints: readonly WeightedEndpoint[]): Balancer {
  const n = endpoints.length;
  if (n === 0) return { pick: () => undefined };
  const current = new Float64Array(n);
  const weights = endpoints.map((e) => e.weight);
  const total = weights.reduce((a, b) => a + b, 0);
  return {
    pick() {
      let best = 0;
      for (let i = 0; i < n; i++) {
        current[i]! += weights[i] as number;
        if ((current[i] as number) > (current[best] as number)) best = i;
      }
      current[best]! -= total;
      return endpoints[best];
    },
  };
}
