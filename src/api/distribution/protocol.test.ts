import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLineReader } from './line-reader.ts';
import { encodeMessage, type ProxyMessage, parseControlMessage, parseProxyMessage } from './protocol.ts';
import { canonicalJson, contentVersion } from './version.ts';

describe('protocol messages', () => {
  test('proxy messages round-trip through a line', () => {
    for (const m of [
      { type: 'hello', node: 'ns/a-1', version: '' },
      { type: 'ack', version: 'abc' },
      { type: 'nack', version: 'abc', issues: [{ code: 'CONFIG_SCHEMA', path: 'x', message: 'bad' }] },
    ] satisfies ProxyMessage[]) {
      const line = encodeMessage(m);
      assert.ok(line.endsWith('\n'));
      assert.deepEqual(parseProxyMessage(line.trimEnd()), { ok: true, message: m });
    }
  });

  test('a config message round-trips; extra fields are dropped', () => {
    const r = parseControlMessage('{"type":"config","version":"v1","config":{"a":1},"extra":true}');
    assert.deepEqual(r, { ok: true, message: { type: 'config', version: 'v1', config: { a: 1 } } });
  });

  test('bad lines are errors, not throws', () => {
    for (const line of [
      'not json',
      '[]',
      '42',
      'null',
      '{"type":"hello","node":"","version":""}',
      '{"type":"hello","node":"a"}',
      '{"type":"ack"}',
      '{"type":"nack","version":"v","issues":"x"}',
      '{"type":"bogus"}',
    ]) {
      const r = parseProxyMessage(line);
      assert.equal(r.ok, false, line);
    }
    for (const line of [
      '{}',
      '{"type":"config","version":""}',
      '{"type":"config","version":"v"}',
      '{"type":"ack","version":"v"}',
    ])
      assert.equal(parseControlMessage(line).ok, false, line);
  });
});

describe('createLineReader', () => {
  const collect = (max = 1024) => {
    const lines: string[] = [];
    const errors: string[] = [];
    const reader = createLineReader({
      maxLineBytes: max,
      onLine: (l) => lines.push(l),
      onError: (e) => errors.push(e.message),
    });
    return { reader, lines, errors };
  };

  test('splits lines across and within chunks, drops CR and blank lines', () => {
    const { reader, lines } = collect();
    reader.push(Buffer.from('{"a":1}\n{"b"'));
    reader.push(Buffer.from(':2}\r\n\n'));
    reader.push(Buffer.from('{"c":'));
    reader.push(Buffer.from('3}'));
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
    assert.equal(reader.pending, 5 + 2);
    reader.push(Buffer.from('\n'));
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
    assert.equal(reader.pending, 0);
  });

  test('a multi-byte character split between chunks is decoded whole', () => {
    const { reader, lines } = collect();
    const bytes = Buffer.from('"héllo ✓"\n');
    for (const b of bytes) reader.push(Buffer.from([b]));
    assert.deepEqual(lines, ['"héllo ✓"']);
  });

  test('a line over the limit is one error, then nothing more is read', () => {
    const { reader, lines, errors } = collect(10);
    reader.push(Buffer.from('0123456789\n'));
    reader.push(Buffer.from('0123456'));
    reader.push(Buffer.from('789ab'));
    reader.push(Buffer.from('\nok\n'));
    assert.deepEqual(lines, ['0123456789']);
    assert.equal(errors.length, 1);
    assert.match(errors[0] as string, /exceeds 10 bytes/);
  });

  test('a complete line over the limit in one chunk is an error too', () => {
    const { reader, lines, errors } = collect(4);
    reader.push(Buffer.from('12345\n'));
    assert.deepEqual(lines, []);
    assert.equal(errors.length, 1);
  });

  test('stop() drops the rest of the chunk', () => {
    const lines: string[] = [];
    const reader = createLineReader({
      maxLineBytes: 100,
      onLine: (l) => {
        lines.push(l);
        reader.stop();
      },
      onError: () => assert.fail('no error expected'),
    });
    reader.push(Buffer.from('a\nb\nc\n'));
    assert.deepEqual(lines, ['a']);
  });
});

describe('contentVersion', () => {
  test('ignores key order at every level, and is 16 hex characters', () => {
    const a = { b: 1, a: { y: [1, { q: 1, p: 2 }], x: 's' } };
    const b = { a: { x: 's', y: [1, { p: 2, q: 1 }] }, b: 1 };
    assert.equal(contentVersion(a), contentVersion(b));
    assert.match(contentVersion(a), /^[0-9a-f]{16}$/);
    assert.notEqual(contentVersion(a), contentVersion({ ...a, b: 2 }));
  });

  test('canonicalJson matches JSON.stringify on sorted data', () => {
    const v = {
      a: [1, 'two', null, true, undefined, () => 1],
      b: undefined,
      c: { z: 1e21, y: -0, x: Number.NaN, w: 'quote " and \n newline', v: new Date(0) },
    };
    const sortKeys = (x: unknown): unknown =>
      Array.isArray(x)
        ? x.map(sortKeys)
        : x !== null && typeof x === 'object'
          ? Object.fromEntries(
              Object.keys(x)
                .sort()
                .map((k) => [k, sortKeys((x as Record<string, unknown>)[k])]),
            )
          : x;
    assert.equal(canonicalJson(v), JSON.stringify(sortKeys(JSON.parse(JSON.stringify(v)))));
    assert.equal(canonicalJson({ b: 1, a: 2 }), '{"a":2,"b":1}');
    assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
    assert.equal(canonicalJson({ a: 1, b: undefined }), '{"a":1}');
    assert.equal(canonicalJson({}), '{}');
  });

  test('cycles and BigInts throw a TypeError', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => canonicalJson(cyclic), TypeError);
    assert.throws(() => canonicalJson({ n: 1n }), TypeError);
    // A shared (not cyclic) object is fine, with or without a memo.
    const memo = new WeakMap<object, string>();
    const big = { services: [{ name: 'a', port: 1 }], labels: { z: '1', a: '2' } };
    assert.equal(canonicalJson({ x: big, y: [big] }, memo), canonicalJson({ x: big, y: [big] }));
    assert.equal(memo.get(big), '{"labels":{"a":"2","z":"1"},"services":[{"name":"a","port":1}]}');
    const shared = { x: 1 };
    assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}');
  });
});
