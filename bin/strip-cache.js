// A transparent compile cache for the proxy. Node runs our TypeScript by stripping types at load time,
// but the stripper (a WebAssembly module) stays in memory: measured +12 MB of private memory in every
// proxy process, a third of its footprint. So `weft proxy` runs from a copy of src/ with types already
// stripped (same line and column numbers), made on first use by a separate short-lived process and keyed
// by the sources' sizes and mtimes, so an edited file is picked up on the next start. There is no build
// step to remember: if the cache cannot be written, the proxy simply runs from src/.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

function listSources(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listSources(p));
    else if ((e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) || e.name.endsWith('.json'))
      out.push(p);
  }
  return out.sort();
}

/** Returns the stripped entry for `src/cli/main.ts`, or undefined to run from src/. */
export function strippedEntry(root, node) {
  if (process.env.WEFT_NO_STRIP_CACHE) return undefined;
  try {
    const src = join(root, 'src');
    const files = listSources(src);
    const hash = createHash('sha256').update(process.versions.node);
    for (const f of files) {
      const st = statSync(f);
      hash.update(`${relative(src, f)}\0${st.size}\0${st.mtimeMs}\0`);
    }
    hash.update(String(statSync(join(root, 'package.json')).mtimeMs));
    const key = hash.digest('hex').slice(0, 16);
    const base = join(root, 'node_modules', '.cache', 'weft-js');
    const dir = join(base, key);
    const entry = join(dir, 'src', 'cli', 'main.js');
    if (existsSync(join(dir, '.complete'))) return entry;
    mkdirSync(base, { recursive: true });
    const tmp = `${dir}.${process.pid}.tmp`;
    const r = spawnSync(
      node,
      ['--disable-warning=ExperimentalWarning', join(root, 'bin', 'strip.js'), root, tmp],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    if (r.status !== 0) return undefined;
    writeFileSync(join(tmp, '.complete'), '');
    try {
      renameSync(tmp, dir);
    } catch {
      // Another process built the same key first; use theirs.
      rmSync(tmp, { recursive: true, force: true });
    }
    // Old keys are removed so the cache does not grow with every edit.
    for (const name of readdirSync(base))
      if (name !== key && !name.endsWith('.tmp')) rmSync(join(base, name), { recursive: true, force: true });
    return existsSync(join(dir, '.complete')) ? entry : undefined;
  } catch {
    return undefined;
  }
}
