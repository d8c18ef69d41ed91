/**
 * Percentiles over recorded latencies, for the load generators that hand back raw samples (h2load's
 * per-request log, the gRPC load loop) rather than a histogram.
 */

/** Nearest-rank percentile of an ascending array; 0 for an empty one. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? 0;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Sorts the samples in place and summarises them (same unit in and out). */
export function summarise(samples: Float64Array | number[]): LatencySummary {
  const arr = samples instanceof Float64Array ? samples : Float64Array.from(samples);
  arr.sort();
  let sum = 0;
  for (const v of arr) sum += v;
  return {
    p50: percentile(arr, 50),
    p90: percentile(arr, 90),
    p99: percentile(arr, 99),
    max: arr.length > 0 ? (arr[arr.length - 1] ?? 0) : 0,
    mean: arr.length > 0 ? sum / arr.length : 0,
  };
}

/** Each figure rounded to a whole number (microseconds, for the reports). */
export function roundSummary(s: LatencySummary): LatencySummary {
  return {
    p50: Math.round(s.p50),
    p90: Math.round(s.p90),
    p99: Math.round(s.p99),
    max: Math.round(s.max),
    mean: Math.round(s.mean),
  };
}
