/**
 * The Bookinfo stand-ins and the other demo programs as real child processes, wired to each other
 * through the same env variables Istio's images read (DETAILS_HOSTNAME=127.0.0.1,
 * DETAILS_SERVICE_PORT=<port>…). Every program gets PORT=0 and reports its port in its start line.
 * Fakes in this process play the backends whose behaviour a test needs to control or observe: a
 * ratings that records headers (and can fail), a reviews that answers after 4 s, a forward proxy.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SAMPLE_IMAGES, sampleForImage } from '../../src/samples/images.ts';
import { type ChildExit, collectOutput, freePort } from '../support/child.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Program {
  child: ChildProcess;
  port: number;
  ports: number[];
  output(): string;
  exited: Promise<ChildExit>;
}

const children: ChildProcess[] = [];

/** Starts `node <program>` with only the given env (no HTTP_PROXY leaking in from the test's own env). */
async function start(program: string, env: Record<string, string>, args: string[] = [], ports = 1) {
  const child = spawn(process.execPath, [`${ROOT}${program}`, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const { output, exited } = collectOutput(child);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = [...output().matchAll(/listening on :(\d+)/g)].map((m) => Number(m[1]));
    if (found.length >= ports) {
      return { child, port: found[0]!, ports: found, output, exited } satisfies Program;
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${program} did not start:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

async function json<T = Record<string, unknown>>(port: number, path: string): Promise<T> {
  const r = await request(port, path);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as T;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

const REVIEWS_JSON = JSON.stringify({
  id: '0',
  podname: 'fake',
  clustername: 'null',
  reviews: [{ reviewer: 'Reviewer1', text: 'via the proxy' }],
});
const DETAILS_JSON = JSON.stringify({
  id: 0,
  type: 'hardcover-from-proxy',
  pages: 1,
  publisher: 'P',
  language: 'English',
  'ISBN-10': 'x',
  'ISBN-13': 'y',
});

// Fakes.
// Tests run concurrently, so the ratings fake is steered and read by x-request-id.
const ratingsSeen: http.IncomingHttpHeaders[] = [];
const fakeRatings = http.createServer((req, res) => {
  ratingsSeen.push(req.headers);
  if (req.headers['x-request-id'] === 'fail-ratings') {
    res.writeHead(503).end('{"error":"Service unavailable"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } }));
});
let slowReviewsHits = 0;
const slowReviews = http.createServer((_req, res) => {
  slowReviewsHits++;
  const timer = setTimeout(() => res.writeHead(200).end(REVIEWS_JSON), 4000);
  res.once('close', () => clearTimeout(timer));
});
const proxySeen: Array<{ url: string; host: string }> = [];
const fakeProxy = http.createServer((req, res) => {
  proxySeen.push({ url: req.url ?? '', host: req.headers.host ?? '' });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(req.url?.includes('/details/') ? DETAILS_JSON : REVIEWS_JSON);
});

const p = {} as Record<
  | 'details'
  | 'ratings'
  | 'reviews1'
  | 'reviews2'
  | 'reviews3'
  | 'page1'
  | 'page2'
  | 'page3'
  | 'broken'
  | 'proxied'
  | 'greeter'
  | 'tcpEcho'
  | 'hello'
  | 'httpbin',
  Program
>;

const at = (port: number) => ({ host: '127.0.0.1', port: String(port) });
function pageEnv(details: number, reviews: number, ratings: number): Record<string, string> {
  return {
    PORT: '0',
    DETAILS_HOSTNAME: at(details).host,
    DETAILS_SERVICE_PORT: at(details).port,
    REVIEWS_HOSTNAME: '127.0.0.1',
    REVIEWS_SERVICE_PORT: String(reviews),
    RATINGS_HOSTNAME: '127.0.0.1',
    RATINGS_SERVICE_PORT: String(ratings),
  };
}

describe('bookinfo and the demo programs', { concurrency: true }, () => {
  before(async () => {
    const [fakeRatingsPort, slowReviewsPort, proxyPort, closedPort] = await Promise.all([
      listen(fakeRatings),
      listen(slowReviews),
      listen(fakeProxy),
      freePort(),
    ]);
    [p.details, p.ratings, p.greeter, p.tcpEcho, p.hello, p.httpbin] = await Promise.all([
      start('src/samples/bookinfo/details.ts', { PORT: '0' }),
      start('src/samples/bookinfo/ratings.ts', { PORT: '0' }),
      start('src/samples/grpc-greeter/server.ts', {
        PORT: '0',
        SERVICE_VERSION: 'v2',
        HOSTNAME: 'greeter-v2-a',
      }),
      start('src/samples/tcp-echo/server.ts', {}, ['0,0', 'hello'], 2),
      start('src/samples/helloworld/server.ts', {
        PORT: '0',
        SERVICE_VERSION: 'v2',
        HOSTNAME: 'helloworld-v2-a',
      }),
      start('src/samples/httpbin/server.ts', { PORT: '0' }),
    ]);
    const reviews = (version: string, ratingsPort: number) =>
      start('src/samples/bookinfo/reviews.ts', {
        PORT: '0',
        SERVICE_VERSION: version,
        HOSTNAME: `reviews-${version}-a`,
        RATINGS_HOSTNAME: '127.0.0.1',
        RATINGS_SERVICE_PORT: String(ratingsPort),
      });
    // v2's ratings is the recording fake, so the headers reviews forwards can be inspected.
    [p.reviews1, p.reviews2, p.reviews3] = await Promise.all([
      reviews('v1', p.ratings.port),
      reviews('v2', fakeRatingsPort),
      reviews('v3', p.ratings.port),
    ]);
    [p.page1, p.page2, p.page3, p.broken, p.proxied] = await Promise.all([
      start('src/samples/bookinfo/productpage.ts', pageEnv(p.details.port, p.reviews1.port, p.ratings.port)),
      start('src/samples/bookinfo/productpage.ts', pageEnv(p.details.port, p.reviews2.port, p.ratings.port)),
      start('src/samples/bookinfo/productpage.ts', pageEnv(p.details.port, p.reviews3.port, p.ratings.port)),
      start('src/samples/bookinfo/productpage.ts', pageEnv(closedPort, slowReviewsPort, p.ratings.port)),
      // Explicit mode as Weft's runtime sets it up: default service names, HTTP_PROXY and NODE_USE_ENV_PROXY.
      start('src/samples/bookinfo/productpage.ts', {
        PORT: '0',
        HTTP_PROXY: `http://127.0.0.1:${proxyPort}`,
        NODE_USE_ENV_PROXY: '1',
        NO_PROXY: 'localhost,127.0.0.1',
      }),
    ]);
  });

  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    for (const server of [fakeRatings, slowReviews, fakeProxy]) {
      server.closeAllConnections();
      server.close();
    }
  });

  test('details, ratings and reviews answer as the originals do', async () => {
    assert.deepEqual(await json(p.details.port, '/details/0'), {
      id: 0,
      author: 'William Shakespeare',
      year: 1595,
      type: 'paperback',
      pages: 200,
      publisher: 'PublisherA',
      language: 'English',
      'ISBN-10': '1234567890',
      'ISBN-13': '123-1234567890',
    });
    assert.deepEqual(await json(p.details.port, '/health'), { status: 'Details is healthy' });
    const bad = await request(p.details.port, '/details/abc');
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.body), { error: 'please provide numeric product id' });

    assert.deepEqual(await json(p.ratings.port, '/ratings/0'), {
      id: 0,
      ratings: { Reviewer1: 5, Reviewer2: 4 },
    });
    assert.deepEqual(await json(p.ratings.port, '/health'), { status: 'Ratings is healthy' });

    type Reviews = {
      id: string;
      podname: string;
      version: string;
      reviews: Array<{ reviewer: string; text: string; rating?: { stars?: number; color?: string } }>;
    };
    const v1 = await json<Reviews>(p.reviews1.port, '/reviews/0');
    assert.equal(v1.id, '0');
    assert.equal(v1.podname, 'reviews-v1-a');
    assert.deepEqual(
      v1.reviews.map((r) => [r.reviewer, r.rating]),
      [
        ['Reviewer1', undefined],
        ['Reviewer2', undefined],
      ],
    );
    const v3 = await json<Reviews>(p.reviews3.port, '/reviews/0');
    assert.equal(v3.version, 'v3');
    assert.deepEqual(
      v3.reviews.map((r) => r.rating),
      [
        { stars: 5, color: 'red' },
        { stars: 4, color: 'red' },
      ],
    );
    assert.deepEqual(await json(p.reviews3.port, '/health'), { status: 'Reviews is healthy' });
  });

  test('the product page renders details and reviews, and v1, v2, v3 differ', async () => {
    const pages = await Promise.all(
      [p.page1, p.page2, p.page3].map((x) => request(x.port, '/productpage?u=normal')),
    );
    for (const page of pages) {
      assert.equal(page.status, 200);
      assert.match(page.body, /The Comedy of Errors/);
      assert.match(
        page.body,
        /Book Details[\s\S]*<dt>Type:<\/dt>paperback[\s\S]*<dt>ISBN-13:<\/dt>123-1234567890/,
      );
      assert.match(page.body, /Book Reviews[\s\S]*Reviewer1[\s\S]*Reviewer2/);
    }
    const [v1, v2, v3] = pages.map((x) => x.body) as [string, string, string];
    assert.doesNotMatch(v1, /glyphicon-star/);
    assert.match(v1, /Reviews served by:[\s\S]*reviews-v1-a/);
    assert.equal(v2.match(/<font color="black">/g)?.length, 2);
    assert.equal(v2.match(/glyphicon-star"/g)?.length, 9); // 5 + 4 full stars
    assert.doesNotMatch(v2, /color="red"/);
    assert.equal(v3.match(/<font color="red">/g)?.length, 2);
    assert.doesNotMatch(v3, /color="black"/);

    const api = await json<{ podname: string; version: string }>(p.page3.port, '/api/v1/products/0/reviews');
    assert.equal(api.podname, 'reviews-v3-a');
    assert.equal(api.version, 'v3');
    assert.deepEqual(await json(p.page1.port, '/api/v1/products/0/ratings'), {
      id: 0,
      ratings: { Reviewer1: 5, Reviewer2: 4 },
    });
    assert.equal((await json<{ type: string }>(p.page1.port, '/api/v1/products/0')).type, 'paperback');
    const products = await json<Array<{ title: string }>>(p.page1.port, '/api/v1/products');
    assert.equal(products[0]?.title, 'The Comedy of Errors');
    const index = await request(p.page1.port, '/');
    assert.match(index.body, /href="\/productpage\?u=normal"[\s\S]*href="\/productpage\?u=test"/);
    assert.equal((await request(p.page1.port, '/health')).body, 'Product page is healthy');
    assert.match(
      (await request(p.page1.port, '/metrics')).body,
      /request_result_total\{destination_app="reviews",response_code="200"\} \d+/,
    );
  });

  test('login forwards end-user and tracing headers to reviews and ratings; a ratings failure shows', async () => {
    const login = await request(p.page2.port, '/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', referer: '/productpage' },
      body: 'username=jason&passwd=',
    });
    assert.equal(login.status, 302);
    assert.equal(login.headers.location, '/productpage');
    const cookie = String(login.headers['set-cookie']?.[0]).split(';')[0] ?? '';
    assert.equal(cookie, 'user=jason');

    const trace = {
      'x-request-id': 'req-1',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'x-b3-traceid': '4bf92f3577b34da6',
      'x-b3-sampled': '1',
      'user-agent': 'bookinfo-test',
    };
    const page = await request(p.page2.port, '/productpage', { headers: { cookie, ...trace } });
    assert.match(page.body, /jason \( <a href="logout">sign out<\/a> \)/);
    const seenAll = ratingsSeen.filter((h) => h['x-request-id'] === 'req-1');
    assert.equal(seenAll.length, 1);
    const seen = seenAll[0]!;
    assert.equal(seen['end-user'], 'jason');
    for (const [name, value] of Object.entries(trace)) assert.equal(seen[name], value, name);

    const logout = await request(p.page2.port, '/logout', { headers: { cookie, referer: '/productpage' } });
    assert.equal(logout.status, 302);
    assert.match(String(logout.headers['set-cookie']), /user=;.*Max-Age=0/);
    await request(p.page2.port, '/productpage', { headers: { 'x-request-id': 'req-2' } });
    const anonymous = ratingsSeen.filter((h) => h['x-request-id'] === 'req-2');
    assert.equal(anonymous.length, 1);
    assert.equal(anonymous[0]?.['end-user'], undefined);

    const failed = await request(p.page2.port, '/productpage', {
      headers: { 'x-request-id': 'fail-ratings' },
    });
    assert.equal(failed.status, 200);
    assert.equal(failed.body.match(/<p><i>Ratings service is currently unavailable<\/i><\/p>/g)?.length, 2);
    assert.doesNotMatch(failed.body, /glyphicon-star/);
  });

  test('details down and reviews slow: the original error texts, reviews after two 3 s attempts', async () => {
    const api = await request(p.broken.port, '/api/v1/products/0');
    assert.equal(api.status, 500);
    assert.deepEqual(JSON.parse(api.body), {
      error: 'Sorry, product details are currently unavailable for this book.',
    });

    slowReviewsHits = 0;
    const t0 = Date.now();
    const page = await request(p.broken.port, '/productpage');
    const elapsed = Date.now() - t0;
    assert.equal(page.status, 200);
    assert.match(
      page.body,
      /Error fetching product details!<\/h4>\s*<p>Sorry, product details are currently unavailable for this book\.<\/p>/,
    );
    assert.match(
      page.body,
      /Error fetching product reviews!<\/h4>\s*<p>Sorry, product reviews are currently unavailable for this book\.<\/p>/,
    );
    assert.equal(slowReviewsHits, 2, 'two attempts, as productpage.py makes');
    assert.ok(elapsed >= 5800 && elapsed < 8000, `two 3 s timeouts, took ${elapsed} ms`);
  });

  test('in explicit mode outbound calls go to HTTP_PROXY in absolute form', async () => {
    proxySeen.length = 0;
    const page = await request(p.proxied.port, '/productpage');
    assert.match(page.body, /hardcover-from-proxy/);
    assert.match(page.body, /via the proxy/);
    assert.deepEqual(proxySeen, [
      { url: 'http://details:9080/details/0', host: 'details:9080' },
      { url: 'http://reviews:9080/reviews/0', host: 'reviews:9080' },
    ]);
  });

  test('the gRPC greeter answers over h2c', async () => {
    const run = (...args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [`${ROOT}src/samples/grpc-greeter/client.ts`, ...args], {
          env: { PATH: process.env.PATH ?? '' },
        });
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
        });
        child.once('exit', (code) => resolve({ code, out }));
      });
    const ok = await run(`127.0.0.1:${p.greeter.port}`, 'ann', '--count', '2');
    assert.equal(ok.code, 0, ok.out);
    const lines = ok.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    assert.deepEqual(lines, [
      { message: 'Hello ann', version: 'v2', hostname: 'greeter-v2-a' },
      { message: 'Hello ann', version: 'v2', hostname: 'greeter-v2-a' },
    ]);
    const failed = await run(`127.0.0.1:${p.greeter.port}`, 'status:14');
    assert.equal(failed.code, 1);
    assert.equal((JSON.parse(failed.out) as { grpcStatus: string }).grpcStatus, '14');
  });

  test('tcp-echo prefixes every line, on each of its ports', async () => {
    for (const port of p.tcpEcho.ports) {
      const socket = net.connect(port, '127.0.0.1');
      let got = '';
      socket.on('data', (c: Buffer) => {
        got += c.toString();
      });
      socket.write('one\ntw');
      socket.end('o\n');
      await new Promise((resolve) => socket.once('close', resolve));
      assert.equal(got, 'hello one\nhello two\n');
    }
  });

  test('httpbin answers the endpoints Istio tasks use', async () => {
    const get = await json<{ args: unknown; headers: Record<string, string[]> }>(p.httpbin.port, '/get?a=1');
    assert.deepEqual(get.args, { a: ['1'] });
    assert.deepEqual(get.headers.Host, [`127.0.0.1:${p.httpbin.port}`]);
    assert.equal((await request(p.httpbin.port, '/status/503')).status, 503);
    assert.equal((await request(p.httpbin.port, '/status/418')).status, 418);
    const rh = await request(p.httpbin.port, '/response-headers?x-weft=yes');
    assert.equal(rh.headers['x-weft'], 'yes');
    const t0 = Date.now();
    assert.equal((await request(p.httpbin.port, '/delay/0.3')).status, 200);
    assert.ok(Date.now() - t0 >= 250);
  });

  test('the traffic generator stops at its count and summarises', async () => {
    const child = spawn(
      process.execPath,
      [
        `${ROOT}src/samples/traffic/generate.ts`,
        `http://127.0.0.1:${p.page1.port}/productpage`,
        '--rate',
        '20',
        '--count',
        '3',
      ],
      { env: { PATH: process.env.PATH ?? '' } },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /done \d+s sent=3 statuses=\[200:3\]/);
  });

  test('helloworld answers and a server exits promptly on SIGTERM with a connection open', async () => {
    assert.equal(
      (await request(p.hello.port, '/hello')).body,
      'Hello version: v2, instance: helloworld-v2-a\n',
    );
    const idle = net.connect(p.hello.port, '127.0.0.1');
    await new Promise((resolve) => idle.once('connect', resolve));
    const t0 = Date.now();
    p.hello.child.kill('SIGTERM');
    const { code } = await p.hello.exited;
    idle.destroy();
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 900, `exited after ${Date.now() - t0} ms`);
  });

  test('every image with a stand-in names a program that exists', () => {
    for (const [image, sample] of Object.entries(SAMPLE_IMAGES)) {
      if (sample.useCommand) continue;
      assert.ok(sample.program && existsSync(`${ROOT}${sample.program}`), image);
    }
    assert.equal(
      sampleForImage('registry.istio.io/release/examples-bookinfo-reviews-v3:1.20.3')?.env?.STAR_COLOR,
      'red',
    );
    assert.equal(sampleForImage('docker.io/istio/tcp-echo-server:1.3')?.args, true);
    assert.equal(sampleForImage('curlimages/curl:8.16.0')?.useCommand, true);
    assert.equal(sampleForImage('docker.io/mccutchen/go-httpbin@sha256:abc')?.port, 8080);
    assert.equal(sampleForImage('docker.io/redis:alpine'), undefined);
  });
});
