/**
 * RequestMirror end to end with real upstreams: every request copied to the mirror with the "-shadow"
 * host while the client gets the primary's response; a mirror that is down or slow neither slows nor
 * fails the primary and is counted in weft_mirror_requests_total; percent 50 over 1,000 requests with a
 * seeded random; request bodies mirrored, both the small ones the proxy buffers and a streamed 1 MiB one;
 * and the same over HTTP/2 on both sides.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { seededRandom } from '../../src/core/index.ts';
import { connectH2, h2Request, startH2Server } from '../support/h2.ts';
import { get } from '../support/http.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, closedPort, startHttpServer } from '../support/upstreams.ts';

interface Seen {
  method: string;
  url: string;
  host: string;
  body: string;
}

/** An HTTP/1 server that records each request (after its body) and answers with `respond`. */
async function recorder(
  respond: (res: http.ServerResponse) => void,
): Promise<Closable & { seen: Seen[]; arrived: number }> {
  const seen: Seen[] = [];
  const state = { arrived: 0 };
  const server = await startHttpServer((req, res) => {
    state.arrived++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        host: req.headers.host ?? '',
        body: Buffer.concat(chunks).toString(),
      });
      respond(res);
    });
  });
  return {
    port: server.port,
    close: server.close,
    seen,
    get arrived() {
      return state.arrived;
    },
  };
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const mirror = (backend: string, percent?: number) => ({
  type: 'RequestMirror' as const,
  requestMirror: percent === undefined ? { backend } : { backend, percent },
});

