/**
 * One upstream endpoint's shared state: its connection pool and the load statistics balancers read
 * (in-flight requests, peak-EWMA latency). It lives in the UpstreamCache, outside any snapshot, so
 * pools and statistics survive config reloads when the endpoint and its pool settings are unchanged.
 */
import net from 'node:net';
import { Http1Pool } from './http1/pool.ts';
import { Http2Pool } from './http2/pool.ts';
import type { Dial, UpstreamPool } from './types.ts';

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
  active = 0;
  ewma = DEFAULT_RTT_MS;
  #stamp = performance.now();
  #refs = 0;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(key: string, address: string, port: number, settings: PoolSettings, mesh?: MeshDial) {
    this.key = key;
    this.address = address;
    this.port = port;
    this.settings = settings;
    const identity = settings.identity;
    const plain = () => net.connect({ host: address, port, noDelay: true });
    // The choice is made per connection: a proxy that gets its certificate after the pool was made
    // starts using mutual TLS on its next connection.
    this.dial =
      identity !== undefined && mesh
        ? () => mesh(address, port, identity, settings.protocol) ?? plain()
        : plain;
    const meshDial = identity !== undefined && mesh ? this.dial : undefined;
    const multiplex = settings.multiplex === true && settings.protocol === 'http1' && meshDial !== undefined;
    this.pool =
      settings.protocol === 'tcp'
        ? undefined
        : multiplex
          ? new Http2Pool(address, port, {
              connectTimeout: settings.connectTimeout,
              idleTimeout: settings.idleTimeout,
              dial: () => (identity && mesh?.(address, port, identity, 'http2')) || plain(),
              originalProtocol: 'HTTP/1.1',
            })
          : settings.protocol === 'http1'
            ? new Http1Pool(address, port, {
                connectTimeout: settings.connectTimeout,
                idleTimeout: settings.idleTimeout,
                maxConnections: settings.maxConnections,
                dial: this.dial,
              })
            : new Http2Pool(address, port, {
                connectTimeout: settings.connectTimeout,
                idleTimeout: settings.idleTimeout,
                dial: meshDial,
              });
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
  readonly #mesh: MeshDial | undefined;
  constructor(graceMs = 30_000, mesh?: MeshDial) {
    this.graceMs = graceMs;
    this.#mesh = mesh;
  }

  /** Returns the shared upstream for this endpoint and settings, creating it on first use; retains it. */
  acquire(address: string, port: number, settings: PoolSettings): Upstream {
    const key = `${settings.protocol}|${address}|${port}|${settings.connectTimeout}|${settings.idleTimeout}|${settings.maxConnections}|${settings.identity ?? ''}|${settings.multiplex === true}`;
    let u = this.#entries.get(key);
    if (!u) {
      u = new Upstream(key, address, port, settings, this.#mesh);
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
