/**
 * The CA against its state directory and against Node's own X.509 code: generation and reloading,
 * supplied files (including ones made by openssl), signing and every refusal, the TTL cap, and the three
 * rotation steps with their persistence and crash recovery. Real TLS handshakes are in tls.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CaError,
  type CaErrorCode,
  createCertificateRequest,
  splitPemCertificates,
} from '../../api/ca/index.ts';
import { type CertificateAuthority, CLOCK_SKEW_MS, createCertificateAuthority } from './authority.ts';
import { chainVerifies, createCsr, createTempDir, createWorkloadKey, issueWorkload } from './testing.ts';

const TD = 'weft.test';
const HOUR = 3_600_000;
const web = { trustDomain: TD, namespace: 'shop', serviceAccount: 'web' };
const WEB_ID = 'spiffe://weft.test/ns/shop/sa/web';

const temps: (() => Promise<void>)[] = [];
async function tempDir(): Promise<string> {
  const t = await createTempDir();
  temps.push(t.remove);
  return t.dir;
}
after(async () => {
  for (const remove of temps) await remove();
});

function isCaError(code: CaErrorCode, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof CaError, `expected a CaError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

describe('state directory', () => {
  test('first start generates root and issuer, keys 0600; a second start loads the same CA', async () => {
    const dir = await tempDir();
    const first = await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    assert.equal(first.generated, true);
    assert.deepEqual(first.warnings, []);
    for (const name of ['root.key', 'issuer.key', 'join-token.key']) {
      assert.equal((await stat(path.join(dir, name))).mode & 0o777, 0o600, name);
    }
    const rootPem = await readFile(path.join(dir, 'root.crt'), 'utf8');
    assert.deepEqual(first.trustBundle().map(fingerprint), [fingerprint(rootPem)]);
    const root = new X509Certificate(rootPem);
    const issuer = new X509Certificate(await readFile(path.join(dir, 'issuer.crt'), 'utf8'));
    assert.ok(root.ca && issuer.ca);
    assert.ok(issuer.checkIssued(root) && issuer.verify(root.publicKey));
    assert.equal(issuer.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');

    const token = first.issueJoinToken({ namespace: 'shop', serviceAccount: 'web', ttlMs: HOUR });
    const second = await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    assert.equal(second.generated, false);
    assert.deepEqual(second.trustBundle(), first.trustBundle());
    assert.equal(second.expiries().issuer.fingerprint256, first.expiries().issuer.fingerprint256);
    // The join-token key is kept too: a token issued before a restart is still good after it.
    assert.equal(second.verifyJoinToken(token).serviceAccount, 'web');
    // And the reloaded issuer signs certificates that chain to the same root.
    const w = await issueWorkload(second, { namespace: 'shop', serviceAccount: 'web' });
    assert.ok(chainVerifies(w.chainPem, first.trustBundle()));
  });

  test('expiries report the anchor and the issuer with their generated lifetimes', async () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const ca = await createCertificateAuthority({
      stateDir: await tempDir(),
      trustDomain: TD,
      now: () => now,
      rootTtlMs: 100 * 24 * HOUR,
      issuerTtlMs: 10 * 24 * HOUR,
    });
    const e = ca.expiries();
    assert.equal(e.anchors.length, 1);
    assert.equal(e.anchors[0]?.notAfter.toISOString(), '2030-04-11T00:00:00.000Z');
    assert.equal(e.issuer.notAfter.toISOString(), '2030-01-11T00:00:00.000Z');
    assert.equal(e.issuer.notBefore.getTime(), now - CLOCK_SKEW_MS);
    assert.equal(e.nextIssuer, undefined);
  });

  test('supplied root.crt, issuer.crt and issuer.key (no root key) are used as they are', async () => {
    const origin = await createCertificateAuthority({ stateDir: await tempDir(), trustDomain: TD });
    const originDir = await tempDir();
    const supplied = await createCertificateAuthority({ stateDir: originDir, trustDomain: TD });
    const dir = await tempDir();
    for (const name of ['root.crt', 'issuer.crt', 'issuer.key'])
      await copyFile(path.join(originDir, name), path.join(dir, name));
    const ca = await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    assert.equal(ca.generated, false);
    assert.deepEqual(ca.trustBundle(), supplied.trustBundle());
    const w = await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'web' });
    assert.ok(chainVerifies(w.chainPem, supplied.trustBundle()));
    assert.ok(!chainVerifies(w.chainPem, origin.trustBundle()));
  });

  test('a root and an issuer made by openssl (SEC1 keys, its own extensions) are accepted', async (t) => {
    try {
      execFileSync('openssl', ['version']);
    } catch {
      t.skip('openssl is not installed');
      return;
    }
    const dir = await tempDir();
    const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    await writeFile(
      path.join(dir, 'ext.cnf'),
      '[v3_issuer]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' +
        'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
    );
    ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'root.key');
    ossl(
      ...['req', '-x509', '-new', '-key', 'root.key', '-subj', '/O=Example/CN=Example Root', '-days', '30'],
      ...['-out', 'root.crt', '-addext', 'basicConstraints=critical,CA:TRUE'],
      ...['-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    );
    ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'issuer.key');
    ossl('req', '-new', '-key', 'issuer.key', '-subj', '/O=Example/CN=Example Issuer', '-out', 'issuer.csr');
    ossl(
      ...['x509', '-req', '-in', 'issuer.csr', '-CA', 'root.crt', '-CAkey', 'root.key', '-CAcreateserial'],
      ...['-days', '20', '-out', 'issuer.crt', '-extfile', 'ext.cnf', '-extensions', 'v3_issuer'],
    );
    assert.match(await readFile(path.join(dir, 'issuer.key'), 'utf8'), /BEGIN EC PRIVATE KEY/);

    const ca = await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    const w = await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'web' });
    const [, issuerPem] = splitPemCertificates(w.chainPem);
    assert.equal(
      fingerprint(issuerPem as string),
      fingerprint(await readFile(path.join(dir, 'issuer.crt'), 'utf8')),
    );
    await writeFile(path.join(dir, 'leaf.pem'), w.chainPem);
    // openssl itself, strict mode, for both TLS purposes: the leaf's issuer name and key identifier match.
    for (const purpose of ['sslclient', 'sslserver'])
      ossl(
        'verify',
        '-x509_strict',
        '-purpose',
        purpose,
        '-CAfile',
        'root.crt',
        '-untrusted',
        'issuer.crt',
        'leaf.pem',
      );
  });

  test('a key that does not belong to its certificate is refused, naming the file', async () => {
    const a = await tempDir();
    const b = await tempDir();
    await createCertificateAuthority({ stateDir: a, trustDomain: TD });
    await createCertificateAuthority({ stateDir: b, trustDomain: TD });
    await copyFile(path.join(b, 'issuer.key'), path.join(a, 'issuer.key'));
    await assert.rejects(
      createCertificateAuthority({ stateDir: a, trustDomain: TD }),
      isCaError('CA_STATE', /issuer\.key is not the private key of .*issuer\.crt/),
    );
  });

  test('an issuer not signed by the root is refused', async () => {
    const a = await tempDir();
    const b = await tempDir();
    await createCertificateAuthority({ stateDir: a, trustDomain: TD });
    await createCertificateAuthority({ stateDir: b, trustDomain: TD });
    await copyFile(path.join(b, 'root.crt'), path.join(a, 'root.crt'));
    await rename(path.join(a, 'root.key'), path.join(a, 'root.key.old'));
    await assert.rejects(
      createCertificateAuthority({ stateDir: a, trustDomain: TD }),
      isCaError('CA_STATE', /issuer\.crt was not signed by .*root\.crt/),
    );
  });

  test('part of a CA is refused rather than overwritten', async () => {
    const dir = await tempDir();
    await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    await rename(path.join(dir, 'issuer.key'), path.join(dir, 'elsewhere.key'));
    await assert.rejects(
      createCertificateAuthority({ stateDir: dir, trustDomain: TD }),
      isCaError('CA_STATE', /missing issuer\.key/),
    );
  });

  test('a key file readable by others is reported as a warning', async () => {
    const dir = await tempDir();
    await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    await chmod(path.join(dir, 'issuer.key'), 0o644);
    const ca = await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    assert.equal(ca.warnings.length, 1);
    assert.match(ca.warnings[0] as string, /issuer\.key is readable by others \(mode 644\)/);
  });

  test('an interrupted first start (staging folder never committed) is discarded and redone', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, '.init.tmp'));
    await writeFile(path.join(dir, '.init.tmp', 'root.crt'), 'half written');
    const ca = await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    assert.equal(ca.generated, true);
  });
});

describe('sign', () => {
  let ca: CertificateAuthority;
  let now = Date.parse('2031-06-01T12:00:00.000Z');
  before(async () => {
    ca = await createCertificateAuthority({ stateDir: await tempDir(), trustDomain: TD, now: () => now });
  });

  test('a CSR made with node:crypto keys gets a leaf for exactly the SPIFFE id, chained to the bundle', async () => {
    const key = createWorkloadKey();
    const signed = await ca.sign(await createCsr(key, { subject: 'CN=ignored by the CA' }), web);
    const leaf = new X509Certificate(signed.certificate);
    assert.equal(leaf.subjectAltName, `URI:${WEB_ID}`);
    assert.equal(leaf.subject, undefined, 'the subject is empty: the SPIFFE id is the only name');
    assert.equal(signed.spiffeId, WEB_ID);
    assert.equal(leaf.ca, false);
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    // The leaf certifies the requester's key, not some other.
    assert.ok(leaf.checkPrivateKey(key.privateKey));

    const [leafPem, issuerPem, ...rest] = splitPemCertificates(signed.certificateChain);
    assert.equal(rest.length, 0);
    assert.equal(leafPem, signed.certificate);
    const issuer = new X509Certificate(issuerPem as string);
    assert.ok(leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey));
    const [rootPem] = signed.trustBundle;
    const root = new X509Certificate(rootPem as string);
    assert.ok(issuer.checkIssued(root) && issuer.verify(root.publicKey));
    assert.ok(!leaf.verify(root.publicKey), 'signed by the issuer, not by the root');
    assert.deepEqual(signed.trustBundle, ca.trustBundle());
  });

  test("the proxy's own CSR (node:crypto only, src/api/ca/csr.ts) is signed for its key", async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signed = await ca.sign(createCertificateRequest(privateKey), web);
    const leaf = new X509Certificate(signed.certificate);
    assert.ok(leaf.checkPrivateKey(privateKey));
    assert.equal(leaf.subjectAltName, `URI:${WEB_ID}`);
    assert.ok(chainVerifies(signed.certificateChain, signed.trustBundle));
  });

  test('24 h by default, starting one minute early for clock skew', async () => {
    const signed = await ca.sign(await createCsr(createWorkloadKey()), web);
    assert.equal(Date.parse(signed.notBefore), now - CLOCK_SKEW_MS);
    assert.equal(Date.parse(signed.notAfter), now + 24 * HOUR);
    const leaf = new X509Certificate(signed.certificate);
    assert.equal(leaf.validToDate.getTime(), now + 24 * HOUR);
  });

  test('a requested TTL is honoured, and capped at the issuer not-after', async () => {
    const short = await ca.sign(await createCsr(createWorkloadKey()), web, HOUR);
    assert.equal(Date.parse(short.notAfter), now + HOUR);
    const issuerNotAfter = ca.expiries().issuer.notAfter.getTime();
    const long = await ca.sign(await createCsr(createWorkloadKey()), web, 10 * 365 * 24 * HOUR);
    assert.equal(Date.parse(long.notAfter), issuerNotAfter);
  });

  test('an issuer close to its end caps a 24 h leaf', async () => {
    let t = Date.parse('2032-01-01T00:00:00Z');
    const shortLived = await createCertificateAuthority({
      stateDir: await tempDir(),
      trustDomain: TD,
      now: () => t,
      issuerTtlMs: 2 * HOUR,
    });
    t += HOUR;
    const signed = await shortLived.sign(await createCsr(createWorkloadKey()), web);
    assert.equal(Date.parse(signed.notAfter), Date.parse('2032-01-01T02:00:00Z'));
    t += 2 * HOUR;
    await assert.rejects(
      shortLived.sign(await createCsr(createWorkloadKey()), web),
      isCaError('CA_ISSUER_EXPIRED'),
    );
  });

  test('a CSR asking for exactly the granted id is accepted', async () => {
    const csr = await createCsr(createWorkloadKey(), { names: [{ type: 'url', value: WEB_ID }] });
    assert.equal((await ca.sign(csr, web)).spiffeId, WEB_ID);
  });

  test('a CSR asking for another identity or extra names is refused', async () => {
    const cases = [
      [{ type: 'url', value: 'spiffe://weft.test/ns/shop/sa/admin' }],
      [{ type: 'url', value: 'spiffe://other.test/ns/shop/sa/web' }],
      [{ type: 'dns', value: 'web.shop.svc' }],
      [
        { type: 'url', value: WEB_ID },
        { type: 'dns', value: 'web.shop.svc' },
      ],
      [
        { type: 'url', value: WEB_ID },
        { type: 'url', value: WEB_ID },
      ],
    ] as const;
    for (const names of cases) {
      const csr = await createCsr(createWorkloadKey(), { names: [...names] });
      await assert.rejects(
        ca.sign(csr, web),
        isCaError('CA_CSR_IDENTITY', /grants only url:spiffe:\/\/weft\.test/),
      );
    }
  });

  test('a tampered CSR is refused: its signature no longer verifies', async () => {
    const pem = await createCsr(createWorkloadKey(), { subject: 'CN=aaaaaaaa' });
    const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const at = der.indexOf('aaaaaaaa');
    assert.ok(at > 0);
    der.write('bbbbbbbb', at);
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(ca.sign(tampered, web), isCaError('CA_CSR_SIGNATURE'));
  });

  test('a CSR whose public key was swapped is refused', async () => {
    const pem = await createCsr(createWorkloadKey());
    const other = await createCsr(createWorkloadKey());
    const der = (p: string) => Buffer.from(p.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const a = der(pem);
    const b = der(other);
    // Both keys are 65-byte uncompressed points preceded by the same SPKI header: splice b's into a.
    const point = (buf: Buffer) => buf.indexOf(Buffer.from([0x03, 0x42, 0x00, 0x04])) + 4;
    b.copy(a, point(a), point(b), point(b) + 64);
    const swapped = `-----BEGIN CERTIFICATE REQUEST-----\n${a.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(ca.sign(swapped, web), isCaError('CA_CSR_SIGNATURE'));
  });

  test('keys other than ECDSA P-256 are refused', async () => {
    await assert.rejects(
      ca.sign(await createCsr(createWorkloadKey({ namedCurve: 'P-384' })), web),
      isCaError('CA_CSR_KEY', /ec secp384r1/),
    );
    await assert.rejects(
      ca.sign(await createCsr(createWorkloadKey({ type: 'rsa' })), web),
      isCaError('CA_CSR_KEY', /rsa/),
    );
  });

  test('anything but one PEM CSR is malformed', async () => {
    const csr = await createCsr(createWorkloadKey());
    const cert = splitPemCertificates((await ca.sign(csr, web)).certificateChain)[0] as string;
    for (const input of ['', 'hello', csr + csr, cert, csr.replace('\nMI', '\n!I'), 'x'.repeat(20_000)]) {
      await assert.rejects(
        ca.sign(input, web),
        isCaError('CA_CSR_MALFORMED'),
        JSON.stringify(input.slice(0, 40)),
      );
    }
    const garbage = `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from('not der').toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(ca.sign(garbage, web), isCaError('CA_CSR_MALFORMED'));
  });

  test('identities outside the trust domain or with invalid names are refused', async () => {
    const csr = await createCsr(createWorkloadKey());
    await assert.rejects(
      ca.sign(csr, { ...web, trustDomain: 'other.test' }),
      isCaError('CA_IDENTITY_INVALID', /signs for trust domain weft\.test, not other\.test/),
    );
    await assert.rejects(ca.sign(csr, { ...web, namespace: 'Shop' }), isCaError('CA_IDENTITY_INVALID'));
    await assert.rejects(ca.sign(csr, { ...web, serviceAccount: '../x' }), isCaError('CA_IDENTITY_INVALID'));
  });

  test('serial numbers are unique and positive', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const signed = await ca.sign(await createCsr(createWorkloadKey()), web);
      assert.match(signed.serialNumber, /^[4-7][0-9a-f]{31}$/i);
      serials.add(signed.serialNumber);
    }
    assert.equal(serials.size, 5);
    now += 1;
  });
});

describe('join tokens through the CA', () => {
  test('a token grants its identity in the CA trust domain until the CA clock passes its expiry', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const ca = await createCertificateAuthority({
      stateDir: await tempDir(),
      trustDomain: TD,
      now: () => now,
    });
    const token = ca.issueJoinToken({ namespace: 'shop', serviceAccount: 'web', ttlMs: HOUR });
    assert.deepEqual(ca.identityFromJoinToken(token), web);
    now += HOUR - 1;
    assert.equal(ca.verifyJoinToken(token).namespace, 'shop');
    now += 1;
    assert.throws(() => ca.identityFromJoinToken(token), isCaError('CA_TOKEN_EXPIRED'));
    const tampered = token.replace(/\.([A-Za-z0-9_-]+)\./, (_m, claims: string) => {
      const value = JSON.parse(Buffer.from(claims, 'base64url').toString());
      return `.${Buffer.from(JSON.stringify({ ...value, ns: 'kube-system' })).toString('base64url')}.`;
    });
    assert.throws(() => ca.verifyJoinToken(tampered), isCaError('CA_TOKEN_SIGNATURE'));
  });
});

describe('trust-anchor rotation', () => {
  test('begin, switch, retire: both leaves verify while both roots are published; then only the new', async () => {
    const dir = await tempDir();
    const ca = await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    const reopen = () => createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    const [oldRoot] = ca.trustBundle();
    const oldIssuer = ca.expiries().issuer.fingerprint256;
    const oldLeaf = await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'web' });
    assert.equal(ca.rotationPhase, 'idle');

    await ca.beginRotation();
    assert.equal(ca.rotationPhase, 'published');
    const published = ca.trustBundle();
    assert.equal(published.length, 2);
    assert.equal(published[0], oldRoot);
    const newRoot = published[1] as string;
    assert.notEqual(fingerprint(newRoot), fingerprint(oldRoot as string));
    assert.equal(ca.expiries().anchors.length, 2);
    assert.ok(ca.expiries().nextIssuer);
    // Still signing with the old issuer: workloads without the new bundle must still accept new leaves.
    const stillOld = await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'api' });
    assert.equal(ca.expiries().issuer.fingerprint256, oldIssuer);
    assert.ok(chainVerifies(stillOld.chainPem, [oldRoot as string]));
    const signedInPublished = await ca.sign(await createCsr(createWorkloadKey()), web);
    assert.deepEqual(signedInPublished.trustBundle, published);
    const afterBegin = await reopen();
    assert.equal(afterBegin.rotationPhase, 'published');
    assert.deepEqual(afterBegin.trustBundle(), published);

    await ca.switchIssuer();
    assert.equal(ca.rotationPhase, 'switched');
    assert.notEqual(ca.expiries().issuer.fingerprint256, oldIssuer);
    const newLeaf = await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'web' });
    const switched = ca.trustBundle();
    assert.deepEqual(switched.map(fingerprint).sort(), published.map(fingerprint).sort());
    assert.ok(chainVerifies(oldLeaf.chainPem, switched), 'old leaf verifies against the published bundle');
    assert.ok(chainVerifies(newLeaf.chainPem, switched), 'new leaf verifies against the published bundle');
    assert.ok(chainVerifies(newLeaf.chainPem, [newRoot]));
    assert.ok(!chainVerifies(newLeaf.chainPem, [oldRoot as string]));
    const afterSwitch = await reopen();
    assert.equal(afterSwitch.rotationPhase, 'switched');
    assert.deepEqual(afterSwitch.trustBundle(), switched);
    assert.equal(afterSwitch.expiries().issuer.fingerprint256, ca.expiries().issuer.fingerprint256);

    await ca.retireOldRoot();
    assert.equal(ca.rotationPhase, 'idle');
    assert.deepEqual(ca.trustBundle(), [newRoot]);
    assert.ok(!chainVerifies(oldLeaf.chainPem, ca.trustBundle()), 'old leaf no longer verifies');
    assert.ok(chainVerifies(newLeaf.chainPem, ca.trustBundle()));
    const afterRetire = await reopen();
    assert.equal(afterRetire.rotationPhase, 'idle');
    assert.deepEqual(afterRetire.trustBundle(), [newRoot]);
    assert.ok(
      chainVerifies((await issueWorkload(afterRetire, { namespace: 'a', serviceAccount: 'b' })).chainPem, [
        newRoot,
      ]),
    );

    // A second rotation works the same way from the new state.
    await ca.beginRotation();
    assert.equal(ca.trustBundle().length, 2);
  });

  test('steps out of order are refused and change nothing', async () => {
    const dir = await tempDir();
    const ca = await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    const bundle = ca.trustBundle();
    await assert.rejects(
      ca.switchIssuer(),
      isCaError('CA_ROTATION', /needs rotation phase "published".*"idle"/),
    );
    await assert.rejects(ca.retireOldRoot(), isCaError('CA_ROTATION'));
    assert.deepEqual(ca.trustBundle(), bundle);
    await ca.beginRotation();
    await assert.rejects(ca.beginRotation(), isCaError('CA_ROTATION'));
    await assert.rejects(ca.retireOldRoot(), isCaError('CA_ROTATION'));
    assert.equal(ca.trustBundle().length, 2);
  });

  test('concurrent calls run one after the other', async () => {
    const ca = await createCertificateAuthority({ stateDir: await tempDir(), trustDomain: TD });
    const results = await Promise.allSettled([ca.beginRotation(), ca.beginRotation(), ca.switchIssuer()]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal(ca.rotationPhase, 'switched');
  });

  test('a switch interrupted half-way is finished on the next start', async () => {
    const dir = await tempDir();
    const ca = await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    const [oldRoot] = ca.trustBundle();
    await ca.beginRotation();
    const newRoot = ca.trustBundle()[1] as string;
    // The state a crash leaves after the commit point (previous-root.crt written) and one move of four.
    await copyFile(path.join(dir, 'root.crt'), path.join(dir, 'previous-root.crt'));
    await rename(path.join(dir, 'next', 'issuer.key'), path.join(dir, 'issuer.key'));
    const recovered = await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    assert.equal(recovered.rotationPhase, 'switched');
    assert.deepEqual(recovered.trustBundle().map(fingerprint), [
      fingerprint(newRoot),
      fingerprint(oldRoot as string),
    ]);
    const leaf = await issueWorkload(recovered, { namespace: 'shop', serviceAccount: 'web' });
    assert.ok(chainVerifies(leaf.chainPem, [newRoot]));
  });

  test('a rotation that never reached its commit point leaves the CA idle', async () => {
    const dir = await tempDir();
    const ca = await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    await mkdir(path.join(dir, 'next.tmp'));
    await writeFile(path.join(dir, 'next.tmp', 'root.crt'), 'partial');
    const reopened = await createCertificateAuthority({ stateDir: dir, trustDomain: TD });
    assert.equal(reopened.rotationPhase, 'idle');
    assert.deepEqual(reopened.trustBundle(), ca.trustBundle());
    await reopened.beginRotation();
    assert.equal(reopened.rotationPhase, 'published');
  });
});
