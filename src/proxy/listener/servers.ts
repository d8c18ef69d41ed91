/**
 * The HTTP servers behind a listener. Sockets are accepted by the listener and handed over with
 * `emit('connection')`, so one accept path serves declared and detected protocols alike. Requests that
 * node:http cannot parse are answered here with a `weft-error` (400, or 431 for oversized headers).
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { ProxyErrorCode } from '../../core/index.ts';
import { EXCHANGE, type Exchange } from '../http/exchange.ts';
import { isGrpc } from '../http/grpc.ts';
import { H2Downstream } from '../http/h2-downstream.ts';
import { type DownstreamRequest, handleRequest, type ServiceResolver } from '../http/handle.ts';
import { FastConnection, type FastHooks } from '../http/http1-fast.ts';
import { type DownstreamResponse, rawErrorResponse, respondError } from '../http/respond.ts';
import { handleUpgrade } from '../http/upgrade.ts';
import type { ProxyRuntime } from '../runtime.ts';

const DOWNSTREAM = Symbol('weft.downstream');

/** Requests in flight on a socket, so draining can close the idle ones. */
export const ACTIVE = Symbol('weft.active');
type Tracked = { [ACTIVE]?: number };

export interface HttpServers {
  h1: http.Server;
  /** Serves an HTTP/1.1 connection on the fast path, handing it to `h1` when a request needs node:http. */
  fast(socket: import('node:net').Socket): void;
  h2: http2.Http2Server;
  sessions: Set<http2.ServerHttp2Session>;
}

export function createHttpServers(
  rt: ProxyRuntime,
  resolve: ServiceResolver,
  settings: { maxRequestHeadersBytes: number; http2MaxConcurrentStreams: number; http1FastPath: boolean },
  onIdle: (socket: Tracked & import('node:net').Socket) => void,
): HttpServers {
  type Socket = Tracked & import('node:net').Socket;
  /** A request starts: counted for draining, per HTTP/1.1 socket too (HTTP/2 drains by GOAWAY). */
  const requestStarted = (socket: Socket | undefined) => {
    rt.inflight.inc();
    if (socket) socket[ACTIVE] = (socket[ACTIVE] ?? 0) + 1;
  };
  /** A response ended or its client went away first: then the upstream work stops too. */
  const requestClosed = (res: object, socket: Socket | undefined) => {
    rt.inflight.dec();
    const ex = (res as { [EXCHANGE]?: Exchange })[EXCHANGE];
    if (ex !== undefined && !ex.done) ex.abort('UPSTREAM_RESET');
    if (socket && socket[ACTIVE] !== undefined && --socket[ACTIVE] === 0) onIdle(socket);
  };
  /** Runs the request path; a bug costs one request, never the process. */
  const run = (req: DownstreamRequest, res: DownstreamResponse) => {
    try {
      handleRequest(rt, resolve, req, res);
    } catch (err) {
      rt.logger.error('request handler failed', { error: err as Error });
      respondError(res, 'INTERNAL', isGrpc(req.headers as Record<string, string | string[] | undefined>));
    }
  };
  function onResponseClose(this: http.ServerResponse & { [EXCHANGE]?: Exchange }) {
    requestClosed(this, this.req.socket as Socket);
  }
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requestStarted(req.socket as Socket);
    // 'close' fires once per response; on() avoids the wrapper once() allocates per request.
    res.on('close', onResponseClose);
    run(req, res as unknown as DownstreamResponse);
  };

  const h1 = http.createServer(
    {
      maxHeaderSize: settings.maxRequestHeadersBytes,
      requireHostHeader: false,
      keepAliveTimeout: 60_000,
      headersTimeout: 30_000,
      requestTimeout: 0,
    },
    onRequest,
  );
  h1.on('upgrade', (req: http.IncomingMessage, socket: import('node:net').Socket, head: Buffer) => {
    try {
      handleUpgrade(rt, resolve, req, socket, head);
    } catch (err) {
      rt.logger.error('upgrade handler failed', { error: err as Error });
      socket.destroy();
    }
  });
  h1.on('clientError', (err: NodeJS.ErrnoException, socket: import('node:net').Socket) => {
    const code: ProxyErrorCode =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? 'HEADERS_TOO_LARGE'
        : err.code === 'HPE_INVALID_HEADER_TOKEN'
          ? 'INVALID_HEADER'
          : 'BAD_REQUEST';
    rt.logger.debug('malformed request', { code: err.code, weftError: code });
    if (
      err.code === 'ECONNRESET' ||
      !socket.writable ||
      (socket as { _httpMessage?: unknown })._httpMessage
    ) {
      socket.destroy();
      return;
    }
    socket.end(rawErrorResponse(code));
  });

  function onStreamClose(this: http2.ServerHttp2Stream & { [DOWNSTREAM]?: H2Downstream }) {
    const d = this[DOWNSTREAM];
    if (d) requestClosed(d, undefined);
  }
  const onStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    const d = new H2Downstream(stream, headers);
    (stream as { [DOWNSTREAM]?: H2Downstream })[DOWNSTREAM] = d;
    requestStarted(undefined);
    stream.on('close', onStreamClose);
    stream.on('error', onStreamError);
    run(d, d);
  };
  const onStreamError = (err: Error) => rt.logger.debug('http2 stream error', { error: err });

  const sessions = new Set<http2.ServerHttp2Session>();
  // The stream API, not the compatibility layer: see h2-downstream.ts.
  const h2 = http2.createServer({
    settings: {
      maxConcurrentStreams: settings.http2MaxConcurrentStreams,
      maxHeaderListSize: settings.maxRequestHeadersBytes,
    },
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
  });
  h2.on('stream', onStream);
  h2.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', (err) => rt.logger.debug('http2 session error', { error: err }));
  });
  h2.on('sessionError', (err) => rt.logger.debug('http2 session error', { error: err }));

  const fastHooks: FastHooks = {
    serve(req, res) {
      const socket = req.socket as Socket;
      requestStarted(socket);
      res.onClose = () => requestClosed(res, socket);
      run(req, res);
    },
    handOver(socket) {
      h1.emit('connection', socket);
      socket.resume();
    },
    draining: () => rt.draining,
  };
  const fast = (socket: import('node:net').Socket) => {
    if (settings.http1FastPath) new FastConnection(socket, fastHooks, settings.maxRequestHeadersBytes);
    else fastHooks.handOver(socket);
  };
  return { h1, h2, sessions, fast };
}
