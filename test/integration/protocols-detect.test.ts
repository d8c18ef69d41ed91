/**
 * Protocol detection on one `detect` port: an HTTP/1.1 request and an h2c prior-knowledge request are
 * recognised and routed as HTTP (the upstream sees a proxied request), while a TLS ClientHello is passed
 * through untouched as TCP to the service's tcpBackends, where a TLS server completes the handshake with
 * the client (the proxy never terminates it). The TLS certificate is generated at test time with openssl.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type http2 from 'node:http2';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { connectH2, h2Request } from '../support/h2.ts';
import { get } from '../support/http.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, startEchoServer } from '../support/upstreams.ts';

/** A self-signed certificate for localhost / 127.0.0.1, or the reason none could be made. */
function selfSigned(): { key: Buffer; cert: Buffer } | string {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-detect-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'pipe', timeout: 10_000 },
    );
    return { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) };
  } catch (err) {
    return `openssl could not make a certificate: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pair = selfSigned();

describe('protocol detection on a detect port', () => {
  const servers: Closable[] = [];
  const sessions: http2.ClientHttp2Session[] = [];
  let proxy: TestProxy;
  let tlsServer: tls.Server | undefined;
  const tlsSockets = new Set<net.Socket>();

  before(async () => {
    const echo = await startEchoServer({ service: 'echo', version: 'v1' });
    servers.push(echo);
    let tlsPort = 1; // Unused when no certificate could be made: the TLS test is skipped.
    if (typeof pair !== 'string') {
      const server = tls.createServer(
        { key: pair.key, cert: pair.cert, ALPNProtocols: ['weft-test'] },
        (s) => {
          s.on('error', () => {});
          s.on('data', (c: Buffer) => s.write(`tls echo: ${c.toString()}`));
        },
      );
      server.on('connection', (s: net.Socket) => {
        tlsSockets.add(s);
        s.once('close', () => tlsSockets.delete(s));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      tlsPort = (server.address() as net.AddressInfo).port;
      tlsServer = server;
    }
    proxy = await startProxy({
      outbound: [
        {
          name: 'mixed',
          port: 8080,
          listen: { address: '127.0.0.1', port: 0 },
          protocol: 'detect',
          routes: [{ backends: [{ backend: 'echo' }] }],
          tcpBackends: [{ backend: 'tls' }],
        },
      ],
      backends: [
        { name: 'echo', protocol: 'http1', endpoints: [{ address: '127.0.0.1', port: echo.port }] },
        { name: 'tls', protocol: 'tcp', endpoints: [{ address: '127.0.0.1', port: tlsPort }] },
      ],
      settings: { detectTimeout: 3000 },
    });
  });

  after(async () => {
    for (const s of sessions) s.destroy();
    await proxy?.close();
    for (const s of tlsSockets) s.destroy();
    await new Promise<void>((resolve) => (tlsServer ? tlsServer.close(() => resolve()) : resolve()));
    for (const s of servers) await s.close();
  });

  test('an HTTP/1.1 request is handled as HTTP and routed', async () => {
    const started = performance.now();
    const r = await get(proxy.url('mixed', '/h1?x=1'), { headers: { 'x-probe': 'h1' } });
    assert.equal(r.status, 200);
    const body = r.json<{ service: string; path: string; headers: Record<string, string> }>();
    assert.equal(body.service, 'echo');
    assert.equal(body.path, '/h1?x=1');
    assert.equal(body.headers['x-probe'], 'h1');
    assert.ok(performance.now() - started < 1000, 'detected from the first bytes, not by timeout');
  });

  test('an h2c prior-knowledge request is handled as HTTP/2 and routed', async () => {
    const session = await connectH2(proxy.port('mixed'));
    sessions.push(session);
    assert.equal(session.remoteSettings.maxConcurrentStreams, 100, 'the proxy’s own HTTP/2 server answered');
    const res = await h2Request(session, { ':method': 'POST', ':path': '/h2', 'x-probe': 'h2' }, 'h2 body');
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body.toString()) as {
      service: string;
      method: string;
      path: string;
      body: string;
      headers: Record<string, string>;
    };
    assert.equal(body.service, 'echo');
    assert.equal(body.method, 'POST');
    assert.equal(body.path, '/h2');
    assert.equal(body.body, 'h2 body');
    assert.equal(body.headers['x-probe'], 'h2');
  });

  test('a TLS ClientHello passes through as TCP to a TLS server (the proxy does not terminate it)', {
    skip: typeof pair === 'string' ? pair : false,
  }, async () => {
    const { cert } = pair as { cert: Buffer };
    const started = performance.now();
    const socket = tls.connect({
      host: '127.0.0.1',
      port: proxy.port('mixed'),
      servername: 'localhost',
      ca: cert,
      ALPNProtocols: ['weft-test'],
    });
    try {
      await once(socket, 'secureConnect');
      assert.ok(performance.now() - started < 1000, 'detected from the ClientHello, not by timeout');
      assert.equal(socket.authorized, true, 'the end-to-end handshake verified the upstream certificate');
      assert.equal(socket.alpnProtocol, 'weft-test', 'ALPN was negotiated with the upstream');
      const reply = once(socket, 'data');
      socket.write('over tls');
      assert.equal(((await reply)[0] as Buffer).toString(), 'tls echo: over tls');
    } finally {
      socket.destroy();
    }
  });
});
