/**
 * Circuit breaking and outlier detection with real in-process proxies and real upstreams on 127.0.0.1.
 *
 * Circuit breaking replays Istio's task (tasks/traffic-management/circuit-breaking, DestinationRule in
 * ../shared/compat-samples/istio/tasks/circuit-breaking-destinationrule.yaml): maxConnections 1,
 * http1MaxPendingRequests 1, maxRequestsPerConnection 1 in front of an httpbin-like upstream, loaded by a
 * fortio-like client (keep-alive connections, each sending its next request as soon as the last answer
 * arrives, for a fixed time). Istio's result: with 2 concurrent connections some requests get 503, with 3
 * most do, and upstream_rq_pending_overflow is above zero. Here every refused request must carry
 * `weft-error: OVERFLOW`, and weft_upstream_overflow_total{kind="pending"} counts them.
 *
 * Outlier detection uses a short interval and base ejection time so that the test never waits for a
 * production-sized ejection.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import type { ProxyConfigInput } from '../../src/api/index.ts';
import { startH2Server } from '../support/h2.ts';
import { get } from '../support/http.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, startHttpServer, startTcpServer } from '../support/upstreams.ts';

interface Httpbin extends Closable {
  /** TCP connections accepted so far, and open now (most at once). */
  connections: number;
  maxOpen: number;
  requests: number;
}

/** An httpbin-like upstream: GET /get answers 200 with a small JSON body after `delayMs`. */
async function startHttpbin(delayMs: number, status = 200): Promise<Httpbin> {
  let open = 0;
  const stats = { connections: 0, maxOpen: 0, requests: 0 };
  const s = await startHttpServer((req, res) => {
    stats.requests++;
    const body = JSON.stringify({ url: req.url, headers: req.headers });
    setTimeout(() => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    }, delayMs);
  });
  s.server.on('connection', (socket: net.Socket) => {
    stats.connections++;
    stats.maxOpen = Math.max(stats.maxOpen, ++open);
    socket.once('close', () => open--);
  });
  return Object.assign(stats, { port: s.port, close: () => s.close() });
}

interface Reply {
  status: number;
  error: string | undefined;
  body: string;
}

/**
 * One fortio-like client: a keep-alive connection to `port` that sends GET requests one after another.
 * Responses are read with their content-length (the proxy sends one for its own answers, and the upstream
 * sets one).
 */
class LoadClient {
  readonly socket: net.Socket;
  readonly replies: Reply[] = [];
  #buf = Buffer.alloc(0);
  #waiting: ((r: Reply) => void) | undefined;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      this.#parse();
    });
  }

  static connect(port: number): Promise<LoadClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(new LoadClient(s)));
      s.once('error', reject);
    });
  }

  send(path: string): Promise<Reply> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.socket.write(`GET ${path} HTTP/1.1\r\nhost: httpbin\r\n\r\n`);
    });
  }

  #parse(): void {
    const end = this.#buf.indexOf('\r\n\r\n');
    if (end === -1) return;
    const head = this.#buf.toString('latin1', 0, end);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.#buf.length < end + 4 + length) return;
    const reply: Reply = {
      status: Number(head.slice(9, 12)),
      error: /\r\nweft-error: *([A-Z_]+)/i.exec(head)?.[1],
      body: this.#buf.toString('utf8', end + 4, end + 4 + length),
    };
    this.#buf = this.#buf.subarray(end + 4 + length);
    this.replies.push(reply);
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.(reply);
  }
}

/**
 * Runs `clients` fortio-like clients for `ms` (as `fortio load -c N -qps 0 -t`): all connect first, then
 * all send their first request in the same tick, and each sends its next one as soon as an answer
 * arrives. At most 20 000 requests per client, whatever the machine's speed.
 */
async function load(port: number, clients: number, ms: number): Promise<Reply[]> {
  const all = await Promise.all(Array.from({ length: clients }, () => LoadClient.connect(port)));
  const deadline = performance.now() + ms;
  await Promise.all(
    all.map(async (c) => {
      for (let i = 0; i < 20_000 && performance.now() < deadline; i++) await c.send('/get');
    }),
  );
  for (const c of all) c.socket.destroy();
  return all.flatMap((c) => c.replies);
}

