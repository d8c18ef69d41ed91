/**
 * Builds the SO_ORIGINAL_DST addon (`npm run build:native`): native/original-dst/original-dst.c into
 * native/original-dst/build/original-dst.node, with the system C compiler called directly (no node-gyp: it
 * would try to download Node's headers, and this machine has no network but the package registries).
 *
 * Transparent interception needs the addon; explicit mode does not. So when no compiler or no Node headers
 * are found, this prints what to install and exits 0: the proxy then reports transparent mode as
 * unavailable with the same advice, and its tests skip. A compile error is a real failure (exit 1).
 *
 * Node's headers: N-API is ABI-stable, so the headers of any Node ≥ 12 (the system Node 20's in
 * /usr/include/node, or Debian's libnode-dev) build an addon that loads in Node 24. The build loads the
 * result in this process (the project's Node) to prove it.
 *
 * Usage: node scripts/build-native.ts [--force]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'native/original-dst/original-dst.c');
const output = join(root, 'native/original-dst/build/original-dst.node');
const force = process.argv.includes('--force');

function say(line: string): void {
  process.stdout.write(`build:native: ${line}\n`);
}

function warnAndSkip(line: string): never {
  process.stderr.write(`build:native: warning: ${line}\n`);
  process.stderr.write(
    'build:native: transparent interception will be unavailable; explicit mode still works.\n',
  );
  process.exit(0);
}

/** The first compiler that answers `--version`: $CC, then cc, gcc, clang. */
function findCompiler(): string | undefined {
  const candidates = [process.env.CC, 'cc', 'gcc', 'clang'].filter((c): c is string => Boolean(c));
  for (const cc of candidates) {
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore' });
      return cc;
    } catch {
      // Not installed (ENOENT) or not runnable: try the next one.
    }
  }
  return undefined;
}

/** Directories that may hold node_api.h, most specific first. */
function headerCandidates(): string[] {
  const exec = process.execPath;
  const dirs = [
    process.env.NODE_INCLUDE_DIR,
    // An official Node tarball layout: bin/node next to include/node.
    resolve(dirname(exec), '../include/node'),
    resolve(dirname(realpathSync(exec)), '../include/node'),
    // The `node` npm package keeps the tarball it installed from in node-<platform>-<arch> when it can.
    join(root, `node_modules/node/node_modules/node-${platform()}-${arch()}/include/node`),
    '/usr/local/include/node',
    '/usr/include/node',
  ];
  return [...new Set(dirs.filter((d): d is string => Boolean(d)))];
}

function newerThanSource(): boolean {
  if (!existsSync(output)) return false;
  return statSync(output).mtimeMs >= statSync(source).mtimeMs;
}

/** Loads the addon in this process and calls it on something that is not a socket, which must throw. */
function verify(): void {
  const addon = createRequire(import.meta.url)(output) as { get?: unknown };
  if (typeof addon.get !== 'function') throw new Error(`${output} does not export get()`);
  try {
    (addon.get as (fd: number) => unknown)(0);
  } catch (err) {
    const code = (err as { code?: string }).code;
    // fd 0 is a pipe, a file or a terminal here: getsockname fails with ENOTSOCK. A socket would give ENOENT
    // (undefined) or ENOTCONN; any of those proves the addon runs.
    if (code === 'ENOTSOCK' || code === 'ENOTCONN' || code === 'EBADF') return;
    throw err;
  }
}

if (platform() !== 'linux') {
  say(`skipped: SO_ORIGINAL_DST exists only on Linux (this is ${platform()}).`);
  process.exit(0);
}

if (!force && newerThanSource()) {
  verify();
  say(`up to date: ${output}`);
  process.exit(0);
}

const cc = findCompiler();
if (!cc) {
  warnAndSkip('no C compiler found (tried $CC, cc, gcc, clang). Install one: `apt-get install gcc`.');
}

const include = headerCandidates().find((dir) => existsSync(join(dir, 'node_api.h')));
if (!include) {
  warnAndSkip(
    `Node's headers (node_api.h) not found in ${headerCandidates().join(', ')}. ` +
      'Install them: `apt-get install libnode-dev` (any Node version will do: N-API is ABI-stable), ' +
      'or set NODE_INCLUDE_DIR to a folder that holds node_api.h.',
  );
}

mkdirSync(dirname(output), { recursive: true });
// Compile to a temporary name and rename, so a running process never loads a half-written file.
const temporary = `${output}.${process.pid}.tmp`;
const args = ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', `-I${include}`, '-o', temporary, source];
say(`${cc} ${args.join(' ')}`);
try {
  execFileSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(temporary, output);
} catch (err) {
  rmSync(temporary, { force: true });
  process.stderr.write(`build:native: compiling ${source} failed: ${(err as Error).message}\n`);
  process.exit(1);
}
verify();
say(`built ${output} (headers from ${include}; loads in Node ${process.version})`);
