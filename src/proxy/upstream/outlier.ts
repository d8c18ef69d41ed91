/**
 * Outlier detection (passive health checking) for one backend, as Envoy does it for a cluster and Istio's
 * DestinationRule `outlierDetection` configures it: each try's outcome at an endpoint is recorded; an
 * endpoint that answers `consecutive5xx` 5xx in a row, or `consecutiveGatewayErrors` gateway errors in a row
 * (502, 503, 504, and failures to connect, resets and timeouts, which count as 503 and 504), is ejected at
 * once, unless that would eject more than `maxEjectionPercent` of the endpoints. An ejected endpoint gets no
 * traffic (the balancers skip it, balancers/index.ts) for `baseEjectionTime` times the number of times it has
 * been ejected, at most `maxEjectionTime`; a sweep every `interval` returns the endpoints whose time is up,
 * and lowers the multiplier of those that have stayed healthy for a base ejection time since.
 *
 * The state of each endpoint (HostHealth) lives in the backend's state outside the snapshot, keyed by
 * address:port, so ejections survive config reloads for endpoints that stay. Time comes from an injected
 * clock, so tests drive the sweep by hand.
 */
import type { Counter, Gauge } from '../metrics/index.ts';
import type { EjectionView } from './balancers/types.ts';

export interface OutlierConfig {
  /** 5xx (and local failures) in a row that eject an endpoint; 0 turns this detector off. */
  consecutive5xx: number;
  /** Gateway errors (502, 503, 504, local failures) in a row that eject an endpoint; 0: off. */
  consecutiveGatewayErrors: number;
  /** Milliseconds between sweeps that return ejected endpoints. */
  interval: number;
  baseEjectionTime: number;
  maxEjectionTime: number;
  maxEjectionPercent: number;
  minHealthPercent: number;
}

/** One endpoint's outlier state. */
export class HostHealth {
  readonly id: string;
  ejected = false;
  consecutive5xx = 0;
  consecutiveGateway = 0;
  /** Envoy's ejection time backoff: up by one per ejection, down by one per sweep spent healthy. */
  multiplier = 0;
  /** Clock time of the last ejection and of the last return. */
  ejectedAt = 0;
  returnedAt: number | undefined = undefined;
  /** How many times the endpoint has been ejected, for the admin view and the tests. */
  ejections = 0;

  constructor(id: string) {
    this.id = id;
  }
}

export interface OutlierMetrics {
  ejections: Counter;
  ejected: Gauge;
}

export type Clock = () => number;

export class OutlierDetector implements EjectionView {
  config: Readonly<OutlierConfig> | undefined = undefined;
  /** Changes whenever the set of ejected endpoints does; balancers rebuild their healthy set on a change. */
  generation = 0;
  /** The backend's endpoints as the latest config lists them; percentages are of these. */
  hosts: readonly HostHealth[] = [];
  readonly #clock: Clock;
  readonly #metrics: OutlierMetrics | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timerInterval = 0;

  constructor(clock: Clock = () => performance.now(), metrics?: OutlierMetrics) {
    this.#clock = clock;
    this.#metrics = metrics;
  }

  get minHealthPercent(): number {
    return this.config?.minHealthPercent ?? 0;
  }

  /** Applies a (new) config; undefined turns detection off and returns every ejected endpoint. */
  configure(config: Readonly<OutlierConfig> | undefined): void {
    this.config = config;
    if (config === undefined) {
      this.stop();
      for (const h of this.hosts) this.#return(h, this.#clock());
      this.#count();
      return;
    }
    if (this.#timer !== undefined && this.#timerInterval !== sweepInterval(config)) {
      this.stop();
      this.start();
    }
  }

  /** The endpoints of the latest config. One that left is returned to service (and forgotten). */
  setHosts(hosts: readonly HostHealth[]): void {
    const keep = new Set(hosts);
    for (const h of this.hosts) if (!keep.has(h) && h.ejected) this.#return(h, this.#clock());
    this.hosts = hosts;
    this.#count();
  }

  /**
   * One try's outcome at `host`: its HTTP status, with failures before a response given as 503
   * (connect failure, reset) or 504 (timeout), as Envoy maps local-origin errors when it does not split
   * them from the upstream's own.
   */
  record(host: HostHealth, status: number): void {
    const config = this.config;
    if (config === undefined) return;
    if (status < 500 || status > 599) {
      host.consecutive5xx = 0;
      host.consecutiveGateway = 0;
      return;
    }
    if (status >= 502 && status <= 504) {
      if (
        ++host.consecutiveGateway >= config.consecutiveGatewayErrors &&
        config.consecutiveGatewayErrors > 0
      ) {
        host.consecutiveGateway = 0;
        this.#eject(host, config);
      }
    } else {
      host.consecutiveGateway = 0;
    }
    if (++host.consecutive5xx >= config.consecutive5xx && config.consecutive5xx > 0) {
      host.consecutive5xx = 0;
      this.#eject(host, config);
    }
  }

  /** Returns the endpoints whose ejection time is up; lowers the backoff of the healthy ones. */
  sweep(now: number = this.#clock()): void {
    const config = this.config;
    if (config === undefined) return;
    let changed = false;
    for (const h of this.hosts) {
      if (!h.ejected) {
        if (h.multiplier > 0 && h.returnedAt !== undefined && now - h.returnedAt >= config.baseEjectionTime)
          h.multiplier--;
        continue;
      }
      const time = Math.min(config.baseEjectionTime * h.multiplier, config.maxEjectionTime);
      if (now - h.ejectedAt >= time) changed = this.#return(h, now) || changed;
    }
    if (changed) this.#count();
  }

  /** Sweeps every `interval` on a timer that does not keep the process alive. */
  start(): void {
    const config = this.config;
    if (this.#timer !== undefined || config === undefined) return;
    this.#timerInterval = sweepInterval(config);
    this.#timer = setInterval(() => this.sweep(), this.#timerInterval);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  get ejectedCount(): number {
    let n = 0;
    for (const h of this.hosts) if (h.ejected) n++;
    return n;
  }

  #eject(host: HostHealth, config: Readonly<OutlierConfig>): void {
    if (host.ejected) return;
    const n = this.hosts.length;
    // Envoy: eject only while the ejected share, this one included, stays within maxEjectionPercent. With
    // the default 10% that means no ejection below ten endpoints; Istio's samples set 100.
    if (!this.hosts.includes(host) || (100 * (this.ejectedCount + 1)) / n > config.maxEjectionPercent) return;
    const now = this.#clock();
    host.ejected = true;
    host.ejectedAt = now;
    host.ejections++;
    // The multiplier stops growing once base × multiplier reaches maxEjectionTime.
    if (host.multiplier * config.baseEjectionTime < config.maxEjectionTime + config.baseEjectionTime)
      host.multiplier++;
    this.#metrics?.ejections.inc();
    this.generation++;
    this.#count();
  }

  /** Back into service: the counters restart, so a few new errors do not eject it again at once. */
  #return(host: HostHealth, now: number): boolean {
    if (!host.ejected) return false;
    host.ejected = false;
    host.returnedAt = now;
    host.consecutive5xx = 0;
    host.consecutiveGateway = 0;
    this.generation++;
    return true;
  }

  #count(): void {
    if (this.#metrics) this.#metrics.ejected.value = this.ejectedCount;
  }
}

/** Istio requires at least 1 ms; a zero would spin. */
function sweepInterval(config: Readonly<OutlierConfig>): number {
  return Math.max(1, config.interval);
}
