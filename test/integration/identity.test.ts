/**
 * Workload identity end to end. First the proxy's identity client against a real control plane (in
 * process, Unix socket): it gets a certificate for its join token's identity with a key of its own, renews
 * it (a short certificate lifetime makes the renewal come within seconds) with a fresh key, keeps retrying
 * while the control plane is not there yet, and reports a refused token without an identity. What the
 * admin port would show holds no key material.
 *
 * Then the operator's commands, as users run them (bin/weft.js): on a `weft up` mesh, `weft identity`
 * shows each instance's certificate, `weft check` passes, and `weft ca rotate` walks begin → switch →
 * retire and refuses a step out of order; against a control plane whose CA was supplied with an issuer
 * that expires in 30 days, `weft check` warns about it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCertificateAuthority } from '../../src/control/ca/index.ts';
import { chainVerifies, createTempDir } from '../../src/control/ca/testing.ts';
import { ControlPlane } from '../../src/control/control-plane.ts';
import { fixedImages, GOLDEN_RESOURCES } from '../../src/control/testing.ts';
import { silentLogger } from '../../src/core/index.ts';
import { createIdentityClient, type WorkloadIdentity } from '../../src/proxy/identity/index.ts';
import { BIN, canRunTransparent, type Mesh, startMesh } from '../support/mesh.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function startControlPlane(dir: string, certificateTtlMs?: number): Promise<ControlPlane> {
  const cp = new ControlPlane({
    paths: GOLDEN_RESOURCES,
    stateDir: dir,
    logger: silentLogger,
    images: fixedImages,
    transparent: true,
    port: 0,
    socketPath: path.join(dir, 'control.sock'),
    ...(certificateTtlMs === undefined ? {} : { certificateTtlMs }),
  });
  await cp.start();
  cleanups.push(() => cp.close());
  return cp;
}

async function tempDir(): Promise<string> {
  const t = await createTempDir();
  cleanups.push(t.remove);
  return t.dir;
}

const fastRetry = { baseMs: 50, capMs: 200, stableMs: 0 };

describe('the identity client', () => {
  test('gets a certificate for its token identity, then renews it with a fresh key', async () => {
    const dir = await tempDir();
    // Leaves start a minute early (clock skew), but renewal counts from when the certificate arrived:
    // with 4 s to live and no jitter, it is due ~2 s out.
    const cp = await startControlPlane(dir, 4_000);
    const token = cp.ca?.issueJoinToken({
      namespace: 'shop',
      serviceAccount: 'web',
      ttlMs: 60_000,
    }) as string;
    const client = createIdentityClient({
      target: `unix:${path.join(dir, 'control.sock')}`,
      token,
      logger: silentLogger,
      random: () => 0,
    });
    cleanups.push(() => client.close());
    const seen: WorkloadIdentity[] = [];
    const renewed = new Promise<void>((resolve) =>
      client.onChange((identity) => {
        seen.push(identity);
        if (seen.length === 2) resolve();
      }),
    );
    const first = await client.ready;
    assert.equal(first.spiffeId, 'spiffe://cluster.local/ns/shop/sa/web');
    assert.equal(client.current(), first);
    assert.ok(chainVerifies(first.chain, first.bundle));
    assert.deepEqual(first.bundle, cp.ca?.trustBundle());
    assert.ok(new X509Certificate(first.chain).checkPrivateKey(first.key));
    const dueIn = first.renewAt.getTime() - Date.now();
    assert.ok(dueIn > 1000 && dueIn <= 2000, `renewal due in ${dueIn} ms`);
    assert.ok(first.notBefore.getTime() <= Date.now() - 59_000, 'the leaf is backdated for clock skew');

    const shown = client.describe() as Record<string, unknown>;
    assert.equal(shown.spiffeId, first.spiffeId);
    assert.equal(shown.serialNumber, first.serialNumber);
    assert.equal(shown.nextRenewal, first.renewAt.toISOString());
    assert.match(JSON.stringify(shown.trustBundle), /CN=Weft trust anchor/);
    assert.doesNotMatch(JSON.stringify(shown), /PRIVATE KEY|BEGIN/);

    await Promise.race([
      renewed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no renewal within 8 s')), 8000)),
    ]);
    const second = seen[1] as WorkloadIdentity;
    assert.equal(second.spiffeId, first.spiffeId);
    assert.notEqual(second.serialNumber, first.serialNumber);
    assert.notEqual(
      second.key.export({ format: 'der', type: 'pkcs8' }).toString('hex'),
      first.key.export({ format: 'der', type: 'pkcs8' }).toString('hex'),
    );
    assert.ok(new X509Certificate(second.chain).checkPrivateKey(second.key));
  });

  test('a control plane that is down at first is retried until it answers', async () => {
    const dir = await tempDir();
    // The CA exists before the control plane runs (the same state directory), so a token can be issued.
    const ca = await createCertificateAuthority({
      stateDir: path.join(dir, 'ca'),
      trustDomain: 'cluster.local',
    });
    const token = ca.issueJoinToken({ namespace: 'default', serviceAccount: 'client', ttlMs: 60_000 });
    const client = createIdentityClient({
      target: `unix:${path.join(dir, 'control.sock')}`,
      token,
      logger: silentLogger,
      backoff: fastRetry,
    });
    cleanups.push(() => client.close());
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(client.current(), undefined);
    const down = client.describe() as { spiffeId: unknown; lastError: { message: string } | null };
    assert.equal(down.spiffeId, null);
    assert.match(down.lastError?.message ?? '', /ENOENT|ECONNREFUSED/);

    await startControlPlane(dir);
    const identity = await client.ready;
    assert.equal(identity.spiffeId, 'spiffe://cluster.local/ns/default/sa/client');
    assert.equal((client.describe() as { lastError: unknown }).lastError, null);
  });

  test('a token from another CA is refused: no identity, the reason kept', async () => {
    const dir = await tempDir();
    await startControlPlane(dir);
    const other = await createCertificateAuthority({
      stateDir: await tempDir(),
      trustDomain: 'cluster.local',
    });
    const client = createIdentityClient({
      target: `unix:${path.join(dir, 'control.sock')}`,
      token: other.issueJoinToken({ namespace: 'shop', serviceAccount: 'web', ttlMs: 60_000 }),
      logger: silentLogger,
      backoff: fastRetry,
    });
    cleanups.push(() => client.close());
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(client.current(), undefined);
    const shown = client.describe() as { lastError: { message: string } | null };
    assert.match(shown.lastError?.message ?? '', /401 CA_TOKEN_SIGNATURE/);
  });
});

/** Runs `weft <args>` (bin/weft.js) and resolves with its exit code and output. */
function weft(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface CheckJson {
  ok: boolean;
  checks: Array<{ name: string; status: string; message: string; details?: string[] }>;
}

const MESH = `
apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: web }
spec:
  command: [sleep, infinity]
  replicas: 2
  serviceAccount: shop-web
---
apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: client }
spec:
  command: [sleep, infinity]
`;

describe('the identity commands on a running mesh', () => {
  let mesh: Mesh;
  const run = () => ['--run', mesh.runId];
  before(async () => {
    const dir = await tempDir();
    fs.writeFileSync(path.join(dir, 'mesh.yaml'), MESH);
    mesh = await startMesh({
      files: [path.join(dir, 'mesh.yaml')],
      args: canRunTransparent() === undefined ? [] : ['--explicit'],
    });
    cleanups.push(() => mesh.stop().then(() => undefined));
  });

  test('weft identity shows each instance: SPIFFE id, a chain of two to the trust anchor, dates', async () => {
    const r = await mesh.weft(['identity', 'web', ...run()]);
    assert.equal(r.code, 0, r.stderr);
    for (const id of ['default/web-0', 'default/web-1'])
      assert.match(r.stdout, new RegExp(`^${id}  spiffe://cluster\\.local/ns/default/sa/shop-web$`, 'm'));
    assert.match(r.stdout, /^ {2}not after {5}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(expires in 23h 5\dm\)$/m);
    assert.match(r.stdout, /^ {2}next renewal {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(in 1\d?h \d+m\)$/m);
    assert.match(r.stdout, /^ {4}leaf {5}URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/shop-web$/m);
    assert.match(r.stdout, /^ {4}↳ issuer CN=Weft issuer [0-9a-f]{8}, O=cluster\.local$/m);
    assert.match(
      r.stdout,
      /^ {4}↳ root {3}CN=Weft trust anchor [0-9a-f]{8}, O=cluster\.local {2}\(trust anchor, until /m,
    );
    assert.match(r.stdout, /^ {2}last error {4}none$/m);

    const json = await mesh.weft(['identity', 'deployment/web', '-o', 'json', ...run()]);
    assert.equal(json.code, 0, json.stderr);
    const shown = JSON.parse(json.stdout) as Array<{
      instance: string;
      identity: {
        spiffeId: string;
        notBefore: string;
        notAfter: string;
        nextRenewal: string;
        chain: unknown[];
      };
    }>;
    assert.deepEqual(
      shown.map((s) => s.instance),
      ['default/web-0', 'default/web-1'],
    );
    for (const { identity } of shown) {
      assert.equal(identity.spiffeId, 'spiffe://cluster.local/ns/default/sa/shop-web');
      assert.equal(identity.chain.length, 2);
      const [notBefore, renew, notAfter] = [identity.notBefore, identity.nextRenewal, identity.notAfter].map(
        Date.parse,
      );
      assert.ok((notBefore as number) < (renew as number) && (renew as number) < (notAfter as number));
    }
    const one = await mesh.weft(['identity', 'default/client', '-o', 'yaml', ...run()]);
    assert.match(one.stdout, /spiffeId: spiffe:\/\/cluster.local\/ns\/default\/sa\/client/);

    const unknown = await mesh.weft(['identity', 'nope', ...run()]);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /no workload "nope" in the mesh \(workloads: default\/client, default\/web\)/,
    );
  });

  test('weft check passes on a healthy mesh', async () => {
    await mesh.waitSynced();
    const r = await mesh.weft(['check', '-o', 'json', ...run()]);
    const report = JSON.parse(r.stdout) as CheckJson;
    assert.equal(r.code, 0, r.stdout);
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.checks.map((c) => `${c.name} ${c.status}`),
      ['control-plane', 'clock', 'proxies', 'ca-trust-anchors', 'ca-issuer', 'sidecar-certificates'].map(
        (n) => `${n} pass`,
      ),
      r.stdout,
    );
    assert.match(report.checks[5]?.message ?? '', /^3 of 3 sidecars/);
    const text = await mesh.weft(['check', ...run()]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^PASS {2}CA issuer {13}issuer CN=Weft issuer/m);
    assert.match(text.stdout, /6 passed, 0 warnings, 0 failed/);
  });

  test('weft ca rotate walks begin, switch, retire in order and refuses a second retire', async () => {
    const phase = async () => (await mesh.api<{ rotation: { phase: string } }>('/api/v1/ca')).rotation.phase;
    const before = await mesh.api<{ trustAnchors: Array<{ fingerprint256: string }> }>('/api/v1/ca');
    assert.equal(await phase(), 'idle');
    const idle = await mesh.weft(['ca', 'rotate', ...run()]);
    assert.match(idle.stdout, /Rotation phase: idle\n[\s\S]*weft ca rotate begin --run /);

    const begin = await mesh.weft(['ca', 'rotate', 'begin', ...run()]);
    assert.equal(begin.code, 0, begin.stderr);
    assert.match(begin.stdout, /Rotation begun \(phase "published"\)/);
    assert.match(begin.stdout, /wait until every proxy holds the new trust bundle/);
    assert.match(begin.stdout, new RegExp(`Then run:\n {2}weft ca rotate switch --run ${mesh.runId}\n$`));
    assert.equal(await phase(), 'published');
    const shown = await mesh.weft(['ca', 'status', ...run()]);
    assert.match(
      shown.stdout,
      /^rotation +published \(both trust anchors published; the old issuer signs\)$/m,
    );
    assert.match(shown.stdout, /^next issuer$/m);
    const progress = await mesh.weft(['ca', 'rotate', ...run()]);
    assert.match(progress.stdout, /Before `switch`: every proxy holds the new trust bundle/);
    assert.match(progress.stdout, /\d\/3 proxies are there/);

    const switched = await mesh.weft(['ca', 'rotate', 'switch', ...run()]);
    assert.equal(switched.code, 0, switched.stderr);
    assert.match(
      switched.stdout,
      /wait until every sidecar has renewed its certificate: one certificate lifetime \(1d\)/,
    );
    assert.match(switched.stdout, /weft ca rotate retire --run /);
    assert.equal(await phase(), 'switched');

    const retired = await mesh.weft(['ca', 'rotate', 'retire', ...run()]);
    assert.equal(retired.code, 0, retired.stderr);
    assert.match(retired.stdout, /rotation is complete/);
    assert.equal(await phase(), 'idle');

    const again = await mesh.weft(['ca', 'rotate', 'retire', ...run()]);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /refused \(CA_ROTATION\): retireOldRoot needs rotation phase "switched", the CA is in "idle"/,
    );
    assert.match(again.stderr, /the next step is `weft ca rotate begin --run /);

    const status = await mesh.weft(['ca', 'status', '-o', 'json', ...run()]);
    assert.equal(status.code, 0, status.stderr);
    const after = JSON.parse(status.stdout) as {
      rotation: { phase: string; generation: number; lastStep: { step: string } };
      trustAnchors: Array<{ fingerprint256: string }>;
    };
    assert.equal(after.rotation.phase, 'idle');
    assert.equal(after.trustAnchors.length, 1);
    assert.notEqual(after.trustAnchors[0]?.fingerprint256, before.trustAnchors[0]?.fingerprint256);
    assert.equal(after.rotation.generation, 3);
    assert.equal(after.rotation.lastStep.step, 'retire');
  });
});

describe('weft check against a CA supplied with a short-lived issuer', () => {
  test('warns about the issuer with its expiry date, and still exits 0', async () => {
    const dir = await tempDir();
    // Supplying a CA is placing its files in <state>/ca before the control plane starts.
    const supplied = await createCertificateAuthority({
      stateDir: path.join(dir, 'ca'),
      trustDomain: 'cluster.local',
      issuerTtlMs: 30 * 24 * 3_600_000,
    });
    const issuerNotAfter = supplied.expiries().issuer.notAfter;
    await startControlPlane(dir);
    const target = `unix:${path.join(dir, 'control.sock')}`;
    const r = await weft(['check', '--control-plane', target, '-o', 'json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as CheckJson;
    const issuer = report.checks.find((c) => c.name === 'ca-issuer');
    assert.equal(issuer?.status, 'warn', JSON.stringify(report));
    assert.match(
      issuer?.message ?? '',
      new RegExp(
        `expires on ${issuerNotAfter.toISOString().slice(0, 19).replace('T', ' ')}Z \\(in (29d 23h|30d)\\)`,
      ),
    );
    assert.equal(report.checks.find((c) => c.name === 'ca-trust-anchors')?.status, 'pass');

    const status = await weft(['ca', 'status', '--control-plane', target]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^rotation +idle$/m);
    assert.match(status.stdout, /expires in (29d 23h|30d)/);
  });
});
