/**
 * What the listeners and the request path need from the running proxy: the current snapshot (read once
 * per request), the logger, shared metrics, and the in-flight bookkeeping that SIGTERM draining waits on.
 */
import type { Logger } from '../core/index.ts';
import type { Counter, Gauge, MetricsRegistry } from './metrics/index.ts';
import type { MeshTls } from './mtls/index.ts';
import type { Snapshot } from './snapshot/index.ts';

export interface ProxyRuntime {
  readonly snapshot: Snapshot;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly tls: MeshTls;
  readonly draining: boolean;
  readonly inflight: { inc(): void; dec(): void };
}

/** Per-listener connection metrics, bound when the listener opens. */
export interface ListenerStats {
  accepted: Counter;
  active: Gauge;
  bytesIn: Counter;
  bytesOut: Counter;
}
