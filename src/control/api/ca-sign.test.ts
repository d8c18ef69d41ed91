/**
 * The CA on the control plane's API, over its real Unix socket and TCP port: the runtime asks for a join
 * token, a proxy exchanges it with a CSR for a chain that verifies against the trust bundle and names the
 * token's identity; a bad token, a CSR asking for another identity and a malformed body are refused with
 * the CaErrors code and status, and each issued certificate is logged.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CA_SIGN_PATH, parseSignResponse, spiffeIdFromSubjectAltName } from '../../api/ca/index.ts';
import { createLogger } from '../../core/index.ts';
import { chainVerifies, createCsr, createTempDir, createWorkloadKey } from '../ca/testing.ts';
import { ControlPlane } from '../control-plane.ts';
import { fixedImages, GOLDEN_RESOURCES, request, type Target } from '../testing.ts';

const post = (target: Target, p: string, body: string) => request(target, 'POST', p, body);

describe('the CA on the control plane API', () => {
  let cp: ControlPlane;
  let socket: Target;
  let remove: () => Promise<void>;
  const lines: string[] = [];

  before(async () => {
    const t = await createTempDir();
    remove = t.remove;
    cp = new ControlPlane({
      paths: GOLDEN_RESOURCES,
      stateDir: t.dir,
      logger: createLogger({ level: 'info', write: (l) => lines.push(l) }),
      images: fixedImages,
      transparent: true,
      port: 0,
      socketPath: path.join(t.dir, 'control.sock'),
    });
    await cp.start();
    socket = { socketPath: path.join(t.dir, 'control.sock') };
  });
  after(async () => {
    await cp.close();
    await remove();
  });

  const joinToken = async (target: Target, namespace: string, serviceAccount: string) => {
    const r = await post(
      target,
      '/api/v1/join-tokens',
      JSON.stringify({ namespace, serviceAccount, ttlSeconds: 60 }),
    );
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(typeof r.json.token, 'string');
    return r.json.token as string;
  };

  test('the CA lives in <stateDir>/ca, with the default trust domain', () => {
    assert.equal(cp.ca?.trustDomain, 'cluster.local');
    assert.match(cp.caDir, /\/ca$/);
  });

  test('a valid token and CSR → a chain that verifies against the bundle, naming the token identity', async () => {
    for (const target of [socket, { port: cp.port }]) {
      const token = await joinToken(target, 'shop', 'web');
      const key = createWorkloadKey();
      const r = await post(
        target,
        CA_SIGN_PATH,
        JSON.stringify({ csr: await createCsr(key), credential: { type: 'join-token', token } }),
      );
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const parsed = parseSignResponse(r.json);
      assert.ok(parsed.ok);
      assert.ok(chainVerifies(r.json.certificateChain, r.json.trustBundle));
      assert.deepEqual(r.json.trustBundle, cp.ca?.trustBundle());
      const leaf = new X509Certificate(r.json.certificateChain);
      assert.ok(leaf.checkPrivateKey(key.privateKey));
      const id = spiffeIdFromSubjectAltName(leaf.subjectAltName);
      assert.deepEqual(id, {
        ok: true,
        identity: { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'web' },
      });
      assert.equal(leaf.validToDate.toISOString(), r.json.notAfter);
      const logged = lines
        .map((l) => JSON.parse(l))
        .find(
          (l) =>
            l.msg === 'certificate issued' &&
            String(l.serial).toUpperCase() === leaf.serialNumber.toUpperCase(),
        );
      assert.equal(logged?.level, 'info');
      assert.equal(logged?.identity, 'spiffe://cluster.local/ns/shop/sa/web');
      assert.equal(logged?.notAfter, r.json.notAfter);
    }
  });

  test('a bad or altered token → 401 with the CA error code', async () => {
    const csr = await createCsr(createWorkloadKey());
    const token = await joinToken(socket, 'shop', 'web');
    const altered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'AB' : 'AA'}`;
    for (const [t, code] of [
      ['not-a-token', 'CA_TOKEN_MALFORMED'],
      [altered, 'CA_TOKEN_SIGNATURE'],
    ] as const) {
      const r = await post(
        socket,
        CA_SIGN_PATH,
        JSON.stringify({ csr, credential: { type: 'join-token', token: t } }),
      );
      assert.equal(r.status, 401, JSON.stringify(r.json));
      assert.equal(r.json.error.code, code);
      assert.equal(typeof r.json.error.message, 'string');
    }
  });

  test('a CSR asking for another identity → 403 CA_CSR_IDENTITY', async () => {
    const token = await joinToken(socket, 'shop', 'web');
    const csr = await createCsr(createWorkloadKey(), {
      names: [{ type: 'url', value: 'spiffe://cluster.local/ns/shop/sa/payments' }],
    });
    const r = await post(
      socket,
      CA_SIGN_PATH,
      JSON.stringify({ csr, credential: { type: 'join-token', token } }),
    );
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'CA_CSR_IDENTITY');
  });

  test('a malformed body → 400 CA_REQUEST_MALFORMED; a bad join-token request → 400', async () => {
    for (const body of ['{', '{}', JSON.stringify({ csr: 'x', credential: 'token' })]) {
      const r = await post(socket, CA_SIGN_PATH, body);
      assert.equal(r.status, 400, body);
      assert.equal(r.json.error.code, 'CA_REQUEST_MALFORMED');
    }
    const r = await post(
      socket,
      '/api/v1/join-tokens',
      JSON.stringify({ namespace: 'shop', serviceAccount: 'web' }),
    );
    assert.equal(r.status, 400);
    const bad = await post(
      socket,
      '/api/v1/join-tokens',
      JSON.stringify({ namespace: 'Not_A_Namespace', serviceAccount: 'web', ttlSeconds: 60 }),
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'CA_IDENTITY_INVALID');
  });
});
