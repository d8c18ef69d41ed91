/**
 * Mutual TLS between two real proxies in this process, with certificates from a real CA (src/control/ca):
 * a client proxy whose backend endpoint names the server proxy's SPIFFE id, and a server proxy whose
 * inbound entries are STRICT or PERMISSIVE. Refusals (wrong identity, another trust domain, an expired
 * certificate, plaintext on STRICT) are read from the connection and from the metrics.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ProxyConfigInput } from '../../src/api/index.ts';
import { type CertificateAuthority, createCertificateAuthority } from '../../src/control/ca/authority.ts';
import { createTempDir, issueWorkload, type WorkloadCredentials } from '../../src/control/ca/testing.ts';
import type { MeshIdentity } from '../../src/proxy/mtls/index.ts';
import { connectH2, h2Request } from '../support/h2.ts';
import { get } from '../support/http.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, startEchoServer, startHttpServer, startTcpEcho } from '../support/upstreams.ts';

const DAY = 86_400_000;
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/server';

function identityOf(ca: CertificateAuthority, creds: WorkloadCredentials, spiffeId: string): MeshIdentity {
  return {
    spiffeId,
    key: createPrivateKey(creds.keyPem),
    chain: creds.chainPem,
    bundle: ca.trustBundle(),
  };
}

async function metricsText(p: TestProxy): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${p.adminPort}/metrics`);
  return res.text();
}

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** Sends plaintext bytes and reports what came back before the connection ended. */
function plaintext(port: number, payload: string): Promise<{ data: string; error: string | undefined }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    let error: string | undefined;
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
      if (data.includes('\r\n\r\n') && /content-length: 0|\r\n\r\n[\s\S]+/i.test(data)) socket.end();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on('close', () => resolve({ data, error }));
    socket.setTimeout(3000, () => socket.destroy());
    socket.write(payload);
  });
}

