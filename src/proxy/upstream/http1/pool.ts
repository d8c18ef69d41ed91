/**
 * Weft's HTTP/1.1 client for one endpoint: a pool of keep-alive connections, one request at a time on
 * each (no pipelining), idle connections reused newest first and closed after the idle timeout (kept
 * below common application keep-alive defaults, and below the server's own `Keep-Alive: timeout` hint).
 *
 * Why not undici: per request it validates every header again, builds a Request object, parses with a
 * WebAssembly llhttp instance and splits responses into header objects through several layers; the
 * proxy already has validated headers from node:http and only needs framing. This client writes the
 * request head as one string and parses the response head with one search for CRLFCRLF (parser.ts).
 * HTTP/2 endpoints have their own client (../http2/).
 *
 * The backend's circuit breaker (../circuit-breaker.ts) is counted here, as Envoy counts it in its
 * connection pools: a request is pending from the moment it has no connected socket to go out on (queued,
 * or given a connection still connecting) and active from the moment it is written to a connected one.
 * The pool also reports to its endpoint's outlier detection what only it can tell apart: the status of
 * each response head, and failures that came from the endpoint (connect failures, resets) rather than
 * from the proxy cancelling the request.
 */
import net from 'node:net';
import type { Readable } from 'node:stream';
import { isRequestTarget } from '../../http/syntax.ts';
import { CircuitBreaker } from '../circuit-breaker.ts';
import {
  CONNECT_TIMEOUT,
  codedError,
  type Dial,
  type DispatchController,
  type DispatchHandler,
  type DispatchOptions,
  type HeaderValues,
  OVERFLOW,
  readyEvent,
  STALE_CONNECTION,
  type TryOutcome,
  type UpstreamPool,
} from '../types.ts';
import { ResponseParser } from './parser.ts';

export interface Http1PoolOptions {
  connectTimeout: number;
  idleTimeout: number;
  maxConnections: number;
  /** Opens a connection (plaintext or mutual TLS); plaintext TCP by default. */
  dial?: Dial | undefined;
  /** Requests one connection carries before it is closed; 0 or unset: no limit. */
  maxRequestsPerConnection?: number | undefined;
  /** The backend's circuit breaker, shared by the pools of all its endpoints; none: no limits. */
  breaker?: CircuitBreaker | undefined;
  /** Where the outcome of each try at this endpoint goes (outlier detection). */
  report?: ((outcome: TryOutcome) => void) | undefined;
}

/** How a connection failed: while connecting, by the upstream's doing, or because the proxy ended it. */
type Cause = 'connect' | 'upstream' | 'local';

const NEW = 0;
const PENDING = 1;
const ACTIVE = 2;
const DONE = 3;

const EMPTY: HeaderValues = Object.freeze({}) as HeaderValues;

/** One request in flight (or queued): also its controller. */
class Exchange1 implements DispatchController {
  readonly opts: DispatchOptions;
  readonly handler: DispatchHandler;
  readonly pool: Http1Pool;
  conn: Connection | undefined = undefined;
  /** NEW, PENDING (counted in the breaker's pending), ACTIVE (counted in its requests), DONE. */
  state = NEW;
  paused = false;

  constructor(pool: Http1Pool, opts: DispatchOptions, handler: DispatchHandler) {
    this.pool = pool;
    this.opts = opts;
    this.handler = handler;
  }
  get done(): boolean {
    return this.state === DONE;
  }
  /** Moves to another state, keeping the breaker's counts of pending and active requests. */
  to(state: number): void {
    const b = this.pool.breaker;
    if (this.state === PENDING) b.pending--;
    else if (this.state === ACTIVE) b.requests--;
    if (state === PENDING) b.pending++;
    else if (state === ACTIVE) b.requests++;
    this.state = state;
  }
  pause(): void {
    this.paused = true;
    this.conn?.socket.pause();
  }
  resume(): void {
    this.paused = false;
    this.conn?.socket.resume();
  }
  abort(reason: Error): void {
    if (this.done) return;
    if (this.conn) this.conn.fail(reason, 'local');
    else {
      this.pool.dequeue(this);
      this.fail(reason);
    }
  }
  fail(err: Error): void {
    if (this.done) return;
    this.to(DONE);
    this.handler.onResponseError?.(this, err);
  }
}

