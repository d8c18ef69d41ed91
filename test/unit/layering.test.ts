/**
 * Keeps the layering in STYLE.md true: `core` imports nothing of ours, `api` only `core`, `proxy` and
 * `control` never each other, and filters never import one another. Every import specifier of every .ts
 * file under src/ is scanned (static, type-only, side-effect, re-export and dynamic imports). The checker
 * is also run on synthetic import lists, so a checker that silently passes everything fails here too.
 *
 * The scan reads import statements with regular expressions anchored at the start of a line, which is
 * where Biome's formatting puts them; imports that only appear inside comments or strings are ignored.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** One import: the importing file and the specifier as written, both relative to the repository root. */
interface ImportEdge {
  file: string;
  specifier: string;
}

interface Violation extends ImportEdge {
  target: string;
  rule: string;
}

const STATIC_FROM = /^[ \t]*(?:import|export)\b[^;]*?\bfrom\s*(['"])([^'"\n]+)\1/gm;
const SIDE_EFFECT = /^[ \t]*import\s*(['"])([^'"\n]+)\1/gm;
const DYNAMIC = /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/** Every module specifier a source file imports or re-exports, in order of appearance per kind. */
function extractSpecifiers(source: string): string[] {
  const out: string[] = [];
  for (const re of [STATIC_FROM, SIDE_EFFECT, DYNAMIC]) {
    for (const m of source.matchAll(re)) out.push(m[2] as string);
  }
  return out;
}

/** The repository-relative path a relative specifier points at; undefined for packages and builtins. */
function resolveTarget(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined;
  return path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
}

const within = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

/** The filter folder a path lies in (src/proxy/filters/<name>/...), if any. */
function filterFolder(p: string): string | undefined {
  const m = /^src\/proxy\/filters\/([^/]+)\/./.exec(p);
  return m?.[1];
}

function checkLayering(edges: readonly ImportEdge[]): Violation[] {
  const violations: Violation[] = [];
  for (const edge of edges) {
    const target = resolveTarget(edge.file, edge.specifier);
    if (target === undefined) continue;
    const add = (rule: string) => violations.push({ ...edge, target, rule });
    const from = edge.file;

    if (within(from, 'src/proxy') && within(target, 'src/control')) add('proxy must not import control');
    if (within(from, 'src/control') && within(target, 'src/proxy')) add('control must not import proxy');
    if (within(from, 'src/core') && !within(target, 'src/core')) add('core imports nothing of ours');
    if (within(from, 'src/api') && !within(target, 'src/api') && !within(target, 'src/core'))
      add('api imports only core');
    // The local runtime talks to the control plane over HTTP and files (src/api/runtime is the contract).
    if (within(from, 'src/runtime') && (within(target, 'src/control') || within(target, 'src/proxy')))
      add('runtime reaches control and proxy only through src/api');

    const own = filterFolder(from);
    if (own !== undefined) {
      const other = filterFolder(target);
      if (other !== undefined && other !== own) add('filters never import each other');
      // The registry imports every filter, so importing it is importing the others by another route.
      if (target === 'src/proxy/filters/index.ts') add('filters never import each other');
    }
  }
  return violations;
}

function listTsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...listTsFiles(full));
    } else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

function scanSrc(): { files: string[]; edges: ImportEdge[] } {
  const files = listTsFiles(path.join(ROOT, 'src')).map((f) =>
    path.relative(ROOT, f).split(path.sep).join('/'),
  );
  const edges: ImportEdge[] = [];
  for (const file of files) {
    for (const specifier of extractSpecifiers(readFileSync(path.join(ROOT, file), 'utf8'))) {
      edges.push({ file, specifier });
    }
  }
  return { files, edges };
}

describe('layering of src/', () => {
  const { files, edges } = scanSrc();

  test('the scan sees the source tree and its imports', () => {
    assert.ok(files.length >= 20, `only ${files.length} files found under src/`);
    assert.ok(
      files.some((f) => f === 'src/core/errors.ts'),
      'src/core/errors.ts not found',
    );
    // A known edge: the proxy's request path imports core.
    assert.ok(
      edges.some(
        (e) =>
          e.file === 'src/proxy/http/respond.ts' &&
          resolveTarget(e.file, e.specifier) === 'src/core/index.ts',
      ),
      'the edge src/proxy/http/respond.ts -> src/core/index.ts was not found',
    );
  });

  test('every relative import points at a file that exists', () => {
    const known = new Set(files);
    const missing = edges.flatMap((e) => {
      const t = resolveTarget(e.file, e.specifier);
      return t?.endsWith('.ts') && within(t, 'src') && !known.has(t) ? [`${e.file}: ${e.specifier}`] : [];
    });
    assert.deepEqual(missing, []);
  });

  test('no import crosses a layer boundary', () => {
    const violations = checkLayering(edges).map((v) => `${v.file} imports ${v.specifier} (${v.rule})`);
    assert.deepEqual(violations, []);
  });
});

describe('checkLayering (proves the checker can fail)', () => {
  const rulesFor = (file: string, specifier: string) =>
    checkLayering([{ file, specifier }]).map((v) => v.rule);

  test('proxy importing control, and control importing proxy', () => {
    assert.deepEqual(rulesFor('src/proxy/http/handle.ts', '../../control/index/index.ts'), [
      'proxy must not import control',
    ]);
    assert.deepEqual(rulesFor('src/control/sources/file/watch.ts', '../../../proxy/index.ts'), [
      'control must not import proxy',
    ]);
  });

  test('runtime importing control or proxy', () => {
    const rule = 'runtime reaches control and proxy only through src/api';
    assert.deepEqual(rulesFor('src/runtime/local/supervisor.ts', '../../control/index/index.ts'), [rule]);
    assert.deepEqual(rulesFor('src/runtime/local/instance.ts', '../../proxy/proxy.ts'), [rule]);
    assert.deepEqual(rulesFor('src/runtime/local/instance.ts', '../../api/runtime/types.ts'), []);
  });

  test('core importing anything of ours outside core', () => {
    assert.deepEqual(rulesFor('src/core/errors.ts', '../api/index.ts'), ['core imports nothing of ours']);
    assert.deepEqual(rulesFor('src/core/errors.ts', '../../test/support/http.ts'), [
      'core imports nothing of ours',
    ]);
    assert.deepEqual(rulesFor('src/core/index.ts', './duration.ts'), []);
    assert.deepEqual(rulesFor('src/core/duration.ts', 'node:util'), []);
  });

  test('api importing anything of ours except core and itself', () => {
    assert.deepEqual(rulesFor('src/api/proxy-config/schema.ts', '../../proxy/index.ts'), [
      'api imports only core',
    ]);
    assert.deepEqual(rulesFor('src/api/index.ts', '../control/index.ts'), ['api imports only core']);
    assert.deepEqual(rulesFor('src/api/index.ts', '../cli/main.ts'), ['api imports only core']);
    assert.deepEqual(rulesFor('src/api/proxy-config/schema.ts', '../../core/duration.ts'), []);
    assert.deepEqual(rulesFor('src/api/proxy-config/index.ts', './schema.ts'), []);
    assert.deepEqual(rulesFor('src/api/index.ts', './proxy-config/index.ts'), []);
    assert.deepEqual(rulesFor('src/api/proxy-config/schema.ts', 'zod'), []);
  });

  test('a filter importing another filter folder or the registry', () => {
    assert.deepEqual(rulesFor('src/proxy/filters/url-rewrite/index.ts', '../header-modifier/index.ts'), [
      'filters never import each other',
    ]);
    assert.deepEqual(rulesFor('src/proxy/filters/url-rewrite/index.ts', '../index.ts'), [
      'filters never import each other',
    ]);
    // Shared filter types, its own folder, and anything outside filters/ are fine.
    assert.deepEqual(rulesFor('src/proxy/filters/url-rewrite/index.ts', '../types.ts'), []);
    assert.deepEqual(rulesFor('src/proxy/filters/url-rewrite/index.ts', './helpers.ts'), []);
    assert.deepEqual(rulesFor('src/proxy/filters/url-rewrite/index.ts', '../../router/index.ts'), []);
    // The registry itself composes the filters.
    assert.deepEqual(rulesFor('src/proxy/filters/index.ts', './header-modifier/index.ts'), []);
  });

  test('allowed edges between other layers', () => {
    assert.deepEqual(rulesFor('src/proxy/http/handle.ts', '../../api/index.ts'), []);
    assert.deepEqual(rulesFor('src/control/index/index.ts', '../../core/index.ts'), []);
    assert.deepEqual(rulesFor('src/cli/start.ts', '../proxy/index.ts'), []);
  });

  test('an edge list with one bad import among good ones yields exactly that violation', () => {
    const violations = checkLayering([
      { file: 'src/proxy/proxy.ts', specifier: '../core/index.ts' },
      { file: 'src/proxy/proxy.ts', specifier: '../control/api/server.ts' },
      { file: 'src/proxy/proxy.ts', specifier: 'undici' },
    ]);
    assert.deepEqual(violations, [
      {
        file: 'src/proxy/proxy.ts',
        specifier: '../control/api/server.ts',
        target: 'src/control/api/server.ts',
        rule: 'proxy must not import control',
      },
    ]);
  });
});

describe('extractSpecifiers', () => {
  test('finds every kind of import and re-export', () => {
    const source = [
      "import a from './a.ts';",
      "import type { B } from '../b.ts';",
      'import {',
      '  c,',
      '  type D,',
      "} from './c.ts';",
      "import * as e from 'node:events';",
      "import './side-effect.ts';",
      "export * from './f.ts';",
      "export { g } from './g.ts';",
      "export type { H } from './h.ts';",
      'async function load() {',
      "  return import('./dynamic.ts');",
      '}',
      'const s = \'not an import from "./x.ts"\';',
      "// import hidden from './commented.ts';",
      '/*',
      " * import hidden from './block-commented.ts';",
      ' */',
    ].join('\n');
    assert.deepEqual(extractSpecifiers(source).sort(), [
      '../b.ts',
      './a.ts',
      './c.ts',
      './dynamic.ts',
      './f.ts',
      './g.ts',
      './h.ts',
      './side-effect.ts',
      'node:events',
    ]);
  });

  test('resolveTarget resolves relative specifiers and ignores packages', () => {
    assert.equal(resolveTarget('src/proxy/http/handle.ts', '../../core/index.ts'), 'src/core/index.ts');
    assert.equal(resolveTarget('src/proxy/http/handle.ts', './headers.ts'), 'src/proxy/http/headers.ts');
    assert.equal(resolveTarget('src/proxy/http/handle.ts', 'undici'), undefined);
    assert.equal(resolveTarget('src/proxy/http/handle.ts', 'node:http'), undefined);
  });
});
