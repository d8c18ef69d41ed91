/**
 * The proxy: validate → compile → swap one reference. A config that fails validation or compilation
 * leaves the last good snapshot in place and is reported on the admin port. Listeners follow the
 * snapshot; upstream pools are shared across snapshots through the UpstreamCache. SIGTERM handling lives
 * at the edge (the CLI) and calls `shutdown`, which stops accepting, drains in-flight requests up to a
 * deadline and closes everything.
 */
import { unlinkSync } from 'node:fs';
import type http from 'node:http';
import { type ProxyConfig, validateProxyConfig } from '../api/index.ts';
import { ConfigError, type ConfigIssue, type Logger } from '../core/index.ts';
import { createAdminServer, type RejectedConfig } from './admin/index.ts';
import { FilterStateCache } from './filters/index.ts';
import { startIdleGc } from './idle-gc.ts';
import { ListenerManager } from './listener/index.ts';
import { MetricsRegistry } from './metrics/index.ts';
import { MeshTls } from './mtls/mesh-tls.ts';
import type { ProxyRuntime } from './runtime.ts';
import { compileSnapshot, type Snapshot } from './snapshot/index.ts';
import type { Random } from './upstream/balancers/index.ts';
import { UpstreamCache } from './upstream/upstream.ts';

export interface ProxyOptions {
  logger: Logger;
  random?: Random;
}

export type ApplyResult =
  | { ok: true; version: string }
  | { ok: false; version: string | undefined; issues: ConfigIssue[] };

export class ProxyServer implements ProxyRuntime {
  readonly logger: Logger;
  readonly metrics = new MetricsRegistry();
  /** The workload certificate and trust bundle: mutual TLS between Weft proxies. */
  readonly tls: MeshTls;
  readonly upstreams: UpstreamCache;
  /** Filter state that survives config changes (rate-limit buckets), like the upstream pools. */
  readonly filterState = new FilterStateCache();
  readonly #listeners: ListenerManager;
  readonly #random: Random | undefined;
  #snapshot: Snapshot | undefined;
  #rejected: RejectedConfig | undefined;
  #admin: http.Server | undefined;
  /** What `GET /identity` on the admin port shows; set by the CLI when it runs an identity client. */
  identity: (() => unknown) | undefined;
  /** Called with the issuer fingerprint of each applied config (the identity client renews on a change). */
  onIssuer: ((fingerprint: string | undefined) => void) | undefined;
  /** Set when an identity client runs: the proxy is not ready before its first certificate. */
  identityRequired = false;
  #draining = false;
  #inflight = 0;
  #requests = 0;
  #stopIdleGc: (() => void) | undefined;
  #onIdle: (() => void) | undefined;
  readonly #applied;
  readonly #rejectedCount;
  readonly inflight = {
    inc: () => {
      this.#inflight++;
      this.#requests++;
    },
    dec: () => {
      if (--this.#inflight === 0) this.#onIdle?.();
    },
  };

  constructor(options: ProxyOptions) {
    this.logger = options.logger;
    this.#random = options.random;
    this.tls = new MeshTls(options.logger, this.metrics);
    this.upstreams = new UpstreamCache(undefined, (address, port, identity, protocol) =>
      this.tls.dial(address, port, identity, protocol),
    );
    this.#listeners = new ListenerManager(this);
    this.#applied = this.metrics.counter(
      'weft_config_applied_total',
      'Config versions compiled and swapped in.',
    );
    this.#rejectedCount = this.metrics.counter('weft_config_rejected_total', 'Config versions rejected.');
  }

