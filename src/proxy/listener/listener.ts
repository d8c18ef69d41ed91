/**
 * One listening socket and what it serves. The listener accepts connections, counts them, and hands each
 * to the right server: HTTP/1, HTTP/2 (h2c), or the TCP pipe, by declared protocol or by detection. It
 * resolves its service from the current snapshot on every request, so it survives reloads untouched as
 * long as its address, kind and protocol do not change.
 */
import net from 'node:net';
import type { ServiceResolver } from '../http/handle.ts';
import type { ProxyRuntime } from '../runtime.ts';
import type { ListenerSpec, Snapshot } from '../snapshot/index.ts';
import { pipeToBackend, type TcpStats } from '../tcp/index.ts';
import { detect } from './detect.ts';
import type { HttpServers } from './servers.ts';
import { ACTIVE, createHttpServers } from './servers.ts';

const H2 = Symbol('weft.h2');

export class Listener {
  readonly spec: ListenerSpec;
  readonly #rt: ProxyRuntime;
  readonly #server: net.Server;
  readonly #http: HttpServers;
  readonly #sockets = new Set<net.Socket & { [ACTIVE]?: number }>();
  readonly #resolve: ServiceResolver;
  readonly #tcpStats: TcpStats;
  #closing = false;

  constructor(rt: ProxyRuntime, spec: ListenerSpec, settings: Snapshot['config']['settings']) {
    this.#rt = rt;
    this.spec = spec;
    this.#resolve = resolverFor(spec);
    const labels = { listener: spec.kind, address: `${spec.address}:${spec.port}` };
    const m = rt.metrics;
    this.#tcpStats = {
      opened: m.counter('weft_tcp_connections_opened_total', 'TCP connections proxied, opened.', labels),
      closed: m.counter('weft_tcp_connections_closed_total', 'TCP connections proxied, closed.', labels),
      active: m.gauge('weft_tcp_connections_active', 'TCP connections proxied, open now.', labels),
      bytesIn: m.counter(
        'weft_tcp_received_bytes_total',
        'Bytes received from downstream on proxied TCP.',
        labels,
      ),
      bytesOut: m.counter('weft_tcp_sent_bytes_total', 'Bytes sent to downstream on proxied TCP.', labels),
      failed: m.counter(
        'weft_tcp_connections_failed_total',
        'TCP connections that found no usable endpoint.',
        labels,
      ),
    };
    const accepted = m.counter(
      'weft_listener_connections_total',
      'Connections accepted by a listener.',
      labels,
    );
    const active = m.gauge('weft_listener_connections_active', 'Connections open on a listener.', labels);
    this.#http = createHttpServers(rt, this.#resolve, settings, (socket) => {
      if (rt.draining) socket.end();
    });
    this.#server = net.createServer({ noDelay: true }, (socket) => {
      if (this.#closing) {
        socket.destroy();
        return;
      }
      accepted.inc();
      active.inc();
      this.#sockets.add(socket);
      socket.once('close', () => {
        active.dec();
        this.#sockets.delete(socket);
      });
      this.#accept(socket);
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.spec.port, this.spec.address, () => {
        this.#server.removeListener('error', onError);
        this.#server.on('error', (err) =>
          this.#rt.logger.error('listener error', { listener: this.spec.key, error: err }),
        );
        resolve();
      });
    });
  }

  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a ? a.port : this.spec.port;
  }

  #accept(socket: net.Socket): void {
    socket.on('error', (err) => this.#rt.logger.debug('downstream socket error', { error: err.message }));
    const protocol = this.spec.protocol;
    switch (protocol) {
      case 'http1':
        this.#http.fast(socket);
        return;
      case 'http2':
      case 'grpc':
        this.#toH2(socket);
        return;
      case 'tcp':
      case 'opaque':
        this.#pipe(socket);
        return;
      case 'detect':
        detect(socket, this.#rt.snapshot.config.settings.detectTimeout, (p) => {
          if (p === 'http1') this.#http.fast(socket);
          else if (p === 'http2') this.#toH2(socket);
          // Stay paused: the pipe resumes the socket once the upstream is connected. Flowing before
          // that would emit the sniffed bytes with no 'data' listener, and they would be lost.
          else this.#pipe(socket);
        });
    }
  }

  #toH2(socket: net.Socket): void {
    // Marked so that draining leaves it to the HTTP/2 session's GOAWAY instead of ending the socket.
    (socket as net.Socket & { [H2]?: boolean })[H2] = true;
    this.#http.h2.emit('connection', socket);
  }

  #pipe(socket: net.Socket): void {
    // TCP half-close: a client's FIN is passed on (pipe ends the upstream) while the reply still flows
    // back. Without this, node ends our side too on the client's FIN and the pipe closes before the reply.
    socket.allowHalfOpen = true;
    const service = this.#resolve(this.#rt.snapshot, '');
    pipeToBackend(socket, service?.pickTcp(), this.#rt.logger, this.#tcpStats);
  }

  /** Stops accepting; with `drain`, lets in-flight requests finish and closes idle connections. */
  async close(drain: boolean): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const session of this.#http.sessions) {
      if (drain) session.close();
      else session.destroy();
    }
    for (const socket of this.#sockets) {
      if (drain && (socket as { [H2]?: boolean })[H2]) continue;
      if (!drain || !socket[ACTIVE]) {
        if (drain) socket.end();
        else socket.destroy();
      }
    }
    if (!drain) await closed;
  }

  destroyAll(): void {
    for (const s of this.#sockets) s.destroy();
    for (const s of this.#http.sessions) s.destroy();
  }
}

function resolverFor(spec: ListenerSpec): ServiceResolver {
  const name = spec.service ?? '';
  switch (spec.kind) {
    case 'outbound':
      return (snap) => snap.outbound.get(name);
    case 'inbound':
      return (snap) => snap.inbound.get(name);
    case 'http-proxy':
      return (snap, authority) => {
        const a = authority.toLowerCase();
        const hit = snap.byHost.get(a);
        if (hit) return hit;
        const colon = a.lastIndexOf(':');
        if (colon === -1 || a.endsWith(']')) return snap.byHost.get(`${a}:80`);
        return undefined;
      };
  }
}
