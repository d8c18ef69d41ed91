/**
 * A route's retry policy compiled for the request path, and what each of its backends adds: the retry
 * metrics bound to the route's and backend's labels, and the backend's retry budget. Built when the
 * snapshot compiles; a route without `retries` has none, and its requests never look further.
 */
import type { RetriesConfig } from '../../api/index.ts';
import type { Counter, MetricsRegistry } from '../metrics/index.ts';
import { DEFAULT_BASE_INTERVAL_MS } from './backoff.ts';
import { compileRetryOn, hasGrpcConditions, type RetryConditions } from './conditions.ts';

/** Host selection is re-attempted this many times to avoid the endpoints already tried (Istio's setting). */
export const HOST_SELECTION_RETRY_MAX_ATTEMPTS = 5;

export interface RetryPolicy {
  /** Retries after the first try. */
  readonly attempts: number;
  /** 0: none. */
  readonly perTryTimeoutMs: number;
  readonly conditions: RetryConditions;
  /** Any gRPC condition is on. */
  readonly grpc: boolean;
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  /** The snapshot's injected randomness, for the back-off jitter. */
  readonly random: () => number;
}

export function compileRetryPolicy(config: RetriesConfig, random: () => number): RetryPolicy {
  const conditions = compileRetryOn(config.retryOn, config.retriableStatusCodes);
  const base = config.backoff.baseInterval ?? DEFAULT_BASE_INTERVAL_MS;
  return {
    attempts: config.attempts,
    perTryTimeoutMs: config.perTryTimeout ?? 0,
    conditions,
    grpc: hasGrpcConditions(conditions),
    baseIntervalMs: base,
    maxIntervalMs: Math.max(config.backoff.maxInterval ?? 10 * base, base),
    random,
  };
}

/**
 * Retry counters for one (service, route, backend), labelled like its RequestMetrics; each series is made
 * on its first use, so routes that never retry show none.
 */
export class RetryMetrics {
  readonly #registry: MetricsRegistry;
  readonly #labels: Record<string, string>;
  readonly #byReason = new Map<string, Counter>();
  #budgetExhausted: Counter | undefined = undefined;

  constructor(registry: MetricsRegistry, labels: Record<string, string>) {
    this.#registry = registry;
    this.#labels = labels;
  }

  budgetExhausted(): void {
    this.#budgetExhausted ??= this.#registry.counter(
      'weft_retry_budget_exhausted_total',
      "Retries not sent because the backend's retry budget was spent.",
      this.#labels,
    );
    this.#budgetExhausted.inc();
  }

  retried(reason: string): void {
    let c = this.#byReason.get(reason);
    if (c === undefined) {
      c = this.#registry.counter(
        'weft_retries_total',
        'Retries sent, by the condition that called for them.',
        {
          ...this.#labels,
          reason,
        },
      );
      this.#byReason.set(reason, c);
    }
    c.inc();
  }
}

/**
 * A backend's limit on retries in flight: its retry budget (budget.ts), or any other counter of retries
 * with Envoy's semantics (a circuit breaker's max_retries). Every true from tryAcquire is paired with one
 * release when that retry's try ends.
 */
export interface RetryLimiter {
  tryAcquire(): boolean;
  release(): void;
}

/** What a request on one of the route's backends needs to retry. */
export interface RouteRetry {
  readonly policy: RetryPolicy;
  readonly metrics: RetryMetrics;
  /** The backend's limit on retries in flight; undefined when it has none. */
  readonly budget: RetryLimiter | undefined;
  /** The route sends x-envoy-attempt-count. */
  readonly attemptCount: boolean;
}