  get snapshot(): Snapshot {
    if (!this.#snapshot) throw new Error('proxy has no config yet');
    return this.#snapshot;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get inflightCount(): number {
    return this.#inflight;
  }

  /** Validates, compiles and swaps in a config. The first config must be valid (startup is fatal). */
  async apply(input: unknown, source: string): Promise<ApplyResult> {
    const v = validateProxyConfig(input);
    if (!v.ok) return this.#reject(undefined, source, v.issues);
    const config: ProxyConfig = v.config;
    const version = config.version as string;
    if (this.#snapshot && this.#snapshot.version === version) return { ok: true, version };
    let next: Snapshot;
    try {
      next = compileSnapshot(config, {
        upstreams: this.upstreams,
        metrics: this.metrics,
        random: this.#random,
        filterState: this.filterState,
      });
    } catch (err) {
      return this.#reject(version, source, [
        { code: 'CONFIG_SCHEMA', path: '', message: (err as Error).message },
      ]);
    }
    const previous = this.#snapshot;
    if (!previous) {
      await this.#startAdmin(config);
      this.#stopIdleGc = startIdleGc(() => this.#requests);
    }
    this.#snapshot = next;
    this.tls.setTrustBundle(config.identity?.trustBundle);
    this.onIssuer?.(config.identity?.issuer);
    const failures = await this.#listeners.reconcile(next);
    if (previous) for (const u of previous.upstreams) this.upstreams.release(u);
    this.#applied.inc();
    if (failures.length > 0) {
      const issues = failures.map((f) => ({
        code: 'CONFIG_CONFLICT' as const,
        path: f.key,
        message: `cannot listen: ${f.error.message}`,
      }));
      if (!previous) throw new ConfigError(issues);
      this.#rejected = { version, at: new Date().toISOString(), source, issues };
      this.logger.error('some listeners could not open', { version, issues });
    }
    this.logger.info('config applied', { version, source });
    return { ok: true, version };
  }

  #reject(version: string | undefined, source: string, issues: ConfigIssue[]): ApplyResult {
    if (!this.#snapshot) throw new ConfigError(issues);
    this.#rejected = { version, at: new Date().toISOString(), source, issues };
    this.#rejectedCount.inc();
    this.logger.warn('config rejected; keeping the last good version', {
      rejected: version,
      current: this.#snapshot.version,
      issues,
    });
    return { ok: false, version, issues };
  }

  async #startAdmin(config: ProxyConfig): Promise<void> {
    const admin = createAdminServer({
      live: () => true,
      ready: () =>
        this.#snapshot !== undefined &&
        !this.#draining &&
        (!this.identityRequired || this.tls.identity !== undefined),
      config: () => this.describe(),
      metrics: this.metrics,
      logger: this.logger,
      identity: () => this.identity?.() ?? this.tls.describe(),
    });
    await new Promise<void>((resolve, reject) => {
      admin.once('error', reject);
      const path = config.admin.path;
      if (path !== undefined) {
        // A socket file left by a proxy that crashed would make listen fail with EADDRINUSE.
        try {
          unlinkSync(path);
        } catch {}
        admin.listen(path, () => resolve());
      } else {
        admin.listen(config.admin.port, config.admin.address, () => resolve());
      }
    });
    this.#admin = admin;
  }

  adminPort(): number {
    const a = this.#admin?.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  describe(): unknown {
    return {
      version: this.#snapshot?.version,
      compiledAt: this.#snapshot?.compiledAt.toISOString(),
      draining: this.#draining,
      listeners: this.#listeners.describe(),
      lastRejected: this.#rejected ?? null,
      config: this.#snapshot?.config,
    };
  }

  listeners(): ReturnType<ListenerManager['describe']> {
    return this.#listeners.describe();
  }

  /** Stops accepting, waits for in-flight requests up to `drainMs`, then closes everything. */
  async shutdown(drainMs = this.#snapshot?.config.settings.drainTimeout ?? 10_000): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    this.#stopIdleGc?.();
    this.logger.info('draining', { inflight: this.#inflight, deadlineMs: drainMs });
    await this.#listeners.close(true);
    if (this.#inflight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainMs);
        this.#onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (this.#inflight > 0) this.logger.warn('drain deadline passed', { inflight: this.#inflight });
    this.#listeners.destroyAll();
    await this.upstreams.destroyAll();
    await new Promise<void>((resolve) => (this.#admin ? this.#admin.close(() => resolve()) : resolve()));
    this.#admin?.closeAllConnections();
  }
}
