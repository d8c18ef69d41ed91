/**
 * The proxy's end of the config stream (docs/design/003, "Config distribution"): one HTTP/2 session to
 * the control plane, one POST stream on it, a hello with the version the proxy runs, then an ack or a
 * nack for every config received. Configs are applied one at a time; if several arrive during an apply,
 * only the latest is applied next (each is a complete config, so skipping is safe).
 *
 * When the session or the stream is lost (an error, a close, a GOAWAY, or silence: the client pings every
 * 5 s and gives up after 15 s with neither data nor an answer), there is nothing to undo: the proxy keeps
 * serving its current snapshot. The client reconnects with exponential backoff and full jitter, logs the
 * loss once at warn level (each retry only at debug), and after `close()` never reconnects.
 *
 * Runs inside every proxy process, so it uses only node: built-ins and the protocol module of src/api.
 */
import http2 from 'node:http2';
import net from 'node:net';
import {
  CONFIG_PATH,
  CONTENT_TYPE,
  type ConfigMessage,
  createLineReader,
  encodeMessage,
  type LineReader,
  MAX_LINE_BYTES,
  NODE_HEADER,
  parseControlMessage,
} from '../../api/distribution/index.ts';
import { ConfigError, type Logger } from '../../core/index.ts';
import { type BackoffSettings, backoffDelay, DEFAULT_BACKOFF } from './backoff.ts';
import { type ControlTarget, parseControlTarget } from './target.ts';

const { NGHTTP2_CANCEL } = http2.constants;

export type ApplyOutcome =
  | { ok: true; version: string }
  | { ok: false; version: string | undefined; issues: readonly unknown[] };

export interface ControlClientOptions {
  /** `unix:/path/control.sock` or `http://127.0.0.1:1234`. */
  target: string;
  /** This proxy's node id: the view it asks for. */
  node: string;
  /** Validates, compiles and swaps in a config (ProxyServer.apply). A throw counts as a rejection. */
  apply(config: unknown): Promise<ApplyOutcome>;
  /** The version the proxy runs now, sent in every hello; undefined before the first config. */
  currentVersion(): string | undefined;
  logger: Logger;
  /** For the reconnect jitter; Math.random by default. */
  random?: () => number;
  backoff?: Partial<BackoffSettings>;
  /** PING every `intervalMs`; reconnect after `timeoutMs` with no data and no PING answer (5 s / 15 s). */
  keepalive?: { intervalMs: number; timeoutMs: number };
  maxLineBytes?: number;
}

export interface ControlClient {
  /** Stops the stream, the session and any pending reconnect; never reconnects afterwards. */
  close(): Promise<void>;
  /** True while the stream is open and the control plane has answered it. */
  connected(): boolean;
  /**
   * Resolves once the proxy holds a config: at once if `currentVersion()` was already set when the
   * client started, else when the first config from the control plane applies. Rejects on `close()`
   * before that.
   */
  onFirstConfig: Promise<void>;
}

interface Attempt {
  session: http2.ClientHttp2Session;
  stream: http2.ClientHttp2Stream;
  reader: LineReader;
  connected: boolean;
  connectedAt: number;
  /** Monotonic time of the last byte or PING answer. */
  lastAlive: number;
  pinging: boolean;
  watchdog: NodeJS.Timeout;
  done: boolean;
  closed: Promise<void>;
}

