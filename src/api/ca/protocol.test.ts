/**
 * The signing exchange as each side reads it from the wire: well-formed requests and responses pass,
 * anything else is refused with a reason, and the CA's error codes are well-formed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CaError,
  CaErrors,
  MAX_CSR_BYTES,
  parseSignErrorResponse,
  parseSignRequest,
  parseSignResponse,
  splitPemCertificates,
} from './protocol.ts';

// Textual stand-ins: this layer checks shape only; certificates are parsed by the side that uses them.
const pem = (body: string) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
const CSR = '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n';

describe('parseSignRequest', () => {
  test('accepts a CSR with a join token', () => {
    const body = { csr: CSR, credential: { type: 'join-token', token: 'wjt1.a.b' }, extra: 1 };
    assert.deepEqual(parseSignRequest(body), {
      ok: true,
      value: { csr: CSR, credential: { type: 'join-token', token: 'wjt1.a.b' } },
    });
  });

  test('refuses anything else', () => {
    for (const body of [
      null,
      [],
      'csr',
      {},
      { csr: '', credential: { type: 'join-token', token: 't' } },
      { csr: 'x'.repeat(MAX_CSR_BYTES + 1), credential: { type: 'join-token', token: 't' } },
      { csr: CSR },
      { csr: CSR, credential: 'wjt1.a.b' },
      { csr: CSR, credential: { type: 'service-account', token: 't' } },
      { csr: CSR, credential: { type: 'join-token', token: '' } },
      { csr: CSR, credential: { type: 'join-token', token: 'x'.repeat(5000) } },
    ]) {
      const result = parseSignRequest(body);
      assert.equal(result.ok, false, JSON.stringify(body)?.slice(0, 80));
    }
  });
});

describe('parseSignResponse', () => {
  const good = {
    certificateChain: pem('AAAA') + pem('BBBB'),
    trustBundle: [pem('CCCC')],
    notAfter: '2030-01-01T00:00:00.000Z',
  };

  test('accepts a chain of leaf and issuer, a bundle, and a time', () => {
    assert.deepEqual(parseSignResponse(good), { ok: true, value: good });
    assert.ok(parseSignResponse({ ...good, trustBundle: [pem('CCCC'), pem('DDDD')] }).ok);
  });

  test('refuses a chain without its issuer, an empty or merged bundle, a bad time', () => {
    for (const body of [
      null,
      { ...good, certificateChain: pem('AAAA') },
      { ...good, certificateChain: 42 },
      { ...good, trustBundle: [] },
      { ...good, trustBundle: pem('CCCC') },
      { ...good, trustBundle: [pem('CCCC') + pem('DDDD')] },
      { ...good, trustBundle: [42] },
      { ...good, notAfter: 'tomorrow' },
      { ...good, notAfter: 0 },
    ]) {
      assert.equal(parseSignResponse(body).ok, false, JSON.stringify(body));
    }
  });
});

describe('errors', () => {
  test('codes are CA_-prefixed UPPER_SNAKE_CASE with 4xx/5xx statuses and one-sentence descriptions', () => {
    for (const [code, e] of Object.entries(CaErrors)) {
      assert.match(code, /^CA_[A-Z0-9]+(?:_[A-Z0-9]+)*$/);
      assert.ok(e.status >= 400 && e.status <= 599, code);
      assert.match(e.description, /^[A-Z].*\.$/, code);
    }
  });

  test('CaError carries code and status; its wire form parses back', () => {
    const error = new CaError('CA_TOKEN_EXPIRED', 'expired at noon');
    assert.equal(error.status, 401);
    assert.equal(error.name, 'CaError');
    assert.equal(new CaError('CA_CSR_SIGNATURE').message, CaErrors.CA_CSR_SIGNATURE.description);
    const body = JSON.parse(JSON.stringify({ error: { code: error.code, message: error.message } }));
    assert.deepEqual(parseSignErrorResponse(body), {
      ok: true,
      value: { error: { code: 'CA_TOKEN_EXPIRED', message: 'expired at noon' } },
    });
    assert.equal(parseSignErrorResponse({ error: { code: 'NOPE', message: '' } }).ok, false);
    assert.equal(parseSignErrorResponse({ error: { code: 'toString', message: '' } }).ok, false);
    assert.equal(parseSignErrorResponse({}).ok, false);
  });
});

describe('splitPemCertificates', () => {
  test('splits, normalises CRLF and ignores text between blocks', () => {
    const crlf = pem('AAAA').replace(/\n/g, '\r\n');
    assert.deepEqual(splitPemCertificates(`subject=x\n${crlf}junk\n${pem('BB\nCC')}`), [
      pem('AAAA'),
      pem('BB\nCC'),
    ]);
    assert.deepEqual(splitPemCertificates('no certificates'), []);
  });
});
