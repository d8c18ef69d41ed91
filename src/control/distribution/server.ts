/**
 * The control plane's end of the config stream (docs/design/003, "Config distribution"). Each proxy
 * holds one HTTP/2 stream; on its hello the server computes the proxy's view and sends it unless the
 * proxy already runs that version, then keeps it current: every change of the view source is coalesced
 * for a short window, the views of the connected proxies are recomputed from current state (level-based,
 * never a replay of events) and only proxies whose view version changed are sent anything.
 *
 * Only the latest version matters to a proxy, so a stream whose write buffer is full is not queued more
 * configs: when it drains, the then-current view is written once. The server does not own a socket; the
 * control plane mounts it on its own HTTP/2 servers (h2c on TCP and on a Unix socket, TLS later) with
 * `attach`, or routes the config path to `handleStream` from its own stream handler.
 */
import http2 from 'node:http2';
import {
  CONFIG_PATH,
  CONTENT_TYPE,
  createLineReader,
  type DistributionTotals,
  type LineReader,
  MAX_LINE_BYTES,
  NODE_HEADER,
  type ProxyMessage,
  type ProxySyncState,
  parseProxyMessage,
  type SyncStateName,
} from '../../api/distribution/index.ts';
import type { Logger } from '../../core/index.ts';
import { lineOf, type RenderedView, renderView, sentConfig, type ViewSource } from './view.ts';

const { NGHTTP2_CANCEL, NGHTTP2_PROTOCOL_ERROR } = http2.constants;

/** Proxies handled per turn of the event loop when a change is distributed. */
const FLUSH_BATCH = 64;

export interface DistributionServerOptions {
  views: ViewSource;
  logger: Logger;
  /** Wall clock for the timestamps and latencies in the state (ms since the epoch). */
  now?: () => number;
  /** Changes within this window after the first one are sent together (default 20 ms). */
  debounceMs?: number;
  /** How long a disconnected proxy stays listed (default 10 min). */
  retainDisconnectedMs?: number;
  /**
   * A proxy that sends nothing is pinged (HTTP/2 PING) every `intervalMs` and dropped after `timeoutMs`
   * without a line or a PING answer, so a proxy whose host vanished does not stay "connected" forever.
   * Defaults 5 s and 15 s, the proxy's own values.
   */
  keepalive?: { intervalMs: number; timeoutMs: number };
  /** A stream that sends no hello within this time is closed (default 10 s). */
  helloTimeoutMs?: number;
  maxLineBytes?: number;
}

export interface DistributionServer {
  /**
   * Serves one HTTP/2 stream if its path is the config path; returns false (and leaves the stream
   * alone) otherwise, so a server that has other routes can try those.
   */
  handleStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
  /**
   * Serves every stream of a server dedicated to distribution (other paths get 404). Returns a function
   * that detaches it. A server with other routes should call `handleStream` from its own listener.
   */
  attach(server: http2.Http2Server | http2.Http2SecureServer): () => void;
  /** Every known proxy, connected or disconnected recently, sorted by node. */
  proxies(): ProxySyncState[];
  proxy(node: string): ProxySyncState | undefined;
  /** The config last written to a proxy, exactly as it received it (`weft proxy-config`). */
  sent(node: string): { version: string; config: unknown } | undefined;
  totals(): DistributionTotals;
  /** Ends every stream (proxies keep their config and reconnect) and stops watching the view source. */
  close(): Promise<void>;
}

interface NodeRecord {
  node: string;
  conn: Connection | undefined;
  /** The current view while connected; dropped on disconnect (the version stays, for display). */
  view: RenderedView | undefined;
  currentVersion: string | undefined;
  lastSent: RenderedView | undefined;
  sentAt: number;
  ackedVersion: string | undefined;
  nack: { version: string; issues: unknown[]; at: string } | undefined;
  ackLatencyMs: number | undefined;
  connectedAt: number | undefined;
  disconnectedAt: number | undefined;
  lastSeen: number;
  remote: string | undefined;
  counters: { connects: number; sent: number; acked: number; nacked: number };
}

interface Connection {
  record: NodeRecord;
  stream: http2.ServerHttp2Stream;
  reader: LineReader;
  helloed: boolean;
  /** Monotonic times (performance.now) for liveness. */
  openedAt: number;
  lastAlive: number;
  pinging: boolean;
  /** The version the proxy runs, as far as this stream has told. */
  has: string | undefined;
  /** The last version written on this stream (acked, nacked or in flight). */
  written: string | undefined;
  /** The write buffer is full: wait for 'drain'. */
  blocked: boolean;
  /** The view changed while blocked: write the current one on 'drain'. */
  resync: boolean;
  closed: boolean;
  onClosed: Promise<void>;
}

