/**
 * Certificates from this CA in real TLS 1.3 handshakes on 127.0.0.1 with node:tls, as two proxies will
 * use them: both sides present a leaf, both require the other's (`requestCert`, `rejectUnauthorized`,
 * `ca: trust bundle`), and each checks the other's SPIFFE id. With TLS 1.3 the server checks the client
 * certificate after the client considers the handshake done, so every refusal is observed by reading.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { type CertificateAuthority, createCertificateAuthority } from './authority.ts';
import {
  createTempDir,
  exchange,
  issueWorkload,
  startTlsServer,
  type TlsServer,
  type WorkloadCredentials,
} from './testing.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function newCa(trustDomain = 'weft.test'): Promise<CertificateAuthority> {
  const t = await createTempDir();
  cleanups.push(t.remove);
  return createCertificateAuthority({ stateDir: t.dir, trustDomain });
}

async function serve(credentials: WorkloadCredentials, bundle: readonly string[]): Promise<TlsServer> {
  const server = await startTlsServer(credentials, bundle);
  cleanups.push(server.close);
  return server;
}

describe('mutual TLS with certificates from the CA', () => {
  let ca: CertificateAuthority;
  let server: TlsServer;
  before(async () => {
    ca = await newCa();
    server = await serve(
      await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'api' }),
      ca.trustBundle(),
    );
  });

  test('a client with a leaf from the same CA is accepted, and each side sees the other identity', async () => {
    const client = await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'web' });
    const result = await exchange(server.port, client, ca.trustBundle(), 'shop/api');
    assert.deepEqual(result, {
      ok: true,
      echoed: 'ping over mTLS\n',
      server: 'shop/api',
      protocol: 'TLSv1.3',
    });
    assert.equal(server.peers.at(-1), 'shop/web');
  });

  test('a client with a leaf from another CA is refused (seen on read)', async () => {
    const other = await newCa();
    const intruder = await issueWorkload(other, { namespace: 'shop', serviceAccount: 'web' });
    const before = server.clientErrors.length;
    // The intruder trusts the real server, so its own handshake completes; the refusal comes on read.
    const result = await exchange(server.port, intruder, ca.trustBundle(), 'shop/api');
    assert.equal(result.ok, false);
    assert.equal(server.clientErrors.length, before + 1);
    assert.equal(server.clientErrors.at(-1), 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  });

  test('a client without a certificate is refused (seen on read)', async () => {
    const before = server.clientErrors.length;
    const result = await new Promise<string>((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: server.port,
        ca: ca.trustBundle(),
        minVersion: 'TLSv1.3',
        checkServerIdentity: () => undefined,
      });
      socket.on('secureConnect', () => socket.write('hello\n'));
      socket.on('data', () => resolve('data'));
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      socket.on('close', () => resolve('closed'));
    });
    assert.notEqual(result, 'data');
    assert.equal(server.clientErrors.length, before + 1);
    assert.equal(server.clientErrors.at(-1), 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
  });

  test('a server with a leaf from another CA is refused by the client', async () => {
    const other = await newCa();
    const impostor = await serve(
      await issueWorkload(other, { namespace: 'shop', serviceAccount: 'api' }),
      ca.trustBundle(),
    );
    const client = await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'web' });
    const result = await exchange(impostor.port, client, ca.trustBundle(), 'shop/api');
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.error, /UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED|unable/i);
  });

  test('a server with the wrong SPIFFE id is refused by the client', async () => {
    const client = await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'web' });
    const result = await exchange(server.port, client, ca.trustBundle(), 'shop/payments');
    assert.deepEqual(result, { ok: false, error: 'server is shop/api, expected shop/payments' });
  });
});

describe('mutual TLS across a trust-anchor rotation', () => {
  test('old and new leaves talk both ways while both roots are published; the old one is refused after', async () => {
    const ca = await newCa();
    const oldServer = await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'api' });
    const oldClient = await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'web' });

    await ca.beginRotation();
    await ca.switchIssuer();
    const bundle = ca.trustBundle();
    const newServer = await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'api' });
    const newClient = await issueWorkload(ca, { namespace: 'shop', serviceAccount: 'web' });

    const servedOld = await serve(oldServer, bundle);
    const servedNew = await serve(newServer, bundle);
    assert.equal(
      (await exchange(servedOld.port, newClient, bundle, 'shop/api')).ok,
      true,
      'new client → old server',
    );
    assert.equal(
      (await exchange(servedNew.port, oldClient, bundle, 'shop/api')).ok,
      true,
      'old client → new server',
    );

    await ca.retireOldRoot();
    const retired = ca.trustBundle();
    const strict = await serve(newServer, retired);
    assert.equal((await exchange(strict.port, newClient, retired, 'shop/api')).ok, true);
    const result = await exchange(strict.port, oldClient, retired, 'shop/api');
    assert.equal(result.ok, false, 'a leaf from the retired root is refused');
    assert.deepEqual(strict.clientErrors, ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY']);
  });
});
