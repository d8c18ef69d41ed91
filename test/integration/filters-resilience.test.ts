/**
 * Fault injection, local rate limiting and CORS end to end, with a real in-process proxy and real
 * upstreams: a 100 % abort answers with the status and FAULT_ABORT and the upstream sees nothing; 50 %
 * over 1,000 requests lands within 4σ (seeded random); gRPC aborts reach a grpc-js client as its status;
 * a 100 ms delay adds at least 100 ms, and a client that leaves during a delay sends nothing upstream;
 * Istio's local rate limit task (4 tokens: 200, 200, 200, 200, 429 with x-local-rate-limit), refill after
 * the interval, buckets kept across a config reload, filterEnforced 0 counting without rejecting, one
 * bucket for a whole inbound port across paths and HTTP versions; CORS preflights answered by the proxy,
 * actual responses carrying Access-Control-Allow-Origin, foreign origins getting no CORS headers.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { ProxyConfigInput } from '../../src/api/index.ts';
import { seededRandom } from '../../src/core/index.ts';
import { createEchoClient, type GrpcServer, grpc, startGrpcServer } from '../support/grpc.ts';
import { connectH2, h2Request } from '../support/h2.ts';
import { get } from '../support/http.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, startEchoServer, startHttpServer } from '../support/upstreams.ts';

type Outbound = NonNullable<ProxyConfigInput['outbound']>[number];
type Filter = NonNullable<NonNullable<Outbound['routes']>[number]['filters']>[number];

function service(name: string, filters: Filter[], extra: Partial<Outbound> = {}): Outbound {
  return {
    name,
    port: 80,
    listen: { address: '127.0.0.1', port: 0 },
    routes: [{ filters, backends: [{ backend: 'app' }] }],
    ...extra,
  };
}

const rateLimit = (maxTokens: number, fillInterval: string, extra: Record<string, unknown> = {}): Filter => ({
  type: 'LocalRateLimit',
  localRateLimit: {
    tokenBucket: { maxTokens, tokensPerFill: maxTokens, fillInterval },
    responseHeadersToAdd: { 'x-local-rate-limit': 'true' },
    ...extra,
  },
});

describe('fault injection, local rate limits and CORS', () => {
  const servers: Closable[] = [];
  let proxy: TestProxy;
  let grpcServer: GrpcServer;
  let grpcCalls = 0;
  /** Requests the app received, by path. */
  const seen = new Map<string, number>();
  const arrived = (path: string) => seen.get(path) ?? 0;
  let config: ProxyConfigInput;

  before(async () => {
    const app = await startHttpServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] as string;
      seen.set(path, arrived(path) + 1);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-trace': 'app', 'x-method': req.method ?? '' });
        res.end('ok');
      });
    });
    // The inbound target speaks HTTP/1.1 and h2c, as a detect port sends each client's protocol on.
    const echo = await startEchoServer({ service: 'echo', version: 'v1' });
    servers.push(app, echo);
    grpcServer = await startGrpcServer({
      Unary: (call, cb) => {
        grpcCalls++;
        cb(null, { message: call.request.message, index: 0 });
      },
      Fail: (_c, cb) => cb(null, { message: '', index: 0 }),
      Slow: (_c, cb) => cb(null, { message: '', index: 0 }),
      ServerStream: (call) => call.end(),
      ClientStream: (_c, cb) => cb(null, { message: '', index: 0 }),
      Bidi: (call) => call.end(),
    });
    config = {
      version: 'v1',
      outbound: [
        service('abort', [{ type: 'Fault', fault: { abort: { httpStatus: 503 } } }]),
        service('abort-half', [{ type: 'Fault', fault: { abort: { httpStatus: 500, percentage: 50 } } }]),
        service('delay', [{ type: 'Fault', fault: { delay: { fixedDelay: '100ms' } } }]),
        service('delay-long', [{ type: 'Fault', fault: { delay: { fixedDelay: '600ms' } } }]),
        {
          name: 'grpc',
          port: 80,
          listen: { address: '127.0.0.1', port: 0 },
          protocol: 'grpc',
          routes: [
            {
              matches: [{ path: { type: 'PathPrefix', value: '/weft.test.Echo/Unary' } }],
              filters: [{ type: 'Fault', fault: { abort: { grpcStatus: 'UNAVAILABLE' } } }],
              backends: [{ backend: 'grpc' }],
            },
            {
              filters: [{ type: 'Fault', fault: { abort: { httpStatus: 429 } } }],
              backends: [{ backend: 'grpc' }],
            },
          ],
        },
        service('limit', [rateLimit(4, '60s', { enableXRateLimitHeaders: true })]),
        service('limit-refill', [rateLimit(2, '300ms')]),
        service('limit-shadow', [rateLimit(4, '60s', { filterEnforced: 0 })]),
        service('cors', [
          {
            type: 'CORS',
            cors: {
              allowOrigins: [
                { type: 'Exact', value: 'https://app.example.com' },
                { type: 'RegularExpression', value: 'https://[a-z]+\\.trusted\\.example' },
              ],
              allowMethods: ['GET', 'POST', 'PUT'],
              allowHeaders: ['content-type', 'x-token'],
              exposeHeaders: ['x-trace'],
              maxAge: '1h',
              allowCredentials: true,
            },
          },
        ]),
      ],
      inbound: [
        {
          name: 'port-limited',
          listen: { address: '127.0.0.1', port: 0 },
          protocol: 'detect',
          target: { port: echo.port },
          filters: [rateLimit(3, '60s', { enableXRateLimitHeaders: true })],
        },
      ],
      backends: [
        { name: 'app', endpoints: [{ address: '127.0.0.1', port: app.port }] },
        { name: 'grpc', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port: grpcServer.port }] },
      ],
    };
    proxy = await startProxy(config, { random: seededRandom(20240605) });
  });

  after(async () => {
    await proxy?.close();
    await grpcServer?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  /** A counter's value, from the proxy's registry (the series the admin port's /metrics renders). */
  const metric = (name: string, labels: Record<string, string>): number =>
    proxy.proxy.metrics.counter(name, '', labels).value;
  const routeLabels = (svc: string) => ({ direction: 'outbound', service: svc, route: `${svc}-0` });

  describe('Fault', () => {
    test('a 100 % abort answers with the status and FAULT_ABORT; the upstream sees nothing', async () => {
      for (let i = 0; i < 3; i++) {
        const r = await get(proxy.url('abort', '/aborted'));
        assert.equal(r.status, 503);
        assert.equal(r.headers['weft-error'], 'FAULT_ABORT');
      }
      assert.equal(arrived('/aborted'), 0);
      const labels = { ...routeLabels('abort'), backend: '-', method: 'GET', response_code: '503' };
      assert.equal(metric('weft_requests_total', { ...labels, response_flags: 'FAULT_ABORT' }), 3);
    });

    test('a 50 % abort over 1,000 requests lands within 4σ', async () => {
      let aborted = 0;
      for (let batch = 0; batch < 10; batch++) {
        const rs = await Promise.all(
          Array.from({ length: 100 }, () => get(proxy.url('abort-half', '/half'))),
        );
        for (const r of rs) {
          if (r.status === 500) {
            assert.equal(r.headers['weft-error'], 'FAULT_ABORT');
            aborted++;
          } else assert.equal(r.status, 200);
        }
      }
      assert.ok(Math.abs(aborted - 500) < 4 * Math.sqrt(1000 * 0.25), `${aborted} of 1000 aborted`);
      assert.equal(arrived('/half'), 1000 - aborted);
    });

    test('gRPC aborts are Trailers-Only responses with the grpc-status', async () => {
      const client = createEchoClient(proxy.port('grpc'));
      try {
        const err = await new Promise<grpc.ServiceError>((resolve, reject) =>
          client.Unary({ message: 'x' }, new grpc.Metadata(), {}, (e) =>
            e ? resolve(e) : reject(new Error('the call succeeded')),
          ),
        );
        assert.equal(err.code, grpc.status.UNAVAILABLE);
        assert.equal(err.metadata.get('weft-error')[0], 'FAULT_ABORT');
        // An HTTP status on a gRPC request: gRPC's mapping, 429 -> UNAVAILABLE, as Envoy sends it.
        const session = await connectH2(proxy.port('grpc'));
        try {
          const r = await h2Request(session, {
            ':method': 'POST',
            ':path': '/weft.test.Echo/Fail',
            'content-type': 'application/grpc',
            te: 'trailers',
          });
          assert.equal(r.status, 200);
          assert.equal(r.headers['grpc-status'], '14');
          assert.equal(r.headers['weft-error'], 'FAULT_ABORT');
          assert.equal(r.body.length, 0);
        } finally {
          session.close();
        }
        assert.equal(grpcCalls, 0, 'the gRPC server saw no call');
      } finally {
        client.close();
      }
    });

    test('a 100 ms delay adds at least 100 ms and is counted', async () => {
      const before = metric('weft_fault_delays_total', routeLabels('delay'));
      const t0 = performance.now();
      const r = await get(proxy.url('delay', '/delayed'));
      const elapsed = performance.now() - t0;
      assert.equal(r.status, 200);
      assert.equal(r.body, 'ok');
      assert.ok(elapsed >= 100, `${elapsed} ms`);
      assert.equal(metric('weft_fault_delays_total', routeLabels('delay')), before + 1);
    });

    test('a client that goes away during the delay sends nothing upstream', async () => {
      const req = http.request(proxy.url('delay-long', '/abandoned'));
      req.on('error', () => {});
      req.end();
      await new Promise((r) => setTimeout(r, 100));
      req.destroy();
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(arrived('/abandoned'), 0);
      // The proxy is still serving on that route.
      const r = await get(proxy.url('delay-long', '/after'));
      assert.equal(r.status, 200);
      assert.equal(arrived('/after'), 1);
    });
  });

  describe('LocalRateLimit', () => {
    test("Istio's task: 4 tokens give 200, 200, 200, 200, 429 with the rate-limit headers", async () => {
      const rs = [];
      for (let i = 0; i < 5; i++) rs.push(await get(proxy.url('limit', '/limited')));
      assert.deepEqual(
        rs.map((r) => r.status),
        [200, 200, 200, 200, 429],
      );
      assert.deepEqual(
        rs.map((r) => r.headers['x-ratelimit-remaining']),
        ['3', '2', '1', '0', '0'],
      );
      const last = rs[4] as (typeof rs)[number];
      assert.equal(last.headers['weft-error'], 'RATE_LIMITED');
      assert.equal(last.headers['x-local-rate-limit'], 'true');
      assert.equal(last.headers['x-ratelimit-limit'], '4');
      assert.ok(Number(last.headers['x-ratelimit-reset']) > 0);
      assert.equal(rs[0]?.headers['x-local-rate-limit'], undefined, 'only rejections carry the added header');
      assert.equal(arrived('/limited'), 4);
      assert.equal(metric('weft_rate_limited_total', { ...routeLabels('limit'), enforced: 'true' }), 1);
    });

    test('the bucket survives a config reload that leaves it unchanged', async () => {
      const next = structuredClone(config);
      next.version = 'v2';
      (next.outbound as Outbound[]).push(service('added', []));
      const applied = await proxy.apply(next);
      assert.equal(applied.ok, true);
      const r = await get(proxy.url('limit', '/limited'));
      assert.equal(r.status, 429, 'still empty after the reload');
    });

    test('tokens come back after the fill interval', async () => {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await get(proxy.url('limit-refill', '/refill'))).status);
      assert.deepEqual(statuses, [200, 200, 429]);
      await new Promise((r) => setTimeout(r, 350));
      assert.equal((await get(proxy.url('limit-refill', '/refill'))).status, 200);
    });

    test('filterEnforced 0 counts over-limit requests but lets them through', async () => {
      for (let i = 0; i < 10; i++)
        assert.equal((await get(proxy.url('limit-shadow', '/shadow'))).status, 200);
      assert.equal(arrived('/shadow'), 10);
      const labels = routeLabels('limit-shadow');
      assert.equal(metric('weft_rate_limited_total', { ...labels, enforced: 'false' }), 6);
      assert.equal(metric('weft_rate_limited_total', { ...labels, enforced: 'true' }), 0);
    });

    test('an inbound port has one bucket across paths and HTTP versions', async () => {
      const port = proxy.port('port-limited');
      const url = (p: string) => `http://127.0.0.1:${port}${p}`;
      const a = await get(url('/in/a'));
      assert.equal(a.status, 200);
      assert.equal(a.headers['x-ratelimit-remaining'], '2');
      assert.equal((await get(url('/in/b'))).status, 200);
      const session = await connectH2(port);
      try {
        const h2 = await h2Request(session, { ':method': 'GET', ':path': '/in/c' });
        assert.equal(h2.status, 200);
        assert.equal(h2.headers['x-ratelimit-remaining'], '0', 'HTTP/2 shares the HTTP/1.1 bucket');
        const over = await h2Request(session, { ':method': 'GET', ':path': '/in/d' });
        assert.equal(over.status, 429);
        assert.equal(over.headers['weft-error'], 'RATE_LIMITED');
      } finally {
        session.close();
      }
      const r = await get(url('/in/e'));
      assert.equal(r.status, 429);
      assert.equal(r.headers['x-local-rate-limit'], 'true');
      const labels = { direction: 'inbound', service: 'port-limited', route: 'inbound', enforced: 'true' };
      assert.equal(metric('weft_rate_limited_total', labels), 2);
    });
  });

  describe('CORS', () => {
    const preflight = (origin: string) => ({
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'x-token',
      },
    });

    test('the proxy answers a preflight from an allowed origin', async () => {
      const r = await get(proxy.url('cors', '/cors'), preflight('https://app.example.com'));
      assert.equal(r.status, 200);
      assert.equal(r.body, '');
      assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.equal(r.headers['access-control-allow-methods'], 'GET,POST,PUT');
      assert.equal(r.headers['access-control-allow-headers'], 'content-type,x-token');
      assert.equal(r.headers['access-control-max-age'], '3600');
      assert.equal(r.headers['access-control-allow-credentials'], 'true');
      assert.equal(r.headers['weft-error'], undefined);
      const regex = await get(proxy.url('cors', '/cors'), preflight('https://ops.trusted.example'));
      assert.equal(regex.headers['access-control-allow-origin'], 'https://ops.trusted.example');
      assert.equal(arrived('/cors'), 0, 'preflights never reached the app');
    });

    test('an actual request from an allowed origin gets Access-Control-Allow-Origin', async () => {
      const r = await get(proxy.url('cors', '/cors-get'), { headers: { origin: 'https://app.example.com' } });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'ok');
      assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.equal(r.headers['access-control-expose-headers'], 'x-trace');
      assert.equal(r.headers['access-control-allow-credentials'], 'true');
      assert.equal(arrived('/cors-get'), 1);
      // A request with a body takes node:http's response rather than the fast path: the same headers.
      const post = await get(proxy.url('cors', '/cors-post'), {
        method: 'POST',
        headers: { origin: 'https://app.example.com', 'content-type': 'text/plain' },
        body: 'hello',
      });
      assert.equal(post.status, 200);
      assert.equal(post.headers['access-control-allow-origin'], 'https://app.example.com');
    });

    test('a foreign origin gets no CORS headers; its preflight goes to the app', async () => {
      const r = await get(proxy.url('cors', '/cors-foreign'), {
        headers: { origin: 'https://evil.example' },
      });
      assert.equal(r.status, 200);
      const pre = await get(proxy.url('cors', '/cors-foreign'), preflight('https://evil.example'));
      assert.equal(pre.headers['x-method'], 'OPTIONS', 'forwarded (unmatchedPreflights FORWARD)');
      for (const res of [r, pre])
        assert.deepEqual(
          Object.keys(res.headers).filter((h) => h.startsWith('access-control-')),
          [],
        );
      assert.equal(arrived('/cors-foreign'), 2);
    });
  });
});
