/**
 * Weft's own HTTP/1.1 upstream client (src/proxy/upstream/http1/) end to end: a real proxy in this
 * process in front of raw TCP upstreams that write exact bytes, so each test controls the framing,
 * the keep-alive signals and the misbehaviour it is about. The upstream records every connection it
 * accepts and every request it parses, which is how connection reuse, the pool limit and the request
 * framing the proxy chose are checked. node:http is the client (it exposes trailers and aborts).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProxyConfigInput } from '../../src/api/index.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, startTcpServer } from '../support/upstreams.ts';

/** One request as the upstream parsed it off the wire. */
interface UpRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** How the body was framed on the wire. */
  framing: 'content-length' | 'chunked' | 'none';
  body: Buffer;
  conn: UpConn;
}

interface UpConn {
  id: number;
  socket: net.Socket;
  requests: UpRequest[];
  /** performance.now() when the upstream saw the connection close. */
  closedAt: number | undefined;
  closed: Promise<void>;
}

interface Scripted extends Closable {
  conns: UpConn[];
  requests: UpRequest[];
  /** The most connections open at once. */
  maxOpen: number;
}

type Respond = (req: UpRequest) => void;
/** Called when a request head has arrived, before its body is read; true means "stop reading". */
type OnHead = (req: UpRequest) => boolean;

/**
 * A raw HTTP/1.1 upstream: parses requests (content-length or chunked bodies, one at a time per
 * connection, as the proxy never pipelines) and lets the test write whatever response bytes it wants.
 */
async function startScripted(respond: Respond, onHead?: OnHead): Promise<Scripted> {
  const conns: UpConn[] = [];
  const requests: UpRequest[] = [];
  let open = 0;
  const state = { maxOpen: 0 };
  const server = await startTcpServer((socket) => {
    open++;
    state.maxOpen = Math.max(state.maxOpen, open);
    let markClosed = () => {};
    const conn: UpConn = {
      id: conns.length,
      socket,
      requests: [],
      closedAt: undefined,
      closed: new Promise<void>((resolve) => (markClosed = resolve)),
    };
    conns.push(conn);
    socket.on('close', () => {
      open--;
      conn.closedAt = performance.now();
      markClosed();
    });
    let buf = Buffer.alloc(0);
    let pending: UpRequest | undefined;
    let stopped = false;
    socket.on('data', (chunk: Buffer) => {
      if (stopped) return;
      buf = Buffer.concat([buf, chunk]);
      for (let guard = 0; guard < 100; guard++) {
        if (!pending) {
          const end = buf.indexOf('\r\n\r\n');
          if (end === -1) return;
          pending = parseRequestHead(buf.toString('latin1', 0, end), conn);
          buf = buf.subarray(end + 4);
          if (onHead?.(pending)) {
            stopped = true;
            socket.pause();
            return;
          }
        }
        const body = takeBody(pending, buf);
        if (!body) return;
        pending.body = body.body;
        buf = buf.subarray(body.used);
        const req = pending;
        pending = undefined;
        conn.requests.push(req);
        requests.push(req);
        respond(req);
      }
    });
  });
  return {
    port: server.port,
    close: server.close,
    conns,
    requests,
    get maxOpen() {
      return state.maxOpen;
    },
  };
}