class Connection {
  readonly socket: net.Socket;
  readonly pool: Http1Pool;
  readonly parser: ResponseParser;
  current: Exchange1 | undefined = undefined;
  connected = false;
  served = 0;
  reusable = true;
  requestWritten = false;
  idleTimeout: number;
  #connectTimer: NodeJS.Timeout | undefined;

  constructor(pool: Http1Pool) {
    this.pool = pool;
    this.idleTimeout = pool.options.idleTimeout;
    this.socket = pool.options.dial
      ? pool.options.dial()
      : net.connect({ host: pool.address, port: pool.port, noDelay: true });
    this.#connectTimer = setTimeout(
      () =>
        this.fail(
          codedError(CONNECT_TIMEOUT, `connect timeout after ${pool.options.connectTimeout} ms`),
          'connect',
        ),
      pool.options.connectTimeout,
    );
    this.parser = new ResponseParser({
      head: (status, reason, headers) => {
        const ex = this.current;
        if (!ex || ex.done) return;
        pool.options.report?.(status);
        ex.handler.onResponseStart?.(ex, status, headers, reason);
        const hint = this.parser.keepAliveHint;
        if (hint !== undefined) {
          const m = /timeout=(\d+)/i.exec(hint);
          // Close a little before the server would, so the race behind "503 UC" stays rare.
          if (m) this.idleTimeout = Math.min(this.idleTimeout, Math.max(0, Number(m[1]) * 1000 - 1000));
        }
      },
      data: (chunk) => {
        const ex = this.current;
        if (ex && !ex.done) ex.handler.onResponseData?.(ex, chunk);
      },
      end: (trailers) => this.#complete(trailers),
    });
    this.socket.on(readyEvent(this.socket), () => {
      this.connected = true;
      clearTimeout(this.#connectTimer);
      // The request given to this connection while it was connecting goes out now.
      if (this.current?.state === PENDING) this.current.to(ACTIVE);
    });
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.parser.feed(chunk);
      } catch (err) {
        this.fail(err as Error, 'upstream');
      }
    });
    this.socket.on('error', (err) => this.fail(err, this.connected ? 'upstream' : 'connect'));
    this.socket.on('close', () => {
      if (this.current === undefined) {
        this.pool.remove(this);
        return;
      }
      // A close-delimited body ends here; anything else in flight was cut short.
      const err = this.parser.eof();
      if (this.current !== undefined)
        this.fail(err ?? codedError('ECONNRESET', 'upstream closed the connection'), 'upstream');
    });
  }

  /** Writes one request. The socket may still be connecting: writes are buffered until it is. */
  start(ex: Exchange1): void {
    this.current = ex;
    ex.conn = this;
    if (this.connected) ex.to(ACTIVE);
    this.requestWritten = false;
    const { method, path, headers, body } = ex.opts;
    if (!isRequestTarget(path)) {
      this.current = undefined;
      ex.conn = undefined;
      ex.fail(
        codedError('ERR_INVALID_PATH', `request target has forbidden characters: ${JSON.stringify(path)}`),
      );
      this.pool.release(this);
      return;
    }
    this.parser.reset(method === 'HEAD');
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let hasLength = false;
    for (const name in headers) {
      const v = headers[name];
      if (v === undefined) continue;
      if (name === 'content-length') {
        if (body === null || Buffer.isBuffer(body)) continue;
        hasLength = true;
      }
      if (typeof v === 'string') head += `${name}: ${v}\r\n`;
      else for (const one of v) head += `${name}: ${one}\r\n`;
    }
    const socket = this.socket;
    if (body === null) {
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') head += 'content-length: 0\r\n';
      socket.write(`${head}\r\n`, 'latin1');
      this.requestWritten = true;
    } else if (Buffer.isBuffer(body)) {
      socket.cork();
      socket.write(`${head}content-length: ${body.length}\r\n\r\n`, 'latin1');
      socket.write(body);
      socket.uncork();
      this.requestWritten = true;
    } else {
      socket.write(hasLength ? `${head}\r\n` : `${head}transfer-encoding: chunked\r\n\r\n`, 'latin1');
      this.#stream(body, !hasLength);
    }
    if (ex.paused) socket.pause();
  }

  #stream(body: Readable, chunked: boolean): void {
    const socket = this.socket;
    const onData = (c: Buffer) => {
      if (chunked) {
        if (c.length === 0) return;
        socket.write(`${c.length.toString(16)}\r\n`, 'latin1');
        socket.write(c);
        if (!socket.write('\r\n', 'latin1')) body.pause();
      } else if (!socket.write(c)) body.pause();
    };
    const onDrain = () => body.resume();
    const onEnd = () => {
      cleanup();
      if (chunked) socket.write('0\r\n\r\n', 'latin1');
      this.requestWritten = true;
    };
    const onError = (err: Error) => {
      cleanup();
      this.fail(err, 'local');
    };
    const cleanup = () => {
      body.removeListener('data', onData);
      body.removeListener('end', onEnd);
      body.removeListener('error', onError);
      socket.removeListener('drain', onDrain);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    socket.on('drain', onDrain);
    this.#stopStreaming = cleanup;
  }

  #stopStreaming: (() => void) | undefined;

  #complete(trailers: HeaderValues): void {
    const ex = this.current;
    this.current = undefined;
    this.served++;
    if (!this.requestWritten) {
      // The upstream answered before reading the whole body: the connection cannot carry another request.
      this.#stopStreaming?.();
      this.reusable = false;
    }
    if (ex && !ex.done) {
      ex.to(DONE);
      ex.conn = undefined;
      ex.handler.onResponseEnd?.(ex, trailers ?? EMPTY);
    }
    if (ex?.paused) this.socket.resume();
    const max = this.pool.options.maxRequestsPerConnection;
    if (max !== undefined && max > 0 && this.served >= max) this.reusable = false;
    if (this.reusable && this.parser.keepAlive && this.idleTimeout > 0 && !this.socket.destroyed) {
      this.pool.release(this);
    } else {
      this.socket.destroy();
      this.pool.remove(this);
    }
  }

  /** Fails the request in flight (if any) and closes the connection. */
  fail(err: Error, cause: Cause): void {
    clearTimeout(this.#connectTimer);
    this.#stopStreaming?.();
    const ex = this.current;
    this.current = undefined;
    if (!this.socket.destroyed) this.socket.destroy();
    this.pool.remove(this);
    // Outlier detection counts what the endpoint did: a failed connect, or a request it cut short.
    const first = !this.#failed;
    this.#failed = true;
    if (cause === 'connect' && first) this.pool.options.report?.('connect-failure');
    if (ex && !ex.done) {
      // A reused connection that died before any byte of the response: the upstream closed it while idle.
      const stale = cause !== 'connect' && this.served > 0 && !this.parser.started;
      if (cause === 'upstream' && !stale) this.pool.options.report?.('reset');
      ex.conn = undefined;
      ex.fail(
        stale
          ? codedError(STALE_CONNECTION, `pooled connection was closed by the upstream (${err.message})`)
          : err,
      );
    }
  }

  /** When the connection went idle (performance.now()), for the pool's sweep. */
  idleSince = 0;
  #failed = false;
}