describe('mutual TLS between proxies', () => {
  const closers: Array<() => Promise<void>> = [];
  let ca: CertificateAuthority;
  let other: CertificateAuthority;
  let server: TestProxy;
  let client: TestProxy;
  let app: Closable;
  let h2app: Closable;
  let echo: Closable;
  // The CA starts three days back, so that it can sign an already-expired certificate below.
  let clock = Date.now() - 3 * DAY;

  before(async () => {
    const dir = await createTempDir();
    const otherDir = await createTempDir();
    closers.push(dir.remove, otherDir.remove);
    ca = await createCertificateAuthority({
      stateDir: dir.dir,
      trustDomain: 'cluster.local',
      now: () => clock,
    });
    clock = Date.now();
    other = await createCertificateAuthority({ stateDir: otherDir.dir, trustDomain: 'other.example' });
    app = await startHttpServer((req, res) => {
      const body = JSON.stringify({
        xfcc: req.headers['x-forwarded-client-cert'] ?? null,
        httpVersion: req.httpVersion,
        origProto: req.headers['weft-orig-proto'] ?? null,
        host: req.headers.host,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    h2app = await startEchoServer({ port: 0, service: 'h2app', version: 'v1' });
    echo = await startTcpEcho();
    closers.push(
      () => app.close(),
      () => h2app.close(),
      () => echo.close(),
    );
    const listen = { address: '127.0.0.1', port: 0 };
    server = await startProxy({
      inbound: [
        { name: 'strict', listen, mtls: 'STRICT', target: { address: '127.0.0.1', port: app.port } },
        { name: 'permissive', listen, target: { address: '127.0.0.1', port: app.port } },
        {
          name: 'tcp',
          listen,
          protocol: 'tcp',
          mtls: 'STRICT',
          target: { address: '127.0.0.1', port: echo.port },
        },
        { name: 'h2', listen, mtls: 'STRICT', target: { address: '127.0.0.1', port: h2app.port } },
      ],
    });
    closers.push(() => server.close());
    server.proxy.tls.setIdentity(
      identityOf(ca, await issueWorkload(ca, { namespace: 'default', serviceAccount: 'server' }), SERVER_ID),
    );
    client = await startProxy(clientConfig(SERVER_ID));
    closers.push(() => client.close());
    client.proxy.tls.setIdentity(
      identityOf(ca, await issueWorkload(ca, { namespace: 'default', serviceAccount: 'client' }), CLIENT_ID),
    );
  });

  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  function clientConfig(
    expected: string,
    settings: ProxyConfigInput['settings'] = undefined,
  ): ProxyConfigInput {
    const listen = { address: '127.0.0.1', port: 0 };
    const ep = (name: string) => [{ address: '127.0.0.1', port: server.port(name), identity: expected }];
    return {
      outbound: [
        { name: 'strict', port: 80, listen, routes: [{ backends: [{ backend: 'strict' }] }] },
        { name: 'permissive', port: 81, listen, routes: [{ backends: [{ backend: 'permissive' }] }] },
        { name: 'tcp', port: 82, listen, protocol: 'tcp', tcpBackends: [{ backend: 'tcp' }] },
        {
          name: 'h2',
          port: 83,
          listen,
          protocol: 'http2',
          routes: [{ backends: [{ backend: 'h2' }] }],
        },
      ],
      ...(settings ? { settings } : {}),
      backends: [
        { name: 'strict', endpoints: ep('strict') },
        { name: 'permissive', endpoints: ep('permissive') },
        { name: 'tcp', protocol: 'tcp', endpoints: ep('tcp') },
        { name: 'h2', protocol: 'http2', endpoints: ep('h2') },
      ],
    };
  }

  test('HTTP/1.1 travels over mutual TLS; the application sees the client identity, metrics count it', async () => {
    const res = await get(client.url('strict', '/hello'), {
      headers: { 'x-forwarded-client-cert': 'By=forged' },
    });
    assert.equal(res.status, 200, res.body);
    const xfcc = JSON.parse(res.body).xfcc as string;
    assert.match(xfcc, new RegExp(`^By=${SERVER_ID};Hash=[0-9a-f]{64};Subject="";URI=${CLIENT_ID}$`));
    const m = await metricsText(server);
    assert.ok(
      metricValue(m, 'weft_inbound_requests_total', {
        service: 'strict',
        connection_security_policy: 'mutual_tls',
        source_principal: CLIENT_ID,
      }) >= 1,
      m,
    );
    assert.ok(metricValue(m, 'weft_mtls_connections_total', { direction: 'inbound' }) >= 1);
    const cm = await metricsText(client);
    assert.ok(metricValue(cm, 'weft_mtls_connections_total', { direction: 'outbound' }) >= 1);
  });

  test('HTTP/2 and opaque TCP travel over mutual TLS', async () => {
    const session = await connectH2(client.port('h2'));
    try {
      const res = await h2Request(session, { ':path': '/h2-over-mtls' });
      assert.equal(res.status, 200);
      assert.match(res.body.toString(), /h2app/);
    } finally {
      session.close();
    }
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: client.port('tcp') });
      let got = '';
      s.on('data', (c: Buffer) => {
        got += c.toString();
        if (got.length >= 12) s.end();
      });
      s.on('close', () => resolve(got));
      s.on('error', reject);
      s.write('tcp-over-tls');
    });
    assert.equal(reply, 'tcp-over-tls');
  });

  test('STRICT refuses a plaintext client (reset, read from the connection); PERMISSIVE serves it and strips a forged identity header', async () => {
    const refused = await plaintext(
      server.port('strict'),
      'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
    );
    assert.equal(refused.data, '');
    assert.equal(refused.error, 'ECONNRESET');
    const tcpRefused = await plaintext(server.port('tcp'), 'hello');
    assert.equal(tcpRefused.data, '');
    const m = await metricsText(server);
    assert.ok(metricValue(m, 'weft_inbound_plaintext_refused_total', {}) >= 2, m);

    const res = await get(`http://127.0.0.1:${server.port('permissive')}/`, {
      headers: { 'x-forwarded-client-cert': 'By=forged;URI=spiffe://cluster.local/ns/default/sa/admin' },
    });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).xfcc, null);
    const after = await metricsText(server);
    assert.ok(
      metricValue(after, 'weft_inbound_requests_total', {
        service: 'permissive',
        connection_security_policy: 'none',
        source_principal: 'unknown',
      }) >= 1,
    );
  });

  test('with meshHttp2, concurrent HTTP/1.1 requests share one HTTP/2 connection and reach the app as HTTP/1.1', async () => {
    const mux = await startProxy(clientConfig(SERVER_ID, { meshHttp2: true }));
    try {
      mux.proxy.tls.setIdentity(
        identityOf(
          ca,
          await issueWorkload(ca, { namespace: 'default', serviceAccount: 'client' }),
          CLIENT_ID,
        ),
      );
      const before = metricValue(await metricsText(server), 'weft_mtls_connections_total', {
        direction: 'inbound',
      });
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          get(mux.url('strict', `/mux/${i}`), { headers: { host: 'web.example' } }),
        ),
      );
      for (const r of replies) {
        assert.equal(r.status, 200, r.body);
        const seen = JSON.parse(r.body) as {
          httpVersion: string;
          origProto: unknown;
          xfcc: string;
          host: string;
        };
        assert.equal(seen.httpVersion, '1.1');
        assert.equal(seen.origProto, null);
        assert.equal(seen.host, 'web.example');
        assert.match(seen.xfcc, new RegExp(`URI=${CLIENT_ID}$`));
      }
      const opened =
        metricValue(await metricsText(server), 'weft_mtls_connections_total', { direction: 'inbound' }) -
        before;
      assert.equal(opened, 1, 'twenty concurrent requests, one connection');
      // An HTTP/2 request keeps its protocol to an HTTP/2 application (no orig-proto marker).
      const session = await connectH2(mux.port('h2'));
      try {
        const res = await h2Request(session, { ':path': '/h2-still' });
        assert.equal(res.status, 200);
      } finally {
        session.close();
      }
    } finally {
      await mux.close();
    }
  });

  test('a server with another SPIFFE id than expected is refused by the client', async () => {
    const wrong = await startProxy(clientConfig('spiffe://cluster.local/ns/default/sa/someone-else'));
    try {
      wrong.proxy.tls.setIdentity(
        identityOf(
          ca,
          await issueWorkload(ca, { namespace: 'default', serviceAccount: 'client' }),
          CLIENT_ID,
        ),
      );
      const res = await get(wrong.url('strict', '/'));
      assert.equal(res.status, 503);
      assert.equal(res.headers['weft-error'], 'UPSTREAM_TLS');
      const m = await metricsText(wrong);
      assert.equal(
        metricValue(m, 'weft_mtls_handshake_failures_total', {
          direction: 'outbound',
          reason: 'peer_identity_mismatch',
        }),
        1,
      );
    } finally {
      await wrong.close();
    }
  });

  test('a client certificate from another trust domain, or expired, is refused by the server', async () => {
    const before = await metricsText(server);
    const foreign = await startProxy(clientConfig(SERVER_ID));
    try {
      const creds = await issueWorkload(other, { namespace: 'default', serviceAccount: 'client' });
      // It trusts our root too (so the server side is what refuses), but its own chain is another CA's.
      foreign.proxy.tls.setIdentity({
        spiffeId: 'spiffe://other.example/ns/default/sa/client',
        key: createPrivateKey(creds.keyPem),
        chain: creds.chainPem,
        bundle: [...ca.trustBundle(), ...other.trustBundle()],
      });
      const res = await get(foreign.url('strict', '/'));
      assert.ok(res.status === 502 || res.status === 503, `${res.status} ${res.body}`);
    } finally {
      await foreign.close();
    }
    const expired = await startProxy(clientConfig(SERVER_ID));
    try {
      clock = Date.now() - 2 * DAY;
      const creds = await issueWorkload(ca, { namespace: 'default', serviceAccount: 'client' }, 3_600_000);
      clock = Date.now();
      assert.ok(creds.leaf.validToDate.getTime() < Date.now());
      expired.proxy.tls.setIdentity(identityOf(ca, creds, CLIENT_ID));
      const res = await get(expired.url('strict', '/'));
      assert.ok(res.status === 502 || res.status === 503, `${res.status} ${res.body}`);
    } finally {
      await expired.close();
    }
    const m = await metricsText(server);
    const delta = (reason: string) =>
      metricValue(m, 'weft_mtls_handshake_failures_total', { direction: 'inbound', reason }) -
      metricValue(before, 'weft_mtls_handshake_failures_total', { direction: 'inbound', reason });
    assert.ok(delta('untrusted_certificate') >= 1, m);
    assert.ok(delta('expired_certificate') >= 1, m);
  });

  test('new certificates on both sides while requests flow: none fails', async () => {
    let failures = 0;
    let done = 0;
    const load = (async () => {
      const deadline = Date.now() + 10_000;
      while (done < 600 && Date.now() < deadline) {
        const res = await get(client.url('strict', '/'));
        if (res.status !== 200) failures++;
        done++;
      }
    })();
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 100));
      server.proxy.tls.setIdentity(
        identityOf(
          ca,
          await issueWorkload(ca, { namespace: 'default', serviceAccount: 'server' }),
          SERVER_ID,
        ),
      );
      client.proxy.tls.setIdentity(
        identityOf(
          ca,
          await issueWorkload(ca, { namespace: 'default', serviceAccount: 'client' }),
          CLIENT_ID,
        ),
      );
    }
    await load;
    assert.equal(failures, 0);
    assert.ok(done >= 100, `only ${done} requests`);
  });
});