function parseRequestHead(text: string, conn: UpConn): UpRequest {
  const [line = '', ...fields] = text.split('\r\n');
  const [method = '', path = ''] = line.split(' ');
  const headers: Record<string, string> = {};
  for (const f of fields) {
    const colon = f.indexOf(':');
    const name = f.slice(0, colon).toLowerCase();
    const value = f.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const framing =
    headers['transfer-encoding'] === 'chunked'
      ? 'chunked'
      : headers['content-length'] !== undefined
        ? 'content-length'
        : 'none';
  return { method, path, headers, framing, body: Buffer.alloc(0), conn };
}

/** The body of `req` from the start of `buf`, or undefined while it is incomplete. Strict framing. */
function takeBody(req: UpRequest, buf: Buffer): { body: Buffer; used: number } | undefined {
  if (req.framing === 'none') return { body: Buffer.alloc(0), used: 0 };
  if (req.framing === 'content-length') {
    const n = Number(req.headers['content-length']);
    return buf.length < n ? undefined : { body: buf.subarray(0, n), used: n };
  }
  const parts: Buffer[] = [];
  let off = 0;
  for (;;) {
    const nl = buf.indexOf('\r\n', off);
    if (nl === -1) return undefined;
    const sizeText = buf.toString('latin1', off, nl);
    assert.match(sizeText, /^[0-9a-f]+$/, 'the proxy writes bare lower-case hex chunk sizes');
    const size = Number.parseInt(sizeText, 16);
    if (size === 0) {
      if (buf.length < nl + 4) return undefined;
      assert.equal(buf.toString('latin1', nl + 2, nl + 4), '\r\n', 'no trailers after the last chunk');
      return { body: Buffer.concat(parts), used: nl + 4 };
    }
    if (buf.length < nl + 2 + size + 2) return undefined;
    parts.push(buf.subarray(nl + 2, nl + 2 + size));
    assert.equal(buf.toString('latin1', nl + 2 + size, nl + 4 + size), '\r\n', 'CRLF after chunk data');
    off = nl + 4 + size;
  }
}

/** A complete 200 response with a content-length, and optional extra header lines. */
function ok(body: string, extra = ''): string {
  return `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

function config(port: number, backend: { idleTimeout?: string; maxConnectionsPerEndpoint?: number } = {}) {
  const cfg: ProxyConfigInput = {
    outbound: [
      {
        name: 'svc',
        port: 80,
        listen: { address: '127.0.0.1', port: 0 },
        protocol: 'http1',
        routes: [{ backends: [{ backend: 'up' }] }],
      },
    ],
    backends: [{ name: 'up', endpoints: [{ address: '127.0.0.1', port }], ...backend }],
  };
  return cfg;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  trailers: NodeJS.Dict<string>;
  body: string;
}

interface Send {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Writes the body itself instead (streaming); must end the request. */
  write?: (req: http.ClientRequest) => void;
}

/** One request on its own connection; rejects if the response is cut short, or after 5 s. */
function send(port: number, options: Send = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
        res.on('end', () => {
          if (!res.complete) reject(new Error('response incomplete'));
          else
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              trailers: res.trailers,
              body: Buffer.concat(chunks).toString('latin1'),
            });
        });
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (options.write) options.write(req);
    else req.end(options.body);
  });
}

/**
 * Streams up to `total` bytes of body with backpressure, starting once connected (node:http would
 * otherwise buffer any amount before the socket exists), and stops as soon as a response arrives; the
 * request is dropped once that response has been read.
 */
function streamUntilAnswered(req: http.ClientRequest, total: number): void {
  const piece = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  let answered = false;
  req.once('response', (res) => {
    answered = true;
    res.once('end', () => req.destroy());
  });
  req.on('error', () => {});
  const pump = () => {
    while (!answered && sent < total) {
      sent += piece.length;
      if (!req.write(piece)) {
        req.once('drain', pump);
        return;
      }
    }
    if (!answered) req.end();
  };
  req.once('socket', (socket) => socket.once('connect', pump));
  req.flushHeaders();
}

/** Resolves when `p` settles, or rejects after `ms` with `what`. */
async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('HTTP/1.1 upstream client', () => {
  const closables: Closable[] = [];
  const proxies: TestProxy[] = [];

  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all(closables.map((c) => c.close()));
  });

  /** A scripted upstream and a proxy in front of it; both closed in `after`. */
  async function setup(
    respond: Respond,
    backend: Parameters<typeof config>[1] = {},
    onHead?: OnHead,
  ): Promise<{ up: Scripted; port: number }> {
    const up = await startScripted(respond, onHead);
    closables.push(up);
    const proxy = await startProxy(config(up.port, backend));
    proxies.push(proxy);
    return { up, port: proxy.port('svc') };
  }

  const echoPath: Respond = (req) => req.conn.socket.write(ok(req.path));

  test('keep-alive: sequential requests reuse one upstream connection', async () => {
    const { up, port } = await setup(echoPath);
    for (let i = 0; i < 8; i++) {
      const r = await send(port, { path: `/seq/${i}` });
      assert.equal(r.status, 200);
      assert.equal(r.body, `/seq/${i}`);
    }
    assert.equal(up.requests.length, 8);
    assert.equal(up.conns.length, 1, 'one upstream connection for all requests');
    assert.equal(up.conns[0]?.requests.length, 8);
  });

  test('an idle pooled connection is closed after the backend idleTimeout', async () => {
    const { up, port } = await setup(echoPath, { idleTimeout: '200ms' });
    assert.equal((await send(port, { path: '/a' })).status, 200);
    const first = up.conns[0];
    assert.ok(first);
    await sleep(50);
    assert.equal(first.closedAt, undefined, 'still pooled shortly after the response');
    await sleep(350);
    assert.notEqual(first.closedAt, undefined, 'closed by the proxy after ~200 ms idle');
    assert.equal((await send(port, { path: '/b' })).status, 200);
    assert.equal(up.conns.length, 2, 'the next request opened a new connection');
  });

  test('a server Keep-Alive: timeout=1 hint shortens the idle timeout to 0: not reused', async () => {
    const { up, port } = await setup(
      (req) => req.conn.socket.write(ok('hint', 'keep-alive: timeout=1\r\n')),
      {
        idleTimeout: '5s',
      },
    );
    const t0 = performance.now();
    assert.equal((await send(port)).status, 200);
    const first = up.conns[0];
    assert.ok(first);
    await within(900, first.closed, 'the proxy closes before the server would (1 s)');
    assert.ok((first.closedAt ?? Infinity) - t0 < 900);
    assert.equal((await send(port)).status, 200);
    assert.equal(up.conns.length, 2, 'the next request used a new connection');
  });

  test('a longer Keep-Alive hint (timeout=3) still allows reuse', async () => {
    const { up, port } = await setup(
      (req) => req.conn.socket.write(ok('hint', 'keep-alive: timeout=3, max=100\r\n')),
      {
        idleTimeout: '5s',
      },
    );
    for (let i = 0; i < 3; i++) assert.equal((await send(port)).status, 200);
    assert.equal(up.conns.length, 1);
  });

  test('a Keep-Alive: timeout=2 hint closes the pooled connection before the server would (2 s)', async () => {
    // The hint leaves 1 s to idle; with the backend's 10 s idle timeout the pool's sweep runs only every
    // 2.5 s, which must not keep the connection past the server's own timeout.
    const { up, port } = await setup(
      (req) => req.conn.socket.write(ok('hint', 'keep-alive: timeout=2\r\n')),
      {
        idleTimeout: '10s',
      },
    );
    assert.equal((await send(port)).status, 200);
    const first = up.conns[0];
    assert.ok(first);
    await within(1900, first.closed, 'the proxy closes the idle connection before the server (2 s)');
  });

  test('maxConnectionsPerEndpoint: 2 holds 6 concurrent slow requests to 2 connections', async () => {
    const { up, port } = await setup(
      (req) => {
        setTimeout(() => req.conn.socket.write(ok(req.path)), 100);
      },
      { maxConnectionsPerEndpoint: 2 },
    );
    const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => send(port, { path: `/c/${i}` })));
    assert.deepEqual(
      replies.map((r) => [r.status, r.body]),
      Array.from({ length: 6 }, (_, i) => [200, `/c/${i}`]),
    );
    assert.equal(up.requests.length, 6);
    assert.ok(up.maxOpen <= 2, `at most 2 upstream connections at once (saw ${up.maxOpen})`);
    assert.equal(up.conns.length, 2, 'queued requests reused the two connections');
  });

  test('HEAD, 204 and 304 responses without a body do not hang, and the connection is reused', async () => {
    const { up, port } = await setup((req) => {
      const s = req.conn.socket;
      if (req.method === 'HEAD')
        s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\n');
      else if (req.path === '/204') s.write('HTTP/1.1 204 No Content\r\nx-kind: none\r\n\r\n');
      else if (req.path === '/304')
        s.write('HTTP/1.1 304 Not Modified\r\netag: "v1"\r\ncontent-length: 1000\r\n\r\n');
      else s.write(ok('after'));
    });
    const head = await send(port, { method: 'HEAD', path: '/h' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '1000');
    assert.equal(head.body, '');
    const noContent = await send(port, { path: '/204' });
    assert.equal(noContent.status, 204);
    assert.equal(noContent.headers['x-kind'], 'none');
    const notModified = await send(port, { path: '/304', headers: { 'if-none-match': '"v1"' } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.etag, '"v1"');
    const next = await send(port, { path: '/after' });
    assert.equal(next.body, 'after');
    assert.equal(up.conns.length, 1, 'all four on one upstream connection');
  });

  test('an HTTP/1.0 upstream with a close-delimited body', async () => {
    const big = 'x'.repeat(100_000);
    const { up, port } = await setup((req) => {
      const s = req.conn.socket;
      s.write('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\n');
      s.write(req.path);
      setTimeout(() => s.end(req.path === '/big' ? big : '|end'), 20);
    });
    const r = await send(port, { path: '/small' });
    assert.equal(r.status, 200);
    assert.equal(r.body, '/small|end');
    const b = await send(port, { path: '/big' });
    assert.equal(b.body, `/big${big}`);
    assert.equal(up.conns.length, 2, 'a close-delimited body cannot be followed on its connection');
  });

  for (const mode of ['stops reading', 'closes'] as const) {
    test(`an upstream that answers 413 at once and ${mode}: the client gets 413, the proxy stays healthy`, async () => {
      const uploads: UpConn[] = [];
      const { port } = await setup(echoPath, {}, (req) => {
        if (req.path !== '/upload') return false;
        uploads.push(req.conn);
        // Answer before the body and do not read it, as servers with a body limit do: either keep the
        // connection and stop reading (draining it, unparsed, only later: a paused socket would not
        // notice the proxy closing it), or ask to close and close shortly after (a lingering close, so
        // the response is not lost to a reset).
        const s = req.conn.socket;
        if (mode === 'closes') {
          s.write(
            'HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 8\r\n\r\ntoo big\n',
          );
          setTimeout(() => s.destroy(), 100);
        } else {
          s.write('HTTP/1.1 413 Payload Too Large\r\ncontent-length: 8\r\n\r\ntoo big\n');
          setTimeout(() => s.resume(), 300);
        }
        return true;
      });
      // More than socket buffers can hold, so the proxy is still streaming when the answer comes.
      const total = 64 * 1024 * 1024;
      for (const chunked of [false, true]) {
        const r = await send(port, {
          method: 'POST',
          path: '/upload',
          headers: chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(total) },
          write: (req) => streamUntilAnswered(req, total),
        });
        assert.equal(r.status, 413, `chunked=${chunked}`);
        assert.equal(r.body, 'too big\n');
        const conn = uploads.shift();
        assert.ok(conn);
        await within(2000, conn.closed, 'the connection with the unsent body is closed');
        const next = await send(port, { path: `/next-${chunked}` });
        assert.equal(next.status, 200);
        assert.equal(next.body, `/next-${chunked}`);
      }
    });
  }

  test('a garbage status line → 502 UPSTREAM_PROTOCOL', async () => {
    const { port } = await setup((req) => req.conn.socket.write('garbage\r\nx: 1\r\n\r\n'));
    const r = await send(port, { path: '/garbage' });
    assert.equal(r.status, 502);
    assert.equal(r.headers['weft-error'], 'UPSTREAM_PROTOCOL');
  });

  test('a garbage response on a reused connection is a protocol error, not a stale connection', async () => {
    // A retry after "stale connection" replays the request; the upstream has already answered this one,
    // so replaying it (a POST here) would run it twice.
    const { up, port } = await setup((req) =>
      req.conn.socket.write(req.path === '/first' ? ok('first') : 'HTTP/1.1 two hundred\r\n\r\n'),
    );
    assert.equal((await send(port, { path: '/first' })).status, 200);
    const r = await send(port, { method: 'POST', path: '/order', body: 'buy 1' });
    assert.equal(r.status, 502);
    assert.equal(r.headers['weft-error'], 'UPSTREAM_PROTOCOL');
    assert.equal(up.requests.filter((q) => q.path === '/order').length, 1, 'the POST was not replayed');
  });

  test('a bad chunk after the head was forwarded: the client sees an aborted response', async () => {
    // The response head goes downstream as soon as it arrives, so a framing error in the body can only
    // be reported by cutting the response off (a 502 is no longer possible).
    const { port } = await setup((req) => {
      if (req.path === '/bad-chunk')
        req.conn.socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n');
      else if (req.path === '/bad-chunk-crlf')
        req.conn.socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhelloXX');
      else req.conn.socket.write(ok('fine'));
    });
    await assert.rejects(
      within(3000, send(port, { path: '/bad-chunk' }), 'bad chunk'),
      /aborted|incomplete|reset|hang up/,
    );
    await assert.rejects(
      within(3000, send(port, { path: '/bad-chunk-crlf' }), 'bad chunk CRLF'),
      /aborted|incomplete|reset|hang up/,
    );
    assert.equal((await send(port, { path: '/ok' })).body, 'fine');
  });

  test('the upstream closes mid-body: the client sees a cut-short response, and the proxy keeps serving', async () => {
    const { up, port } = await setup((req) => {
      const s = req.conn.socket;
      if (req.path === '/length') s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
      else if (req.path === '/chunked')
        s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n7\r\npartial\r\n');
      else {
        s.write(ok('whole'));
        return;
      }
      setTimeout(() => s.destroy(), 30);
    });
    for (const path of ['/length', '/chunked']) {
      await assert.rejects(
        within(3000, send(port, { path }), path),
        /aborted|incomplete|reset|hang up/,
        path,
      );
    }
    const r = await send(port, { path: '/whole' });
    assert.equal(r.body, 'whole');
    assert.equal(up.conns.length, 3);
  });

  test('response trailers over chunked reach an HTTP/1.1 client that sends TE: trailers', async () => {
    const { up, port } = await setup((req) =>
      req.conn.socket.write(
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: abc123\r\n\r\n',
      ),
    );
    for (let i = 0; i < 2; i++) {
      const r = await send(port, { headers: { te: 'trailers' } });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'hello world');
      assert.equal(r.trailers['x-checksum'], 'abc123');
    }
    assert.equal(up.conns.length, 1, 'reused after a chunked response with trailers');
  });

  test('small POST bodies arrive intact with correct framing', async () => {
    const { up, port } = await setup((req) => req.conn.socket.write(ok(`${req.framing}:${req.body.length}`)));
    // Declared length: buffered, sent with content-length.
    const a = await send(port, { method: 'POST', path: '/cl', body: 'hello world' });
    assert.equal(a.body, 'content-length:11');
    // Chunked from the client, all in one go: buffered too, so the upstream sees a length.
    const b = await send(port, {
      method: 'POST',
      path: '/chunked-once',
      headers: { 'transfer-encoding': 'chunked' },
      write: (req) => {
        req.write('abc');
        req.end('defg');
      },
    });
    assert.equal(b.body, 'content-length:7');
    // Chunked and still arriving on a later tick: streamed, chunked upstream.
    const c = await send(port, {
      method: 'POST',
      path: '/chunked-slow',
      headers: { 'transfer-encoding': 'chunked' },
      write: (req) => {
        req.write('first;');
        setTimeout(() => req.end('second'), 50);
      },
    });
    assert.equal(c.body, 'chunked:12');
    // No body at all: an explicit zero length, so the upstream does not wait for one.
    const d = await send(port, { method: 'POST', path: '/empty' });
    assert.equal(d.body, 'content-length:0');
    const byPath = new Map(up.requests.map((q) => [q.path, q]));
    assert.equal(byPath.get('/cl')?.headers['content-length'], '11');
    assert.equal(byPath.get('/cl')?.headers['transfer-encoding'], undefined);
    assert.equal(byPath.get('/cl')?.body.toString(), 'hello world');
    assert.equal(byPath.get('/chunked-once')?.body.toString(), 'abcdefg');
    assert.equal(byPath.get('/chunked-once')?.headers['transfer-encoding'], undefined);
    assert.equal(byPath.get('/chunked-slow')?.body.toString(), 'first;second');
    assert.equal(byPath.get('/chunked-slow')?.headers['content-length'], undefined);
    assert.equal(byPath.get('/empty')?.headers['content-length'], '0');
    assert.equal(up.conns.length, 1, 'all on one connection');
  });

  test('an upstream response with connection: close is not reused', async () => {
    // The upstream leaves the socket open: the proxy itself must not put it back in the pool.
    const { up, port } = await setup((req) => req.conn.socket.write(ok(req.path, 'connection: close\r\n')));
    const a = await send(port, { path: '/one' });
    assert.equal(a.body, '/one');
    const first = up.conns[0];
    assert.ok(first);
    await within(2000, first.closed, 'the proxy closes the connection the upstream asked to close');
    assert.equal((await send(port, { path: '/two' })).body, '/two');
    assert.equal(up.conns.length, 2, 'the next request used a new connection');
  });
});