function sweepPeriod(c: Connection): number {
  return Math.max(25, c.idleTimeout / 4);
}

export class Http1Pool implements UpstreamPool {
  readonly address: string;
  readonly port: number;
  readonly options: Http1PoolOptions;
  readonly breaker: CircuitBreaker;
  readonly #idle: Connection[] = [];
  readonly #all = new Set<Connection>();
  readonly #queue: Exchange1[] = [];
  #closing = false;
  #sweep: NodeJS.Timeout | undefined;
  #sweepAt = 0;

  constructor(address: string, port: number, options: Http1PoolOptions) {
    this.address = address;
    this.port = port;
    this.options = options;
    this.breaker = options.breaker ?? new CircuitBreaker();
  }

  dispatch(opts: DispatchOptions, handler: DispatchHandler): boolean {
    const ex = new Exchange1(this, opts, handler);
    handler.onRequestStart?.(ex, undefined);
    if (ex.done) return false;
    if (this.#closing) {
      ex.fail(codedError('ECONNRESET', 'the endpoint was removed from the configuration'));
      return false;
    }
    const breaker = this.breaker;
    if (!breaker.admitRequest()) {
      ex.fail(codedError(OVERFLOW, 'the backend has maxRequests requests in flight'));
      return false;
    }
    const conn = opts.fresh ? undefined : this.#idle.pop();
    if (conn) {
      conn.start(ex);
      return true;
    }
    // No connected socket to go out on: the request is pending, whether it waits for a connection of its
    // own or in the queue (Envoy checks max_pending_requests before it creates a connection, too).
    if (!breaker.admitPending()) {
      ex.fail(codedError(OVERFLOW, 'the backend has maxPendingRequests requests waiting for a connection'));
      return false;
    }
    ex.to(PENDING);
    if (this.#canOpen()) this.#open().start(ex);
    else this.#queue.push(ex);
    return true;
  }

  /** Below this endpoint's maxConnections and the backend's (which an endpoint with none may exceed). */
  #canOpen(): boolean {
    return this.#all.size < this.options.maxConnections && this.breaker.admitConnection(this.#all.size === 0);
  }

