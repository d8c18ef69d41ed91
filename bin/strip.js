// Writes a type-stripped copy of src/ (and package.json) to a directory: see strip-cache.js for why.
// Usage: node bin/strip.js <root> <out>. Needs Node 24 (module.stripTypeScriptTypes).
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, relative } from 'node:path';

const [root, out] = process.argv.slice(2);
const src = join(root, 'src');
const RELATIVE_TS = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g;

function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
      const code = stripTypeScriptTypes(readFileSync(p, 'utf8'), { mode: 'strip' }).replace(
        RELATIVE_TS,
        '$1$2$3.js$2',
      );
      const target = join(out, 'src', relative(src, p)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, code);
    } else if (e.name.endsWith('.json')) {
      const target = join(out, 'src', relative(src, p));
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(p, target);
    }
  }
}
walk(src);
copyFileSync(join(root, 'package.json'), join(out, 'package.json'));