export function createDistributionServer(options: DistributionServerOptions): DistributionServer {
  const { views, logger } = options;
  const now = options.now ?? Date.now;
  const debounceMs = options.debounceMs ?? 20;
  const retainMs = options.retainDisconnectedMs ?? 10 * 60_000;
  const keepalive = options.keepalive ?? { intervalMs: 5000, timeoutMs: 15_000 };
  const helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
  const maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  const mono = () => performance.now();

  const records = new Map<string, NodeRecord>();
  const totals = { sent: 0, acked: 0, nacked: 0, protocolErrors: 0 };
  const detachers = new Set<() => void>();
  // The JSON of view parts by identity: after a change, a part shared by all views is serialised once.
  const memo = new WeakMap<object, string>();
  let closed = false;
  let debounce: NodeJS.Timeout | undefined;
  /** A pass over the connected proxies is running; `again`: a change arrived during it. */
  let flushing = false;
  let again = false;

  const unsubscribe = views.onChange(() => {
    if (closed) return;
    if (flushing) again = true;
    // A fixed window from the first change, not one restarted by every change: a steady trickle of
    // changes must not postpone distribution indefinitely.
    else if (debounce === undefined) debounce = setTimeout(flush, debounceMs);
  });

  const sweeper = setInterval(sweep, Math.max(10, Math.min(keepalive.intervalMs, helloTimeoutMs) / 2));
  sweeper.unref();

  /**
   * Recomputes the views of the connected proxies and sends what changed, in batches with a turn of the
   * event loop between them: with a thousand proxies a pass takes a few hundred milliseconds, during
   * which acks, hellos and API requests are still served, and the first proxies are not held back
   * until the last view is rendered. A change during a pass starts another pass after it.
   */
  function flush(): void {
    debounce = undefined;
    flushing = true;
    const pending = [...records.values()];
    let i = 0;
    const step = () => {
      if (closed) return;
      const end = Math.min(pending.length, i + FLUSH_BATCH);
      for (; i < end; i++) {
        const record = pending[i] as NodeRecord;
        const conn = record.conn;
        if (conn === undefined || !conn.helloed) continue;
        refreshView(record);
        sync(conn);
      }
      if (i < pending.length) {
        setImmediate(step);
        return;
      }
      flushing = false;
      if (again) {
        again = false;
        debounce = setTimeout(flush, debounceMs);
      }
    };
    step();
  }

  function refreshView(record: NodeRecord): void {
    let input: unknown;
    try {
      input = views.view(record.node);
    } catch (err) {
      // Keep the last view: a failing view builder must not take configs away from proxies.
      logger.error('cannot compute the view of a proxy; keeping its last view', {
        node: record.node,
        error: err as Error,
      });
      return;
    }
    if (input === undefined) {
      record.view = undefined;
      record.currentVersion = undefined;
      return;
    }
    if (record.view !== undefined && record.view.input === input) return;
    try {
      record.view = renderView(input, memo);
      record.currentVersion = record.view.version;
    } catch (err) {
      logger.error('cannot serialise the view of a proxy; keeping its last view', {
        node: record.node,
        error: err as Error,
      });
    }
  }

  /** Writes the current view if this proxy neither runs it nor was just sent it. */
  function sync(conn: Connection): void {
    if (conn.closed || !conn.helloed) return;
    const record = conn.record;
    const view = record.view;
    if (view === undefined) return;
    if (view.version === conn.has || view.version === conn.written) {
      view.line = undefined;
      return;
    }
    if (conn.blocked) {
      conn.resync = true;
      return;
    }
    const line = lineOf(view, memo);
    view.line = undefined;
    conn.written = view.version;
    record.lastSent = view;
    record.sentAt = now();
    record.counters.sent++;
    totals.sent++;
    if (!conn.stream.write(line)) conn.blocked = true;
  }

  function onMessage(conn: Connection, message: ProxyMessage): void {
    const record = conn.record;
    if (message.type === 'hello') {
      if (conn.helloed) {
        protocolError(conn, 'a second hello on one stream');
        return;
      }
      if (message.node !== record.node) {
        protocolError(conn, `hello names node "${message.node}", the ${NODE_HEADER} header "${record.node}"`);
        return;
      }
      conn.helloed = true;
      conn.has = message.version === '' ? undefined : message.version;
      record.ackedVersion = conn.has;
      refreshView(record);
      logger.info('proxy connected', {
        node: record.node,
        remote: record.remote,
        version: conn.has,
        view: record.currentVersion,
      });
      sync(conn);
      return;
    }
    if (!conn.helloed) {
      protocolError(conn, `${message.type} before hello`);
      return;
    }
    if (message.type === 'ack') {
      conn.has = message.version;
      record.ackedVersion = message.version;
      record.counters.acked++;
      totals.acked++;
      if (message.version === record.lastSent?.version) record.ackLatencyMs = now() - record.sentAt;
      // The view may have moved on (or back) while this version was in flight.
      sync(conn);
      return;
    }
    record.nack = { version: message.version, issues: message.issues, at: new Date(now()).toISOString() };
    record.counters.nacked++;
    totals.nacked++;
    logger.warn('proxy rejected its config; it keeps running its last good version', {
      node: record.node,
      version: message.version,
      running: conn.has,
      issues: message.issues,
    });
  }

  function protocolError(conn: Connection, error: string): void {
    totals.protocolErrors++;
    logger.warn('config stream protocol error; closing the stream', { node: conn.record.node, error });
    conn.reader.stop();
    if (!conn.stream.destroyed) conn.stream.close(NGHTTP2_PROTOCOL_ERROR);
  }

  function open(stream: http2.ServerHttp2Stream, node: string): void {
    prune();
    let record = records.get(node);
    if (record === undefined) {
      record = {
        node,
        conn: undefined,
        view: undefined,
        currentVersion: undefined,
        lastSent: undefined,
        sentAt: 0,
        ackedVersion: undefined,
        nack: undefined,
        ackLatencyMs: undefined,
        connectedAt: undefined,
        disconnectedAt: undefined,
        lastSeen: now(),
        remote: undefined,
        counters: { connects: 0, sent: 0, acked: 0, nacked: 0 },
      };
      records.set(node, record);
    }
    const previous = record.conn;
    if (previous !== undefined) {
      // The newer stream wins: the proxy restarted or lost its connection before this side noticed.
      logger.info('a new stream replaces the open one', { node });
      detachConn(previous);
      if (!previous.stream.destroyed) previous.stream.close(NGHTTP2_CANCEL);
    }
    const socket = stream.session?.socket;
    const t = mono();
    let resolveClosed: () => void = () => {};
    const conn: Connection = {
      record,
      stream,
      reader: createLineReader({
        maxLineBytes,
        onLine: (line) => {
          const parsed = parseProxyMessage(line);
          if (parsed.ok) onMessage(conn, parsed.message);
          else protocolError(conn, parsed.error);
        },
        onError: (err) => protocolError(conn, err.message),
      }),
      helloed: false,
      openedAt: t,
      lastAlive: t,
      pinging: false,
      has: undefined,
      written: undefined,
      blocked: false,
      resync: false,
      closed: false,
      onClosed: new Promise<void>((resolve) => {
        resolveClosed = resolve;
      }),
    };
    record.conn = conn;
    record.view = undefined;
    record.connectedAt = now();
    record.disconnectedAt = undefined;
    record.lastSeen = record.connectedAt;
    record.remote = socket?.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix';
    record.counters.connects++;

    stream.on('data', (chunk: Buffer) => {
      alive(conn);
      conn.reader.push(chunk);
    });
    // The proxy ended its side: end ours too, which closes the stream.
    stream.on('end', () => {
      if (!stream.destroyed) stream.end();
    });
    stream.on('drain', () => {
      conn.blocked = false;
      if (conn.resync) {
        conn.resync = false;
        sync(conn);
      }
    });
    stream.on('close', () => {
      detachConn(conn);
      resolveClosed();
    });
    stream.session?.on('ping', () => alive(conn));
    stream.respond({ ':status': 200, 'content-type': CONTENT_TYPE });
  }

  function alive(conn: Connection): void {
    conn.lastAlive = mono();
    conn.record.lastSeen = now();
  }

  /** Marks a stream as finished; the node is disconnected unless a newer stream took its place. */
  function detachConn(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.reader.stop();
    const record = conn.record;
    if (record.conn !== conn) return;
    record.conn = undefined;
    record.view = undefined;
    record.disconnectedAt = now();
    logger.info('proxy disconnected', { node: record.node, running: conn.has });
  }

  /** Liveness and hello deadlines, for all streams at once. */
  function sweep(): void {
    const t = mono();
    for (const record of records.values()) {
      const conn = record.conn;
      if (conn === undefined) continue;
      if (!conn.helloed && t - conn.openedAt > helloTimeoutMs) {
        protocolError(conn, `no hello within ${helloTimeoutMs} ms`);
        continue;
      }
      const quiet = t - conn.lastAlive;
      if (quiet > keepalive.timeoutMs) {
        logger.warn('proxy unresponsive; dropping its stream', {
          node: record.node,
          quietMs: Math.round(quiet),
        });
        conn.stream.session?.destroy();
        conn.stream.destroy();
        continue;
      }
      const session = conn.stream.session;
      if (quiet >= keepalive.intervalMs && !conn.pinging && session && !session.destroyed) {
        conn.pinging = true;
        try {
          session.ping((err) => {
            conn.pinging = false;
            if (!err) alive(conn);
          });
        } catch (err) {
          conn.pinging = false;
          logger.debug('cannot ping a proxy', { node: record.node, error: err as Error });
        }
      }
    }
  }

  function prune(): void {
    const cutoff = now() - retainMs;
    for (const [node, record] of records) {
      if (record.conn === undefined && (record.disconnectedAt ?? 0) < cutoff) records.delete(node);
    }
  }

  function describe(record: NodeRecord): ProxySyncState {
    const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
    const state: ProxySyncState = {
      node: record.node,
      state: stateOf(record),
      connected: record.conn !== undefined,
      connectedAt: iso(record.connectedAt),
      disconnectedAt: iso(record.disconnectedAt),
      lastSeen: new Date(record.lastSeen).toISOString(),
      remote: record.remote,
      currentVersion: record.currentVersion,
      sentVersion: record.lastSent?.version,
      ackedVersion: record.ackedVersion,
      counters: { ...record.counters },
    };
    if (record.nack !== undefined) state.nack = record.nack;
    if (record.ackLatencyMs !== undefined) state.ackLatencyMs = record.ackLatencyMs;
    return state;
  }

  const server: DistributionServer = {
    handleStream(stream, headers) {
      if (headers[':path'] !== CONFIG_PATH) return false;
      // A reset by the proxy is routine (it restarted); the 'close' handler does the bookkeeping.
      stream.on('error', (err) => logger.debug('config stream error', { error: err }));
      const node = headers[NODE_HEADER];
      if (closed) stream.respond({ ':status': 503 }, { endStream: true });
      else if (headers[':method'] !== 'POST')
        stream.respond({ ':status': 405, allow: 'POST' }, { endStream: true });
      else if (typeof node !== 'string' || node === '')
        stream.respond({ ':status': 400 }, { endStream: true });
      else open(stream, node);
      return true;
    },

    attach(target) {
      const listener = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
        if (!server.handleStream(stream, headers)) {
          stream.on('error', () => {});
          stream.respond({ ':status': 404 }, { endStream: true });
        }
      };
      target.on('stream', listener);
      const detach = () => {
        target.off('stream', listener);
        detachers.delete(detach);
      };
      detachers.add(detach);
      return detach;
    },

    proxies() {
      prune();
      return [...records.values()]
        .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
        .map(describe);
    },

    proxy(node) {
      const record = records.get(node);
      return record === undefined ? undefined : describe(record);
    },

    sent(node) {
      const view = records.get(node)?.lastSent;
      return view === undefined ? undefined : { version: view.version, config: sentConfig(view) };
    },

    totals() {
      let connected = 0;
      for (const r of records.values()) if (r.conn !== undefined) connected++;
      return { connected, ...totals };
    },

    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      if (debounce !== undefined) clearTimeout(debounce);
      clearInterval(sweeper);
      for (const detach of [...detachers]) detach();
      const waits: Promise<void>[] = [];
      for (const record of records.values()) {
        const conn = record.conn;
        if (conn === undefined) continue;
        waits.push(conn.onClosed);
        // GOAWAY first, so the proxy opens no new stream on this session, then end the config stream.
        if (conn.stream.session && !conn.stream.session.closed) conn.stream.session.close();
        if (!conn.stream.destroyed) conn.stream.close(NGHTTP2_CANCEL);
      }
      await Promise.all(waits);
    },
  };
  return server;
}

function stateOf(record: NodeRecord): SyncStateName {
  if (record.conn === undefined) return 'disconnected';
  if (record.currentVersion === undefined || !record.conn.helloed) return 'waiting';
  if (record.ackedVersion === record.currentVersion) return 'synced';
  if (record.nack?.version === record.currentVersion) return 'nacked';
  return 'stale';
}
