/**
 * SIGTERM on a real `weft proxy` process: it stops accepting, lets every in-flight request (HTTP/1.1 and
 * HTTP/2) finish, then exits 0; and it does not wait past the drain deadline.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ProxyConfigInput } from '../../src/api/index.ts';
import { spawnProxy } from '../support/child.ts';
import { get } from '../support/http.ts';
import { type Closable, startHttpServer } from '../support/upstreams.ts';

describe('SIGTERM drain', () => {
  let upstream: Closable;
  let received = 0;
  let delayMs = 600;

  before(async () => {
    upstream = await startHttpServer((_req, res) => {
      received++;
      setTimeout(() => res.end('done'), delayMs).unref();
    });
  });
  after(() => upstream.close());

  const configFor = (drain = '10s'): ProxyConfigInput => ({
    outbound: [
      {
        name: 'svc',
        port: 80,
        listen: { address: '127.0.0.1', port: 0 },
        routes: [{ backends: [{ backend: 'up' }] }],
      },
      {
        name: 'svc2',
        port: 80,
        protocol: 'http2',
        listen: { address: '127.0.0.1', port: 0 },
        routes: [{ backends: [{ backend: 'up' }] }],
      },
    ],
    backends: [{ name: 'up', endpoints: [{ address: '127.0.0.1', port: upstream.port }] }],
    settings: { drainTimeout: drain },
  });

  test('in-flight requests all complete, new connections are refused, exit code 0', async () => {
    delayMs = 600;
    const proxy = await spawnProxy(configFor());
    const port = proxy.port('svc');
    const h2port = proxy.port('svc2');
    try {
      received = 0;
      const h1 = Array.from({ length: 30 }, (_, i) => get(`http://127.0.0.1:${port}/r${i}`));
      const session = http2.connect(`http://127.0.0.1:${h2port}`);
      session.on('error', () => {});
      const h2 = Array.from(
        { length: 10 },
        (_, i) =>
          new Promise<number>((resolve, reject) => {
            const s = session.request({ ':path': `/h2/${i}` });
            let status = 0;
            s.on('response', (h) => {
              status = Number(h[':status']);
            });
            s.resume();
            s.on('end', () => resolve(status));
            s.on('error', reject);
            s.end();
          }),
      );
      const t0 = Date.now();
      while (received < 40 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
      assert.equal(received, 40, 'all requests reached the upstream before SIGTERM');
      const termAt = Date.now();
      proxy.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      const refused = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(false);
        });
        s.once('error', () => resolve(true));
      });
      assert.ok(refused, 'no new connections after SIGTERM');
      const results = await Promise.all(h1);
      for (const r of results) assert.equal(r.status, 200);
      for (const s of await Promise.all(h2)) assert.equal(s, 200);
      session.close();
      const exit = await proxy.exited;
      assert.equal(exit.code, 0, proxy.output());
      assert.ok(Date.now() - termAt >= 300, 'the process waited for in-flight requests');
    } finally {
      proxy.cleanup();
    }
  });

  test('the drain deadline bounds the wait', async () => {
    delayMs = 5000;
    const proxy = await spawnProxy(configFor('300ms'));
    const port = proxy.port('svc');
    try {
      const pending = get(`http://127.0.0.1:${port}/slow`).catch((e: Error) => e);
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      proxy.kill('SIGTERM');
      const exit = await proxy.exited;
      assert.equal(exit.code, 0);
      assert.ok(Date.now() - t0 < 3000, `exited at the deadline (${Date.now() - t0} ms)`);
      await pending;
    } finally {
      proxy.cleanup();
    }
  });
});
