/**
 * The HTTP/1.1 fast path (src/proxy/http/http1-fast.ts) over raw sockets, so every byte is checked:
 * pipelined requests answered in order, a connection handed to node:http mid-way when a request has a
 * body, HEAD and 204 without bodies, Connection: close honoured, chunked responses with trailers, and the
 * same behaviour with the fast path switched off.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, startHttpServer } from '../support/upstreams.ts';

/** Sends bytes, then reads until `count` complete responses (by Content-Length or chunked end) or close. */
function exchange(port: number, data: string, untilClose = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    let text = '';
    const timer = setTimeout(
      () => {
        s.destroy();
        resolve(text);
      },
      untilClose ? 3000 : 800,
    );
    s.setEncoding('latin1');
    s.on('data', (c: string) => {
      text += c;
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    s.on('error', reject);
  });
}

for (const fastPath of [true, false]) {
  describe(`HTTP/1.1 downstream (fast path ${fastPath ? 'on' : 'off'})`, () => {
    let upstream: Closable;
    let proxy: TestProxy;
    let port: number;
    let slowClosed = 0;

    before(async () => {
      upstream = await startHttpServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          if (req.url === '/slow') {
            // Never answers; records when the proxy gives up on it.
            res.on('close', () => {
              slowClosed++;
            });
            return;
          }
          if (req.url === '/empty') {
            res.writeHead(204);
            res.end();
          } else if (req.url === '/chunked') {
            res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-sum' });
            res.write('part one,');
            setTimeout(() => {
              res.addTrailers({ 'x-sum': '42' });
              res.end('part two');
            }, 10);
          } else {
            const text = `${req.method} ${req.url} body=${body}`;
            res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
            res.end(req.method === 'HEAD' ? undefined : text);
          }
        });
      });
      proxy = await startProxy({
        outbound: [
          {
            name: 'svc',
            port: 80,
            listen: { address: '127.0.0.1', port: 0 },
            routes: [{ backends: [{ backend: 'up' }] }],
          },
        ],
        backends: [{ name: 'up', endpoints: [{ address: '127.0.0.1', port: upstream.port }] }],
        settings: { http1FastPath: fastPath },
      });
      port = proxy.port('svc');
    });

    after(async () => {
      await proxy.close();
      await upstream.close();
    });

    test('pipelined requests are answered in order on one connection', async () => {
      const reqs = ['/a', '/b', '/c'].map((p) => `GET ${p} HTTP/1.1\r\nhost: x\r\n\r\n`).join('');
      const out = await exchange(port, reqs);
      const bodies = [...out.matchAll(/GET (\/[abc]) body=/g)].map((m) => m[1]);
      assert.deepEqual(bodies, ['/a', '/b', '/c'], out);
      assert.equal(out.match(/HTTP\/1\.1 200/g)?.length, 3);
    });

    test('a request with a body mid-connection is served, and so are the requests after it', async () => {
      const out = await exchange(
        port,
        'GET /first HTTP/1.1\r\nhost: x\r\n\r\n' +
          'POST /second HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello' +
          'GET /third HTTP/1.1\r\nhost: x\r\n\r\n',
      );
      assert.match(out, /GET \/first body=/);
      assert.match(out, /POST \/second body=hello/);
      assert.match(out, /GET \/third body=/);
      assert.ok(
        out.indexOf('/first') < out.indexOf('/second') && out.indexOf('/second') < out.indexOf('/third'),
      );
    });

    test('HEAD and 204 responses have no body and the connection carries on', async () => {
      const out = await exchange(
        port,
        'HEAD /h HTTP/1.1\r\nhost: x\r\n\r\nGET /empty HTTP/1.1\r\nhost: x\r\n\r\nGET /after HTTP/1.1\r\nhost: x\r\n\r\n',
      );
      const statuses = [...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
      assert.deepEqual(statuses, ['200', '204', '200'], out);
      assert.doesNotMatch(out, /HEAD \/h body=/, 'no body after HEAD');
      assert.match(out, /GET \/after body=/);
    });

    test('Connection: close gets connection: close and the socket is closed after the response', async () => {
      const out = await exchange(port, 'GET /bye HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n', true);
      assert.match(out, /^HTTP\/1\.1 200/);
      assert.match(out, /connection: close/i);
      assert.match(out, /GET \/bye body=$/);
    });

    test('a client that goes away mid-request cancels the upstream request', async () => {
      const before = slowClosed;
      const s = net.connect(port, '127.0.0.1', () => s.write('GET /slow HTTP/1.1\r\nhost: x\r\n\r\n'));
      s.on('error', () => {});
      await new Promise((r) => setTimeout(r, 100));
      s.destroy();
      const deadline = Date.now() + 2000;
      while (slowClosed === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(slowClosed, before + 1, 'the upstream saw its request closed');
    });

    test('a chunked upstream response is sent chunked, with its trailers', async () => {
      const out = await exchange(port, 'GET /chunked HTTP/1.1\r\nhost: x\r\nte: trailers\r\n\r\n');
      assert.match(out, /transfer-encoding: chunked/i);
      assert.match(out, /part one,/);
      assert.match(out, /part two/);
      assert.match(out, /\r\n0\r\nx-sum: 42\r\n\r\n$/);
    });
  });
}
