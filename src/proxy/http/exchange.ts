/**
 * One request/response exchange with an upstream endpoint, as a dispatch handler (upstream/types.ts). One object per
 * request holds everything (no closures per event). It streams the response to the downstream with
 * backpressure (pause the upstream when the downstream buffer is full, resume on drain), forwards trailers
 * (gRPC status), enforces the route timeout, and retries once on a fresh connection when a pooled
 * connection turns out dead before any response byte arrived and the request has no body (the race
 * behind Istio's intermittent 503 "UC": the upstream closed an idle keep-alive connection just as the
 * proxy reused it).
 */
import { type ProxyErrorCode, ProxyErrors } from '../../core/index.ts';
import type { HeaderMap } from '../filters/index.ts';
import type { ProxyRuntime } from '../runtime.ts';
import type { RouteBackend } from '../snapshot/index.ts';
import type { WeightedEndpoint } from '../upstream/balancers/index.ts';
import {
  CONNECT_TIMEOUT,
  canRetryOnFreshConnection,
  type DispatchController,
  type DispatchHandler,
  type DispatchOptions,
  UPSTREAM_PROTOCOL_ERROR,
  type UpstreamPool,
} from '../upstream/types.ts';
import { copyResponseHeaders } from './headers.ts';
import { type DownstreamResponse, respondError } from './respond.ts';

/** Where the request path leaves the Exchange on the response, for the listener's 'close' handler. */
export const EXCHANGE = Symbol('weft.exchange');

type Controller = DispatchController;

export class Exchange implements DispatchHandler {
  readonly rt: ProxyRuntime;
  readonly res: DownstreamResponse;
  readonly rb: RouteBackend;
  readonly endpoint: WeightedEndpoint;
  readonly method: string;
  readonly start: number;
  readonly grpc: boolean;
  readonly opts: DispatchOptions;
  controller: Controller | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  status = 0;
  error: ProxyErrorCode | undefined = undefined;
  responseStarted = false;
  done = false;
  attempt = 0;
  /** False while the request body is still being read (see body.ts). */
  dispatched = false;
  bytesOut = 0;
  #resume: (() => void) | undefined = undefined;

  constructor(
    rt: ProxyRuntime,
    res: DownstreamResponse,
    rb: RouteBackend,
    endpoint: WeightedEndpoint,
    method: string,
    start: number,
    grpc: boolean,
    opts: DispatchOptions,
  ) {
    this.rt = rt;
    this.res = res;
    this.rb = rb;
    this.endpoint = endpoint;
    this.method = method;
    this.start = start;
    this.grpc = grpc;
    this.opts = opts;
  }

  dispatch(): void {
    this.dispatched = true;
    this.endpoint.upstream.active++;
    (this.endpoint.upstream.pool as UpstreamPool).dispatch(this.opts, this);
  }

  /** Called by the route timer or when the downstream goes away. */
  abort(code: ProxyErrorCode): void {
    if (this.done) return;
    this.error = code;
    if (this.controller) this.controller.abort(new Error(code));
    else this.fail(code);
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    // The response was already decided (timeout or downstream gone) while the request sat in the queue.
    if (this.done) controller.abort(new Error(this.error ?? 'aborted'));
  }

  onResponseStart(
    _c: Controller,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (this.done) return;
    this.responseStarted = true;
    this.status = statusCode;
    // Weft's HTTP/1.1 parser already leaves hop-by-hop fields out; HTTP/2 response headers need the copy.
    const out: HeaderMap = this.rb.backend.protocol === 'http1' ? headers : copyResponseHeaders(headers);
    this.rb.chain.onResponse?.(statusCode, out);
    if (this.rt.draining && 'shouldKeepAlive' in this.res) out.connection = 'close';
    // The head is held until the first write or end (HTTP/2, fast path), so a gRPC Trailers-Only
    // response (grpc-status in the headers, no body) leaves as one frame.
    this.res.writeHead(statusCode, out as Record<string, string | string[]>);
    const now = performance.now();
    this.endpoint.upstream.observe(now - this.start, now);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.bytesOut += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.#resume ??= () => this.controller?.resume();
      this.res.once('drain', this.#resume);
    }
  }

  onResponseEnd(_c: Controller, trailers: Record<string, string | string[] | undefined>): void {
    if (this.done) return;
    let hasTrailers = false;
    for (const _ in trailers) {
      hasTrailers = true;
      break;
    }
    if (hasTrailers) this.res.addTrailers(copyResponseHeaders(trailers) as Record<string, string>);
    // Done before end(): a response may report 'close' synchronously (the HTTP/1.1 fast path), and a
    // close on an exchange that is not done means the downstream went away.
    this.finish();
    this.res.end();
  }

  onResponseError(_c: Controller, err: Error): void {
    if (this.done) return;
    if (
      this.error === undefined &&
      !this.responseStarted &&
      this.attempt === 0 &&
      canRetryOnFreshConnection(this.opts, err)
    ) {
      this.attempt++;
      this.opts.fresh = true;
      this.endpoint.upstream.active--;
      this.controller = undefined;
      this.rt.logger.debug('retrying on a fresh connection', {
        endpoint: this.endpoint.id,
        error: err.message,
      });
      this.dispatch();
      return;
    }
    this.fail(this.error ?? classify(err), err);
  }

  fail(code: ProxyErrorCode, err?: Error): void {
    if (this.done) return;
    this.error = code;
    if (err && code !== 'TIMEOUT')
      this.rt.logger.debug('upstream error', { code, endpoint: this.endpoint.id, error: err.message });
    this.status = ProxyErrors[code].status;
    this.finish();
    respondError(this.res, code, this.grpc);
  }

  finish(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.dispatched) this.endpoint.upstream.active--;
    this.rb.metrics.responseBytes.inc(this.bytesOut);
    this.rb.metrics.record(this.method, this.status, performance.now() - this.start, this.error);
  }
}

function classify(err: Error): ProxyErrorCode {
  const code = (err as { code?: string }).code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case CONNECT_TIMEOUT:
      return 'CONNECT_FAILED';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'TIMEOUT';
    case 'ERR_WEFT_PEER_IDENTITY':
      return 'UPSTREAM_TLS';
    default:
      if (/^(CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|ERR_SSL_|ERR_TLS_)/.test(code)) return 'UPSTREAM_TLS';
      if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === UPSTREAM_PROTOCOL_ERROR)
        return 'UPSTREAM_PROTOCOL';
      return 'UPSTREAM_RESET';
  }
}