async function metric(proxy: TestProxy, name: string, labels: Record<string, string>): Promise<number> {
  const text = (await get(`http://127.0.0.1:${proxy.adminPort}/metrics`)).body;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function service(backend: Record<string, unknown>, routes?: unknown[]): ProxyConfigInput {
  return {
    outbound: [
      {
        name: 'httpbin',
        port: 8000,
        listen: { address: '127.0.0.1', port: 0 },
        routes: (routes ?? [{ backends: [{ backend: 'httpbin' }] }]) as never,
      },
    ],
    backends: [{ name: 'httpbin', ...backend } as never],
  };
}

const ISTIO_CIRCUIT_BREAKER = {
  circuitBreaker: { maxConnections: 1, maxPendingRequests: 1 },
  maxRequestsPerConnection: 1,
};

describe("circuit breaking: Istio's task", () => {
  const closers: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const c of closers.reverse()) await c.close();
  });

  async function setup() {
    const httpbin = await startHttpbin(15);
    const proxy = await startProxy(
      service({ ...ISTIO_CIRCUIT_BREAKER, endpoints: [{ address: '127.0.0.1', port: httpbin.port }] }),
    );
    closers.push(httpbin, proxy);
    return { httpbin, proxy, port: proxy.port('httpbin') };
  }

  test('one client at a time: every request gets through', async () => {
    const { port, httpbin } = await setup();
    const replies = await load(port, 1, 300);
    assert.ok(replies.length >= 5, `only ${replies.length} requests`);
    assert.deepEqual(
      replies.filter((r) => r.status !== 200),
      [],
    );
    assert.equal(httpbin.connections, replies.length, 'maxRequestsPerConnection 1: a connection per request');
  });

  test('2 concurrent clients: some 503 OVERFLOW, most get through; 3: most are refused', async (t) => {
    const { port, proxy } = await setup();
    const two = await load(port, 2, 600);
    const refused2 = two.filter((r) => r.status !== 200);
    assert.ok(refused2.length > 0, 'some requests are refused with 2 clients');
    assert.ok(
      refused2.length < two.length / 2,
      `with 2 clients most get through (${refused2.length} of ${two.length} refused)`,
    );
    for (const r of refused2) assert.deepEqual([r.status, r.error], [503, 'OVERFLOW']);
    assert.match(refused2[0]?.body ?? '', /circuit breaker/);

    const three = await load(port, 3, 600);
    const refused3 = three.filter((r) => r.status !== 200);
    assert.ok(
      refused3.length > three.length / 2,
      `with 3 clients most are refused (${refused3.length} of ${three.length})`,
    );
    for (const r of refused3) assert.deepEqual([r.status, r.error], [503, 'OVERFLOW']);
    assert.ok(three.some((r) => r.status === 200));

    t.diagnostic(
      `2 clients: ${refused2.length} of ${two.length} refused; 3 clients: ${refused3.length} of ${three.length}`,
    );
    const overflow = await metric(proxy, 'weft_upstream_overflow_total', {
      backend: 'httpbin',
      kind: 'pending',
    });
    assert.equal(
      overflow,
      refused2.length + refused3.length,
      'every refusal is counted as a pending overflow',
    );
    const flagged = await metric(proxy, 'weft_requests_total', {
      backend: 'httpbin',
      response_flags: 'OVERFLOW',
    });
    assert.equal(flagged, overflow);
  });
});

