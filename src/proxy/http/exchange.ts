/**
 * One request/response exchange with the upstream, as a dispatch handler (upstream/types.ts). One object per
 * request holds everything (no closures per event). It streams the response to the downstream with
 * backpressure (pause the upstream when the downstream buffer is full, resume on drain), forwards trailers
 * (gRPC status), enforces the route timeout, and retries once on a fresh connection when a pooled
 * connection turns out dead before any response byte arrived and the request has no body (the race
 * behind Istio's intermittent 503 "UC": the upstream closed an idle keep-alive connection just as the
 * proxy reused it).
 *
 * On a route with a retry policy (../retry/) the exchange is also the retry loop: a try that fails under
 * one of the policy's conditions is dropped (its response read and discarded, or the try cancelled) and,
 * after a jittered back-off, sent again to another endpoint of the same backend, while attempts, the
 * backend's retry budget and the route timeout allow it, no byte of the response has reached the client,
 * and the body can be sent again. Each event carries the controller of the try it belongs to; events of a
 * dropped try are ignored. The per-request retry state is its own object, made only on such routes.
 */
import { type ProxyErrorCode, ProxyErrors } from '../../core/index.ts';
import type { HeaderMap } from '../filters/index.ts';
import {
  backoffDelay,
  type FailureKind,
  HOST_SELECTION_RETRY_MAX_ATTEMPTS,
  type RouteRetry,
  retryOnFailure,
  retryOnGrpcStatus,
  retryOnResponse,
} from '../retry/index.ts';
import type { ProxyRuntime } from '../runtime.ts';
import type { RouteBackend } from '../snapshot/index.ts';
import type { WeightedEndpoint } from '../upstream/balancers/index.ts';
import {
  CONNECT_TIMEOUT,
  canRetryOnFreshConnection,
  type DispatchController,
  type DispatchHandler,
  type DispatchOptions,
  OVERFLOW,
  STALE_CONNECTION,
  UPSTREAM_PROTOCOL_ERROR,
  type UpstreamPool,
} from '../upstream/types.ts';
import { copyResponseHeaders } from './headers.ts';
import { type DownstreamResponse, respondError } from './respond.ts';

/** Where the request path leaves the Exchange on the response, for the listener's 'close' handler. */
export const EXCHANGE = Symbol('weft.exchange');

/** The request header that numbers the tries when a route asks for it (Envoy's name). */
export const ATTEMPT_COUNT = 'x-envoy-attempt-count';

type Controller = DispatchController;

/** The retry bookkeeping of one request; made only when its route has a retry policy. */
export class RetryState {
  readonly route: RouteRetry;
  /** Retries sent so far. */
  retries = 0;
  /** When the route timeout expires (performance.now() time). */
  deadline = Number.POSITIVE_INFINITY;
  /** The request's consistent-hash key, to pick the endpoint of a retry as the first was picked. */
  hashKey: string | undefined = undefined;
  tryTimer: NodeJS.Timeout | undefined = undefined;
  /** The per-try timeout cancelled the current try. */
  tryTimedOut = false;
  backoff: NodeJS.Timeout | undefined = undefined;
  /** A dropped try whose response is still being read; cancelled when the next try goes. */
  discard: Controller | undefined = undefined;
  /** A gRPC response head held back until a message shows the call did not fail at once. */
  heldStatus = 0;
  heldHeaders: HeaderMap | undefined = undefined;
  /** Endpoints tried so far, avoided by the next pick (Envoy's previous_hosts). */
  readonly attempted: WeightedEndpoint[] = [];
  /** This request holds a slot of the backend's retry budget. */
  budgetHeld = false;
  /** Without a budget: the upstream whose backend's circuit breaker gave this request a retry slot. */
  breakerSlot: WeightedEndpoint['upstream'] | undefined = undefined;
  readonly onTryTimeout: () => void;
  readonly onBackoff: () => void;

  constructor(ex: Exchange, route: RouteRetry) {
    this.route = route;
    this.onTryTimeout = () => ex.tryTimeout();
    this.onBackoff = () => ex.sendRetry();
  }
}