export function connectControlPlane(options: ControlClientOptions): ControlClient {
  const target: ControlTarget = parseControlTarget(options.target);
  const { node, logger } = options;
  const random = options.random ?? Math.random;
  const backoff: BackoffSettings = { ...DEFAULT_BACKOFF, ...options.backoff };
  const keepalive = options.keepalive ?? { intervalMs: 5000, timeoutMs: 15_000 };
  const maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  const mono = () => performance.now();

  let closed = false;
  let current: Attempt | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retries = 0;
  /** A loss was logged at warn level and no connection has succeeded since. */
  let reportedDown = false;

  // Configs are applied one at a time, across reconnects: two applies must never interleave.
  let next: { attempt: Attempt; message: ConfigMessage } | undefined;
  let applying = false;

  let firstConfigDone = false;
  let resolveFirst: () => void = () => {};
  let rejectFirst: (err: Error) => void = () => {};
  const onFirstConfig = new Promise<void>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  // A caller that never awaits it must not see an unhandled rejection on close().
  onFirstConfig.catch(() => {});
  const firstConfig = () => {
    if (firstConfigDone) return;
    firstConfigDone = true;
    resolveFirst();
  };
  if (options.currentVersion() !== undefined) firstConfig();

  function start(): void {
    retryTimer = undefined;
    if (closed) return;
    const session =
      target.kind === 'unix'
        ? http2.connect(target.authority, { createConnection: () => net.connect(target.path) })
        : http2.connect(target.authority);
    const stream = session.request(
      { ':method': 'POST', ':path': CONFIG_PATH, [NODE_HEADER]: node, 'content-type': CONTENT_TYPE },
      { endStream: false },
    );
    const a: Attempt = {
      session,
      stream,
      reader: createLineReader({
        maxLineBytes,
        onLine: (line) => {
          const parsed = parseControlMessage(line);
          if (parsed.ok) receive(a, parsed.message);
          else lost(a, `protocol error: ${parsed.error}`, 'warn');
        },
        onError: (err) => lost(a, `protocol error: ${err.message}`, 'warn'),
      }),
      connected: false,
      connectedAt: 0,
      lastAlive: mono(),
      pinging: false,
      watchdog: setInterval(() => watch(a), keepalive.intervalMs),
      done: false,
      closed: new Promise<void>((resolve) => session.once('close', () => resolve())),
    };
    // The session and the stream keep the process alive while they are open; the watchdog need not.
    a.watchdog.unref();
    current = a;

    session.on('error', (err) => lost(a, err.message));
    session.on('goaway', (code) => lost(a, `the control plane sent GOAWAY (code ${code})`));
    session.on('close', () => lost(a, 'the connection closed'));
    stream.on('error', (err) => lost(a, err.message));
    stream.on('response', (headers) => {
      const status = headers[':status'];
      if (status !== 200) return lost(a, `the control plane answered ${status}`, 'warn');
      connected(a);
    });
    stream.on('data', (chunk: Buffer) => {
      a.lastAlive = mono();
      a.reader.push(chunk);
    });
    stream.on('end', () => lost(a, 'the control plane ended the stream'));
    stream.on('close', () => lost(a, `the stream closed (code ${stream.rstCode ?? 0})`));
    stream.write(encodeMessage({ type: 'hello', node, version: options.currentVersion() ?? '' }));
  }

  function connected(a: Attempt): void {
    if (a.done) return;
    a.connected = true;
    a.connectedAt = mono();
    a.lastAlive = a.connectedAt;
    logger.info('connected to the control plane', {
      target: options.target,
      node,
      version: options.currentVersion(),
      retries,
    });
    reportedDown = false;
  }

  /** Pings every interval; gives up on a connection that has been silent for the timeout. */
  function watch(a: Attempt): void {
    if (a.done) return;
    const quiet = mono() - a.lastAlive;
    if (quiet > keepalive.timeoutMs) {
      lost(a, `no data and no PING answer for ${Math.round(quiet)} ms`);
      return;
    }
    if (a.pinging || a.session.connecting || a.session.destroyed) return;
    a.pinging = true;
    a.session.ping((err) => {
      a.pinging = false;
      if (err === null) a.lastAlive = mono();
    });
  }

  function receive(a: Attempt, message: ConfigMessage): void {
    next = { attempt: a, message };
    if (!applying) void applyLoop();
  }

  async function applyLoop(): Promise<void> {
    applying = true;
    try {
      while (next !== undefined && !closed) {
        const { attempt, message } = next;
        next = undefined;
        const outcome = await applySafely(message);
        if (outcome.ok) firstConfig();
        else
          logger.warn('config from the control plane rejected; keeping the current one', {
            version: message.version,
            issues: outcome.issues,
          });
        // The reply goes on the stream that brought the config; after a reconnect the hello says it.
        if (!attempt.done && !attempt.stream.destroyed)
          attempt.stream.write(
            encodeMessage(
              outcome.ok
                ? { type: 'ack', version: message.version }
                : { type: 'nack', version: message.version, issues: [...outcome.issues] },
            ),
          );
      }
    } finally {
      applying = false;
    }
  }

  async function applySafely(message: ConfigMessage): Promise<ApplyOutcome> {
    try {
      return await options.apply(message.config);
    } catch (err) {
      // ProxyServer.apply throws for a first config that fails: that is a rejection like any other.
      if (err instanceof ConfigError) return { ok: false, version: message.version, issues: err.issues };
      logger.error('applying a config from the control plane failed', {
        version: message.version,
        error: err as Error,
      });
      return {
        ok: false,
        version: message.version,
        issues: [{ code: 'APPLY_FAILED', path: '', message: (err as Error).message }],
      };
    }
  }

  /** Ends an attempt (idempotent) and schedules the next one. */
  function lost(a: Attempt, reason: string, level: 'warn' | 'debug' = 'debug'): void {
    if (a.done) return;
    a.done = true;
    clearInterval(a.watchdog);
    a.reader.stop();
    if (!a.stream.destroyed) a.stream.close(NGHTTP2_CANCEL);
    if (!a.session.destroyed) a.session.destroy();
    if (current === a) current = undefined;
    if (closed) return;
    if (a.connected) {
      if (mono() - a.connectedAt >= backoff.stableMs) retries = 0;
      logger.warn('lost the control plane; serving the current config and reconnecting', {
        target: options.target,
        reason,
      });
      reportedDown = true;
    } else if (!reportedDown) {
      logger.warn('cannot reach the control plane; serving the current config and retrying', {
        target: options.target,
        reason,
      });
      reportedDown = true;
    } else if (level === 'warn') {
      // A protocol error or an HTTP error status is worth seeing each time: retrying will not fix it.
      logger.warn('the control plane refused the stream', { target: options.target, reason });
    }
    const delayMs = backoffDelay(retries, random, backoff);
    retries++;
    logger.debug('reconnecting to the control plane', {
      target: options.target,
      retry: retries,
      delayMs,
      reason,
    });
    retryTimer = setTimeout(start, delayMs);
  }

  start();

  return {
    onFirstConfig,
    connected: () => current?.connected === true && !current.done,
    async close() {
      if (closed) return;
      closed = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      next = undefined;
      if (!firstConfigDone)
        rejectFirst(new Error('the control plane client was closed before a config arrived'));
      const a = current;
      if (a !== undefined) {
        lost(a, 'closed');
        await a.closed;
      }
    },
  };
}
