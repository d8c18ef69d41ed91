/**
 * Runs `weft proxy` as a real child process (through bin/weft.js, as users do) with a config file in a
 * temporary directory. Used where the process boundary matters: file watching, signals, exit codes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ProxyConfigInput } from '../../src/api/index.ts';

const BIN = new URL('../../bin/weft.js', import.meta.url).pathname;

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface ChildProxy {
  child: ChildProcess;
  file: string;
  adminPort: number;
  output(): string;
  /** Atomically replaces the config file (write + rename), as editors and config managers do. */
  write(config: ProxyConfigInput | string): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
  cleanup(): void;
}

export async function spawnProxy(config: ProxyConfigInput, args: string[] = []): Promise<ChildProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-test-'));
  const file = join(dir, 'proxy.yaml');
  const adminPort = config.admin?.port ?? (await freePort());
  const full: ProxyConfigInput = { ...config, admin: { address: '127.0.0.1', port: adminPort } };
  let n = 0;
  const write = (c: ProxyConfigInput | string) => {
    const tmp = join(dir, `.proxy.${n++}.tmp`);
    writeFileSync(
      tmp,
      typeof c === 'string' ? c : stringify({ ...c, admin: full.admin }, { version: '1.1' }),
    );
    renameSync(tmp, file);
  };
  write(full);
  const child = spawn(process.execPath, [BIN, 'proxy', '--config', file, '--log-level', 'info', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const proxy: ChildProxy = {
    child,
    file,
    adminPort,
    output: () => out,
    write,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
    },
    cleanup: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const r = await fetch(`http://127.0.0.1:${adminPort}/ready`);
      if (r.status === 200) return proxy;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  proxy.cleanup();
  throw new Error(`proxy did not become ready:\n${out}`);
}

export async function adminJson<T>(adminPort: number, path: string): Promise<T> {
  const r = await fetch(`http://127.0.0.1:${adminPort}${path}`);
  return (await r.json()) as T;
}