describe('request mirroring', () => {
  const servers: Closable[] = [];
  let proxy: TestProxy;
  let primary: Awaited<ReturnType<typeof recorder>>;
  let shadow: Awaited<ReturnType<typeof recorder>>;
  let slow: Awaited<ReturnType<typeof recorder>>;
  let half: Awaited<ReturnType<typeof recorder>>;
  let h2Shadow: Closable;
  const h2Seen: Seen[] = [];

  /** weft_mirror_requests_total for one backend and result, read from the admin port. */
  async function mirrored(backend: string, result: string): Promise<number> {
    const text = (await get(`http://127.0.0.1:${proxy.adminPort}/metrics`)).body;
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`weft_mirror_requests_total{backend="${backend}",result="${result}"} `));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  }

  before(async () => {
    primary = await recorder((res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-from': 'primary' });
      res.end('primary');
    });
    // The mirror answers differently from the primary, so a leak of its response would show.
    shadow = await recorder((res) => {
      res.writeHead(503, { 'x-from': 'shadow' });
      res.end('shadow');
    });
    slow = await recorder((res) => {
      setTimeout(() => {
        if (!res.destroyed) res.end('late');
      }, 5000).unref();
    });
    half = await recorder((res) => res.end('half'));
    const h2Primary = await startH2Server((req, res) => {
      req.resume();
      req.on('end', () => res.end('h2-primary'));
    });
    h2Shadow = await startH2Server((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        h2Seen.push({
          method: req.method,
          url: req.url,
          host: String(req.headers[':authority']),
          body: Buffer.concat(chunks).toString(),
        });
        res.end('h2-shadow');
      });
    });
    servers.push(primary, shadow, slow, half, h2Primary, h2Shadow);
    const down = await closedPort();
    const service = (name: string, route: Record<string, unknown>) => ({
      name,
      port: 80,
      listen: { address: '127.0.0.1', port: 0 },
      routes: [route],
    });
    proxy = await startProxy(
      {
        outbound: [
          service('full', { filters: [mirror('shadow')], backends: [{ backend: 'primary' }] }),
          service('slow', { timeout: '1s', filters: [mirror('slow')], backends: [{ backend: 'primary' }] }),
          // A backend-level filter: mirrors only what goes to that backend.
          service('down', { backends: [{ backend: 'primary', filters: [mirror('down')] }] }),
          service('half', { filters: [mirror('half', 50)], backends: [{ backend: 'primary' }] }),
          {
            ...service('h2', { filters: [mirror('h2-shadow')], backends: [{ backend: 'h2-primary' }] }),
            protocol: 'http2' as const,
          },
        ],
        backends: [
          { name: 'primary', endpoints: [{ address: '127.0.0.1', port: primary.port }] },
          { name: 'shadow', endpoints: [{ address: '127.0.0.1', port: shadow.port }] },
          { name: 'slow', endpoints: [{ address: '127.0.0.1', port: slow.port }] },
          { name: 'down', endpoints: [{ address: '127.0.0.1', port: down }] },
          { name: 'half', endpoints: [{ address: '127.0.0.1', port: half.port }] },
          {
            name: 'h2-primary',
            protocol: 'http2' as const,
            endpoints: [{ address: '127.0.0.1', port: h2Primary.port }],
          },
          {
            name: 'h2-shadow',
            protocol: 'http2' as const,
            endpoints: [{ address: '127.0.0.1', port: h2Shadow.port }],
          },
        ],
      },
      { random: seededRandom(20240611) },
    );
  });

  after(async () => {
    await proxy?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  test('100%: every request reaches the mirror with the -shadow host; the client gets the primary', async () => {
    const before = shadow.seen.length;
    for (let i = 0; i < 20; i++) {
      const res = await get(proxy.url('full', `/items/${i}?q=${i}`), {
        headers: { host: 'orders.shop:8080' },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body, 'primary');
      assert.equal(res.headers['x-from'], 'primary');
    }
    await waitFor('20 mirrored requests', () => shadow.seen.length === before + 20);
    const copies = shadow.seen.slice(before);
    assert.deepEqual(
      copies.map((s) => s.url).sort(),
      Array.from({ length: 20 }, (_, i) => `/items/${i}?q=${i}`).sort(),
    );
    for (const s of copies) {
      assert.equal(s.method, 'GET');
      assert.equal(s.host, 'orders.shop-shadow:8080');
    }
    assert.ok(
      primary.seen.some((s) => s.host === 'orders.shop:8080'),
      'the primary sees the original host',
    );
    // A host without a port gets the suffix at its end.
    await get(proxy.url('full', '/plain'), { headers: { host: 'orders' } });
    await waitFor('the mirrored /plain', () => shadow.seen.some((s) => s.url === '/plain'));
    assert.equal(shadow.seen.find((s) => s.url === '/plain')?.host, 'orders-shadow');
    await waitFor('mirror responses counted', async () => (await mirrored('shadow', 'ok')) >= 21);
  });

  test('a POST body the proxy buffers is mirrored with it', async () => {
    const body = JSON.stringify({ order: 42, items: ['a', 'b'] });
    const res = await get(proxy.url('full', '/orders'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(res.body, 'primary');
    await waitFor('the mirrored POST', () => shadow.seen.some((s) => s.url === '/orders'));
    const copy = shadow.seen.find((s) => s.url === '/orders');
    assert.equal(copy?.method, 'POST');
    assert.equal(copy?.body, body);
    assert.equal(primary.seen.find((s) => s.url === '/orders')?.body, body);
  });

  test('a streamed 1 MiB body is teed to the mirror whole', async () => {
    const body = 'abcdefghij'.repeat(104_858);
    const res = await get(proxy.url('full', '/upload'), { method: 'PUT', body });
    assert.equal(res.body, 'primary');
    assert.equal(primary.seen.find((s) => s.url === '/upload')?.body.length, body.length);
    await waitFor('the mirrored upload', () => shadow.seen.some((s) => s.url === '/upload'));
    assert.equal(shadow.seen.find((s) => s.url === '/upload')?.body, body);
    assert.equal(await mirrored('shadow', 'skipped_body'), 0);
  });

  test('a slow mirror (5 s) neither slows nor fails the primary; its timeouts are counted', async () => {
    const start = performance.now();
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      const res = await get(proxy.url('slow', `/s/${i}`));
      assert.equal(res.status, 200);
      assert.equal(res.body, 'primary');
      assert.ok(performance.now() - t < 500, `request ${i} took ${performance.now() - t} ms`);
    }
    assert.ok(performance.now() - start < 2000);
    await waitFor('10 requests at the slow mirror', () => slow.seen.length === 10);
    // The mirror shares the route timeout (1 s), well before the slow upstream would answer.
    await waitFor('10 mirror timeouts', async () => (await mirrored('slow', 'timeout')) === 10, 4000);
    assert.equal(await mirrored('slow', 'ok'), 0);
  });

  test('a mirror that is down does not fail the primary; its errors are counted', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await get(proxy.url('down', `/d/${i}`));
      assert.equal(res.status, 200);
      assert.equal(res.body, 'primary');
    }
    await waitFor('10 mirror errors', async () => (await mirrored('down', 'error')) === 10);
  });

  test('percent 50 over 1,000 requests lands within ±5 %', async () => {
    const total = 1000;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const res = await get(proxy.url('half', `/h/${i}`));
        assert.equal(res.body, 'primary');
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    // Settled: every copy sent has been answered and counted, and no more arrive.
    let last = -1;
    await waitFor('the mirror to settle', async () => {
      const ok = await mirrored('half', 'ok');
      const settled = ok === half.seen.length && ok === last;
      last = ok;
      return settled;
    });
    const share = half.seen.length / total;
    assert.ok(share >= 0.45 && share <= 0.55, `${half.seen.length} of ${total} mirrored`);
    assert.equal(await mirrored('half', 'error'), 0);
  });

  test('HTTP/2 end to end: the copy carries the body and the -shadow :authority', async () => {
    const session = await connectH2(proxy.port('h2'));
    try {
      const res = await h2Request(
        session,
        { ':method': 'POST', ':path': '/rpc', ':authority': 'api.shop:9090' },
        'payload',
      );
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'h2-primary');
    } finally {
      session.close();
    }
    await waitFor('the mirrored HTTP/2 request', () => h2Seen.length === 1);
    assert.deepEqual(h2Seen[0], {
      method: 'POST',
      url: '/rpc',
      host: 'api.shop-shadow:9090',
      body: 'payload',
    });
  });
});