  #open(): Connection {
    const conn = new Connection(this);
    this.#all.add(conn);
    this.breaker.connections++;
    return conn;
  }

  release(conn: Connection): void {
    for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
      // As Envoy when it attaches a pending request to a ready connection: maxRequests may have been
      // reached while it waited.
      if (this.breaker.admitRequest()) {
        conn.start(next);
        return;
      }
      next.fail(codedError(OVERFLOW, 'the backend has maxRequests requests in flight'));
    }
    if (this.#closing) {
      conn.socket.destroy();
      this.remove(conn);
      return;
    }
    conn.idleSince = performance.now();
    this.#idle.push(conn);
    this.#scheduleSweep();
  }

  /**
   * Idle connections are closed by one sweep timer per pool rather than a timer per connection (re-armed
   * on every request). A connection's sweep period is a quarter of its idle timeout (which a server's
   * Keep-Alive hint may have shortened); it is closed once idle for its timeout less one period, so none
   * outlives its timeout. The timer runs at the shortest period among the idle connections.
   */
  #scheduleSweep(): void {
    let period = Number.POSITIVE_INFINITY;
    for (const c of this.#idle) period = Math.min(period, sweepPeriod(c));
    if (period === Number.POSITIVE_INFINITY) return;
    const at = performance.now() + period;
    if (this.#sweep !== undefined && this.#sweepAt <= at) return;
    clearTimeout(this.#sweep);
    this.#sweepAt = at;
    this.#sweep = setTimeout(() => {
      this.#sweep = undefined;
      const now = performance.now();
      for (const c of [...this.#idle]) {
        if (now - c.idleSince >= c.idleTimeout - sweepPeriod(c)) {
          c.socket.destroy();
          this.remove(c);
        }
      }
      this.#scheduleSweep();
    }, period);
    this.#sweep.unref();
  }

  remove(conn: Connection): void {
    if (!this.#all.delete(conn)) return;
    this.breaker.connections--;
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
    if (this.#queue.length === 0) return;
    if (this.#closing) {
      this.#queue.shift()?.fail(codedError('ECONNRESET', 'the endpoint was removed from the configuration'));
      return;
    }
    // A queued request takes the freed slot on a new connection, if the backend's limit allows one.
    if (this.#canOpen()) this.#open().start(this.#queue.shift() as Exchange1);
  }

  dequeue(ex: Exchange1): void {
    const i = this.#queue.indexOf(ex);
    if (i !== -1) this.#queue.splice(i, 1);
  }

  get size(): { open: number; idle: number; queued: number } {
    return { open: this.#all.size, idle: this.#idle.length, queued: this.#queue.length };
  }

  /** Stops taking requests; idle connections close now, busy ones after their response. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const c of [...this.#idle]) {
      c.socket.destroy();
      this.remove(c);
    }
  }

  async destroy(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#sweep);
    for (const ex of this.#queue.splice(0)) ex.fail(codedError('ECONNRESET', 'proxy shutting down'));
    for (const c of [...this.#all]) c.fail(codedError('ECONNRESET', 'proxy shutting down'), 'local');
  }
}
