/**
 * The request path's side of the filters' admit phase (filters/types.ts): runs a route's admit filters
 * once per request before the route acts, then lets the request go on, answers it with a filter's
 * LocalReply, or holds it on a timer first (fault delays).
 *
 * - Response headers the filters add (CORS, x-ratelimit-*) are set on the response before anything else
 *   writes it, so the upstream's response, a filter's reply and the proxy's own errors all carry them.
 * - A reply with a `weft-error` code is made like the proxy's other errors (respond.ts): plain text with
 *   the code, or for a gRPC request a Trailers-Only response with the reply's grpc-status. A reply
 *   without a code (a CORS preflight) is sent as configured, without a body.
 * - A hold does not block: a timer per held request, which the listener's close handler cancels through
 *   the same slot as an upstream exchange (EXCHANGE), so a client that goes away during a delay sends
 *   nothing upstream. The route timeout starts when the hold ends, as Envoy's router timer starts only
 *   when the fault filter lets the request through.
 */
import { type ProxyErrorCode, ProxyErrors } from '../../core/index.ts';
import type { Admission, AdmitPhase, LocalReply } from '../filters/index.ts';
import type { RequestView } from '../router/index.ts';
import { EXCHANGE } from './exchange.ts';
import type { DownstreamResponse } from './respond.ts';

/**
 * Runs the admit phase. Returns false when the request goes on now (the caller continues), true when the
 * phase took it over: answered it, or holds it and calls `next` when the hold ends.
 */
export function admitRequest(
  phase: AdmitPhase,
  view: RequestView,
  grpc: boolean,
  res: DownstreamResponse,
  method: string,
  start: number,
  next: () => void,
): boolean {
  const admission: Admission = { request: view, responseHeaders: undefined };
  const verdict = phase.run(admission);
  const add = admission.responseHeaders;
  if (add !== undefined) for (const name in add) res.setHeader?.(name, add[name] as string);
  if (verdict === undefined) return false;
  if (verdict.kind === 'reply') {
    const status = writeLocalReply(res, verdict, grpc);
    phase.metrics.record(method, status, performance.now() - start, verdict.code);
    return true;
  }
  const hold = new HeldRequest(phase, verdict.reply, res, grpc, method, start, next);
  (res as { [EXCHANGE]?: HeldRequest })[EXCHANGE] = hold;
  hold.timer = setTimeout(hold.resume, verdict.ms);
  return true;
}

/**
 * A request held by a filter. It sits where the listener's close handler looks for the exchange to abort
 * (servers.ts calls `abort` on it unless it is `done`); the exchange that follows the hold replaces it.
 */
class HeldRequest {
  readonly phase: AdmitPhase;
  readonly reply: LocalReply | undefined;
  readonly res: DownstreamResponse;
  readonly grpc: boolean;
  readonly method: string;
  readonly start: number;
  readonly next: () => void;
  timer: NodeJS.Timeout | undefined = undefined;
  done = false;

  constructor(
    phase: AdmitPhase,
    reply: LocalReply | undefined,
    res: DownstreamResponse,
    grpc: boolean,
    method: string,
    start: number,
    next: () => void,
  ) {
    this.phase = phase;
    this.reply = reply;
    this.res = res;
    this.grpc = grpc;
    this.method = method;
    this.start = start;
    this.next = next;
  }

  readonly resume = (): void => {
    if (this.done) return;
    this.done = true;
    if (this.reply === undefined) {
      this.next();
      return;
    }
    const status = writeLocalReply(this.res, this.reply, this.grpc);
    this.phase.metrics.record(this.method, status, performance.now() - this.start, this.reply.code);
  };

  /** The client went away during the hold: nothing is sent anywhere; counted like an abandoned exchange. */
  abort(code: ProxyErrorCode): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.phase.metrics.record(this.method, ProxyErrors[code].status, performance.now() - this.start, code);
  }
}

/** Writes a filter's reply; returns the status recorded for it. */
export function writeLocalReply(res: DownstreamResponse, reply: LocalReply, grpc: boolean): number {
  const code = reply.code;
  if (code === undefined) {
    res.writeHead(reply.status, reply.headers as Record<string, string> | undefined);
    res.end();
    return reply.status;
  }
  const message = ProxyErrors[code].description;
  if (grpc) {
    // Held until end() by every writer: one HEADERS frame with END_STREAM, a Trailers-Only response.
    res.writeHead(200, {
      ...reply.headers,
      'content-type': 'application/grpc',
      'grpc-status': String(reply.grpcStatus),
      'grpc-message': encodeURIComponent(message),
      'weft-error': code,
    });
    res.end();
    return reply.status;
  }
  const body = `${message}\n`;
  res.writeHead(reply.status, {
    ...reply.headers,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'weft-error': code,
  });
  res.end(body);
  return reply.status;
}