describe('connection pool limits', () => {
  const closers: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const c of closers.reverse()) await c.close();
  });

  test('maxRequestsPerConnection: 1 opens a connection per request, 3 one per three, unset reuses one', async () => {
    const httpbin = await startHttpbin(0);
    closers.push(httpbin);
    const endpoints = [{ address: '127.0.0.1', port: httpbin.port }];
    for (const [max, expected] of [
      [1, 9],
      [3, 3],
      [undefined, 1],
    ] as const) {
      const proxy = await startProxy(service({ endpoints, maxRequestsPerConnection: max }));
      const before = httpbin.connections;
      const client = await LoadClient.connect(proxy.port('httpbin'));
      for (let i = 0; i < 9; i++) assert.equal((await client.send('/get')).status, 200);
      client.socket.destroy();
      await proxy.close();
      assert.equal(httpbin.connections - before, expected, `maxRequestsPerConnection ${max}`);
    }
  });

  test('maxConnections and maxConnectionsPerEndpoint: concurrent requests queue on the allowed connections', async () => {
    const httpbin = await startHttpbin(30);
    closers.push(httpbin);
    const proxy = await startProxy(
      service({
        endpoints: [{ address: '127.0.0.1', port: httpbin.port }],
        maxConnectionsPerEndpoint: 4,
        circuitBreaker: { maxConnections: 2 },
      }),
    );
    closers.push(proxy);
    const replies = await Promise.all(Array.from({ length: 8 }, () => get(proxy.url('httpbin', '/get'))));
    assert.deepEqual(
      replies.map((r) => r.status),
      new Array(8).fill(200),
    );
    assert.equal(httpbin.maxOpen, 2, 'the backend-wide limit holds below the per-endpoint one');
    assert.ok(
      (await metric(proxy, 'weft_upstream_overflow_total', { backend: 'httpbin', kind: 'connections' })) > 0,
      'requests made to wait for a connection are counted',
    );
  });

  test('HTTP/2: maxRequests refuses the request over the limit; maxRequestsPerConnection opens new sessions', async () => {
    let sessions = 0;
    const h2 = await startH2Server((_req, res) => {
      setTimeout(() => res.end('ok'), 60);
    });
    h2.server.on('session', () => sessions++);
    closers.push(h2);
    const proxy = await startProxy(
      service({
        protocol: 'http2',
        endpoints: [{ address: '127.0.0.1', port: h2.port }],
        circuitBreaker: { maxRequests: 2 },
        maxRequestsPerConnection: 2,
      }),
    );
    closers.push(proxy);
    // Let the session connect first: requests sent while it connects are pending, not in flight.
    assert.equal((await get(proxy.url('httpbin', '/warm'))).status, 200);
    const replies = await Promise.all(Array.from({ length: 3 }, () => get(proxy.url('httpbin', '/get'))));
    const statuses = replies.map((r) => `${r.status} ${r.headers['weft-error'] ?? '-'}`).sort();
    assert.deepEqual(statuses, ['200 -', '200 -', '503 OVERFLOW']);
    assert.equal(
      await metric(proxy, 'weft_upstream_overflow_total', { backend: 'httpbin', kind: 'requests' }),
      1,
    );
    assert.ok(sessions >= 2, `3 streams at 2 per session need a second session (${sessions})`);
  });
});

/** Three upstreams that answer with their own name; `status` sets what one of them answers. */
async function startThree() {
  const statuses = [200, 200, 200];
  const hits = [0, 0, 0];
  const servers = await Promise.all(
    [0, 1, 2].map((i) =>
      startHttpServer((_req, res) => {
        hits[i] = (hits[i] ?? 0) + 1;
        res.writeHead(statuses[i] as number, { 'content-type': 'text/plain' });
        res.end(`u${i}`);
      }),
    ),
  );
  return { servers, statuses, hits };
}

function outlierConfig(
  ports: number[],
  outlierDetection: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return service({
    loadBalancer: { type: 'round-robin' },
    endpoints: ports.map((port) => ({ address: '127.0.0.1', port })),
    outlierDetection,
    ...extra,
  });
}

