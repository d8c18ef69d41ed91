/**
 * HTTP/2 (h2c, prior knowledge) through the proxy and translation between HTTP versions: an h2 client to
 * an HTTP/1.1 upstream, an HTTP/1.1 client to an h2 upstream, and h2 end to end. Each upstream reports
 * what it received (its HTTP version, method, path with query, headers, body), so the tests check that
 * the request crossed intact and that the upstream really spoke the version the backend declares. Also
 * checks the SETTINGS the proxy advertises to HTTP/2 clients.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { connectH2, type H2Server, h2Request, startH2Server } from '../support/h2.ts';
import { get } from '../support/http.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { startHttpServer } from '../support/upstreams.ts';

interface Seen {
  httpVersion: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Answers with a JSON description of the request, a response header and (on h2) a trailer. */
function describeRequest(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const seen: Seen = {
      httpVersion: req.httpVersion,
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    };
    const body = JSON.stringify(seen);
    (res as http.ServerResponse).writeHead(201, {
      'content-type': 'application/json',
      'x-upstream': `http/${req.httpVersion}`,
    });
    res.end(body);
  });
}

describe('HTTP/2 and HTTP version translation', () => {
  let proxy: TestProxy;
  let h1Upstream: Awaited<ReturnType<typeof startHttpServer>>;
  let h2Upstream: H2Server;
  const sessions: http2.ClientHttp2Session[] = [];

  before(async () => {
    h1Upstream = await startHttpServer(describeRequest);
    h2Upstream = await startH2Server(describeRequest);
    const listen = { address: '127.0.0.1', port: 0 };
    proxy = await startProxy({
      outbound: [
        {
          name: 'h2-to-h1',
          port: 80,
          listen,
          protocol: 'http2',
          routes: [{ backends: [{ backend: 'h1' }] }],
        },
        {
          name: 'h1-to-h2',
          port: 80,
          listen,
          protocol: 'http1',
          routes: [{ backends: [{ backend: 'h2' }] }],
        },
        {
          name: 'h2-to-h2',
          port: 80,
          listen,
          protocol: 'http2',
          routes: [{ backends: [{ backend: 'h2' }] }],
        },
      ],
      backends: [
        { name: 'h1', protocol: 'http1', endpoints: [{ address: '127.0.0.1', port: h1Upstream.port }] },
        { name: 'h2', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port: h2Upstream.port }] },
      ],
    });
  });

  after(async () => {
    for (const s of sessions) s.destroy();
    await proxy?.close();
    await h1Upstream?.close();
    await h2Upstream?.close();
  });

  async function session(service: string): Promise<http2.ClientHttp2Session> {
    const s = await connectH2(proxy.port(service));
    sessions.push(s);
    return s;
  }

  test('h2 client → HTTP/1.1 upstream: method, path, query, headers and body arrive', async () => {
    const s = await session('h2-to-h1');
    const res = await h2Request(
      s,
      {
        ':method': 'POST',
        ':path': '/orders/42?expand=items&x=%20y',
        ':authority': 'orders.example',
        'content-type': 'text/plain',
        'x-request-id': 'abc-123',
        'x-multi': 'one',
      },
      'order body',
    );
    assert.equal(res.status, 201);
    assert.equal(res.headers['x-upstream'], 'http/1.1');
    const seen = JSON.parse(res.body.toString()) as Seen;
    assert.equal(seen.httpVersion, '1.1');
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/orders/42?expand=items&x=%20y');
    assert.equal(seen.headers.host, 'orders.example', ':authority becomes Host');
    assert.equal(seen.headers['x-request-id'], 'abc-123');
    assert.equal(seen.headers['content-type'], 'text/plain');
    assert.equal(seen.body, 'order body');
    for (const name of Object.keys(seen.headers))
      assert.ok(!name.startsWith(':'), `no pseudo-header leaks to HTTP/1.1: ${name}`);
  });

  test('h2 client → HTTP/1.1 upstream: a GET without a body and several streams at once', async () => {
    const s = await session('h2-to-h1');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h2Request(s, { ':method': 'GET', ':path': `/item/${i}`, ':authority': 'svc' }),
      ),
    );
    results.forEach((r, i) => {
      assert.equal(r.status, 201);
      const seen = JSON.parse(r.body.toString()) as Seen;
      assert.equal(seen.method, 'GET');
      assert.equal(seen.url, `/item/${i}`);
      assert.equal(seen.body, '');
    });
  });

  test('HTTP/1.1 client → h2 upstream: method, path, query, headers and body arrive', async () => {
    const r = await get(`${proxy.url('h1-to-h2', '/search?q=weft&page=2')}`, {
      method: 'PUT',
      headers: { 'x-request-id': 'def-456', 'content-type': 'application/json', host: 'search.example' },
      body: '{"a":1}',
    });
    assert.equal(r.status, 201);
    assert.equal(r.headers['x-upstream'], 'http/2.0');
    const seen = JSON.parse(r.body) as Seen;
    assert.equal(seen.httpVersion, '2.0', 'the backend declared http2, so the upstream spoke HTTP/2');
    assert.equal(seen.method, 'PUT');
    assert.equal(seen.url, '/search?q=weft&page=2');
    assert.equal(seen.headers[':authority'], 'search.example', 'Host becomes :authority');
    assert.equal(seen.headers['x-request-id'], 'def-456');
    assert.equal(seen.body, '{"a":1}');
    for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'host'])
      assert.equal(seen.headers[name], undefined, `no connection-specific header ${name} on HTTP/2`);
  });

  test('HTTP/1.1 client → h2 upstream: a chunked request body', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: proxy.port('h1-to-h2'), method: 'POST', path: '/chunked' },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks).toString()));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.write('part one, ');
      req.end('part two');
    });
    const seen = JSON.parse(body) as Seen;
    assert.equal(seen.httpVersion, '2.0');
    assert.equal(seen.body, 'part one, part two');
  });

  test('h2 client → h2 upstream: method, path, query, headers and body arrive', async () => {
    const s = await session('h2-to-h2');
    const big = 'x'.repeat(200_000);
    const res = await h2Request(
      s,
      {
        ':method': 'PATCH',
        ':path': '/a/b?c=d',
        ':authority': 'both.example',
        'x-request-id': 'ghi-789',
        cookie: 'a=1',
      },
      big,
    );
    assert.equal(res.status, 201);
    const seen = JSON.parse(res.body.toString()) as Seen;
    assert.equal(seen.httpVersion, '2.0');
    assert.equal(seen.method, 'PATCH');
    assert.equal(seen.url, '/a/b?c=d');
    assert.equal(seen.headers[':authority'], 'both.example');
    assert.equal(seen.headers['x-request-id'], 'ghi-789');
    assert.equal(seen.headers.cookie, 'a=1');
    assert.equal(seen.body.length, big.length, 'a body larger than the initial flow-control window');
  });

  test('the proxy advertises 100 max concurrent streams by default', async () => {
    const s = await session('h2-to-h1');
    assert.equal(s.remoteSettings.maxConcurrentStreams, 100);
  });
});
