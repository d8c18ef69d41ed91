/**
 * One listening socket and what it serves. The listener accepts connections, counts them, and hands each
 * to the right server: HTTP/1, HTTP/2 (h2c), or the TCP pipe, by declared protocol or by detection. It
 * resolves its service from the current snapshot on every request, so it survives reloads untouched as
 * long as its address, kind and protocol do not change.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type tls from 'node:tls';
import type { ServiceResolver } from '../http/handle.ts';
import { MESH_ALPN, meshTlsStart } from '../mtls/client-hello.ts';
import type { ProxyRuntime } from '../runtime.ts';
import type { CompiledService, ListenerSpec, RouteBackend, Snapshot } from '../snapshot/index.ts';
import { connectAndPipe, pipeToBackend, type TcpStats } from '../tcp/index.ts';
import { detect, peek } from './detect.ts';
import { originalDestination } from './original-dst.ts';
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
  readonly #settings: Snapshot['config']['settings'];
  /** Transparent listeners: HTTP servers per service, made on first use (a resolver each). */
  readonly #perService = new Map<string, HttpServers>();
  /** Inbound: a TLS server per service for mutual TLS from other Weft proxies, made on first use. */
  readonly #tlsServers = new Map<string, { server: tls.Server; close(): void }>();
  #plaintextRefused: ReturnType<ProxyRuntime['metrics']['counter']> | undefined;
  #closing = false;
  readonly #pickOwnTcp = () => this.#resolve(this.#rt.snapshot, '')?.pickTcp();

  constructor(rt: ProxyRuntime, spec: ListenerSpec, settings: Snapshot['config']['settings']) {
    this.#rt = rt;
    this.spec = spec;
    this.#resolve = resolverFor(spec);
    this.#settings = settings;
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
      const done = () => {
        this.#server.removeListener('error', onError);
        this.#server.on('error', (err) =>
          this.#rt.logger.error('listener error', { listener: this.spec.key, error: err }),
        );
        resolve();
      };
      const path = this.spec.path;
      if (path === undefined) {
        this.#server.listen(this.spec.port, this.spec.address, done);
        return;
      }
      // A socket file left by a proxy that crashed would make listen fail with EADDRINUSE.
      try {
        unlinkSync(path);
      } catch {}
      this.#server.listen(path, () => {
        // The runtime forwards a host port to this socket; it may run as another user than the proxy.
        chmodSync(path, 0o666);
        done();
      });
    });
  }

  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a ? a.port : this.spec.port;
  }

  #accept(socket: net.Socket): void {
    socket.on('error', (err) => this.#rt.logger.debug('downstream socket error', { error: err.message }));
    if (this.spec.kind === 'transparent-outbound' || this.spec.kind === 'transparent-inbound') {
      this.#acceptTransparent(socket);
      return;
    }
    if (this.spec.kind === 'inbound') {
      const service = this.#resolve(this.#rt.snapshot, '');
      if (service) {
        this.#inbound(socket, service, this.#http, this.#pickOwnTcp);
        return;
      }
    }
    this.#dispatch(socket, this.spec.protocol, this.#http, this.#pickOwnTcp);
  }

  /**
   * An inbound connection: mutual TLS from a Weft proxy is terminated here (then served like plaintext,
   * with the peer's identity on the socket); other bytes are plaintext, refused on a STRICT port (reset,
   * as Istio does) and served as before otherwise. Without a certificate or with DISABLE, no sniffing.
   */
  #inbound(
    socket: net.Socket,
    service: CompiledService,
    http: HttpServers,
    pickTcp: () => RouteBackend | undefined,
  ): void {
    const mode = service.mtls;
    if (mode === undefined || mode === 'DISABLE' || this.#rt.tls.identity === undefined) {
      this.#dispatch(socket, service.protocol, http, pickTcp);
      return;
    }
    const name = service.name;
    peek(socket, this.#rt.snapshot.config.settings.detectTimeout, meshTlsStart, 'other', (kind) => {
      if (kind === 'mesh') {
        this.#tlsServerFor(name, http, pickTcp)?.emit('connection', socket);
        return;
      }
      if (mode === 'STRICT') {
        this.#plaintextRefused ??= this.#rt.metrics.counter(
          'weft_inbound_plaintext_refused_total',
          'Plaintext connections refused on STRICT mutual TLS ports.',
          { listener: this.spec.kind, address: `${this.spec.address}:${this.spec.port}` },
        );
        this.#plaintextRefused.inc();
        this.#rt.logger.debug('refused a plaintext connection on a STRICT port', {
          service: name,
          peer: socket.remoteAddress,
        });
        socket.resetAndDestroy();
        return;
      }
      this.#dispatch(socket, service.protocol, http, pickTcp);
    });
  }

  #tlsServerFor(
    name: string,
    http: HttpServers,
    pickTcp: () => RouteBackend | undefined,
  ): tls.Server | undefined {
    let entry = this.#tlsServers.get(name);
    if (!entry) {
      entry = this.#rt.tls.createServer(name, (secure) => {
        // From here the TLS socket is the connection: drained and closed like any other.
        this.#sockets.add(secure);
        secure.once('close', () => this.#sockets.delete(secure));
        secure.on('error', (err) =>
          this.#rt.logger.debug('downstream TLS socket error', { error: err.message }),
        );
        if (secure.alpnProtocol === MESH_ALPN.tcp) this.#pipe(secure, pickTcp);
        else if (secure.alpnProtocol === MESH_ALPN.http2) this.#toH2(secure, http);
        else http.fast(secure);
      });
      if (!entry) return undefined;
      this.#tlsServers.set(name, entry);
    }
    return entry.server;
  }

  /** Serves a connection by protocol: HTTP/1.1, HTTP/2, TCP, or whatever detection finds. */
  #dispatch(
    socket: net.Socket,
    protocol: ListenerSpec['protocol'],
    http: HttpServers,
    pickTcp: () => RouteBackend | undefined,
  ): void {
    switch (protocol) {
      case 'http1':
        http.fast(socket);
        return;
      case 'http2':
      case 'grpc':
        this.#toH2(socket, http);
        return;
      case 'tcp':
      case 'opaque':
        this.#pipe(socket, pickTcp);
        return;
      case 'detect':
        detect(socket, this.#rt.snapshot.config.settings.detectTimeout, (p) => {
          if (p === 'http1') http.fast(socket);
          else if (p === 'http2') this.#toH2(socket, http);
          // Stay paused: the pipe resumes the socket once the upstream is connected. Flowing before
          // that would emit the sniffed bytes with no 'data' listener, and they would be lost.
          else this.#pipe(socket, pickTcp);
        });
    }
  }

  /**
   * A connection redirected by iptables: its original destination picks the outbound service (virtual
   * IP and port) or the inbound entry (port). Destinations no service claims pass through untouched, as
   * Istio's ALLOW_ANY does: outbound to the original address, inbound to the application's port.
   */
  #acceptTransparent(socket: net.Socket): void {
    let dst: ReturnType<typeof originalDestination>;
    try {
      dst = originalDestination(socket);
    } catch (err) {
      this.#rt.logger.warn('cannot read the original destination', { error: (err as Error).message });
    }
    if (!dst) {
      // Not redirected: someone connected to the interception port directly. Nothing to serve.
      this.#tcpStats.failed.inc();
      socket.destroy();
      return;
    }
    const snap = this.#rt.snapshot;
    const outbound = this.spec.kind === 'transparent-outbound';
    const service = outbound
      ? snap.byHost.get(`${dst.address}:${dst.port}`)
      : snap.inboundByPort.get(dst.port);
    if (service) {
      const servers = this.#serversFor(service.name, outbound);
      if (outbound) this.#dispatch(socket, service.protocol, servers, service.pickTcp);
      else {
        // The TLS server outlives snapshots: it resolves the inbound entry when a connection is secure.
        const name = service.name;
        this.#inbound(socket, service, servers, () => this.#rt.snapshot.inbound.get(name)?.pickTcp());
      }
      return;
    }
    if (outbound && snap.config.interception?.passthrough === false) {
      this.#tcpStats.failed.inc();
      socket.destroy();
      return;
    }
    socket.allowHalfOpen = true;
    const host = outbound ? dst.address : dst.family === 6 ? '::1' : '127.0.0.1';
    connectAndPipe(
      socket,
      net.connect({ host, port: dst.port, noDelay: true }),
      5000,
      undefined,
      this.#rt.logger,
      this.#tcpStats,
      () => {
        this.#tcpStats.failed.inc();
        socket.destroy();
      },
    );
  }

  #serversFor(name: string, outbound: boolean): HttpServers {
    let servers = this.#perService.get(name);
    if (!servers) {
      const resolve: ServiceResolver = outbound
        ? (snap) => snap.outbound.get(name)
        : (snap) => snap.inbound.get(name);
      servers = createHttpServers(this.#rt, resolve, this.#settings, (socket) => {
        if (this.#rt.draining) socket.end();
      });
      this.#perService.set(name, servers);
    }
    return servers;
  }

  #toH2(socket: net.Socket, http: HttpServers): void {
    // Marked so that draining leaves it to the HTTP/2 session's GOAWAY instead of ending the socket.
    (socket as net.Socket & { [H2]?: boolean })[H2] = true;
    http.h2.emit('connection', socket);
  }

  #pipe(socket: net.Socket, pickTcp: () => RouteBackend | undefined): void {
    // TCP half-close: a client's FIN is passed on (pipe ends the upstream) while the reply still flows
    // back. Without this, node ends our side too on the client's FIN and the pipe closes before the reply.
    socket.allowHalfOpen = true;
    pipeToBackend(socket, pickTcp(), this.#rt.logger, this.#tcpStats);
  }

  /** Stops accepting; with `drain`, lets in-flight requests finish and closes idle connections. */
  async close(drain: boolean): Promise<void> {
    this.#closing = true;
    for (const t of this.#tlsServers.values()) t.close();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const http of [this.#http, ...this.#perService.values()]) {
      for (const session of http.sessions) {
        if (drain) session.close();
        else session.destroy();
      }
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
    for (const http of [this.#http, ...this.#perService.values()]) for (const s of http.sessions) s.destroy();
  }
}

function resolverFor(spec: ListenerSpec): ServiceResolver {
  const name = spec.service ?? '';
  switch (spec.kind) {
    case 'outbound':
      return (snap) => snap.outbound.get(name);
    case 'inbound':
      return (snap) => snap.inbound.get(name);
    case 'transparent-outbound':
    case 'transparent-inbound':
      return () => undefined;
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
