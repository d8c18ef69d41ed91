/**
 * A backend's retry budget, as Envoy's (circuit_breakers.thresholds.retry_budget): the retries in flight
 * to the backend may not exceed max(minRetryConcurrency, ⌊percent % × requests in flight⌋), so that under an
 * outage retries add at most a fixed share to the load instead of multiplying it by the attempts. Requests
 * in flight are the endpoints' own counts (Upstream.active: every try in flight, retries and mirrored
 * requests included, as Envoy's active requests are), read only when a retry is decided.
 *
 * A request holds at most one slot: from the moment a retry is decided (its back-off included) until that
 * retry's try gets a response head or fails, as Envoy's RetryStateImpl holds one from shouldRetry to the
 * next decision. The budget is compiled with the snapshot; after a reload the new one starts empty while
 * retries still in flight release the old one.
 */
import type { RetryLimiter } from './policy.ts';

export interface BudgetEndpoint {
  readonly upstream: { readonly active: number };
}

export class RetryBudget implements RetryLimiter {
  readonly percent: number;
  readonly minConcurrency: number;
  readonly #endpoints: readonly BudgetEndpoint[];
  /** Retries in flight. */
  active = 0;

  constructor(
    config: { percent: number; minRetryConcurrency: number },
    endpoints: readonly BudgetEndpoint[],
  ) {
    this.percent = config.percent;
    this.minConcurrency = config.minRetryConcurrency;
    this.#endpoints = endpoints;
  }

  /** How many retries may be in flight now. */
  limit(): number {
    let requests = 0;
    for (const e of this.#endpoints) requests += e.upstream.active;
    return Math.max(this.minConcurrency, Math.floor((this.percent / 100) * requests));
  }

  /** Takes a slot for one retry, or says no. */
  tryAcquire(): boolean {
    if (this.active >= this.limit()) return false;
    this.active++;
    return true;
  }

  release(): void {
    this.active--;
  }
}
