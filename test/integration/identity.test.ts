/**
 * The proxy's identity client against a real control plane (in process, Unix socket): it gets a
 * certificate for its join token's identity with a key of its own, renews it (a short certificate
 * lifetime makes the renewal come within seconds) with a fresh key, keeps retrying while the control
 * plane is not there yet, and reports a refused token without an identity. What the admin port would show
 * holds no key material.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { createCertificateAuthority } from '../../src/control/ca/index.ts';
import { chainVerifies, createTempDir } from '../../src/control/ca/testing.ts';
import { ControlPlane } from '../../src/control/control-plane.ts';
import { fixedImages, GOLDEN_RESOURCES } from '../../src/control/testing.ts';
import { silentLogger } from '../../src/core/index.ts';
import { createIdentityClient, type WorkloadIdentity } from '../../src/proxy/identity/index.ts';

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
    // Leaves start a minute early (clock skew): with 64 s to live and no jitter, renewal is due ~2 s out.
    const cp = await startControlPlane(dir, 64_000);
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
    assert.equal(
      first.renewAt.getTime(),
      first.notBefore.getTime() + (first.notAfter.getTime() - first.notBefore.getTime()) / 2,
    );

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