export class Exchange implements DispatchHandler {
  readonly rt: ProxyRuntime;
  readonly res: DownstreamResponse;
  readonly rb: RouteBackend;
  /** The endpoint of the current try: a retry may move to another. */
  endpoint: WeightedEndpoint;
  readonly method: string;
  readonly start: number;
  readonly grpc: boolean;
  readonly opts: DispatchOptions;
  /** The current try's; undefined between tries. */
  controller: Controller | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  status = 0;
  error: ProxyErrorCode | undefined = undefined;
  /** The response head went to the downstream: nothing can be retried from here. */
  responseStarted = false;
  done = false;
  /** Fresh-connection retries of the current try (at most one; not a retry attempt). */
  attempt = 0;
  /** The current try counts in its endpoint's in-flight requests (not while the body is read: body.ts). */
  dispatched = false;
  bytesOut = 0;
  /** When the current try was sent: the request's start for the first. */
  tryStart: number;
  readonly retry: RetryState | undefined;
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
    this.tryStart = start;
    this.retry = rb.retry === undefined ? undefined : new RetryState(this, rb.retry);
  }

  dispatch(): void {
    this.dispatched = true;
    this.endpoint.upstream.active++;
    const r = this.retry;
    if (r !== undefined && r.tryTimer === undefined && r.route.policy.perTryTimeoutMs > 0)
      this.#armTryTimer(r);
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
    c: Controller,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (this.done || c !== this.controller) return;
    const now = performance.now();
    this.endpoint.upstream.observe(now - this.tryStart, now);
    const r = this.retry;
    if (r !== undefined && this.#retryOrHold(r, statusCode, headers)) return;
    this.#forwardHead(statusCode, headers);
  }

  #forwardHead(statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.responseStarted = true;
    this.status = statusCode;
    // Weft's HTTP/1.1 parser already leaves hop-by-hop fields out; HTTP/2 response headers need the copy.
    const out: HeaderMap = this.rb.backend.protocol === 'http1' ? headers : copyResponseHeaders(headers);
    this.rb.chain.onResponse?.(statusCode, out);
    if (this.rt.draining && 'shouldKeepAlive' in this.res) out.connection = 'close';
    // The head is held until the first write or end (HTTP/2, fast path), so a gRPC Trailers-Only
    // response (grpc-status in the headers, no body) leaves as one frame.
    this.res.writeHead(statusCode, out as Record<string, string | string[]>);
    const r = this.retry;
    if (r !== undefined) {
      // As Envoy: the per-try timeout ends once the response is under way, and so does the retry's slot.
      this.#clearTryTimer(r);
      this.#releaseBudget(r);
    }
  }

  onResponseData(c: Controller, chunk: Buffer): void {
    if (c !== this.controller) return;
    const r = this.retry;
    if (r !== undefined && r.heldHeaders !== undefined) this.#releaseHead(r);
    this.bytesOut += chunk.length;
    if (!this.res.write(chunk)) {
      c.pause();
      this.#resume ??= () => this.controller?.resume();
      this.res.once('drain', this.#resume);
    }
  }

  onResponseEnd(c: Controller, trailers: Record<string, string | string[] | undefined>): void {
    if (this.done || c !== this.controller) return;
    const r = this.retry;
    if (r !== undefined && r.heldHeaders !== undefined) {
      // A gRPC call that ended without a message: its status in the trailers may call for a retry.
      const grpcStatus = trailers['grpc-status'];
      const reason =
        typeof grpcStatus === 'string' && this.#canRetry(r)
          ? retryOnGrpcStatus(r.route.policy.conditions, grpcStatus)
          : undefined;
      if (reason !== undefined && this.#retry(r, reason)) return;
      this.#releaseHead(r);
    }
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

  onResponseError(c: Controller, err: Error): void {
    if (this.done || c !== this.controller) return;
    const r = this.retry;
    if (
      this.error === undefined &&
      !this.responseStarted &&
      this.attempt === 0 &&
      r?.tryTimedOut !== true &&
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
    // Outlier detection: a try cut short by a timeout counts against its endpoint (the pool reports the rest).
    if (this.error === 'TIMEOUT' || r?.tryTimedOut === true) this.endpoint.upstream.outcome('timeout');
    if (this.error !== undefined) {
      this.fail(this.error, err);
      return;
    }
    const code: ProxyErrorCode = r?.tryTimedOut === true ? 'PER_TRY_TIMEOUT' : classify(err);
    if (r !== undefined && !this.responseStarted && this.#canRetry(r)) {
      const reason = retryOnFailure(
        r.route.policy.conditions,
        failureKind(code, err, this.rb.backend.protocol),
      );
      if (reason !== undefined && this.#retry(r, reason, code, err)) return;
    }
    this.fail(code, err);
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
    const r = this.retry;
    if (r !== undefined) this.#endRetries(r);
    if (this.dispatched) this.endpoint.upstream.active--;
    this.rb.metrics.responseBytes.inc(this.bytesOut);
    this.rb.metrics.record(this.method, this.status, performance.now() - this.start, this.error);
  }

  /** The per-try timer fired: cancel the try; onResponseError decides what follows. */
  tryTimeout(): void {
    const r = this.retry as RetryState;
    r.tryTimer = undefined;
    if (this.done || this.responseStarted || this.controller === undefined) return;
    r.tryTimedOut = true;
    this.controller.abort(
      new Error(`per-try timeout: no response within ${r.route.policy.perTryTimeoutMs} ms`),
    );
  }

  /** The back-off ended: send the next try. */
  sendRetry(): void {
    const r = this.retry as RetryState;
    r.backoff = undefined;
    if (this.done) return;
    const discard = r.discard;
    if (discard !== undefined) {
      r.discard = undefined;
      discard.abort(new Error('dropped for a retry'));
    }
    this.endpoint = this.#pickRetryEndpoint(r);
    this.attempt = 0;
    if (this.opts.fresh) this.opts.fresh = false;
    if (r.route.attemptCount) this.opts.headers[ATTEMPT_COUNT] = String(r.retries + 1);
    this.tryStart = performance.now();
    this.dispatch();
  }

  /**
   * Whether a response head ends the try: it calls for a retry (the retry is scheduled and the rest of the
   * response is read and dropped), or it is a gRPC head held back until a message or the trailers show
   * whether the call failed at once.
   */
  #retryOrHold(
    r: RetryState,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): boolean {
    if (!this.#canRetry(r)) return false;
    const grpcStatus = headers['grpc-status'];
    const policy = r.route.policy;
    const reason = retryOnResponse(
      policy.conditions,
      status,
      typeof grpcStatus === 'string' ? grpcStatus : undefined,
    );
    if (reason !== undefined) {
      const c = this.controller;
      if (!this.#retry(r, reason)) return false;
      r.discard = c;
      return true;
    }
    if (policy.grpc && this.grpc && status === 200 && grpcStatus === undefined) {
      r.heldStatus = status;
      r.heldHeaders = headers;
      return true;
    }
    return false;
  }

  #releaseHead(r: RetryState): void {
    const headers = r.heldHeaders as HeaderMap;
    r.heldHeaders = undefined;
    this.#forwardHead(r.heldStatus, headers);
  }

  /** Another try is allowed in principle: attempts are left and the body can be sent again. */
  #canRetry(r: RetryState): boolean {
    const body = this.opts.body;
    return r.retries < r.route.policy.attempts && (body === null || Buffer.isBuffer(body));
  }

  /**
   * Schedules a retry unless the route timeout, the backend's retry budget or, without one, its circuit
   * breaker's maxRetries (as in Envoy, a budget replaces max_retries) forbids it; on success the current
   * try is over. `code` and `err` are the failure, for the debug log.
   */
  #retry(r: RetryState, reason: string, code?: ProxyErrorCode, err?: Error): boolean {
    const route = r.route;
    const policy = route.policy;
    const delay = backoffDelay(r.retries + 1, policy.baseIntervalMs, policy.maxIntervalMs, policy.random);
    // A retry that could not even start before the route timeout is not sent: the client gets this
    // failure now rather than a 504 later.
    if (performance.now() + delay >= r.deadline) return false;
    const budget = route.budget;
    this.#releaseBudget(r);
    if (budget !== undefined) {
      if (!budget.tryAcquire()) {
        route.metrics.budgetExhausted();
        return false;
      }
      r.budgetHeld = true;
    } else {
      // Refusals are counted by the breaker (weft_upstream_overflow_total{kind="retries"}).
      const upstream = this.endpoint.upstream;
      if (!upstream.tryAcquireRetry()) return false;
      r.breakerSlot = upstream;
    }
    route.metrics.retried(reason);
    r.retries++;
    r.attempted.push(this.endpoint);
    if (code !== undefined)
      this.rt.logger.debug('retrying', { reason, code, endpoint: this.endpoint.id, error: err?.message });
    this.#endTry(r);
    r.backoff = setTimeout(r.onBackoff, delay);
    return true;
  }

  /** The current try is over (a retry follows): it leaves its endpoint's count; its events are ignored. */
  #endTry(r: RetryState): void {
    this.#clearTryTimer(r);
    r.tryTimedOut = false;
    r.heldHeaders = undefined;
    if (this.dispatched) {
      this.dispatched = false;
      this.endpoint.upstream.active--;
    }
    this.controller = undefined;
  }

  /** The request is over: nothing of its retries may outlive it. */
  #endRetries(r: RetryState): void {
    this.#clearTryTimer(r);
    if (r.backoff !== undefined) {
      clearTimeout(r.backoff);
      r.backoff = undefined;
    }
    const discard = r.discard;
    if (discard !== undefined) {
      r.discard = undefined;
      discard.abort(new Error('request finished'));
    }
    this.#releaseBudget(r);
  }

  #armTryTimer(r: RetryState): void {
    const body = this.opts.body;
    if (body === null || Buffer.isBuffer(body)) {
      r.tryTimer = setTimeout(r.onTryTimeout, r.route.policy.perTryTimeoutMs);
      return;
    }
    // A streamed body: as Envoy, the per-try timeout counts from the end of the request.
    body.once('end', () => {
      if (!this.done && !this.responseStarted && r.tryTimer === undefined)
        r.tryTimer = setTimeout(r.onTryTimeout, r.route.policy.perTryTimeoutMs);
    });
  }

  #clearTryTimer(r: RetryState): void {
    if (r.tryTimer !== undefined) {
      clearTimeout(r.tryTimer);
      r.tryTimer = undefined;
    }
  }

  #releaseBudget(r: RetryState): void {
    const slot = r.breakerSlot;
    if (slot !== undefined) {
      r.breakerSlot = undefined;
      slot.releaseRetry();
    }
    if (r.budgetHeld) {
      r.budgetHeld = false;
      r.route.budget?.release();
    }
  }

  /**
   * The endpoint of the next try: the balancer's pick, drawn again up to HOST_SELECTION_RETRY_MAX_ATTEMPTS
   * times while it is one already tried (Envoy's previous_hosts predicate, as Istio configures it). A hash
   * key is varied per draw, as Envoy's hash balancers move along the ring for a retry.
   */
  #pickRetryEndpoint(r: RetryState): WeightedEndpoint {
    const backend = this.rb.backend;
    const key = r.hashKey;
    let e = backend.balancer.pick(key);
    if (backend.endpoints.length > 1) {
      for (
        let i = 1;
        i <= HOST_SELECTION_RETRY_MAX_ATTEMPTS && e !== undefined && r.attempted.includes(e);
        i++
      )
        e = backend.balancer.pick(key === undefined ? undefined : `${key}#retry${r.retries}.${i}`);
    }
    return e?.upstream.pool !== undefined ? e : this.endpoint;
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
    case OVERFLOW:
      return 'OVERFLOW';
    default:
      if (/^(CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|ERR_SSL_|ERR_TLS_)/.test(code)) return 'UPSTREAM_TLS';
      if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === UPSTREAM_PROTOCOL_ERROR)
        return 'UPSTREAM_PROTOCOL';
      return 'UPSTREAM_RESET';
  }
}

/**
 * How a try failed, in the terms of the retry conditions. A TLS handshake failure is a connect failure, as
 * in Envoy. On HTTP/2 a stale-connection error means the stream was refused (REFUSED_STREAM, or GOAWAY
 * before it was processed): the upstream did not process the request.
 */
function failureKind(code: ProxyErrorCode, err: Error, protocol: string): FailureKind {
  if ((err as { code?: string }).code === OVERFLOW) return 'overflow';
  switch (code) {
    case 'CONNECT_FAILED':
    case 'UPSTREAM_TLS':
      return 'connect';
    case 'PER_TRY_TIMEOUT':
      return 'timeout';
    default:
      return protocol === 'http2' && (err as { code?: string }).code === STALE_CONNECTION
        ? 'refused'
        : 'reset';
  }
}
