/**
 * One upstream endpoint of one backend, and its shared state: its connection pool, the load statistics
 * balancers read (in-flight requests, peak-EWMA latency), and its health for outlier detection. It lives
 * in the UpstreamCache, outside any snapshot, so pools and statistics survive config reloads when the
 * backend, the endpoint and its pool settings are unchanged. Pools are per backend and endpoint, as
 * Envoy's are per cluster and host, so that each pool counts against one backend's circuit breaker.
 */
import net from 'node:net';
import type { BackendConfig } from '../../api/index.ts';
import type { MetricsRegistry } from '../metrics/index.ts';
import { BackendState } from './backend-state.ts';
import { Http1Pool } from './http1/pool.ts';
import { Http2Pool } from './http2/pool.ts';
import type { HostHealth } from './outlier.ts';
import { codedError, type Dial, OVERFLOW, readyEvent, type TryOutcome, type UpstreamPool } from './types.ts';

export interface PoolSettings {
  protocol: 'http1' | 'http2' | 'tcp';
  connectTimeout: number;
  idleTimeout: number;
  maxConnections: number;
  /** The SPIFFE id of the Weft proxy in front of the endpoint (auto-mTLS); undefined for plaintext. */
  identity: string | undefined;
  /**
   * HTTP/1.1 to a Weft proxy travels as HTTP/2 on one multiplexed connection (ALPN weft/h2), marked
   * `weft-orig-proto: HTTP/1.1` so that the peer turns it back into HTTP/1.1 for the application.
   */
  multiplex?: boolean | undefined;
  /** Requests one connection carries before it is closed (HTTP/2: streams per session); 0 or unset: none. */
  maxRequestsPerConnection?: number | undefined;
}

/**
 * Mutual TLS to a Weft proxy that must present `identity`; undefined when this proxy holds no certificate
 * (then plaintext).
 */
export type MeshDial = (
  address: string,
  port: number,
  identity: string,
  protocol: PoolSettings['protocol'],
) => net.Socket | undefined;

/** Linkerd's peak-EWMA decay window. */
const TAU_MS = 10_000;
/** The cost assumed for an endpoint with no observations yet. */
const DEFAULT_RTT_MS = 30;

export class Upstream {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly settings: PoolSettings;
  /** Weft's HTTP/1.1 pool or HTTP/2 session; undefined for tcp backends. */
  readonly pool: UpstreamPool | undefined;
  /** Opens a connection to the endpoint (TCP backends and upgraded HTTP use it directly). */
  readonly dial: Dial;
  /** The backend's circuit breaker and outlier detection, shared by its endpoints. */
  readonly backend: BackendState;
  /** This endpoint's outlier state (ejected or not); the backend keeps it across reloads. */
  health: HostHealth;
  active = 0;
  ewma = DEFAULT_RTT_MS;
  #stamp = performance.now();
  #refs = 0;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(
    key: string,
    address: string,
    port: number,
    settings: PoolSettings,
    mesh?: MeshDial,
    backend?: BackendState,
  ) {
    this.key = key;
    this.address = address;
    this.port = port;
    this.settings = settings;
    this.backend = backend ?? new BackendState(key);
    this.health = this.backend.host(`${address}:${port}`);
    const identity = settings.identity;
    const plain = () => net.connect({ host: address, port, noDelay: true });
    // The choice is made per connection: a proxy that gets its certificate after the pool was made
    // starts using mutual TLS on its next connection.
    const dial: Dial =
      identity !== undefined && mesh
        ? () => mesh(address, port, identity, settings.protocol) ?? plain()
        : plain;
    this.dial = settings.protocol === 'tcp' ? () => this.#dialTcp(dial) : dial;
    const meshDial = identity !== undefined && mesh ? dial : undefined;
    const multiplex = settings.multiplex === true && settings.protocol === 'http1' && meshDial !== undefined;
    const shared = {
      connectTimeout: settings.connectTimeout,
      idleTimeout: settings.idleTimeout,
      maxRequestsPerConnection: settings.maxRequestsPerConnection,
      breaker: this.backend.breaker,
      report: (outcome: TryOutcome) => this.outcome(outcome),
    };
    this.pool =
      settings.protocol === 'tcp'
        ? undefined
        : multiplex
          ? new Http2Pool(address, port, {
              ...shared,
              dial: () => (identity && mesh?.(address, port, identity, 'http2')) || plain(),
              originalProtocol: 'HTTP/1.1',
            })
          : settings.protocol === 'http1'
            ? new Http1Pool(address, port, { ...shared, maxConnections: settings.maxConnections, dial })
            : new Http2Pool(address, port, { ...shared, dial: meshDial });
  }

  /** Peak EWMA: a slower sample takes effect at once, faster ones decay in over TAU. */
  observe(rttMs: number, now: number = performance.now()): void {
    const elapsed = Math.max(0, now - this.#stamp);
    this.#stamp = now;
    if (rttMs > this.ewma) {
      this.ewma = rttMs;
    } else {
      const w = Math.exp(-elapsed / TAU_MS);
      this.ewma = this.ewma * w + rttMs * (1 - w);
    }
  }

  /** Load used by P2C: latency weighted by outstanding work. */
  cost(): number {
    return this.ewma * (this.active + 1);
  }

  /**
   * One try's outcome at this endpoint, for the backend's outlier detection: the status of the response
   * head, or how it failed before one. The pools report heads, connect failures and resets themselves
   * (only they can tell a reset by the upstream from the proxy cancelling a request); the request path
   * reports timeouts. Connect failures and resets count as 503 and timeouts as 504: gateway errors.
   */
  outcome(outcome: TryOutcome): void {
    const detector = this.backend.outlier;
    if (detector.config === undefined) return;
    detector.record(this.health, typeof outcome === 'number' ? outcome : outcome === 'timeout' ? 504 : 503);
  }

  /**
   * Takes a slot for one retry to this backend (the count is the backend's, whichever endpoint asks),
   * within its circuitBreaker.maxRetries. False: the retry must not be sent (counted in
   * weft_upstream_overflow_total{kind="retries"}). Each true is paired with one releaseRetry() when that
   * retry ends, on any upstream of the same backend.
   */
  tryAcquireRetry(): boolean {
    return this.backend.breaker.tryAcquireRetry();
  }

  releaseRetry(): void {
    this.backend.breaker.releaseRetry();
  }

  retain(): void {
    this.#refs++;
    if (this.#closeTimer) {
      clearTimeout(this.#closeTimer);
      this.#closeTimer = undefined;
    }
  }

  /** Drops one snapshot's reference; the pool closes after a grace period if nothing retains it again. */
  release(graceMs: number, onClosed: () => void): void {
    this.#refs--;
    if (this.#refs > 0) return;
    this.#closeTimer = setTimeout(() => {
      if (this.#refs > 0) return;
      onClosed();
      void this.pool?.close().catch(() => {});
    }, graceMs);
    this.#closeTimer.unref();
  }

  async destroy(): Promise<void> {
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    await this.pool?.destroy().catch(() => {});
  }

  /**
   * A TCP backend's connection: counted against the backend's maxConnections (over it, the connection
   * fails at once, as Envoy's tcp_proxy closes the downstream on upstream_cx_overflow), and reported to
   * outlier detection: connected is a success, a connect error a failure (Envoy maps them to 200 and 503).
   */
  #dialTcp(dial: Dial): net.Socket {
    const breaker = this.backend.breaker;
    if (!breaker.admitConnection(false)) {
      const refused = new net.Socket();
      process.nextTick(() =>
        refused.destroy(codedError(OVERFLOW, 'the backend has maxConnections connections open')),
      );
      return refused;
    }
    breaker.connections++;
    const socket = dial();
    let connected = false;
    socket.once(readyEvent(socket), () => {
      connected = true;
      this.outcome(200);
    });
    socket.once('error', () => {
      if (!connected) this.outcome('connect-failure');
    });
    socket.once('close', () => breaker.connections--);
    return socket;
  }
}

