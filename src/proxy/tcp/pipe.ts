/**
 * Opaque TCP proxying: connect to an endpoint and copy bytes both ways with backpressure (stream.pipe),
 * closing both sides when either ends or fails. Also carries upgraded HTTP connections (WebSocket), whose
 * request preamble is written first.
 */
import type net from 'node:net';
import type { Logger } from '../../core/index.ts';
import type { Counter, Gauge } from '../metrics/index.ts';
import type { RouteBackend } from '../snapshot/index.ts';
import { readyEvent } from '../upstream/types.ts';

export interface TcpStats {
  opened: Counter;
  closed: Counter;
  active: Gauge;
  bytesIn: Counter;
  bytesOut: Counter;
  failed: Counter;
}

/** Pipes `downstream` to `upstream`, a socket still connecting (plaintext, or mutual TLS to a Weft proxy). */
export function connectAndPipe(
  downstream: net.Socket,
  upstream: net.Socket,
  connectTimeout: number,
  preamble: Buffer | string | undefined,
  logger: Logger,
  stats: TcpStats | undefined,
  onFailure: (err: Error) => void,
): void {
  let connected = false;
  const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), connectTimeout);
  upstream.once(readyEvent(upstream), () => {
    connected = true;
    clearTimeout(timer);
    if (stats) {
      stats.opened.inc();
      stats.active.inc();
    }
    if (preamble !== undefined && preamble.length > 0) upstream.write(preamble);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  const close = () => {
    clearTimeout(timer);
    if (connected && stats) {
      connected = false;
      stats.closed.inc();
      stats.active.dec();
      stats.bytesIn.inc(upstream.bytesWritten);
      stats.bytesOut.inc(upstream.bytesRead);
    }
    upstream.destroy();
    downstream.destroy();
  };
  upstream.once('error', (err) => {
    if (!connected) {
      stats?.failed.inc();
      logger.debug('tcp connect failed', { endpoint: endpointOf(upstream), error: err.message });
      clearTimeout(timer);
      onFailure(err);
      return;
    }
    logger.debug('tcp upstream error', { endpoint: endpointOf(upstream), error: err.message });
    close();
  });
  upstream.once('close', close);
  downstream.once('error', close);
  downstream.once('close', close);
}

/** Pipes a downstream connection to an endpoint of the chosen backend; resets it when none is usable. */
export function pipeToBackend(
  downstream: net.Socket,
  rb: RouteBackend | undefined,
  logger: Logger,
  stats: TcpStats | undefined,
): void {
  const endpoint = rb?.backend.balancer.pick(downstream.remoteAddress);
  if (!rb || !endpoint) {
    logger.debug('tcp: no backend or endpoint', { backend: rb?.backend.name });
    stats?.failed.inc();
    downstream.resetAndDestroy();
    return;
  }
  const u = endpoint.upstream;
  connectAndPipe(downstream, u.dial(), u.settings.connectTimeout, undefined, logger, stats, () =>
    downstream.resetAndDestroy(),
  );
}

const endpointOf = (s: net.Socket) => `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
