/**
 * The wait before a retry: Envoy's fully jittered exponential back-off as its router documentation states
 * it. Given a base interval B and retry number N (1 for the first retry), the back-off is drawn uniformly
 * from [0, (2^N − 1) × B), the range capped at a maximum interval (10 × B unless configured): with
 * B = 25 ms, 0–24 ms before the first retry, 0–74 ms before the second, 0–174 ms before the third, then
 * 0–249 ms.
 * Full jitter spreads the retries of requests that failed together instead of sending them back in a wave.
 */

/** Envoy's default base interval (router filter, `upstream.base_retry_backoff_ms`). */
export const DEFAULT_BASE_INTERVAL_MS = 25;

/** Whole milliseconds to wait before retry `retry` (1-based); `random` returns [0, 1). */
export function backoffDelay(retry: number, baseMs: number, maxMs: number, random: () => number): number {
  if (baseMs <= 0 || retry < 1) return 0;
  // 2^31 × base already exceeds any useful cap; the exponent is bounded so the product stays finite.
  const range = Math.min((2 ** Math.min(retry, 31) - 1) * baseMs, Math.max(maxMs, baseMs));
  return Math.floor(random() * range);
}
