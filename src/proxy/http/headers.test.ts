/**
 * Unit tests for header plumbing between downstream and upstream: hop-by-hop fields (RFC 9110 §7.6.1),
 * including fields named in Connection, never cross the proxy; HTTP/2 pseudo-headers are stripped;
 * `te: trailers` survives for gRPC.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { authorityOf, copyRequestHeaders, copyResponseHeaders } from './headers.ts';
import { hasForbiddenChar } from './syntax.ts';

const HOP_BY_HOP = {
  connection: 'keep-alive',
  'keep-alive': 'timeout=5',
  'proxy-connection': 'keep-alive',
  'proxy-authorization': 'Basic eDp5',
  'transfer-encoding': 'chunked',
  upgrade: 'websocket',
  trailer: 'x-checksum',
  expect: '100-continue',
  'http2-settings': 'AAMAAABkAAQAAP__',
};

describe('copyRequestHeaders', () => {
  test('drops every hop-by-hop field and keeps end-to-end ones', () => {
    const out = copyRequestHeaders({
      ...HOP_BY_HOP,
      te: 'gzip',
      accept: 'text/html',
      'x-request-id': 'abc',
      cookie: ['a=1', 'b=2'],
    });
    assert.deepEqual(out, { accept: 'text/html', 'x-request-id': 'abc', cookie: ['a=1', 'b=2'] });
  });

  test('drops host; the caller sets it from the authority', () => {
    assert.deepEqual(copyRequestHeaders({ host: 'svc:80', accept: '*/*' }), { accept: '*/*' });
  });

  test('strips HTTP/2 pseudo-headers', () => {
    const out = copyRequestHeaders({
      ':method': 'GET',
      ':path': '/x',
      ':scheme': 'http',
      ':authority': 'svc',
      'content-type': 'application/json',
    });
    assert.deepEqual(out, { 'content-type': 'application/json' });
  });

  test('drops a field named in Connection', () => {
    const out = copyRequestHeaders({ connection: 'x-conn-state', 'x-conn-state': '1', keep: 'me' });
    assert.deepEqual(out, { keep: 'me' });
  });

  test('drops every field named in a Connection list, whatever the case and spacing', () => {
    const out = copyRequestHeaders({
      connection: 'keep-alive, X-Foo ,x-bar,Upgrade',
      'x-foo': '1',
      'x-bar': '2',
      upgrade: 'h2c',
      'x-baz': '3',
    });
    assert.deepEqual(out, { 'x-baz': '3' });
  });

  test('Connection: close or keep-alive removes nothing else', () => {
    assert.deepEqual(copyRequestHeaders({ connection: 'close', a: '1' }), { a: '1' });
    assert.deepEqual(copyRequestHeaders({ connection: 'keep-alive', a: '1' }), { a: '1' });
  });

  test('keeps te: trailers (gRPC needs it) and drops other te values', () => {
    assert.deepEqual(copyRequestHeaders({ te: 'trailers', 'content-type': 'application/grpc' }), {
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    assert.deepEqual(copyRequestHeaders({ te: 'gzip, deflate' }), {});
  });

  test('keeps te: trailers even when Connection names te (as RFC 9110 §10.1.4 requires of senders)', () => {
    assert.deepEqual(copyRequestHeaders({ connection: 'te, close', te: 'trailers' }), { te: 'trailers' });
  });

  test('does not modify its input', () => {
    const src = { connection: 'x-a', 'x-a': '1', b: '2' };
    copyRequestHeaders(src);
    assert.deepEqual(src, { connection: 'x-a', 'x-a': '1', b: '2' });
  });
});

describe('copyResponseHeaders', () => {
  test('drops hop-by-hop fields and pseudo-headers and keeps the rest', () => {
    const out = copyResponseHeaders({
      ...HOP_BY_HOP,
      te: 'trailers',
      ':status': '200',
      'content-type': 'text/plain',
      'content-length': '5',
      'set-cookie': ['a=1', 'b=2'],
    });
    assert.deepEqual(out, {
      'content-type': 'text/plain',
      'content-length': '5',
      'set-cookie': ['a=1', 'b=2'],
    });
  });

  test('drops fields named in Connection', () => {
    const out = copyResponseHeaders({ connection: 'close, x-hop', 'x-hop': '1', 'x-end': '2' });
    assert.deepEqual(out, { 'x-end': '2' });
  });

  test('keeps gRPC trailers', () => {
    assert.deepEqual(copyResponseHeaders({ 'grpc-status': '0', 'grpc-message': '' }), {
      'grpc-status': '0',
      'grpc-message': '',
    });
  });
});

describe('authorityOf', () => {
  test('prefers :authority, falls back to Host, else empty', () => {
    assert.equal(authorityOf({ ':authority': 'a:80', host: 'b' }), 'a:80');
    assert.equal(authorityOf({ host: 'b:8080' }), 'b:8080');
    assert.equal(authorityOf({}), '');
    assert.equal(authorityOf({ host: ['x', 'y'] }), '');
  });
});

describe('hasForbiddenChar', () => {
  test('finds CR, LF and NUL, and nothing else', () => {
    assert.equal(hasForbiddenChar('a\rb'), true);
    assert.equal(hasForbiddenChar('a\nb'), true);
    assert.equal(hasForbiddenChar('a\0b'), true);
    assert.equal(hasForbiddenChar('plain value; q=0.5, "quoted"\t'), false);
    assert.equal(hasForbiddenChar(''), false);
  });
});
