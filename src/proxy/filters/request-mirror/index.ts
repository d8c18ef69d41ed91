/**
 * RequestMirror (Gateway API HTTPRoute filter; Istio's VirtualService `mirror`/`mirrors` compile to it):
 * a sampled share of a route's requests is also sent to another backend, fire and forget. The copy is the
 * request as the other filters left it, with "-shadow" appended to the host before any port, as Envoy's
 * shadow writer does (source/common/router/shadow_writer_impl.cc, shadowAppendedHost), so the mirror's
 * logs tell shadow traffic apart. Its response is read and discarded; its errors, timeouts and slowness
 * never reach the original request, and are counted in `weft_mirror_requests_total{backend,result}`.
 *
 * Bodies: one the proxy read whole (up to 64 KiB, http/body.ts) is shared by both requests; a streamed one
 * is teed (tee.ts), and the copy is given up (`skipped_body`) when the mirror falls behind by more than
 * TEE_BACKLOG_LIMIT. The filter has only the dispatch phase, so routes without a mirror pay nothing.
 */
import type { Counter } from '../../metrics/index.ts';
import type { WeightedEndpoint } from '../../upstream/balancers/index.ts';
import {
  canRetryOnFreshConnection,
  type DispatchController,
  type DispatchHandler,
  type DispatchOptions,
  type HeaderValues,
  type UpstreamPool,
} from '../../upstream/types.ts';
import type { FilterBackend, FilterFactory, HttpFilter, RequestBody, UpstreamRequest } from '../types.ts';
import { Tee, type TeeOwner } from './tee.ts';

export interface RequestMirrorConfig {
  /** A backend name, checked to exist when the config is validated. */
  backend: string;
  /** 0–100. */
  percent: number;
}

/** The `result` label of weft_mirror_requests_total. */
export const MIRROR_RESULTS = ['ok', 'error', 'timeout', 'no_endpoint', 'overflow', 'skipped_body'] as const;
export type MirrorResult = (typeof MIRROR_RESULTS)[number];

/**
 * Mirrored requests in flight per filter before further copies are dropped (`overflow`): Envoy's default
 * circuit-breaker limit on requests to one cluster (max_requests), which is what bounds its shadows.
 */
export const MAX_INFLIGHT = 1024;
/** How far a streamed body's copy may fall behind the original before the copy is given up. */
export const TEE_BACKLOG_LIMIT = 256 * 1024;
/** A route without a timeout still needs its mirrors to end. */
export const FALLBACK_TIMEOUT_MS = 15_000;

/** Appends "-shadow" to the host, before the port if there is one (IPv6 literals keep their brackets). */
export function shadowHost(host: string): string {
  const colon = host.lastIndexOf(':');
  if (colon === -1 || colon < host.lastIndexOf(']')) return `${host}-shadow`;
  return `${host.slice(0, colon)}-shadow${host.slice(colon)}`;
}

/** What a route's mirrored requests share: built once when the snapshot compiles. */
interface Mirror {
  readonly backend: FilterBackend;
  readonly timeoutMs: number;
  readonly counters: Readonly<Record<MirrorResult, Counter>>;
  inflight: number;
}

export const requestMirror: FilterFactory<RequestMirrorConfig> = {
  type: 'RequestMirror',
  build(config, context): HttpFilter {
    const backend = context.backend(config.backend);
    // validate.ts reports these with their paths; a compile that gets here anyway must not go on.
    if (!backend) throw new Error(`RequestMirror: backend "${config.backend}" is not defined in backends`);
    if (backend.protocol === 'tcp')
      throw new Error(`RequestMirror: backend "${config.backend}" is a tcp backend; a mirror needs HTTP`);
    const percent = config.percent;
    if (!(percent > 0)) return {};
    const counters = {} as Record<MirrorResult, Counter>;
    for (const result of MIRROR_RESULTS) {
      counters[result] = context.metrics.counter(
        'weft_mirror_requests_total',
        'Mirrored (shadow) requests, by how they ended. Their responses are discarded.',
        { backend: backend.name, result },
      );
    }
    const mirror: Mirror = {
      backend,
      timeoutMs: context.timeoutMs > 0 ? context.timeoutMs : FALLBACK_TIMEOUT_MS,
      counters,
      inflight: 0,
    };
    if (percent >= 100) return { onDispatch: (req, body) => send(mirror, req, body) };
    const random = context.random;
    return {
      onDispatch: (req, body) => (random() * 100 < percent ? send(mirror, req, body) : body),
    };
  },
};

