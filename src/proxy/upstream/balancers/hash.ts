/**
 * Consistent hashing: ring hash (Karger et al., as Envoy's RING_HASH) and Maglev (Eisenbud et al., as
 * Envoy's MAGLEV). Both are built once per snapshot; a lookup hashes the request key and finds its owner.
 * Keys that no request supplies (missing header or cookie) fall back to a random endpoint, as Envoy does.
 */
import { type Balancer, createWeightedPicker, type Random, type WeightedEndpoint } from './types.ts';

/** 32-bit FNV-1a, then a murmur3 finaliser for avalanche. Stable across processes and versions. */
export function hash32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function createRingHash(
  endpoints: readonly WeightedEndpoint[],
  random: Random,
  ringSize = 1024,
): Balancer {
  const n = endpoints.length;
  if (n === 0) return { pick: () => undefined };
  const fallback = createWeightedPicker(endpoints, random);
  const totalWeight = endpoints.reduce((a, e) => a + e.weight, 0);
  const points: Array<{ h: number; e: WeightedEndpoint }> = [];
  for (const e of endpoints) {
    const replicas = Math.max(1, Math.round((ringSize * e.weight) / totalWeight));
    for (let r = 0; r < replicas; r++) points.push({ h: hash32(`${e.id}_${r}`), e });
  }
  points.sort((a, b) => a.h - b.h);
  const hashes = Uint32Array.from(points.map((p) => p.h));
  const owners = points.map((p) => p.e);
  return {
    pick(key) {
      if (key === undefined) return fallback();
      const h = hash32(key);
      let lo = 0;
      let hi = hashes.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((hashes[mid] as number) < h) lo = mid + 1;
        else hi = mid;
      }
      return owners[lo === hashes.length ? 0 : lo];
    },
  };
}

/** Maglev lookup table; the size must be prime (Envoy's default is 65537). */
export function createMaglev(
  endpoints: readonly WeightedEndpoint[],
  random: Random,
  tableSize = 65537,
): Balancer {
  const n = endpoints.length;
  if (n === 0) return { pick: () => undefined };
  const fallback = createWeightedPicker(endpoints, random);
  const m = tableSize;
  const offsets = endpoints.map((e) => hash32(e.id, 0x9747b28c) % m);
  const skips = endpoints.map((e) => (hash32(e.id, 0x5bd1e995) % (m - 1)) + 1);
  const next = new Uint32Array(n);
  const table = new Int32Array(m).fill(-1);
  const maxWeight = Math.max(...endpoints.map((e) => e.weight));
  let filled = 0;
  // Weighted Maglev: in iteration k an endpoint may claim a slot only while its claims stay within its
  // share (weight / maxWeight) of the iterations, so slots end up proportional to weight.
  const claimed = new Float64Array(n);
  for (let iteration = 1; filled < m; iteration++) {
    for (let i = 0; i < n && filled < m; i++) {
      const e = endpoints[i] as WeightedEndpoint;
      if ((claimed[i] as number) + 1 > (iteration * e.weight) / maxWeight) continue;
      let c = ((offsets[i] as number) + (next[i] as number) * (skips[i] as number)) % m;
      while (table[c] !== -1) {
        next[i]!++;
        c = ((offsets[i] as number) + (next[i] as number) * (skips[i] as number)) % m;
      }
      table[c] = i;
      next[i]!++;
      claimed[i]!++;
      filled++;
    }
  }
  return {
    pick(key) {
      if (key === undefined) return fallback();
      return endpoints[table[hash32(key) % m] as number];
    },
  };
}
