/**
 * Reconnect delays: exponential backoff with full jitter (a uniformly random delay between zero and the
 * exponential ceiling), so proxies that lost the same control plane at the same moment spread their
 * reconnects instead of arriving together when it comes back.
 */

export interface BackoffSettings {
  /** The ceiling of the first retry (default 200 ms). */
  baseMs: number;
  /** The largest ceiling (default 5 s). */
  capMs: number;
  /** A connection that stayed up this long resets the sequence (default 10 s). */
  stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { baseMs: 200, capMs: 5000, stableMs: 10_000 };

/** The delay before retry number `attempt` (0 for the first retry after a loss). */
export function backoffDelay(
  attempt: number,
  random: () => number,
  settings: BackoffSettings = DEFAULT_BACKOFF,
): number {
  const ceiling = Math.min(settings.capMs, settings.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