/** Starts one mirrored request; returns the body the original request sends (a tee's side if streamed). */
function send(mirror: Mirror, req: UpstreamRequest, body: RequestBody): RequestBody {
  if (mirror.inflight >= MAX_INFLIGHT) {
    mirror.counters.overflow.inc();
    return body;
  }
  const backend = mirror.backend;
  // Hash balancers get no key: a shadow needs no affinity, and they fall back to a weighted random pick.
  const endpoint = backend.balancer.pick(undefined);
  if (!endpoint?.upstream.pool) {
    mirror.counters.no_endpoint.inc();
    return body;
  }
  const headers: HeaderValues = { ...req.headers };
  const host = typeof headers.host === 'string' && headers.host !== '' ? headers.host : req.authority;
  if (host !== '') headers.host = shadowHost(host);
  // The original request's `te` was set for its own backend's protocol (handle.ts).
  if (backend.protocol === 'http1') delete headers.te;
  else if (String(headers['content-type']).startsWith('application/grpc')) headers.te = 'trailers';
  const opts: DispatchOptions = { path: req.path, method: req.method, headers, body: null };
  const ex = new MirrorExchange(mirror, endpoint, opts);
  if (body === null || Buffer.isBuffer(body)) {
    opts.body = body;
    ex.dispatch();
    return body;
  }
  const tee = new Tee(body, TEE_BACKLOG_LIMIT, ex);
  ex.tee = tee;
  opts.body = tee.copy;
  ex.dispatch();
  return tee.primary;
}

/** One mirrored request, as a dispatch handler: the response is counted and dropped. */
class MirrorExchange implements DispatchHandler, TeeOwner {
  readonly mirror: Mirror;
  readonly endpoint: WeightedEndpoint;
  readonly opts: DispatchOptions;
  readonly start = performance.now();
  tee: Tee | undefined = undefined;
  controller: DispatchController | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  /** Set when the proxy ends the request itself (timeout, backlog), before the client reports it. */
  reason: MirrorResult | undefined = undefined;
  responseStarted = false;
  retried = false;
  done = false;

  constructor(mirror: Mirror, endpoint: WeightedEndpoint, opts: DispatchOptions) {
    this.mirror = mirror;
    this.endpoint = endpoint;
    this.opts = opts;
  }

  dispatch(): void {
    this.mirror.inflight++;
    this.endpoint.upstream.active++;
    this.timer = setTimeout(this.#onTimeout, this.mirror.timeoutMs);
    // Pending mirrors never keep a stopping process alive.
    this.timer.unref();
    (this.endpoint.upstream.pool as UpstreamPool).dispatch(this.opts, this);
  }

  readonly #onTimeout = (): void => {
    this.abort('timeout');
  };

  onBacklog(): void {
    this.abort('skipped_body');
  }

  abort(reason: MirrorResult): void {
    if (this.done) return;
    this.reason = reason;
    if (this.controller) this.controller.abort(new Error(`mirror ${reason}`));
    else this.finish(reason);
  }

  onRequestStart(controller: DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(): void {
    if (this.done) return;
    this.responseStarted = true;
    const now = performance.now();
    this.endpoint.upstream.observe(now - this.start, now);
  }

  onResponseData(): void {}

  onResponseEnd(): void {
    this.finish('ok');
  }

  onResponseError(_c: DispatchController, err: Error): void {
    if (this.done) return;
    // The same one retry as the original request gets (exchange.ts): a pooled connection the upstream
    // closed while idle says nothing about the mirror, and would otherwise show up as its errors.
    if (
      this.reason === undefined &&
      !this.retried &&
      !this.responseStarted &&
      canRetryOnFreshConnection(this.opts, err)
    ) {
      this.retried = true;
      this.opts.fresh = true;
      this.controller = undefined;
      (this.endpoint.upstream.pool as UpstreamPool).dispatch(this.opts, this);
      return;
    }
    this.finish(this.reason ?? 'error');
  }

  finish(result: MirrorResult): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.mirror.inflight--;
    this.endpoint.upstream.active--;
    this.tee?.stop();
    this.mirror.counters[result].inc();
  }
}
