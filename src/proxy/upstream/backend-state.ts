/**
 * The state one backend keeps across config reloads: its circuit breaker (counts of connections, pending
 * and active requests, retries) and its outlier detector with the health of each endpoint. It lives in the
 * UpstreamCache under the backend's name, outside any snapshot; a new config updates its limits in place,
 * so counts in flight stay right and ejections of endpoints that stay listed are kept. The backend's
 * upstreams (one per endpoint) retain it; it is dropped with the last of them.
 */
import type { BackendConfig } from '../../api/index.ts';
import type { MetricsRegistry } from '../metrics/index.ts';
import type { EjectionView } from './balancers/types.ts';
import { CircuitBreaker, type CircuitBreakerLimits, NO_LIMITS, overflowCounters } from './circuit-breaker.ts';
import { type Clock, HostHealth, type OutlierConfig, OutlierDetector } from './outlier.ts';

export class BackendState {
  readonly name: string;
  readonly breaker: CircuitBreaker;
  readonly outlier: OutlierDetector;
  readonly #hosts = new Map<string, HostHealth>();
  #refs = 0;

  constructor(name: string, metrics?: MetricsRegistry, clock?: Clock) {
    this.name = name;
    this.breaker = new CircuitBreaker(NO_LIMITS, metrics && overflowCounters(metrics, name));
    this.outlier = new OutlierDetector(
      clock,
      metrics && {
        ejections: metrics.counter(
          'weft_outlier_ejections_total',
          'Endpoints ejected by outlier detection.',
          { backend: name },
        ),
        ejected: metrics.gauge('weft_outlier_ejected', 'Endpoints ejected now by outlier detection.', {
          backend: name,
        }),
      },
    );
  }

  /** Applies a backend's circuitBreaker and outlierDetection settings (absent: no limits, no detection). */
  configure(config: Pick<BackendConfig, 'circuitBreaker' | 'outlierDetection'>): void {
    this.breaker.limits = limitsOf(config.circuitBreaker);
    const outlier = config.outlierDetection;
    this.outlier.configure(outlier && { ...outlier });
    if (outlier !== undefined && this.#refs > 0) this.outlier.start();
  }

  /** The health of endpoint `id` (address:port), created on first use. */
  host(id: string): HostHealth {
    let h = this.#hosts.get(id);
    if (!h) {
      h = new HostHealth(id);
      this.#hosts.set(id, h);
    }
    return h;
  }

  /** The endpoints the latest config lists; the health of any other endpoint is forgotten. */
  setHosts(hosts: readonly HostHealth[]): void {
    const keep = new Set(hosts);
    for (const [id, h] of this.#hosts) if (!keep.has(h)) this.#hosts.delete(id);
    this.outlier.setHosts(hosts);
  }

  /** What balancers read to skip ejected endpoints; undefined while outlier detection is off. */
  get ejections(): EjectionView | undefined {
    return this.outlier.config === undefined ? undefined : this.outlier;
  }

  get refs(): number {
    return this.#refs;
  }

  retain(): void {
    if (this.#refs++ === 0 && this.outlier.config !== undefined) this.outlier.start();
  }

  /**
   * Returns true when nothing retains the state any more: the backend is gone, so its sweep timer stops
   * and its ejected gauge goes back to zero.
   */
  release(): boolean {
    if (this.#refs > 0) this.#refs--;
    if (this.#refs > 0) return false;
    this.outlier.configure(undefined);
    return true;
  }
}

function limitsOf(cb: BackendConfig['circuitBreaker']): CircuitBreakerLimits {
  if (cb === undefined) return NO_LIMITS;
  const unset = Number.POSITIVE_INFINITY;
  return {
    maxConnections: cb.maxConnections ?? unset,
    maxPendingRequests: cb.maxPendingRequests ?? unset,
    maxRequests: cb.maxRequests ?? unset,
    maxRetries: cb.maxRetries ?? unset,
  };
}

export type { OutlierConfig };
