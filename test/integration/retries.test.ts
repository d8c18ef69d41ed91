/**
 * Retries end to end with real upstreams on 127.0.0.1 (Istio's HTTPRetry as Envoy implements it): each
 * retry condition, bare status codes, the per-try timeout, attempts running out (the client gets the last
 * try's outcome), request bodies replayed or, when streamed, not retried, gRPC statuses in headers and in
 * trailers, x-envoy-attempt-count, the growing back-off (with an injected random), the retry budget under an
 * outage (retries in flight counted at the upstream), and the route timeout bounding every try. Each case
 * has its own route and backend, so round-robin balancing makes the first try go to the first endpoint.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ProxyConfigInput } from '../../src/api/index.ts';
import { connectH2, h2Request } from '../support/h2.ts';
import { get, type Res } from '../support/http.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, closedPort, startHttpServer, startTcpServer } from '../support/upstreams.ts';

type RouteInput = NonNullable<NonNullable<ProxyConfigInput['outbound']>[number]['routes']>[number];
type BackendInput = NonNullable<ProxyConfigInput['backends']>[number];
type RetriesInput = NonNullable<RouteInput['retries']>;

interface Recorder extends Closable {
  hits: number;
  bodies: string[];
  attempts: Array<string | undefined>;
}

/** An HTTP/1 upstream that reads each request body whole, records it, then lets `respond` answer. */
async function recorder(
  respond: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void,
): Promise<Recorder> {
  const state = { hits: 0, bodies: [] as string[], attempts: [] as Array<string | undefined> };
  const server = await startHttpServer((req, res) => {
    const n = ++state.hits;
    state.attempts.push(req.headers['x-envoy-attempt-count'] as string | undefined);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.bodies.push(Buffer.concat(chunks).toString());
      respond(req, res, n);
    });
  });
  return Object.assign(state, { port: server.port, close: server.close });
}

const answer = (status: number, body: string) => (_req: http.IncomingMessage, res: http.ServerResponse) =>
  res.writeHead(status, { 'content-type': 'text/plain' }).end(body);

interface RawH2 extends Closable {
  hits: number;
}

/** An h2c upstream on node:http2's stream API, to shape gRPC responses frame by frame. */
async function rawH2(onStream: (stream: http2.ServerHttp2Stream) => void): Promise<RawH2> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  const state = { hits: 0 };
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream) => {
    state.hits++;
    stream.on('error', () => {});
    stream.resume();
    stream.once('end', () => onStream(stream));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  });
}

