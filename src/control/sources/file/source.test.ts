/**
 * The file source on a real temporary directory: which files it reads and in what order, missing paths
 * reported as documents with issues, and a change to any file (edited, added, removed) emitting a reset
 * with everything the paths hold now.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../../core/index.ts';
import type { SourcedDocument } from '../types.ts';
import { createFileSource, listResourceFiles, readDocuments } from './source.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const service = (name: string, port = 80) =>
  `apiVersion: v1\nkind: Service\nmetadata: { name: ${name} }\nspec: { ports: [{ port: ${port} }] }\n`;

const names = (docs: readonly SourcedDocument[]) =>
  docs.map((d) => (d.doc as { metadata?: { name?: string } } | undefined)?.metadata?.name ?? d.id);

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-file-source-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('listResourceFiles and readDocuments', () => {
  test('a directory is read recursively, sorted at each level; other and hidden files are skipped', () => {
    const root = path.join(dir, 'tree');
    const files: Record<string, string> = {
      'b.yaml': service('b'),
      'a/z.yml': service('az'),
      'a/nested/deep.json':
        '{"apiVersion":"v1","kind":"Service","metadata":{"name":"deep"},"spec":{"ports":[{"port":1}]}}',
      'c.YAML': service('c'),
      'README.md': '# not a resource',
      '.hidden.yaml': service('hidden'),
      '.git/config.yaml': service('git'),
      'notes.txt': service('txt'),
    };
    for (const [f, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), text);
    }
    const rel = (list: string[]) => list.map((f) => path.relative(root, f));
    assert.deepEqual(rel(listResourceFiles([root]).files), [
      'a/nested/deep.json',
      'a/z.yml',
      'b.yaml',
      'c.YAML',
    ]);
    // A file named explicitly is read whatever its extension.
    assert.deepEqual(rel(listResourceFiles([path.join(root, 'notes.txt'), root]).files), [
      'notes.txt',
      'a/nested/deep.json',
      'a/z.yml',
      'b.yaml',
      'c.YAML',
    ]);
    assert.deepEqual(names(readDocuments([root])), ['deep', 'az', 'b', 'c']);
  });

  test('a missing path is a document with a CONFIG_PARSE issue, not an exception', () => {
    const missing = path.join(dir, 'nope.yaml');
    const docs = readDocuments([missing]);
    assert.deepEqual(
      docs.map((d) => [d.id, d.doc, d.parseIssues]),
      [
        [
          `${missing}#missing`,
          undefined,
          [{ code: 'CONFIG_PARSE', path: '', message: `no such file or directory: ${missing}` }],
        ],
      ],
    );
  });
});

describe('createFileSource', () => {
  test('start emits a reset; an edit, a new file in a subfolder and a removal each emit a new one', async () => {
    const root = path.join(dir, 'watched');
    fs.mkdirSync(path.join(root, 'routes'), { recursive: true });
    fs.writeFileSync(path.join(root, 'one.yaml'), service('one'));
    const resets: SourcedDocument[][] = [];
    const source = createFileSource({
      paths: [root],
      logger: silentLogger,
      debounceMs: 5,
      pollMs: 25,
      name: 'files',
    });
    assert.equal(source.name, 'files');
    await source.start({
      reset: (docs) => resets.push(docs),
      apply: () => assert.fail('the file source only resets'),
      delete: () => assert.fail('the file source only resets'),
    });
    try {
      assert.deepEqual(resets.map(names), [['one']]);
      const last = () => names(resets.at(-1) ?? []);

      fs.writeFileSync(path.join(root, 'one.yaml'), `${service('one', 8080)}---\n${service('two')}`);
      await waitFor('the edit', () => last().join() === 'one,two');
      const first = resets.at(-1)?.[0]?.doc as { spec?: unknown } | undefined;
      assert.deepEqual(first?.spec, { ports: [{ port: 8080 }] });

      fs.writeFileSync(path.join(root, 'routes', 'three.yaml'), service('three'));
      await waitFor('the new file', () => last().join() === 'one,two,three');

      fs.rmSync(path.join(root, 'one.yaml'));
      await waitFor('the removal', () => last().join() === 'three');
    } finally {
      source.stop();
    }
    // Stopped: nothing more.
    const count = resets.length;
    fs.writeFileSync(path.join(root, 'four.yaml'), service('four'));
    await sleep(100);
    assert.equal(resets.length, count);
  });

  test('when the folder cannot be watched, it says so and the poll picks the changes up', async (t) => {
    const file = path.join(dir, 'single.yaml');
    fs.writeFileSync(file, service('v1'));
    // As on a system out of inotify watches.
    t.mock.method(fs, 'watch', () => {
      throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), {
        code: 'ENOSPC',
      });
    });
    const warnings: Array<[string, unknown]> = [];
    const logger = { ...silentLogger, warn: (msg: string, fields?: unknown) => warnings.push([msg, fields]) };
    const resets: SourcedDocument[][] = [];
    const source = createFileSource({ paths: [file], logger, debounceMs: 5, pollMs: 20 });
    await source.start({ reset: (d) => resets.push(d), apply() {}, delete() {} });
    try {
      assert.deepEqual(warnings, [
        [
          'cannot watch; changes are picked up by polling',
          { dir, error: 'ENOSPC: System limit for number of file watchers reached' },
        ],
      ]);
      fs.writeFileSync(file, `${service('v2')}# longer, so the size changes even within one mtime tick\n`);
      await waitFor('the edit', () => names(resets.at(-1) ?? []).join() === 'v2');
      assert.equal(resets.length, 2);
    } finally {
      source.stop();
    }
  });
});
