/**
 * Opaque TCP through the proxy (outbound protocol tcp/opaque with tcpBackends): bytes round trip intact,
 * a large server reply is not cut off when the server closes right after sending it, a half-closed client
 * still gets its answer, and server-speaks-first protocols (a banner before the client writes, as SMTP or
 * MySQL do) work: at once on an opaque port, and after the detection timeout on a detect port. Client-
 * first bytes that are not HTTP or TLS on a detect port go to TCP without waiting for that timeout.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ProxyConfigInput } from '../../src/api/index.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, startTcpEcho, startTcpServer } from '../support/upstreams.ts';

const BANNER = '220 banner.example ESMTP ready\r\n';

/** Connects and resolves with the socket once connected. */
function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Reads until `n` bytes arrived (or the socket ends / the timeout passes, which fail the read). */
function readBytes(s: net.Socket, n: number, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const cleanup = () => {
      clearTimeout(timer);
      s.removeListener('data', onData);
      s.removeListener('end', onEnd);
      s.removeListener('error', onEnd);
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        cleanup();
        const all = Buffer.concat(chunks);
        // Bytes past n stay readable for the next read.
        if (all.length > n) s.unshift(all.subarray(n));
        resolve(all.subarray(0, n));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`connection ended after ${got} of ${n} bytes`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${got} of ${n} bytes`));
    }, timeoutMs);
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('error', onEnd);
  });
}

/** Reads everything until the peer ends the connection. */
function readToEnd(s: net.Socket, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error('timed out waiting for the end')), timeoutMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

describe('opaque TCP through the proxy', () => {
  const servers: Closable[] = [];
  const clients: net.Socket[] = [];
  let proxy: TestProxy;
  const bigReply = randomBytes(8 * 1024 * 1024);

  before(async () => {
    const echo = await startTcpEcho();
    // Server speaks first, then echoes.
    const banner = await startTcpServer((s) => {
      s.write(BANNER);
      s.pipe(s);
    });
    // Sends a large reply and closes at once: the proxy must deliver it all before closing downstream.
    const dump = await startTcpServer((s) => s.end(bigReply));
    // Answers only after the client half-closes (a request/response protocol delimited by FIN).
    const afterFin = await startTcpServer((s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => s.end(`got ${Buffer.concat(chunks).length} bytes`));
    });
    servers.push(echo, banner, dump, afterFin);
    const tcpService = (name: string, protocol: 'tcp' | 'opaque' | 'detect', backend: string) => ({
      name,
      port: 9000,
      listen: { address: '127.0.0.1', port: 0 },
      protocol,
      tcpBackends: [{ backend }],
    });
    const config: ProxyConfigInput = {
      outbound: [
        tcpService('echo', 'tcp', 'echo'),
        tcpService('banner-opaque', 'opaque', 'banner'),
        tcpService('dump', 'tcp', 'dump'),
        tcpService('after-fin', 'tcp', 'after-fin'),
        tcpService('banner-detect', 'detect', 'banner'),
        tcpService('echo-detect', 'detect', 'echo'),
      ],
      backends: [
        { name: 'echo', protocol: 'tcp', endpoints: [{ address: '127.0.0.1', port: echo.port }] },
        { name: 'banner', protocol: 'tcp', endpoints: [{ address: '127.0.0.1', port: banner.port }] },
        { name: 'dump', protocol: 'tcp', endpoints: [{ address: '127.0.0.1', port: dump.port }] },
        { name: 'after-fin', protocol: 'tcp', endpoints: [{ address: '127.0.0.1', port: afterFin.port }] },
      ],
      // The opaque port must not wait for this; the detect port waits for it and then falls back to TCP.
      settings: { detectTimeout: 3000 },
    };
    proxy = await startProxy(config);
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await proxy?.close();
    for (const s of servers) await s.close();
  });

  /** The running config with another detectTimeout (and no version, so it counts as a change). */
  function withDetectTimeout(ms: number): ProxyConfigInput {
    const { version: _version, ...config } = proxy.proxy.snapshot.config;
    return { ...config, settings: { ...config.settings, detectTimeout: ms } };
  }

  async function client(service: string): Promise<net.Socket> {
    const s = await connect(proxy.port(service));
    clients.push(s);
    return s;
  }

  test('bytes round trip intact, small and large', async () => {
    const s = await client('echo');
    s.write('hello\n');
    assert.equal((await readBytes(s, 6)).toString(), 'hello\n');
    const data = randomBytes(4 * 1024 * 1024);
    s.write(data);
    const back = await readBytes(s, data.length);
    assert.equal(
      createHash('sha256').update(back).digest('hex'),
      createHash('sha256').update(data).digest('hex'),
    );
    s.end();
  });

  test('a large reply followed by an immediate close arrives complete', async () => {
    const s = await client('dump');
    // Read slowly at first so the reply backs up inside the proxy when the server closes.
    s.pause();
    await new Promise((r) => setTimeout(r, 300));
    const chunks: Buffer[] = [];
    let ended = false;
    s.on('end', () => {
      ended = true;
    });
    // Then keep reading slowly: 64 KiB at a time with a pause between reads.
    for (let i = 0; i < 2000 && !ended; i++) {
      const c = s.read(65536) ?? s.read();
      if (c) chunks.push(c as Buffer);
      else await new Promise((r) => setTimeout(r, 2));
    }
    const got = Buffer.concat(chunks);
    assert.equal(got.length, bigReply.length);
    assert.ok(got.equals(bigReply));
  });

  test('a half-closed client still receives the answer', async () => {
    const s = await client('after-fin');
    const answer = readToEnd(s);
    s.end('twelve bytes');
    assert.equal((await answer).toString(), 'got 12 bytes');
  });

  test('server speaks first on an opaque port: the banner arrives at once', async () => {
    const started = performance.now();
    const s = await client('banner-opaque');
    const banner = await readBytes(s, BANNER.length, 2000);
    const elapsed = performance.now() - started;
    assert.equal(banner.toString(), BANNER);
    assert.ok(elapsed < 1000, `banner after ${elapsed.toFixed(0)} ms; detectTimeout is 3000 ms`);
    s.write('QUIT\r\n');
    assert.equal((await readBytes(s, 6)).toString(), 'QUIT\r\n');
    s.end();
  });

  test('client-first bytes that are not HTTP or TLS go to TCP on a detect port without waiting', async () => {
    const started = performance.now();
    const s = await client('echo-detect');
    s.write('hello, not http\n');
    assert.equal((await readBytes(s, 16)).toString(), 'hello, not http\n');
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1000, `echo after ${elapsed.toFixed(0)} ms; detectTimeout is 3000 ms`);
    s.end();
  });

  test('server speaks first on a detect port: works after the detection timeout', async () => {
    await proxy.apply(withDetectTimeout(200));
    try {
      const started = performance.now();
      const s = await client('banner-detect');
      const banner = await readBytes(s, BANNER.length, 2000);
      const elapsed = performance.now() - started;
      assert.equal(banner.toString(), BANNER);
      assert.ok(elapsed >= 150, `the proxy waited for the client first (${elapsed.toFixed(0)} ms)`);
      assert.ok(
        elapsed < 1500,
        `then fell back to TCP soon after the 200 ms timeout (${elapsed.toFixed(0)} ms)`,
      );
      s.write('EHLO me\r\n');
      assert.equal((await readBytes(s, 9)).toString(), 'EHLO me\r\n');
      s.end();
    } finally {
      await proxy.apply(withDetectTimeout(3000));
    }
  });
});
