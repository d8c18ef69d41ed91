import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backoffDelay, DEFAULT_BACKOFF } from './backoff.ts';
import { parseControlTarget } from './target.ts';

describe('backoffDelay', () => {
  test('full jitter: a uniform draw between 0 and an exponential ceiling capped at 5 s', () => {
    const ceilings = Array.from({ length: 8 }, (_, n) => backoffDelay(n, () => 0.999999));
    assert.deepEqual(ceilings, [199, 399, 799, 1599, 3199, 4999, 4999, 4999]);
    assert.equal(
      backoffDelay(3, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(2, () => 0.5),
      400,
    );
    assert.equal(
      backoffDelay(1000, () => 0.5),
      2500,
      'a large attempt number does not overflow',
    );
    assert.deepEqual(DEFAULT_BACKOFF, { baseMs: 200, capMs: 5000, stableMs: 10_000 });
  });
});

describe('parseControlTarget', () => {
  test('unix sockets and h2c URLs', () => {
    assert.deepEqual(parseControlTarget('unix:/run/weft/control.sock'), {
      kind: 'unix',
      path: '/run/weft/control.sock',
      authority: 'http://localhost',
    });
    assert.deepEqual(parseControlTarget('http://127.0.0.1:1234'), {
      kind: 'tcp',
      host: '127.0.0.1',
      port: 1234,
      authority: 'http://127.0.0.1:1234',
    });
    assert.deepEqual(parseControlTarget('http://[::1]:99'), {
      kind: 'tcp',
      host: '::1',
      port: 99,
      authority: 'http://[::1]:99',
    });
  });

  test('anything else is refused with the accepted forms', () => {
    for (const bad of ['unix:', 'https://cp:443', 'cp:1234', 'http://cp:1/path', 'nonsense'])
      assert.throws(() => parseControlTarget(bad), /control plane target/, bad);
  });
});

/**
 * The client runs in every proxy process, which loads no zod, commander, yaml or undici (docs/design/002):
 * everything it imports, transitively, must be node: built-ins or our own files free of those, and the
 * zod schema may only be imported for its types.
 */
describe('what the control client loads', () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const IMPORT = /^[ \t]*(import|export)(\s+type)?\b[^;]*?\bfrom\s*(['"])([^'"\n]+)\3/gm;

  test('only node: built-ins and zod-free files of src/api, src/core and the client', () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const queue = ['src/proxy/control-client/index.ts'];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const source = readFileSync(path.join(root, file), 'utf8');
      for (const m of source.matchAll(IMPORT)) {
        const typeOnly = m[2] !== undefined;
        const spec = m[4] as string;
        if (typeOnly) continue;
        if (spec.startsWith('.')) {
          const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
          if (target.endsWith('.ts')) queue.push(target);
        } else packages.add(spec);
      }
    }
    assert.deepEqual(
      [...packages].filter((p) => !p.startsWith('node:')),
      [],
      'only node: built-ins',
    );
    const outside = [...seen].filter(
      (f) =>
        !f.startsWith('src/api/') && !f.startsWith('src/core/') && !f.startsWith('src/proxy/control-client/'),
    );
    assert.deepEqual(outside, []);
    assert.ok(!seen.has('src/api/proxy-config/schema.ts'), 'the zod schema is not loaded');
    assert.ok(seen.has('src/api/distribution/protocol.ts'), 'the scan followed the imports');
  });
});
