/**
 * WebSocket through the proxy: the HTTP/1.1 Upgrade is routed like any request, then the proxy becomes a
 * byte pipe. A real `ws` server sits behind the proxy and a real `ws` client connects through it; text and
 * binary frames echo both ways, the server can speak unprompted, and a close handshake completes cleanly
 * with its code and reason intact on both sides.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { simpleConfig, startProxy, type TestProxy } from '../support/proxy.ts';
import { startHttpServer } from '../support/upstreams.ts';

interface Message {
  data: Buffer;
  isBinary: boolean;
}

/** Collects messages in arrival order; `next()` waits (bounded) for the next one. */
function inbox(ws: WebSocket): { next(timeoutMs?: number): Promise<Message> } {
  const queue: Message[] = [];
  const waiting: Array<(m: Message) => void> = [];
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const m = { data: Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), isBinary };
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  return {
    next(timeoutMs = 3000) {
      const m = queue.shift();
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no WebSocket message in time')), timeoutMs);
        waiting.push((msg) => {
          clearTimeout(timer);
          resolve(msg);
        });
      });
    },
  };
}

describe('WebSocket upgrade passthrough', () => {
  let proxy: TestProxy;
  let upstream: Awaited<ReturnType<typeof startHttpServer>>;
  let wss: WebSocketServer;
  const serverCloses: Array<{ code: number; reason: string }> = [];
  const upgradeRequests: Array<{ url: string; host: string | undefined; custom: string | undefined }> = [];

  before(async () => {
    upstream = await startHttpServer((_req, res) => {
      res.writeHead(426, { 'content-length': 0 });
      res.end();
    });
    wss = new WebSocketServer({ server: upstream.server });
    wss.on('connection', (ws, req) => {
      upgradeRequests.push({
        url: req.url ?? '',
        host: req.headers.host,
        custom: req.headers['x-custom'] as string | undefined,
      });
      ws.on('message', (data: RawData, isBinary: boolean) => {
        const text = isBinary ? '' : data.toString();
        // 'push' asks the server to speak first on its own, to show the pipe carries both directions.
        if (text === 'push') ws.send('pushed by the server');
        else ws.send(data, { binary: isBinary });
      });
      ws.on('close', (code, reason) => serverCloses.push({ code, reason: reason.toString() }));
    });
    proxy = await startProxy(simpleConfig([{ name: 'ws', port: upstream.port }]));
  });

  after(async () => {
    for (const c of wss?.clients ?? []) c.terminate();
    wss?.close();
    await proxy?.close();
    await upstream?.close();
  });

  test('text and binary messages echo both ways and the close handshake completes', async () => {
    const client = new WebSocket(`ws://127.0.0.1:${proxy.port('svc')}/chat?room=1`, {
      headers: { 'x-custom': 'through-the-proxy' },
    });
    const messages = inbox(client);
    await once(client, 'open');
    assert.deepEqual(upgradeRequests.at(-1), {
      url: '/chat?room=1',
      host: `127.0.0.1:${proxy.port('svc')}`,
      custom: 'through-the-proxy',
    });

    client.send('hello, proxy');
    const text = await messages.next();
    assert.equal(text.isBinary, false);
    assert.equal(text.data.toString(), 'hello, proxy');

    const small = randomBytes(1000);
    client.send(small);
    const bin = await messages.next();
    assert.equal(bin.isBinary, true);
    assert.ok(bin.data.equals(small));

    // Larger than any one socket read: the frame crosses the pipe in many pieces.
    const big = randomBytes(4 * 1024 * 1024);
    client.send(big);
    const bigBack = await messages.next(10_000);
    assert.equal(bigBack.isBinary, true);
    assert.ok(bigBack.data.equals(big));

    client.send('push');
    const pushed = await messages.next();
    assert.equal(pushed.data.toString(), 'pushed by the server');

    // Many small messages in a row keep their order.
    for (let i = 0; i < 50; i++) client.send(`n${i}`);
    for (let i = 0; i < 50; i++) assert.equal((await messages.next()).data.toString(), `n${i}`);

    const closed = once(client, 'close') as Promise<[number, Buffer]>;
    client.close(1000, 'done here');
    const [code, reason] = await closed;
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'done here');
    // The server saw the same close frame (not a dropped connection, which ws reports as 1006).
    for (let i = 0; i < 20 && serverCloses.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(serverCloses.at(-1), { code: 1000, reason: 'done here' });
  });

  test('a close started by the server reaches the client cleanly', async () => {
    const client = new WebSocket(`ws://127.0.0.1:${proxy.port('svc')}/`);
    await once(client, 'open');
    const serverSide = [...wss.clients].find((c) => c.readyState === WebSocket.OPEN);
    assert.ok(serverSide, 'the server has the connection');
    const closed = once(client, 'close') as Promise<[number, Buffer]>;
    serverSide.close(4001, 'server says bye');
    const [code, reason] = await closed;
    assert.equal(code, 4001);
    assert.equal(reason.toString(), 'server says bye');
  });
});
