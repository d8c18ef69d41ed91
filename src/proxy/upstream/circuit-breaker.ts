/**
 * One backend's circuit breaker: Envoy's cluster thresholds (circuit_breakers.thresholds: max_connections,
 * max_pending_requests, max_requests, max_retries), which Istio's DestinationRule
 * `connectionPool` sets. They are counted across all of the backend's endpoints, as Envoy counts them per
 * cluster, by the connection pools (which own the counts of connections, pending and active requests) and
 * by the retry path (`tryAcquireRetry` / `releaseRetry`). Envoy's retry_budget is the backend's
 * `retryBudget` (../../retry/budget.ts), which the retry path checks as well.
 *
 * A request the breaker refuses gets 503 with `weft-error: OVERFLOW` (Envoy's response flag UO) and is
 * counted in `weft_upstream_overflow_total{backend, kind}`; it never reaches an endpoint, so outlier
 * detection does not see it. Connections over `maxConnections` do not refuse a request: as in Envoy, the
 * request waits for a connection (pending), and an endpoint with no connection at all may still open one,
 * so a backend can hold up to `maxConnections` plus one connection per endpoint.
 */
import type { Counter, MetricsRegistry } from '../metrics/index.ts';

export interface CircuitBreakerLimits {
  /** Connections open to all endpoints together (Istio tcp.maxConnections). */
  maxConnections: number;
  /** Requests waiting for a connection, all endpoints together (Istio http.http1MaxPendingRequests). */
  maxPendingRequests: number;
  /** Requests in flight on connections, all endpoints together (Istio http.http2MaxRequests). */
  maxRequests: number;
  /** Retries in flight (Istio http.maxRetries). */
  maxRetries: number;
}

/** Istio's defaults: every threshold at 2^32-1, which is no limit at all. */
export const NO_LIMITS: Readonly<CircuitBreakerLimits> = Object.freeze({
  maxConnections: Number.POSITIVE_INFINITY,
  maxPendingRequests: Number.POSITIVE_INFINITY,
  maxRequests: Number.POSITIVE_INFINITY,
  maxRetries: Number.POSITIVE_INFINITY,
});

export type OverflowKind = 'pending' | 'requests' | 'connections' | 'retries';

export class CircuitBreaker {
  /** Replaced in place when a new config changes them; the counts below carry over. */
  limits: Readonly<CircuitBreakerLimits>;
  /** Connections open (or opening) to the backend's endpoints. */
  connections = 0;
  /** Requests waiting for a connection, or for the one they were given to finish connecting. */
  pending = 0;
  /** Requests written to a connection and not finished. */
  requests = 0;
  /** Retries in flight, as the retry path acquired them. */
  retries = 0;
  readonly #overflow: Record<OverflowKind, Counter> | undefined;

  constructor(limits: Readonly<CircuitBreakerLimits> = NO_LIMITS, overflow?: Record<OverflowKind, Counter>) {
    this.limits = limits;
    this.#overflow = overflow;
  }

  /** Whether a new request may proceed at all: false (and counted) with `maxRequests` in flight. */
  admitRequest(): boolean {
    if (this.requests < this.limits.maxRequests) return true;
    this.#overflowed('requests');
    return false;
  }

  /** Whether a request may wait for a connection: false (and counted) with `maxPendingRequests` waiting. */
  admitPending(): boolean {
    if (this.pending < this.limits.maxPendingRequests) return true;
    this.#overflowed('pending');
    return false;
  }

  /**
   * Whether another connection may be opened. `alone`: the endpoint asking has no connection at all, and
   * gets one anyway (Envoy does the same, or requests queued there would never be served); the overflow is
   * still counted.
   */
  admitConnection(alone: boolean): boolean {
    if (this.connections < this.limits.maxConnections) return true;
    this.#overflowed('connections');
    return alone;
  }

  /**
   * Takes a slot for one retry; false (and counted in kind="retries") when `maxRetries` retries are
   * already in flight: then the retry must not be sent, and the response at hand goes to the client. Every true must be paired with one `releaseRetry()` when that retry ends.
   */
  tryAcquireRetry(): boolean {
    if (this.retries >= this.limits.maxRetries) {
      this.#overflowed('retries');
      return false;
    }
    this.retries++;
    return true;
  }

  releaseRetry(): void {
    if (this.retries > 0) this.retries--;
  }

  #overflowed(kind: OverflowKind): void {
    if (this.#overflow) this.#overflow[kind].value++;
  }
}

/** The overflow counters of one backend, bound once. */
export function overflowCounters(metrics: MetricsRegistry, backend: string): Record<OverflowKind, Counter> {
  const help =
    'Requests refused (pending, requests), retries not sent (retries), and connections not opened (connections) because a circuit breaker limit was reached.';
  const counter = (kind: OverflowKind) =>
    metrics.counter('weft_upstream_overflow_total', help, { backend, kind });
  return {
    pending: counter('pending'),
    requests: counter('requests'),
    connections: counter('connections'),
    retries: counter('retries'),
  };
}