/** A gRPC message frame: not compressed, 4-byte length, then the bytes. */
function grpcFrame(payload: string): Buffer {
  const body = Buffer.from(payload);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

function grpcOk(stream: http2.ServerHttp2Stream, payload: string): void {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(grpcFrame(payload));
}

/** The value of one series in a Prometheus text page (0 when absent). */
function metric(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('retries', () => {
  const servers: Closable[] = [];
  const routes: RouteInput[] = [];
  const backends: BackendInput[] = [];
  let proxy: TestProxy;
  const up: Record<string, Recorder> = {};
  const h2: Record<string, RawH2> = {};
  let dead = 0;

  /** A route /<name> to a backend of its own with these endpoints, balanced round-robin. */
  function route(
    name: string,
    ports: number[],
    retries: RetriesInput | undefined,
    extra: {
      timeout?: string;
      protocol?: 'http1' | 'http2';
      includeAttemptCount?: boolean;
      retryBudget?: BackendInput['retryBudget'];
    } = {},
  ): void {
    routes.push({
      name,
      matches: [{ path: { type: 'PathPrefix', value: `/${name}` } }],
      backends: [{ backend: name }],
      retries,
      timeout: extra.timeout,
      includeAttemptCount: extra.includeAttemptCount,
    });
    backends.push({
      name,
      protocol: extra.protocol ?? 'http1',
      endpoints: ports.map((port) => ({ address: '127.0.0.1', port })),
      loadBalancer: { type: 'round-robin' },
      retryBudget: extra.retryBudget,
    });
  }

  async function rec(
    name: string,
    respond: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void,
  ): Promise<number> {
    const r = await recorder(respond);
    servers.push(r);
    up[name] = r;
    return r.port;
  }

  async function raw(name: string, onStream: (stream: http2.ServerHttp2Stream) => void): Promise<number> {
    const r = await rawH2(onStream);
    servers.push(r);
    h2[name] = r;
    return r.port;
  }

  const fast = { baseInterval: 1 };

  before(async () => {
    dead = await closedPort();
    const reset = await startTcpServer((s) => s.once('data', () => s.destroy()));
    servers.push(reset);

    route('r503', [await rec('r503-bad', answer(503, 'bad')), await rec('r503-ok', answer(200, 'ok'))], {
      attempts: 2,
      retryOn: ['5xx'],
    });
    route('no5xx', [await rec('no5xx-bad', answer(503, 'bad')), await rec('no5xx-ok', answer(200, 'ok'))], {
      attempts: 2,
      retryOn: ['connect-failure', 'refused-stream', 'reset'],
    });
    route('bare', [await rec('bare-bad', answer(503, 'bad')), await rec('bare-ok', answer(200, 'ok'))], {
      attempts: 1,
      retryOn: ['connect-failure', '503'],
      backoff: fast,
    });
    // Fails with the status the client asks for on the first try only.
    const firstFails = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const attempt = req.headers['x-envoy-attempt-count'];
      if (attempt === '1') answer(Number(req.headers['x-status']), 'failed')(req, res);
      else answer(200, `attempt ${String(attempt)}`)(req, res);
    };
    route(
      'gateway',
      [await rec('gateway', firstFails)],
      { attempts: 1, retryOn: ['gateway-error'], backoff: fast },
      {
        includeAttemptCount: true,
      },
    );
    route('connect', [dead, await rec('connect-ok', answer(200, 'ok'))], {
      attempts: 1,
      retryOn: ['connect-failure'],
      backoff: fast,
    });
    route('reset', [reset.port, await rec('reset-ok', answer(200, 'ok'))], {
      attempts: 1,
      retryOn: ['reset'],
      backoff: fast,
    });
    const slow = (_req: http.IncomingMessage, res: http.ServerResponse) => {
      setTimeout(() => answer(200, 'slow')(_req, res), 2000).unref();
    };
    route(
      'pertry',
      [await rec('pertry-slow', slow), await rec('pertry-fast', answer(200, 'fast'))],
      { attempts: 2, perTryTimeout: '150ms', retryOn: ['5xx'], backoff: fast },
      { timeout: '3s' },
    );
    route(
      'pertry-uncovered',
      [await rec('pertry-uncovered-slow', slow), await rec('pertry-uncovered-fast', answer(200, 'fast'))],
      { attempts: 2, perTryTimeout: '150ms', retryOn: ['connect-failure'] },
      { timeout: '3s' },
    );
    route(
      'exhausted',
      [await rec('exhausted-a', answer(503, 'from a')), await rec('exhausted-b', answer(503, 'from b'))],
      { attempts: 2, retryOn: ['5xx'], backoff: fast },
    );
    route('last', [await rec('last-a', answer(503, 'from a')), dead], {
      attempts: 1,
      retryOn: ['5xx'],
      backoff: fast,
    });
    route('body', [await rec('body-bad', answer(503, 'bad')), await rec('body-ok', answer(200, 'ok'))], {
      attempts: 1,
      retryOn: ['5xx'],
      backoff: fast,
    });
    route(
      'streamed',
      [await rec('streamed-bad', answer(503, 'bad')), await rec('streamed-ok', answer(200, 'ok'))],
      { attempts: 1, retryOn: ['5xx'], backoff: fast },
    );
    const grpcRetries: RetriesInput = { attempts: 1, retryOn: ['unavailable', 'cancelled'], backoff: fast };
    route(
      'grpc-headers',
      [
        await raw('grpc-headers-down', (s) =>
          s.respond(
            {
              ':status': 200,
              'content-type': 'application/grpc',
              'grpc-status': '14',
              'grpc-message': 'down',
            },
            { endStream: true },
          ),
        ),
        await raw('grpc-headers-ok', (s) => grpcOk(s, 'hello')),
      ],
      grpcRetries,
      { protocol: 'http2' },
    );
    route(
      'grpc-trailers',
      [
        await raw('grpc-trailers-down', (s) => {
          s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          s.once('wantTrailers', () => s.sendTrailers({ 'grpc-status': '14', 'grpc-message': 'down' }));
          s.end();
        }),
        await raw('grpc-trailers-ok', (s) => grpcOk(s, 'hello')),
      ],
      grpcRetries,
      { protocol: 'http2' },
    );
    route(
      'grpc-late',
      [
        await raw('grpc-late-down', (s) => {
          s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          s.once('wantTrailers', () => s.sendTrailers({ 'grpc-status': '14', 'grpc-message': 'gone' }));
          s.end(grpcFrame('partial'));
        }),
        await raw('grpc-late-ok', (s) => grpcOk(s, 'hello')),
      ],
      grpcRetries,
      { protocol: 'http2' },
    );
    // Every try takes 300 ms and times out at 200 ms; retries go at once: the 500 ms route timeout ends it.
    route(
      'deadline',
      [
        await rec('deadline', (req, res) => {
          setTimeout(() => answer(503, 'late')(req, res), 300).unref();
        }),
      ],
      { attempts: 10, perTryTimeout: '200ms', retryOn: ['5xx'], backoff: { baseInterval: 0 } },
      { timeout: '500ms' },
    );

    proxy = await startProxy({
      outbound: [
        {
          name: 'svc',
          port: 80,
          listen: { address: '127.0.0.1', port: 0 },
          protocol: 'detect',
          routes,
        },
      ],
      backends,
    });
  });

  after(async () => {
    await proxy.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  const metrics = async () => (await get(`http://127.0.0.1:${proxy.adminPort}/metrics`)).body;
  const hits = (...names: string[]) => names.map((n) => up[n]?.hits);

  test('a 503 is retried on the other endpoint and the client gets its 200; counted once', async () => {
    const r = await get(proxy.url('svc', '/r503'));
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok');
    assert.deepEqual(hits('r503-bad', 'r503-ok'), [1, 1]);
    const text = await metrics();
    const labels = { service: 'svc', route: 'r503', backend: 'r503' };
    assert.equal(metric(text, 'weft_retries_total', { ...labels, reason: '5xx' }), 1);
    assert.equal(metric(text, 'weft_requests_total', labels), 1);
    assert.equal(metric(text, 'weft_requests_total', { ...labels, response_code: '200' }), 1);
  });

  test('retryOn without 5xx (or a code) passes a 503 through', async () => {
    const r = await get(proxy.url('svc', '/no5xx'));
    assert.equal(r.status, 503);
    assert.equal(r.body, 'bad');
    assert.equal(r.headers['weft-error'], undefined);
    assert.deepEqual(hits('no5xx-bad', 'no5xx-ok'), [1, 0]);
  });

  test('a bare "503" in retryOn retries a 503', async () => {
    const r = await get(proxy.url('svc', '/bare'));
    assert.equal(r.status, 200);
    assert.deepEqual(hits('bare-bad', 'bare-ok'), [1, 1]);
    assert.equal(
      metric(await metrics(), 'weft_retries_total', { route: 'bare', reason: 'retriable-status-codes' }),
      1,
    );
  });

  test('gateway-error retries 502, 503, 504, not 500; x-envoy-attempt-count numbers tries', async () => {
    for (const status of [502, 503, 504]) {
      const r = await get(proxy.url('svc', '/gateway'), { headers: { 'x-status': String(status) } });
      assert.equal(r.status, 200, `status ${status}`);
      assert.equal(r.body, 'attempt 2');
    }
    const r = await get(proxy.url('svc', '/gateway'), {
      headers: { 'x-status': '500', 'x-envoy-attempt-count': '7' },
    });
    assert.equal(r.status, 500);
    assert.equal(up.gateway?.hits, 7);
    assert.deepEqual(up.gateway?.attempts, ['1', '2', '1', '2', '1', '2', '1']);
  });

  test('a connect failure is retried on a live endpoint', async () => {
    const r = await get(proxy.url('svc', '/connect'));
    assert.equal(r.status, 200);
    assert.equal(up['connect-ok']?.hits, 1);
    assert.equal(
      metric(await metrics(), 'weft_retries_total', { route: 'connect', reason: 'connect-failure' }),
      1,
    );
  });

  test('a reset (the upstream drops the connection) is retried', async () => {
    const r = await get(proxy.url('svc', '/reset'));
    assert.equal(r.status, 200);
    assert.equal(up['reset-ok']?.hits, 1);
    assert.equal(metric(await metrics(), 'weft_retries_total', { route: 'reset', reason: 'reset' }), 1);
  });

  test('the per-try timeout moves a slow try to a fast endpoint within the route timeout', async () => {
    const t0 = performance.now();
    const r = await get(proxy.url('svc', '/pertry'));
    const elapsed = performance.now() - t0;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'fast');
    assert.ok(elapsed >= 140 && elapsed < 1500, `took ${elapsed} ms`);
    assert.deepEqual(hits('pertry-slow', 'pertry-fast'), [1, 1]);
  });

  test('a per-try timeout that retryOn does not cover ends the request: 504 PER_TRY_TIMEOUT', async () => {
    const t0 = performance.now();
    const r = await get(proxy.url('svc', '/pertry-uncovered'));
    const elapsed = performance.now() - t0;
    assert.equal(r.status, 504);
    assert.equal(r.headers['weft-error'], 'PER_TRY_TIMEOUT');
    assert.ok(elapsed < 1500, `took ${elapsed} ms`);
    assert.deepEqual(hits('pertry-uncovered-slow', 'pertry-uncovered-fast'), [1, 0]);
  });

  test('when attempts run out the client gets the last try’s response', async () => {
    const r = await get(proxy.url('svc', '/exhausted'));
    assert.equal(r.status, 503);
    assert.equal(r.headers['weft-error'], undefined);
    const [a, b] = hits('exhausted-a', 'exhausted-b') as [number, number];
    assert.equal(a + b, 3);
    // Round-robin and the previous-hosts predicate alternate a, b; the third try lands on b.
    assert.deepEqual([a, b], [1, 2]);
    assert.equal(r.body, 'from b');
    assert.equal(metric(await metrics(), 'weft_retries_total', { route: 'exhausted', reason: '5xx' }), 2);
  });

  test('…and its failure, with its own weft-error code', async () => {
    const r = await get(proxy.url('svc', '/last'));
    assert.equal(r.status, 503);
    assert.equal(r.headers['weft-error'], 'CONNECT_FAILED');
    assert.equal(up['last-a']?.hits, 1);
  });

  test('a POST with a buffered body is retried with the same body', async () => {
    const r = await get(proxy.url('svc', '/body'), { method: 'POST', body: 'the same bytes twice' });
    assert.equal(r.status, 200);
    assert.deepEqual(up['body-bad']?.bodies, ['the same bytes twice']);
    assert.deepEqual(up['body-ok']?.bodies, ['the same bytes twice']);
  });

  test('a streamed body (over 64 KiB) is not retried', async () => {
    const big = 'x'.repeat(200 * 1024);
    const r = await get(proxy.url('svc', '/streamed'), { method: 'POST', body: big });
    assert.equal(r.status, 503);
    assert.equal(r.body, 'bad');
    assert.equal(up['streamed-bad']?.bodies[0]?.length, big.length);
    assert.deepEqual(hits('streamed-bad', 'streamed-ok'), [1, 0]);
  });

  describe('gRPC', () => {
    let session: http2.ClientHttp2Session;
    before(async () => {
      session = await connectH2(proxy.port('svc'));
    });
    after(() => session.close());
    const call = (name: string) =>
      h2Request(
        session,
        {
          ':method': 'POST',
          ':path': `/${name}/Echo`,
          'content-type': 'application/grpc',
          te: 'trailers',
        },
        grpcFrame('ping'),
      );

    test('unavailable in the headers (Trailers-Only) is retried', async () => {
      const r = await call('grpc-headers');
      assert.equal(r.status, 200);
      assert.equal(r.trailers['grpc-status'], '0');
      assert.deepEqual(r.body, grpcFrame('hello'));
      assert.deepEqual([h2['grpc-headers-down']?.hits, h2['grpc-headers-ok']?.hits], [1, 1]);
      assert.equal(
        metric(await metrics(), 'weft_retries_total', { route: 'grpc-headers', reason: 'unavailable' }),
        1,
      );
    });

    test('unavailable in trailers after headers, with no message, is retried', async () => {
      const r = await call('grpc-trailers');
      assert.equal(r.trailers['grpc-status'], '0');
      assert.deepEqual(r.body, grpcFrame('hello'));
      assert.deepEqual([h2['grpc-trailers-down']?.hits, h2['grpc-trailers-ok']?.hits], [1, 1]);
    });

    test('unavailable after a message has reached the client is not retried', async () => {
      const r = await call('grpc-late');
      assert.equal(r.trailers['grpc-status'], '14');
      assert.deepEqual(r.body, grpcFrame('partial'));
      assert.deepEqual([h2['grpc-late-down']?.hits, h2['grpc-late-ok']?.hits], [1, 0]);
    });
  });

  test('the route timeout bounds all tries', async () => {
    const t0 = performance.now();
    const r = await get(proxy.url('svc', '/deadline'));
    const elapsed = performance.now() - t0;
    assert.equal(r.status, 504);
    assert.equal(r.headers['weft-error'], 'TIMEOUT');
    assert.ok(elapsed >= 480 && elapsed < 1500, `took ${elapsed} ms`);
    const n = up.deadline?.hits ?? 0;
    assert.ok(n >= 2 && n <= 3, `${n} tries`);
  });
});

describe('retry back-off', () => {
  let proxy: TestProxy;
  let server: Recorder;
  const arrivals: number[] = [];

  before(async () => {
    server = await recorder((req, res) => {
      arrivals.push(performance.now());
      answer(503, 'down')(req, res);
    });
    // The top of every jitter range: the waits are 19, 59 and 139 ms with a 20 ms base.
    proxy = await startProxy(
      {
        outbound: [
          {
            name: 'svc',
            port: 80,
            listen: { address: '127.0.0.1', port: 0 },
            routes: [
              {
                backends: [{ backend: 'down' }],
                retries: { attempts: 3, retryOn: ['5xx'], backoff: { baseInterval: '20ms' } },
              },
            ],
          },
        ],
        backends: [{ name: 'down', endpoints: [{ address: '127.0.0.1', port: server.port }] }],
      },
      { random: () => 0.9999 },
    );
  });

  after(async () => {
    await proxy.close();
    await server.close();
  });

  test('grows exponentially between tries', async () => {
    const r = await get(proxy.url('svc', '/'));
    assert.equal(r.status, 503);
    assert.equal(arrivals.length, 4);
    const gaps = arrivals.slice(1).map((t, i) => t - (arrivals[i] as number));
    assert.ok((gaps[0] as number) >= 17, `gaps ${gaps}`);
    assert.ok((gaps[1] as number) >= 57, `gaps ${gaps}`);
    assert.ok((gaps[2] as number) >= 137, `gaps ${gaps}`);
    assert.ok((gaps[2] as number) > (gaps[1] as number) && (gaps[1] as number) > (gaps[0] as number));
  });
});

describe('retry budget', () => {
  let proxy: TestProxy;
  const servers: Closable[] = [];
  /** Per backend: how many retries the upstreams held at once, at most. */
  const peak: Record<string, number> = {};

  /** Two endpoints that answer 503 after 100 ms and count the retries in flight (requests seen before). */
  async function outage(name: string): Promise<number[]> {
    const seen = new Set<string>();
    let inflight = 0;
    peak[name] = 0;
    const ports: number[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await recorder((req, res) => {
        const id = String(req.headers['x-id']);
        const retry = seen.has(id);
        seen.add(id);
        if (retry) peak[name] = Math.max(peak[name] as number, ++inflight);
        setTimeout(() => {
          if (retry) inflight--;
          answer(503, 'down')(req, res);
        }, 100).unref();
      });
      servers.push(s);
      ports.push(s.port);
    }
    return ports;
  }

  before(async () => {
    const strict = await outage('strict');
    const standard = await outage('standard');
    const breaker = await outage('breaker');
    const retries = { attempts: 3, retryOn: ['5xx' as const], backoff: { baseInterval: 0 } };
    const routeTo = (name: string): RouteInput => ({
      name,
      matches: [{ path: { type: 'PathPrefix', value: `/${name}` } }],
      backends: [{ backend: name }],
      retries,
    });
    proxy = await startProxy({
      outbound: [
        {
          name: 'svc',
          port: 80,
          listen: { address: '127.0.0.1', port: 0 },
          routes: [routeTo('strict'), routeTo('standard'), routeTo('breaker')],
        },
      ],
      backends: [
        {
          name: 'strict',
          endpoints: strict.map((port) => ({ address: '127.0.0.1', port })),
          retryBudget: { percent: 0, minRetryConcurrency: 2 },
        },
        {
          name: 'standard',
          endpoints: standard.map((port) => ({ address: '127.0.0.1', port })),
          retryBudget: {},
        },
        {
          name: 'breaker',
          endpoints: breaker.map((port) => ({ address: '127.0.0.1', port })),
          circuitBreaker: { maxRetries: 1 },
        },
      ],
    });
  });

  after(async () => {
    await proxy.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  async function burst(name: string, n: number): Promise<Res[]> {
    return Promise.all(
      Array.from({ length: n }, (_, i) =>
        get(proxy.url('svc', `/${name}`), { headers: { 'x-id': `${name}-${i}` } }),
      ),
    );
  }

  test('minRetryConcurrency alone: at most 2 retries in flight while every endpoint fails', async () => {
    const results = await burst('strict', 20);
    assert.ok(results.every((r) => r.status === 503 && r.body === 'down'));
    const text = (await get(`http://127.0.0.1:${proxy.adminPort}/metrics`)).body;
    const retried = metric(text, 'weft_retries_total', { route: 'strict' });
    const refused = metric(text, 'weft_retry_budget_exhausted_total', { route: 'strict' });
    assert.ok(peak.strict !== undefined && peak.strict >= 1 && peak.strict <= 2, `peak ${peak.strict}`);
    assert.ok(retried >= 2 && refused > 0, `retried ${retried}, refused ${refused}`);
    // Without the budget: 20 × 3 retries.
    assert.ok(retried < 60);
  });

  test('the default budget: at most max(3, 20 % of 40 in flight) = 8 retries in flight', async () => {
    const results = await burst('standard', 40);
    assert.ok(results.every((r) => r.status === 503));
    const text = (await get(`http://127.0.0.1:${proxy.adminPort}/metrics`)).body;
    const refused = metric(text, 'weft_retry_budget_exhausted_total', { route: 'standard' });
    assert.ok(
      peak.standard !== undefined && peak.standard >= 1 && peak.standard <= 8,
      `peak ${peak.standard}`,
    );
    assert.ok(refused > 0);
  });

  test('without a budget, the circuit breaker’s maxRetries caps retries in flight', async () => {
    const results = await burst('breaker', 20);
    assert.ok(results.every((r) => r.status === 503));
    const text = (await get(`http://127.0.0.1:${proxy.adminPort}/metrics`)).body;
    assert.equal(peak.breaker, 1);
    assert.ok(metric(text, 'weft_upstream_overflow_total', { backend: 'breaker', kind: 'retries' }) > 0);
    assert.equal(metric(text, 'weft_retry_budget_exhausted_total', { route: 'breaker' }), 0);
  });
});
