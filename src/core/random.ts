/**
 * Seeded randomness, for the places where random choices must be replayable: balancer and fault tests,
 * and any test that splits or generates input at random. mulberry32: tiny, fast, good enough statistics
 * for proportion checks; never for anything security-related.
 */

export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
