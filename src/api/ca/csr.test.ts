/**
 * The proxy's hand-written PKCS#10 request: openssl parses it and verifies its signature, it names no
 * subject and asks for nothing, and only P-256 private keys are accepted. (That the CA signs it is
 * tested in src/control/ca.)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { createCertificateRequest } from './csr.ts';

function openssl(args: string[], input: string): string | undefined {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
  } catch {
    return undefined;
  }
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
}

describe('createCertificateRequest', () => {
  test('a PEM PKCS#10 request that openssl verifies, for the given key, with no names', (t) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = createCertificateRequest(privateKey);
    assert.match(
      pem,
      /^-----BEGIN CERTIFICATE REQUEST-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE REQUEST-----\n$/,
    );
    const text = openssl(['req', '-verify', '-noout', '-text'], pem);
    if (text === undefined) return t.skip('openssl is not installed');
    assert.match(text, /Subject:\s*\n/);
    assert.match(text, /Attributes:\s*\n\s*\(none\)/);
    assert.doesNotMatch(text, /Subject Alternative Name/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    const key = openssl(['req', '-noout', '-pubkey'], pem);
    assert.equal(key, publicKey.export({ format: 'pem', type: 'spki' }).toString());
  });

  test('a changed byte breaks the signature', (t) => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = Buffer.from(
      createCertificateRequest(privateKey).replace(/-----[A-Z ]+-----|\s/g, ''),
      'base64',
    );
    der[40] = (der[40] as number) ^ 0x01; // inside the public key
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    if (openssl(['version'], '') === undefined) return t.skip('openssl is not installed');
    assert.throws(() => openssl(['req', '-verify', '-noout'], pem));
  });

  test('only ECDSA P-256 private keys', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (const key of [p384.privateKey, rsa.privateKey, p256.publicKey])
      assert.throws(() => createCertificateRequest(key), TypeError);
  });
});
