/**
 * The balancer contract: given the endpoints of one backend (built once per snapshot), pick one for a
 * request. Hash balancers take a request key; the others ignore it. Randomness is injected so tests can
 * seed it.
 */
import type { Upstream } from '../upstream.ts';

export interface WeightedEndpoint {
  upstream: Upstream;
  weight: number;
  labels: Record<string, string>;
  /** Stable identity used by hash rings: "address:port". */
  id: string;
}

export interface Balancer {
  pick(hashKey: string | undefined): WeightedEndpoint | undefined;
}

export type Random = () => number;

/**
 * What a balancer needs from outlier detection (../outlier.ts): ejected endpoints have
 * `upstream.health.ejected` set, and `generation` changes whenever that set does.
 */
export interface EjectionView {
  readonly generation: number;
  /** Below this share of healthy endpoints (percent) ejections are ignored: Envoy's panic threshold. */
  readonly minHealthPercent: number;
}

/** Picks by weight with one random draw; shared by the balancers that need a weighted choice. */
export function createWeightedPicker(
  endpoints: readonly WeightedEndpoint[],
  random: Random,
): () => WeightedEndpoint {
  const n = endpoints.length;
  const uniform = endpoints.every((e) => e.weight === endpoints[0]?.weight);
  if (uniform) return () => endpoints[Math.floor(random() * n)] as WeightedEndpoint;
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) cumulative[i] = total += (endpoints[i] as WeightedEndpoint).weight;
  return () => {
    const r = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) > r) hi = mid;
      else lo = mid + 1;
    }
    return endpoints[lo] as WeightedEndpoint;
  };
}
