#!/usr/bin/env node
// The `weft` command. Weft needs Node 24 (TypeScript type stripping); the project ships it as the `node`
// devDependency. This shim finds it, adds the V8 flags that keep a proxy small (see STYLE.md: measured
// 20 MB private memory instead of 52 MB), and replaces itself with the real CLI. It is plain JavaScript
// so that any Node can start it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { strippedEntry } from './strip-cache.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'src', 'cli', 'main.ts');
const args = process.argv.slice(2);
// --expose-gc lets the proxy run one full collection when traffic stops (src/proxy/idle-gc.ts).
const PROXY_FLAGS = [
  '--expose-gc',
  '--max-semi-space-size=1',
  '--max-old-space-size=64',
  '--single-threaded',
  '--v8-pool-size=1',
];
const flags = args[0] === 'proxy' ? PROXY_FLAGS : [];
const major = Number(process.versions.node.split('.')[0]);
const bundled = join(root, 'node_modules', 'node', 'bin', 'node');
const node = major >= 24 ? process.execPath : existsSync(bundled) ? bundled : undefined;
if (!node) {
  console.error('weft needs Node 24 or newer. Run `npm install` in the weft checkout to get it.');
  process.exit(1);
}
// The proxy runs from type-stripped JavaScript when it can (strip-cache.js explains the 12 MB it saves).
const entry = (args[0] === 'proxy' && strippedEntry(root, node)) || main;
const argv = [...flags, '--disable-warning=ExperimentalWarning', entry, ...args];
if (typeof process.execve === 'function') {
  process.execve(node, [node, ...argv], process.env);
} else {
  const child = spawn(node, argv, { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}
