/**
 * Bad input never takes the proxy down: seeded random bytes, truncated and mangled HTTP/1.1 requests,
 * and broken HTTP/2 prefaces are thrown at HTTP/1.1, HTTP/2, detect and TCP listeners; afterwards every
 * listener still serves a good request. Bounded in count and time.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { seededRandom } from '../../src/core/random.ts';
import { get, rawExchange } from '../support/http.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, startEchoServer, startTcpEcho } from '../support/upstreams.ts';

const GOOD = 'GET /ok HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhello';
const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

/** A mix of pure noise, mangled HTTP/1.1 and HTTP/2 prefaces followed by noise. */
function inputs(count: number): Buffer[] {
  const random = seededRandom(42);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    const noise = Buffer.from(
      Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256)),
    );
    if (kind === 0) out.push(noise);
    else if (kind === 1) {
      const cut = Math.floor(random() * GOOD.length);
      out.push(Buffer.concat([Buffer.from(GOOD.slice(0, cut)), noise]));
    } else if (kind === 2) {
      const chars = [...GOOD];
      for (let k = 0; k < 3; k++)
        chars[Math.floor(random() * chars.length)] = String.fromCharCode(Math.floor(random() * 256));
      out.push(Buffer.from(chars.join(''), 'latin1'));
    } else out.push(Buffer.concat([Buffer.from(PREFACE), noise]));
  }
  return out;
}

describe('garbage input', () => {
  const servers: Closable[] = [];
  let proxy: TestProxy;

  before(async () => {
    const echo = await startEchoServer({ service: 'echo', version: 'v1' });
    const tcp = await startTcpEcho();
    servers.push(echo, tcp);
    const listen = { address: '127.0.0.1', port: 0 };
    const routes = [{ backends: [{ backend: 'echo' }] }];
    proxy = await startProxy({
      outbound: [
        { name: 'h1', port: 80, protocol: 'http1', listen, routes },
        { name: 'h2', port: 80, protocol: 'http2', listen, routes },
        { name: 'detect', port: 80, protocol: 'detect', listen, routes, tcpBackends: [{ backend: 'tcp' }] },
        { name: 'tcp', port: 81, protocol: 'tcp', listen, tcpBackends: [{ backend: 'tcp' }] },
      ],
      backends: [
        { name: 'echo', endpoints: [{ address: '127.0.0.1', port: echo.port }] },
        { name: 'tcp', protocol: 'tcp', endpoints: [{ address: '127.0.0.1', port: tcp.port }] },
      ],
      settings: { detectTimeout: 200 },
    });
  });

  after(async () => {
    await proxy.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  test('400 random and mangled inputs on four kinds of listener, then every listener still works', async () => {
    const all = inputs(100);
    for (const name of ['h1', 'h2', 'detect', 'tcp']) {
      const port = proxy.port(name);
      for (let i = 0; i < all.length; i += 20) {
        await Promise.all(all.slice(i, i + 20).map((b) => rawExchange(port, b, 300, true).catch(() => '')));
      }
    }
    assert.equal((await get(proxy.url('h1', '/ok'))).status, 200);
    assert.equal((await get(proxy.url('detect', '/ok'))).status, 200);
    assert.equal((await get(`http://127.0.0.1:${proxy.adminPort}/live`)).status, 200);
    const session = http2.connect(proxy.url('h2'));
    const status = await new Promise<number>((resolve, reject) => {
      const r = session.request({ ':path': '/ok' });
      r.on('response', (h) => resolve(Number(h[':status'])));
      r.on('error', reject);
      r.resume();
      r.end();
    });
    session.close();
    assert.equal(status, 200);
    assert.equal(await rawExchange(proxy.port('tcp'), 'still here', 2000, true), 'still here');
  });
});
