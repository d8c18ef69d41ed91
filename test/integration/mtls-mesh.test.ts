/**
 * Automatic mutual TLS in the local runtime (transparent mode, network namespaces): on by default with no
 * configuration, proven on the wire with a packet capture on the bridge between workloads; Istio's
 * PeerAuthentication (mtls-migration: PERMISSIVE → namespace STRICT → a workload port DISABLE) with a
 * plaintext "legacy" client (a network namespace of the test's own on the run's bridge, with no sidecar);
 * certificates renewed every ~10 s under load; and the control plane stopped and resumed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCertificateAuthority } from '../../src/control/ca/authority.ts';
import { issueWorkload } from '../../src/control/ca/testing.ts';
import { hubNetnsName } from '../../src/runtime/network/names.ts';
import { BIN, canRunTransparent, type Mesh, ROOT, startMesh } from '../support/mesh.ts';

const FIXTURES = path.join(ROOT, 'test/fixtures/mtls');
const LOAD = path.join(ROOT, 'test/fixtures/mesh/load.ts');
const skip = canRunTransparent() ?? (fs.existsSync('/usr/bin/tcpdump') ? undefined : 'tcpdump is missing');

interface LoadResult {
  ok: number;
  failed: number;
  errors: string[];
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

function metric(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('mutual TLS in the local runtime', { skip }, () => {
  let mesh: Mesh;
  let hub: string;
  let legacy: string;
  let capDir: string;

  before(async () => {
    // Certificates live 20 s: each sidecar renews every 8–10 s.
    mesh = await startMesh({ files: [path.join(FIXTURES, 'mesh.yaml')], args: ['--cert-ttl', '20s'] });
    hub = hubNetnsName(mesh.runId);
    capDir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-capture-'));
    // Istio's "legacy" namespace: a client on the same network with no sidecar. Its name has the run's
    // prefix, so the run's cleanup removes it too.
    legacy = `weft-${mesh.runId}-legacy`;
    for (const args of [
      ['netns', 'add', legacy],
      ['-n', hub, 'link', 'add', 'legacy-h', 'type', 'veth', 'peer', 'name', 'legacy-l', 'netns', legacy],
      ['-n', hub, 'link', 'set', 'legacy-h', 'master', 'wbr0', 'up'],
      ['-n', legacy, 'addr', 'add', '10.77.0.200/16', 'dev', 'legacy-l'],
      ['-n', legacy, 'link', 'set', 'legacy-l', 'up'],
      ['-n', legacy, 'link', 'set', 'lo', 'up'],
    ]) {
      const r = await run('ip', args);
      assert.equal(r.code, 0, `ip ${args.join(' ')}: ${r.stderr}`);
    }
  });

  after(async () => {
    fs.rmSync(capDir, { recursive: true, force: true });
    if (legacy) await run('ip', ['netns', 'delete', legacy]);
    if (mesh) assert.equal(await mesh.stop(), 0);
  });

  const addressOf = async (instance: string) => {
    const all = await mesh.api<Array<{ id: string; address: string }>>('/api/v1/instances');
    const found = all.find((i) => i.id === instance);
    assert.ok(found, `no instance ${instance}`);
    return found.address;
  };

  /** `weft apply -f`, then wait until `node`'s proxy acked a new view and every proxy is synced. */
  const applyAndWait = async (file: string, node: string, verb: 'apply' | 'delete' = 'apply') => {
    const before = await mesh.versions();
    const r = await mesh.weft([verb, '--run', mesh.runId, '-f', path.join(FIXTURES, file)]);
    assert.equal(r.code, 0, r.stderr);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const proxies =
        await mesh.api<Array<{ node: string; ackedVersion?: string; state: string }>>('/api/v1/proxies');
      const target = proxies.find((p) => p.node === node);
      if (
        target?.ackedVersion !== before.get(node) &&
        proxies.every((p) => p.state === 'synced' || p.state === 'disconnected')
      )
        return;
      assert.ok(Date.now() < deadline, `proxies not synced: ${JSON.stringify(proxies)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  };

  /** curl from the legacy namespace, outside every workload and sidecar. */
  const legacyCurl = async (address: string, port: number, pathname: string) => {
    const r = await run('ip', [
      'netns',
      'exec',
      legacy,
      'curl',
      '-s',
      '-m',
      '5',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `http://${address}:${port}${pathname}`,
    ]);
    return `${r.stdout}${r.code === 0 ? '' : ` exit ${r.code}`}`;
  };

  const meshCurl = async (from: string, url: string) => {
    const r = await mesh.exec(from, ['curl', '-s', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', url]);
    return `${r.stdout}${r.code === 0 ? '' : ` exit ${r.code}`}`;
  };

  /** Captures the bridge while `during` runs; returns the raw capture. */
  const capture = async (during: () => Promise<void>): Promise<Buffer> => {
    const file = path.join(capDir, `cap-${Date.now()}.pcap`);
    const dump: ChildProcess = spawn(
      'ip',
      [
        'netns',
        'exec',
        hub,
        'tcpdump',
        '-i',
        'any',
        '--immediate-mode',
        '-U',
        '-n',
        '-Z',
        'root',
        '-w',
        file,
        'tcp',
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
      dump.stderr?.on('data', (c: Buffer) => {
        err += c.toString();
        if (err.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    try {
      await during();
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      const exited = new Promise((r) => dump.once('exit', r));
      dump.kill('SIGINT');
      await exited;
    }
    if (process.env.WEFT_TEST_LOG) process.stderr.write(`tcpdump: ${err}\n`);
    return fs.readFileSync(file);
  };

  test('on by default: sidecars talk mutual TLS, the application sees the caller identity', async () => {
    const r = await mesh.exec('curl.foo', ['curl', '-s', '-m', '5', 'http://httpbin.foo:8000/headers']);
    assert.equal(r.code, 0, r.stderr);
    const headers = (JSON.parse(r.stdout) as { headers: Record<string, string | string[]> }).headers;
    const xfcc = String(headers['X-Forwarded-Client-Cert'] ?? headers['x-forwarded-client-cert']);
    assert.match(xfcc, /URI=spiffe:\/\/cluster\.local\/ns\/foo\/sa\/curl$/);
    assert.match(xfcc, /^By=spiffe:\/\/cluster\.local\/ns\/foo\/sa\/httpbin;/);
    const m = await mesh.admin('foo/httpbin-0', '/metrics');
    assert.ok(
      metric(m, 'weft_inbound_requests_total', {
        connection_security_policy: 'mutual_tls',
        source_principal: 'spiffe://cluster.local/ns/foo/sa/curl',
      }) >= 1,
      m,
    );
  });

  test('a capture on the bridge holds no plaintext of the request with mTLS, and does once it is disabled', async () => {
    const marker = `weft-marker-${Date.now()}`;
    const encrypted = await capture(async () => {
      assert.equal(await meshCurl('curl.foo', `http://httpbin.bar:8000/anything/${marker}`), '200');
    });
    assert.ok(encrypted.length > 2000, `the capture saw no traffic (${encrypted.length} bytes)`);
    assert.equal(encrypted.includes(marker), false, 'the marker crossed the bridge in plaintext');

    await applyAndWait('peer-mesh-disable.yaml', 'foo/curl-0');
    try {
      const plain = await capture(async () => {
        assert.equal(await meshCurl('curl.foo', `http://httpbin.bar:8000/anything/${marker}-2`), '200');
      });
      assert.equal(plain.includes(`${marker}-2`), true, 'with mTLS disabled the request is on the wire');
    } finally {
      await applyAndWait('peer-mesh-disable.yaml', 'foo/curl-0', 'delete');
    }
  });

  test("Istio's mtls-migration: PERMISSIVE, then STRICT in foo, then DISABLE on httpbin's port 8080", async () => {
    const foo = await addressOf('foo/httpbin-0');
    const bar = await addressOf('bar/httpbin-0');
    // PERMISSIVE (the default): the legacy client and the meshed ones all get through.
    assert.equal(await legacyCurl(foo, 8080, '/ip'), '200');
    assert.equal(await legacyCurl(bar, 8080, '/ip'), '200');
    assert.equal(await meshCurl('curl.bar', 'http://httpbin.foo:8000/ip'), '200');

    await applyAndWait('peer-foo-strict.yaml', 'foo/httpbin-0');
    try {
      // STRICT in foo: the legacy client is reset (curl reads the reset: "000", exit 56), bar still serves
      // it, and meshed clients in both namespaces still reach foo.
      assert.equal(await legacyCurl(foo, 8080, '/ip'), '000 exit 56');
      assert.equal(await legacyCurl(bar, 8080, '/ip'), '200');
      assert.equal(await meshCurl('curl.bar', 'http://httpbin.foo:8000/ip'), '200');
      assert.equal(await meshCurl('curl.foo', 'http://httpbin.foo:8000/ip'), '200');
      const m = await mesh.admin('foo/httpbin-0', '/metrics');
      assert.ok(metric(m, 'weft_inbound_plaintext_refused_total', {}) >= 1, m);

      await applyAndWait('peer-foo-httpbin-port-disable.yaml', 'foo/curl-0');
      try {
        // The workload policy wins over the namespace's, and its port 8080 takes plaintext only: the
        // legacy client gets through again, and meshed clients send plaintext to it (auto-mTLS).
        const before = metric(await mesh.admin('foo/httpbin-0', '/metrics'), 'weft_inbound_requests_total', {
          connection_security_policy: 'none',
        });
        assert.equal(await legacyCurl(foo, 8080, '/ip'), '200');
        assert.equal(await meshCurl('curl.bar', 'http://httpbin.foo:8000/ip'), '200');
        const afterCount = metric(
          await mesh.admin('foo/httpbin-0', '/metrics'),
          'weft_inbound_requests_total',
          {
            connection_security_policy: 'none',
          },
        );
        assert.equal(afterCount - before, 2);
      } finally {
        await applyAndWait('peer-foo-httpbin-port-disable.yaml', 'foo/curl-0', 'delete');
      }
    } finally {
      await applyAndWait('peer-foo-strict.yaml', 'foo/httpbin-0', 'delete');
    }
  });

  /**
   * A Weft proxy outside the mesh, in the legacy namespace, with certificates given as files: its outbound
   * `httpbin` (127.0.0.1:15080 there) goes to httpbin.foo's sidecar over mutual TLS, expecting `expect`.
   */
  const outsideProxy = async (
    name: string,
    creds: { chain: string; key: string; bundle: string[] },
    expect: string,
  ) => {
    const dir = path.join(capDir, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'cert.pem'), creds.chain);
    fs.writeFileSync(path.join(dir, 'key.pem'), creds.key);
    fs.writeFileSync(path.join(dir, 'bundle.pem'), creds.bundle.join(''));
    fs.writeFileSync(
      path.join(dir, 'proxy.json'),
      JSON.stringify({
        admin: { address: '127.0.0.1', port: 15000 },
        outbound: [
          {
            name: 'httpbin',
            port: 8000,
            listen: { address: '127.0.0.1', port: 15080 },
            routes: [{ backends: [{ backend: 'httpbin' }] }],
          },
        ],
        backends: [
          {
            name: 'httpbin',
            endpoints: [{ address: await addressOf('foo/httpbin-0'), port: 8080, identity: expect }],
          },
        ],
      }),
    );
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        legacy,
        process.execPath,
        BIN,
        'proxy',
        '--config',
        path.join(dir, 'proxy.json'),
        '--identity-dir',
        dir,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr?.on('data', (c: Buffer) => {
      log += c.toString();
    });
    const inLegacy = (args: string[]) => run('ip', ['netns', 'exec', legacy, 'curl', '-s', ...args]);
    const deadline = Date.now() + 10_000;
    while ((await inLegacy(['http://127.0.0.1:15000/ready'])).code !== 0) {
      assert.ok(Date.now() < deadline, `the outside proxy did not start: ${log}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    return {
      request: async () => {
        const r = await inLegacy([
          '-o',
          '/dev/null',
          '-w',
          '%{http_code} %header{weft-error}',
          'http://127.0.0.1:15080/ip',
        ]);
        return r.stdout.trim();
      },
      metrics: async () => (await inLegacy(['http://127.0.0.1:15000/metrics'])).stdout,
      stop: async () => {
        const exited = new Promise((res) => child.once('exit', res));
        child.kill('SIGTERM');
        await exited;
      },
    };
  };

  test('another trust domain, an expired certificate and a wrong SPIFFE id are refused, each with a log line and a metric', async () => {
    const runCa = await createCertificateAuthority({
      stateDir: path.join(mesh.info().dir, 'control', 'ca'),
      trustDomain: 'cluster.local',
    });
    const otherDir = fs.mkdtempSync(path.join(capDir, 'other-ca-'));
    const otherCa = await createCertificateAuthority({ stateDir: otherDir, trustDomain: 'other.example' });
    const httpbinId = 'spiffe://cluster.local/ns/foo/sa/httpbin';
    const sidecarLog = path.join(mesh.info().dir, 'logs', 'foo.httpbin-0.proxy.log');
    const refusals = async (reason: string) =>
      metric(await mesh.admin('foo/httpbin-0', '/metrics'), 'weft_mtls_handshake_failures_total', {
        direction: 'inbound',
        reason,
      });

    // The control case: a certificate from the run's own CA, the right identity expected: it works.
    const good = await issueWorkload(runCa, { namespace: 'legacy', serviceAccount: 'outside' });
    const ok = await outsideProxy(
      'good',
      { chain: good.chainPem, key: good.keyPem, bundle: runCa.trustBundle() },
      httpbinId,
    );
    try {
      assert.equal(await ok.request(), '200');
    } finally {
      await ok.stop();
    }

    // Another trust domain: its own CA signed it; the sidecar does not trust that root.
    const before = await refusals('untrusted_certificate');
    const foreign = await issueWorkload(otherCa, { namespace: 'legacy', serviceAccount: 'outside' });
    const p1 = await outsideProxy(
      'foreign',
      {
        chain: foreign.chainPem,
        key: foreign.keyPem,
        bundle: [...runCa.trustBundle(), ...otherCa.trustBundle()],
      },
      httpbinId,
    );
    try {
      assert.match(await p1.request(), /^50[23] /);
    } finally {
      await p1.stop();
    }
    assert.equal((await refusals('untrusted_certificate')) - before, 1);

    // Expired: the run's CA, a certificate that lived one second.
    const short = await issueWorkload(runCa, { namespace: 'legacy', serviceAccount: 'outside' }, 1000);
    await new Promise((res) => setTimeout(res, 1500));
    const expiredBefore = await refusals('expired_certificate');
    const p2 = await outsideProxy(
      'expired',
      { chain: short.chainPem, key: short.keyPem, bundle: runCa.trustBundle() },
      httpbinId,
    );
    try {
      assert.match(await p2.request(), /^50[23] /);
    } finally {
      await p2.stop();
    }
    assert.equal((await refusals('expired_certificate')) - expiredBefore, 1);
    const log = fs.readFileSync(sidecarLog, 'utf8');
    assert.match(log, /mTLS: refused an inbound connection.*untrusted_certificate/);
    assert.match(log, /mTLS: refused an inbound connection.*expired_certificate.*CERT_HAS_EXPIRED/);

    // A wrong SPIFFE id: the server is httpbin, the client was told to expect someone else.
    const p3 = await outsideProxy(
      'wrong-id',
      { chain: good.chainPem, key: good.keyPem, bundle: runCa.trustBundle() },
      'spiffe://cluster.local/ns/foo/sa/not-httpbin',
    );
    try {
      assert.equal(await p3.request(), '503 UPSTREAM_TLS');
      assert.equal(
        metric(await p3.metrics(), 'weft_mtls_handshake_failures_total', {
          direction: 'outbound',
          reason: 'peer_identity_mismatch',
        }),
        1,
      );
    } finally {
      await p3.stop();
    }
  });

  const load = async (count: number, extra: string[] = []): Promise<LoadResult> => {
    const r = await mesh.exec(
      'curl.foo',
      [process.execPath, LOAD, 'http://httpbin.bar:8000/get', String(count), '8', ...extra],
      60_000,
    );
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop() as string) as LoadResult;
  };
  const serialOf = async (instance: string) =>
    (JSON.parse(await mesh.admin(instance, '/identity')) as { serialNumber: string }).serialNumber;

  test('certificates renewed every ~10 s during 5,000 requests: none fails', async () => {
    const serials = { client: new Set<string>(), server: new Set<string>() };
    let ok = 0;
    const errors: string[] = [];
    // Ten bursts, each after the pooled connections between the sidecars idled out (3 s), so every burst
    // opens new mutual TLS connections with whatever certificate is current.
    for (let i = 0; i < 10; i++) {
      serials.client.add(await serialOf('foo/curl-0'));
      serials.server.add(await serialOf('bar/httpbin-0'));
      const r = await load(500);
      ok += r.ok;
      errors.push(...r.errors);
      await new Promise((res) => setTimeout(res, 3200));
    }
    serials.client.add(await serialOf('foo/curl-0'));
    serials.server.add(await serialOf('bar/httpbin-0'));
    assert.equal(ok, 5000, JSON.stringify(errors));
    assert.ok(serials.client.size >= 3, `client renewals: ${serials.client.size - 1}`);
    assert.ok(serials.server.size >= 3, `server renewals: ${serials.server.size - 1}`);
  });

  test('trust anchor rotated during load (begin, switch, retire): none fails', async () => {
    const sidecars = (await mesh.api<Array<{ id: string }>>('/api/v1/instances')).map((i) => i.id);
    const caInfo = () =>
      mesh.api<{ issuer: { fingerprint256: string }; trustAnchors: Array<{ fingerprint256: string }> }>(
        '/api/v1/ca',
      );
    const oldIssuer = (await caInfo()).issuer.fingerprint256;
    let stop = false;
    let ok = 0;
    const errors: string[] = [];
    // The phase each burst started in: every phase must carry traffic.
    let phase = 'idle';
    const phases = new Set<string>();
    // Bursts with idle gaps longer than the pool's idle timeout: each opens new mutual TLS connections
    // with the certificates and bundle of that moment.
    const bursts = (async () => {
      while (!stop) {
        const started = phase;
        const r = await load(300);
        phases.add(started);
        ok += r.ok;
        errors.push(...r.errors.map((e) => `${r.failed} failed: ${e}`));
        if (r.failed > 0) break;
        await new Promise((res) => setTimeout(res, 3200));
      }
    })();
    try {
      /** Waits until a burst has started (and so opened new connections) in the current phase. */
      const trafficInPhase = async () => {
        const until = Date.now() + 20_000;
        while (!phases.has(phase) && Date.now() < until && errors.length === 0)
          await new Promise((res) => setTimeout(res, 100));
      };
      const rotate = async (step: string, extra: string[] = []) => {
        const r = await mesh.weft(['ca', 'rotate', step, '--run', mesh.runId, ...extra]);
        assert.equal(r.code, 0, `${step}: ${r.stdout}${r.stderr}`);
      };
      await rotate('begin', ['--wait']);
      phase = 'published';
      await trafficInPhase();
      await rotate('switch');
      phase = 'switched';
      const newIssuer = (await caInfo()).issuer.fingerprint256;
      assert.notEqual(newIssuer, oldIssuer);
      // Every sidecar renews at once (within 5 s) when the issuer it sees in its config changes.
      const deadline = Date.now() + 15_000;
      for (;;) {
        const issuers = await Promise.all(
          sidecars.map(async (id) => {
            const shown = JSON.parse(await mesh.admin(id, '/identity')) as {
              chain: Array<{ fingerprint256: string }>;
            };
            return shown.chain[1]?.fingerprint256;
          }),
        );
        if (issuers.every((f) => f === newIssuer)) break;
        assert.ok(Date.now() < deadline, `not every sidecar renewed: ${JSON.stringify(issuers)}`);
        await new Promise((res) => setTimeout(res, 250));
      }
      await trafficInPhase();
      await rotate('retire');
      phase = 'retired';
      await trafficInPhase();
    } finally {
      stop = true;
      await bursts;
    }
    assert.deepEqual(errors, []);
    assert.deepEqual([...phases].sort(), ['idle', 'published', 'retired', 'switched'], `${ok} requests`);
    const anchors = (await caInfo()).trustAnchors;
    assert.equal(anchors.length, 1);
    const shown = JSON.parse(await mesh.admin('foo/curl-0', '/config')) as {
      config: { identity: { trustBundle: string[] } };
    };
    assert.equal(shown.config.identity.trustBundle.length, 1);
  });

  test('control plane stopped: traffic flows on the certificates held; resumed: renewals resume', async () => {
    const cpPid = mesh.info().controlPid as number;
    // Found now: `weft exec` and the admin helper ask the control plane, which is about to be frozen.
    const instances =
      await mesh.api<Array<{ id: string; sidecar?: { adminSocket?: string } }>>('/api/v1/instances');
    const socket = instances.find((i) => i.id === 'foo/curl-0')?.sidecar?.adminSocket as string;
    const identity = async () =>
      JSON.parse((await run('curl', ['-s', '--unix-socket', socket, 'http://admin/identity'])).stdout) as {
        serialNumber: string;
        nextRenewal: string;
        lastError: unknown;
      };
    // Every sidecar renews its 20 s certificate at 8–10 s, so each always has 10 s or more left: a freeze
    // of 6 s starting just before curl.foo's next renewal makes that renewal fail, and expires nobody's.
    const shownBefore = await identity();
    const before = shownBefore.serialNumber;
    const dueIn = Date.parse(shownBefore.nextRenewal) - Date.now();
    if (dueIn > 1000) await new Promise((res) => setTimeout(res, dueIn - 1000));
    // 800 requests at 100 a second (8 s), started now, so that no CLI call is needed during the freeze.
    const loading = load(800, ['--rps=100']);
    process.kill(cpPid, 'SIGSTOP');
    try {
      await new Promise((res) => setTimeout(res, 6000));
      const shown = await identity();
      assert.notEqual(
        shown.lastError,
        null,
        'a renewal should have failed while the control plane was stopped',
      );
      assert.equal(shown.serialNumber, before);
    } finally {
      process.kill(cpPid, 'SIGCONT');
    }
    const r = await loading;
    assert.equal(r.failed, 0, JSON.stringify(r.errors));
    assert.equal(r.ok, 800);
    const deadline = Date.now() + 20_000;
    let now = (await identity()).serialNumber;
    while (now === before && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 250));
      now = (await identity()).serialNumber;
    }
    assert.notEqual(now, before, 'no renewal after the control plane came back');
    const after = await load(200);
    assert.equal(after.failed, 0, JSON.stringify(after.errors));
  });
});
