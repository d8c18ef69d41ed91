/**
 * Unit tests for protocol classification on the first bytes of a connection: HTTP/1 methods, the HTTP/2
 * prior-knowledge preface (whole and partial), TLS handshakes, and everything else as opaque TCP.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classify } from './detect.ts';

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('classify', () => {
  test('no bytes yet: more', () => {
    assert.equal(classify(Buffer.alloc(0)), 'more');
  });

  describe('HTTP/1', () => {
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']) {
      test(`${method} request line`, () => {
        assert.equal(classify(bytes(`${method} / HTTP/1.1\r\nhost: x\r\n\r\n`)), 'http1');
      });
    }

    test('extension methods with a dash (WebDAV, custom)', () => {
      assert.equal(classify(bytes('PROPFIND /dav HTTP/1.1\r\n')), 'http1');
      assert.equal(classify(bytes('VERSION-CONTROL /x HTTP/1.1\r\n')), 'http1');
    });

    test('a method and its space are enough', () => {
      assert.equal(classify(bytes('GET ')), 'http1');
    });

    test('a partial method: more', () => {
      assert.equal(classify(bytes('G')), 'more');
      assert.equal(classify(bytes('GE')), 'more');
      assert.equal(classify(bytes('GET')), 'more');
      assert.equal(classify(bytes('OPTIONS')), 'more');
    });

    test('POST is not mistaken for the HTTP/2 preface, which also starts with P', () => {
      assert.equal(classify(bytes('P')), 'more');
      assert.equal(classify(bytes('PO')), 'more');
      assert.equal(classify(bytes('POST /submit HTTP/1.1\r\n')), 'http1');
      assert.equal(classify(bytes('PUT /x HTTP/1.1\r\n')), 'http1');
      assert.equal(classify(bytes('PATCH /x HTTP/1.1\r\n')), 'http1');
    });

    test('a method of 24 characters is accepted, a longer token is not', () => {
      assert.equal(classify(bytes(`${'A'.repeat(24)} / HTTP/1.1`)), 'http1');
      assert.equal(classify(bytes(`${'A'.repeat(25)} / HTTP/1.1`)), 'tcp');
      assert.equal(classify(bytes('A'.repeat(24))), 'more');
    });
  });

  describe('HTTP/2 prior knowledge', () => {
    test('the whole preface', () => {
      assert.equal(classify(bytes(PREFACE)), 'http2');
    });

    test('the preface followed by a SETTINGS frame', () => {
      const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
      assert.equal(classify(Buffer.concat([bytes(PREFACE), settings])), 'http2');
    });

    test('every strict prefix of the preface: more', () => {
      for (let n = 1; n < PREFACE.length; n++) {
        assert.equal(classify(bytes(PREFACE.slice(0, n))), 'more', `first ${n} bytes`);
      }
    });

    test('a preface that goes wrong after "PRI " is not HTTP/2', () => {
      // "PRI" is also a valid method token, so a mismatch after the space reads as HTTP/1.
      assert.equal(classify(bytes('PRI * HTTP/1.1\r\n\r\n')), 'http1');
      assert.equal(classify(bytes('PRIX')), 'more');
    });
  });

  describe('TLS', () => {
    test('a handshake record (0x16 0x03)', () => {
      // A ClientHello record header: handshake, TLS 1.0 record version, length.
      assert.equal(classify(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])), 'tls');
      assert.equal(classify(Buffer.from([0x16, 0x03])), 'tls');
    });

    test('the first byte alone: more', () => {
      assert.equal(classify(Buffer.from([0x16])), 'more');
    });

    test('0x16 not followed by a TLS version: tcp', () => {
      assert.equal(classify(Buffer.from([0x16, 0x00])), 'tcp');
    });
  });

  describe('anything else is opaque TCP', () => {
    const cases: Array<[string, Buffer]> = [
      ['lower-case method', bytes('get / HTTP/1.1\r\n')],
      ['leading space', bytes(' GET / HTTP/1.1\r\n')],
      ['binary', Buffer.from([0x00, 0x01, 0x02, 0xff])],
      ['a MySQL-style packet', Buffer.from([0x0a, 0x00, 0x00, 0x00, 0x0a, 0x35])],
      ['a Redis command', bytes('*1\r\n$4\r\nPING\r\n')],
      ['a digit', bytes('1 / HTTP/1.1')],
      ['a method followed by a tab', bytes('GET\t/')],
      ['a method followed by CRLF', bytes('GET\r\n')],
      ['SSH banner', bytes('SSH-2.0-OpenSSH_9.6\r\n')],
    ];
    for (const [name, buf] of cases) {
      test(name, () => {
        assert.equal(classify(buf), 'tcp');
      });
    }
  });
});
