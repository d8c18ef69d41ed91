/**
 * Power of two choices, as Linkerd balances by default: draw two endpoints (by weight) and send to the
 * one with the lower load. `p2c-ewma` uses peak-EWMA latency times outstanding requests; `least-request`
 * (Envoy's algorithm of the same name) uses outstanding requests divided by weight.
 */
import { type Balancer, createWeightedPicker, type Random, type WeightedEndpoint } from './types.ts';

export function createP2C(
  endpoints: readonly WeightedEndpoint[],
  random: Random,
  load: 'ewma' | 'requests',
): Balancer {
  const n = endpoints.length;
  if (n === 0) return { pick: () => undefined };
  if (n === 1) return { pick: () => endpoints[0] };
  const draw = createWeightedPicker(endpoints, random);
  const cost =
    load === 'ewma'
      ? (e: WeightedEndpoint) => e.upstream.cost() / e.weight
      : (e: WeightedEndpoint) => (e.upstream.active + 1) / e.weight;
  return {
    pick() {
      const a = draw();
      let b = draw();
      // One redraw keeps the two choices distinct most of the time without looping.
      if (b === a) b = draw();
      return cost(b) < cost(a) ? b : a;
    },
  };
}