export class UpstreamCache {
  readonly #entries = new Map<string, Upstream>();
  readonly #backends = new Map<string, BackendState>();
  readonly graceMs: number;
  readonly #mesh: MeshDial | undefined;

  constructor(graceMs = 30_000, mesh?: MeshDial) {
    this.graceMs = graceMs;
    this.#mesh = mesh;
  }

  /**
   * The shared state of the backend `config` names (circuit breaker, outlier detection), created on first
   * use and set to the config's limits in place. Its upstreams retain it; one that nothing retains is
   * dropped after the grace period.
   */
  backend(
    config: Pick<BackendConfig, 'name' | 'circuitBreaker' | 'outlierDetection'>,
    metrics?: MetricsRegistry,
  ): BackendState {
    const name = config.name;
    let state = this.#backends.get(name);
    if (!state) {
      const created = new BackendState(name, metrics);
      state = created;
      this.#backends.set(name, created);
      // A backend without endpoints never gets an upstream to retain its state.
      setTimeout(() => {
        if (created.refs === 0 && this.#backends.get(name) === created) this.#backends.delete(name);
      }, this.graceMs).unref();
    }
    state.configure(config);
    return state;
  }

  /**
   * Returns the shared upstream for this endpoint, pool settings and backend, creating it on first use;
   * retains it. Its health is the backend's record of the endpoint, which outlives a change of settings.
   */
  acquire(address: string, port: number, settings: PoolSettings, backend?: BackendState): Upstream {
    const key = `${backend?.name ?? ''}|${settings.protocol}|${address}|${port}|${settings.connectTimeout}|${settings.idleTimeout}|${settings.maxConnections}|${settings.maxRequestsPerConnection ?? 0}|${settings.identity ?? ''}|${settings.multiplex === true}`;
    let u = this.#entries.get(key);
    if (!u) {
      u = new Upstream(key, address, port, settings, this.#mesh, backend);
      this.#entries.set(key, u);
      backend?.retain();
    } else if (backend) {
      u.health = backend.host(`${address}:${port}`);
    }
    u.retain();
    return u;
  }

  release(u: Upstream): void {
    u.release(this.graceMs, () => {
      if (this.#entries.get(u.key) === u) this.#entries.delete(u.key);
      const state = u.backend;
      if (state.release() && this.#backends.get(state.name) === state) this.#backends.delete(state.name);
    });
  }

  get size(): number {
    return this.#entries.size;
  }

  async destroyAll(): Promise<void> {
    const all = [...this.#entries.values()];
    this.#entries.clear();
    for (const state of this.#backends.values()) state.outlier.stop();
    this.#backends.clear();
    await Promise.all(all.map((u) => u.destroy()));
  }
}