describe('outlier detection', () => {
  const closers: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const c of closers.reverse()) await c.close();
  });

  test('1 of 3 endpoints answers 500: ejected after consecutive5xx, no traffic, back after baseEjectionTime; a reload keeps the ejection', async () => {
    const { servers, statuses, hits } = await startThree();
    closers.push(...servers);
    statuses[1] = 500;
    const ports = servers.map((s) => s.port);
    const od = { consecutive5xx: 3, interval: '20ms', baseEjectionTime: '1s', maxEjectionPercent: 100 };
    const proxy = await startProxy(outlierConfig(ports, od));
    closers.push(proxy);
    const url = proxy.url('httpbin', '/get');
    // Round robin: every third request reaches the failing endpoint; its third 500 ejects it.
    let fivexx = 0;
    for (let i = 0; i < 30 && fivexx < 3; i++) if ((await get(url)).status === 500) fivexx++;
    assert.equal(fivexx, 3);
    const ejectedAt = performance.now();
    assert.equal(await metric(proxy, 'weft_outlier_ejected', { backend: 'httpbin' }), 1);
    assert.equal(await metric(proxy, 'weft_outlier_ejections_total', { backend: 'httpbin' }), 1);

    const before = hits[1];
    for (let i = 0; i < 20; i++) assert.equal((await get(url)).status, 200);
    // A new config for the same backend and endpoints (another setting changed) keeps the ejection.
    assert.equal((await proxy.apply(outlierConfig(ports, { ...od, consecutive5xx: 4 }))).ok, true);
    for (let i = 0; i < 20; i++) assert.equal((await get(url)).status, 200);
    assert.ok(performance.now() - ejectedAt < 900, 'the checks above ran within the ejection');
    assert.equal(hits[1], before, 'the ejected endpoint got no request');

    // After the base ejection time (and a sweep), it is back and gets its share again.
    statuses[1] = 200;
    await new Promise((r) => setTimeout(r, Math.max(0, 1100 - (performance.now() - ejectedAt))));
    for (let i = 0; i < 6; i++) assert.equal((await get(url)).status, 200);
    assert.ok((hits[1] as number) > (before as number), 'the endpoint is back in rotation');
    assert.equal(await metric(proxy, 'weft_outlier_ejected', { backend: 'httpbin' }), 0);
  });

  test('killing 1 of 3 endpoints: consecutiveGatewayErrors ejects it, then every request succeeds', async () => {
    const { servers } = await startThree();
    closers.push(servers[0] as Closable, servers[2] as Closable);
    const ports = servers.map((s) => s.port);
    const proxy = await startProxy(
      outlierConfig(ports, {
        consecutive5xx: 0,
        consecutiveGatewayErrors: 2,
        interval: '50ms',
        baseEjectionTime: '30s',
        maxEjectionPercent: 100,
      }),
    );
    closers.push(proxy);
    const url = proxy.url('httpbin', '/get');
    for (let i = 0; i < 6; i++) assert.equal((await get(url)).status, 200);
    await (servers[1] as Closable).close();
    const failures: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await get(url);
      if (r.status !== 200) failures.push(`${r.status} ${r.headers['weft-error']}`);
    }
    assert.deepEqual(failures, ['503 CONNECT_FAILED', '503 CONNECT_FAILED']);
    for (let i = 0; i < 30; i++) assert.equal((await get(url)).status, 200);
    assert.equal(await metric(proxy, 'weft_outlier_ejected', { backend: 'httpbin' }), 1);
  });

  test('a tcp backend: a refused connection ejects the endpoint (consecutive5xx maps connect failures)', async () => {
    const echo = await startTcpServer((s) => s.pipe(s));
    const dead = await startTcpServer(() => {});
    closers.push(echo);
    await dead.close();
    const proxy = await startProxy({
      outbound: [
        {
          name: 'db',
          port: 5432,
          protocol: 'tcp',
          listen: { address: '127.0.0.1', port: 0 },
          tcpBackends: [{ backend: 'db' }],
        },
      ],
      backends: [
        {
          name: 'db',
          protocol: 'tcp',
          loadBalancer: { type: 'round-robin' },
          endpoints: [
            { address: '127.0.0.1', port: echo.port },
            { address: '127.0.0.1', port: dead.port },
          ],
          outlierDetection: {
            consecutive5xx: 1,
            interval: '50ms',
            baseEjectionTime: '30s',
            maxEjectionPercent: 50,
          },
        },
      ],
    });
    closers.push(proxy);
    const echoOnce = () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(proxy.port('db'), '127.0.0.1', () => s.write('ping'));
        s.once('data', (d) => {
          s.destroy();
          resolve(d.toString() === 'ping');
        });
        s.once('error', () => resolve(false));
        s.once('close', () => resolve(false));
      });
    const results: boolean[] = [];
    for (let i = 0; i < 10; i++) results.push(await echoOnce());
    assert.ok(results.filter((ok) => !ok).length <= 1, `at most one connection failed: ${results}`);
    assert.deepEqual(results.slice(2), new Array(8).fill(true));
    assert.equal(await metric(proxy, 'weft_outlier_ejected', { backend: 'db' }), 1);
  });
});
