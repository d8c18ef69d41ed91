/**
 * Unit tests for RequestMirror against a fake pool: the shadow host, sampling with a seeded random, what
 * the copy carries, how each outcome is counted, and the tee for streamed bodies. The integration test
 * (test/integration/mirror.test.ts) covers real upstreams.
 */
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { seededRandom } from '../../../core/index.ts';
import { MetricsRegistry } from '../../metrics/index.ts';
import type { WeightedEndpoint } from '../../upstream/balancers/index.ts';
import {
  codedError,
  type DispatchController,
  type DispatchHandler,
  type DispatchOptions,
  STALE_CONNECTION,
  type UpstreamPool,
} from '../../upstream/types.ts';
import type { Upstream } from '../../upstream/upstream.ts';
import { testContext } from '../testing.ts';
import type { FilterContext, HttpFilter, RequestBody, UpstreamRequest } from '../types.ts';
import { MAX_INFLIGHT, type MirrorResult, requestMirror, shadowHost, TEE_BACKLOG_LIMIT } from './index.ts';
import { Tee } from './tee.ts';

/** One dispatched request: what was sent, and the handler to answer it through. */
interface Call {
  opts: DispatchOptions;
  handler: DispatchHandler;
  controller: DispatchController;
  aborted: Error | undefined;
}

class FakePool implements UpstreamPool {
  readonly calls: Call[] = [];
  dispatch(opts: DispatchOptions, handler: DispatchHandler): boolean {
    const call: Call = {
      opts,
      handler,
      aborted: undefined,
      controller: {
        pause() {},
        resume() {},
        abort(reason) {
          call.aborted = reason;
          handler.onResponseError?.(call.controller, reason);
        },
      },
    };
    this.calls.push(call);
    handler.onRequestStart?.(call.controller, undefined);
    return true;
  }
  async close(): Promise<void> {}
  async destroy(): Promise<void> {}
}

function setup(
  options: { percent?: number; protocol?: 'http1' | 'http2'; random?: () => number; timeoutMs?: number } = {},
) {
  const metrics = new MetricsRegistry();
  const pool = new FakePool();
  const upstream = { pool, active: 0, observe() {} } as unknown as Upstream;
  const endpoint: WeightedEndpoint = { upstream, weight: 1, labels: {}, id: '127.0.0.1:1' };
  let endpoints = [endpoint];
  const context: FilterContext = testContext({
    backend: (name) =>
      name === 'shadow'
        ? { name, protocol: options.protocol ?? 'http1', balancer: { pick: () => endpoints[0] } }
        : undefined,
    random: options.random ?? Math.random,
    metrics,
    timeoutMs: options.timeoutMs ?? 1000,
  });
  const filter: HttpFilter = requestMirror.build(
    { backend: 'shadow', percent: options.percent ?? 100 },
    context,
  );
  const count = (result: MirrorResult) =>
    metrics.counter('weft_mirror_requests_total', '', { backend: 'shadow', result }).value;
  const dispatch = (req: UpstreamRequest, body: RequestBody) => {
    assert.ok(filter.onDispatch, 'the filter has a dispatch phase');
    return filter.onDispatch(req, body);
  };
  return {
    filter,
    pool,
    upstream,
    count,
    dispatch,
    noEndpoints: () => {
      endpoints = [];
    },
  };
}

function request(headers: Record<string, string> = {}): UpstreamRequest {
  return {
    method: 'POST',
    path: '/orders?x=1',
    matchedPath: '/orders',
    matchedPrefix: '/',
    authority: 'orders:8080',
    headers: { host: 'orders:8080', 'x-request-id': 'r1', ...headers },
  };
}

const answer = (call: Call | undefined, status = 200) => {
  assert.ok(call);
  call.handler.onResponseStart?.(call.controller, status, {});
  call.handler.onResponseData?.(call.controller, Buffer.from('ignored'));
  call.handler.onResponseEnd?.(call.controller, {});
};

describe('shadowHost', () => {
  test('appends -shadow before the port, as Envoy does', () => {
    assert.equal(shadowHost('reviews'), 'reviews-shadow');
    assert.equal(shadowHost('reviews.default.svc:9080'), 'reviews.default.svc-shadow:9080');
    assert.equal(shadowHost('10.0.0.1:80'), '10.0.0.1-shadow:80');
    assert.equal(shadowHost('[::1]:8080'), '[::1]-shadow:8080');
    assert.equal(shadowHost('[::1]'), '[::1]-shadow');
  });
});

