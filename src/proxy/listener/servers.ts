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
import { handleRequest, type ServiceResolver } from '../http/handle.ts';
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
  function onResponseClose(
    this: (http.ServerResponse | http2.Http2ServerResponse) & { [EXCHANGE]?: Exchange },
  ) {
    rt.inflight.dec();
    // The downstream went away before the response finished: stop the upstream work too.
    const ex = this[EXCHANGE];
    if (ex !== undefined && !ex.done) ex.abort('UPSTREAM_RESET');
    // HTTP/1.1 only: HTTP/2 connections drain through their session (GOAWAY), see Listener.close.
    const socket = (this as { req?: { socket?: Tracked & import('node:net').Socket } }).req?.socket;
    if (socket && socket[ACTIVE] !== undefined && --socket[ACTIVE] === 0) onIdle(socket);
  }
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    rt.inflight.inc();
    const socket = req.socket as (Tracked & import('node:net').Socket) | null;
    if (socket) socket[ACTIVE] = (socket[ACTIVE] ?? 0) + 1;
    // 'close' fires once per response; on() avoids the wrapper once() allocates per request.
    res.on('close', onResponseClose);
    try {
      handleRequest(rt, resolve, req, res as unknown as DownstreamResponse);
    } catch (err) {
      // A bug must cost one request, never the process.
      rt.logger.error('request handler failed', { error: err as Error });
      respondError(res as unknown as DownstreamResponse, 'INTERNAL', isGrpc(req.headers));
    }
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
    if (d) onResponseClose.call(d as unknown as http.ServerResponse);
  }
  const onStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    const d = new H2Downstream(stream, headers);
    (stream as { [DOWNSTREAM]?: H2Downstream })[DOWNSTREAM] = d;
    rt.inflight.inc();
    stream.on('close', onStreamClose);
    stream.on('error', onStreamError);
    try {
      handleRequest(rt, resolve, d, d);
    } catch (err) {
      rt.logger.error('request handler failed', { error: err as Error });
      respondError(d, 'INTERNAL', isGrpc(d.headers));
    }
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
      rt.inflight.inc();
      const socket = req.socket as Tracked & import('node:net').Socket;
      socket[ACTIVE] = (socket[ACTIVE] ?? 0) + 1;
      res.onClose = () => {
        rt.inflight.dec();
        const ex = (res as { [EXCHANGE]?: Exchange })[EXCHANGE];
        if (ex !== undefined && !ex.done) ex.abort('UPSTREAM_RESET');
        if (socket[ACTIVE] !== undefined && --socket[ACTIVE] === 0) onIdle(socket);
      };
      try {
        handleRequest(rt, resolve, req, res);
      } catch (err) {
        rt.logger.error('request handler failed', { error: err as Error });
        respondError(res, 'INTERNAL', isGrpc(req.headers));
      }
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
