/**
 * One upstream endpoint's shared state: its connection pool and the load statistics balancers read
 * (in-flight requests, peak-EWMA latency). It lives in the UpstreamCache, outside any snapshot, so
 * pools and statistics survive config reloads when the endpoint and its pool settings are unchanged.
 */
import { Pool } from './undici-pool.ts';

export interface PoolSettings {
  protocol: 'http1' | 'http2' | 'tcp';
  connectTimeout: number;
  idleTimeout: number;
  maxConnections: number;
}

/** Linkerd's peak-EWMA decay window. */
const TAU_MS = 10_000;
/** The cost assumed for an endpoint with no observations yet. */
const DEFAULT_RTT_MS = 30;

export class Upstream {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly settings: PoolSettings;
  /** undici pool for HTTP endpoints; undefined for tcp backends. */
  readonly pool: Pool | undefined;
  active = 0;
  ewma = DEFAULT_RTT_MS;
  #stamp = performance.now();
  #refs = 0;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(key: string, address: string, port: number, settings: PoolSettings) {
    this.key = key;
    this.address = address;
    this.port = port;
    this.settings = settings;
    const host = address.includes(':') ? `[${address}]` : address;
    this.pool =
      settings.protocol === 'tcp'
        ? undefined
        : new Pool(`http://${host}:${port}`, {
            connections: settings.maxConnections,
            connectTimeout: settings.connectTimeout,
            keepAliveTimeout: settings.idleTimeout,
            keepAliveMaxTimeout: settings.idleTimeout,
            // The proxy enforces the route timeout itself; undici's own must not fire first.
            headersTimeout: 0,
            bodyTimeout: 0,
            pipelining: 1,
            allowH2: settings.protocol === 'http2',
            // Pool builds its connector from the top-level `useH2c` only (undici 8 lib/dispatcher/pool.js);
            // `h2Options.useH2c` alone leaves the socket speaking HTTP/1.1 to an h2c endpoint.
            ...(settings.protocol === 'http2'
              ? { useH2c: true, h2Options: { useH2c: true, maxConcurrentStreams: 100 } }
              : {}),
          });
  }

  /** Peak EWMA: a slower sample takes effect at once, faster ones decay in over TAU. */
  observe(rttMs: number): void {
    const now = performance.now();
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
}

export class UpstreamCache {
  readonly #entries = new Map<string, Upstream>();
  readonly graceMs: number;
  constructor(graceMs = 30_000) {
    this.graceMs = graceMs;
  }

  /** Returns the shared upstream for this endpoint and settings, creating it on first use; retains it. */
  acquire(address: string, port: number, settings: PoolSettings): Upstream {
    const key = `${settings.protocol}|${address}|${port}|${settings.connectTimeout}|${settings.idleTimeout}|${settings.maxConnections}`;
    let u = this.#entries.get(key);
    if (!u) {
      u = new Upstream(key, address, port, settings);
      this.#entries.set(key, u);
    }
    u.retain();
    return u;
  }

  release(u: Upstream): void {
    u.release(this.graceMs, () => {
      if (this.#entries.get(u.key) === u) this.#entries.delete(u.key);
    });
  }

  get size(): number {
    return this.#entries.size;
  }

  async destroyAll(): Promise<void> {
    const all = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(all.map((u) => u.destroy()));
  }
}