describe('RequestMirror', () => {
  test('sends a copy with the shadow host; the original request and body are left as they were', () => {
    const m = setup();
    const req = request({ te: 'trailers' });
    const body = Buffer.from('{"id":1}');
    assert.equal(m.dispatch(req, body), body);
    assert.equal(m.pool.calls.length, 1);
    const sent = m.pool.calls[0]?.opts;
    assert.equal(sent?.method, 'POST');
    assert.equal(sent?.path, '/orders?x=1');
    assert.equal(sent?.body, body);
    assert.equal(sent?.headers.host, 'orders-shadow:8080');
    assert.equal(sent?.headers['x-request-id'], 'r1');
    assert.equal(sent?.headers.te, undefined, 'te is dropped for an HTTP/1.1 mirror');
    assert.equal(req.headers.host, 'orders:8080');
    assert.equal(req.headers.te, 'trailers');
    assert.equal(m.upstream.active, 1);
    answer(m.pool.calls[0]);
    assert.equal(m.count('ok'), 1);
    assert.equal(m.upstream.active, 0);
  });

  test('a gRPC request to an HTTP/2 mirror keeps te: trailers', () => {
    const m = setup({ protocol: 'http2' });
    m.dispatch(request({ 'content-type': 'application/grpc' }), null);
    assert.equal(m.pool.calls[0]?.opts.headers.te, 'trailers');
  });

  test('percent 0 builds no dispatch phase at all', () => {
    assert.equal(setup({ percent: 0 }).filter.onDispatch, undefined);
  });

  test('percent samples with the injected random', () => {
    const m = setup({ percent: 30, random: seededRandom(7) });
    const reference = seededRandom(7);
    let expected = 0;
    for (let i = 0; i < 1000; i++) {
      if (reference() * 100 < 30) expected++;
      m.dispatch(request(), null);
    }
    assert.equal(m.pool.calls.length, expected);
    assert.ok(expected > 250 && expected < 350, `${expected} of 1000`);
  });

  test('errors, timeouts and missing endpoints are counted, never thrown', async () => {
    const m = setup({ timeoutMs: 20 });
    m.dispatch(request(), null);
    const failed = m.pool.calls[0] as Call;
    failed.handler.onResponseError?.(failed.controller, codedError('ECONNREFUSED', 'refused'));
    assert.equal(m.count('error'), 1);

    m.dispatch(request(), null);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(m.count('timeout'), 1);
    assert.ok(m.pool.calls[1]?.aborted, 'the timed-out request was aborted');

    m.noEndpoints();
    m.dispatch(request(), null);
    assert.equal(m.count('no_endpoint'), 1);
    assert.equal(m.upstream.active, 0);
  });

  test('a stale pooled connection is retried once on a fresh one', () => {
    const m = setup();
    m.dispatch(request(), Buffer.from('x'));
    const first = m.pool.calls[0] as Call;
    first.handler.onResponseError?.(first.controller, codedError(STALE_CONNECTION, 'stale'));
    assert.equal(m.pool.calls.length, 2);
    assert.equal(m.pool.calls[1]?.opts.fresh, true);
    const second = m.pool.calls[1] as Call;
    second.handler.onResponseError?.(second.controller, codedError(STALE_CONNECTION, 'stale'));
    assert.equal(m.pool.calls.length, 2);
    assert.equal(m.count('error'), 1);
  });

  test(`more than ${MAX_INFLIGHT} mirrors in flight: further copies are dropped as overflow`, () => {
    const m = setup();
    for (let i = 0; i < MAX_INFLIGHT + 3; i++) m.dispatch(request(), null);
    assert.equal(m.pool.calls.length, MAX_INFLIGHT);
    assert.equal(m.count('overflow'), 3);
    for (const call of m.pool.calls) answer(call);
    assert.equal(m.count('ok'), MAX_INFLIGHT);
    m.dispatch(request(), null);
    assert.equal(m.pool.calls.length, MAX_INFLIGHT + 1);
    answer(m.pool.calls.at(-1));
  });

  test('a streamed body is teed: both requests get every byte', async () => {
    const m = setup();
    const src = Readable.from([Buffer.from('a'.repeat(100_000)), Buffer.from('b'.repeat(100_000))], {
      objectMode: false,
    });
    const primary = m.dispatch(request(), src) as Readable;
    assert.notEqual(primary, src);
    const copy = m.pool.calls[0]?.opts.body as Readable;
    const [a, b] = await Promise.all([primary.toArray(), copy.toArray()]);
    assert.equal(Buffer.concat(a).length, 200_000);
    assert.equal(Buffer.concat(b).length, 200_000);
    answer(m.pool.calls[0]);
    assert.equal(m.count('ok'), 1);
  });

  test('a mirror that does not read its copy is given up; the original still gets every byte', async () => {
    const m = setup();
    const src = new PassThrough();
    const primary = m.dispatch(request(), src) as Readable;
    const chunk = Buffer.alloc(64 * 1024, 1);
    const total = Math.ceil((TEE_BACKLOG_LIMIT * 2) / chunk.length);
    const done = primary.toArray();
    for (let i = 0; i < total; i++) src.write(chunk);
    src.end();
    const got = Buffer.concat(await done);
    assert.equal(got.length, total * chunk.length);
    assert.equal(m.count('skipped_body'), 1);
    assert.ok(m.pool.calls[0]?.aborted, 'the mirror request was aborted');
  });
});

describe('Tee', () => {
  test('the copy falling behind never pauses the source; a source error reaches both sides', async () => {
    const src = new PassThrough();
    let backlog = 0;
    const tee = new Tee(src, 1024, { onBacklog: () => backlog++ });
    const errors: string[] = [];
    tee.primary.on('error', (e) => errors.push(`primary:${e.message}`));
    tee.copy.on('error', (e) => errors.push(`copy:${e.message}`));
    tee.primary.resume();
    src.write(Buffer.alloc(600));
    src.write(Buffer.alloc(600));
    await new Promise((r) => setImmediate(r));
    assert.equal(backlog, 1);
    assert.equal(tee.copying, false);
    assert.equal(src.isPaused(), false);

    const src2 = new PassThrough();
    const tee2 = new Tee(src2, 1024, { onBacklog: () => {} });
    const seen: string[] = [];
    tee2.primary.on('error', (e) => seen.push(`primary:${e.message}`));
    tee2.copy.on('error', (e) => seen.push(`copy:${e.message}`));
    src2.destroy(new Error('boom'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen.sort(), ['copy:boom', 'primary:boom']);
  });
});
