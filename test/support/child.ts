/**
 * Runs `weft proxy` as a real child process (through bin/weft.js, as users do) with a config file in a
 * temporary directory. Used where the process boundary matters: file watching, signals, exit codes. Also
 * what any test's child process needs: its output collected, its exit awaited.
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

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Collects a child's stdout and stderr into one string, in the order they arrive, and resolves `exited`
 * when it ends. The child must be spawned with both piped.
 */
export function collectOutput(child: ChildProcess): { output(): string; exited: Promise<ChildExit> } {
  let out = '';
  const append = (c: Buffer) => {
    out += c.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<ChildExit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { output: () => out, exited };
}

export interface ChildProxy {
  child: ChildProcess;
  file: string;
  adminPort: number;
  /** The bound port of a service's listener (listeners on port 0 get theirs from the OS). */
  port(service: string): number;
  output(): string;
  /** Atomically replaces the config file (write + rename), as editors and config managers do. */
  write(config: ProxyConfigInput | string): void;
  exited: Promise<ChildExit>;
  kill(signal?: NodeJS.Signals): void;
  cleanup(): void;
}

/**
 * Every port is 0 unless the config says otherwise: the OS picks, so tests running side by side never
 * race for a port. The bound ports are read from the proxy's "proxy started" log line.
 */
export async function spawnProxy(config: ProxyConfigInput, args: string[] = []): Promise<ChildProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-test-'));
  const file = join(dir, 'proxy.yaml');
  const full: ProxyConfigInput = {
    ...config,
    admin: { address: '127.0.0.1', port: config.admin?.port ?? 0 },
  };
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
  const { output, exited } = collectOutput(child);
  let adminPort = 0;
  let listeners: Array<{ service?: string; port: number }> = [];
  const proxy: ChildProxy = {
    child,
    file,
    get adminPort() {
      return adminPort;
    },
    port(service) {
      const l = listeners.find((x) => x.service === service);
      if (!l) throw new Error(`no listener for ${service}`);
      return l.port;
    },
    output,
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
    if (adminPort === 0) {
      const line = output()
        .split('\n')
        .find((l) => l.includes('"proxy started"'));
      if (line) {
        const started = JSON.parse(line) as { admin: number; listeners: typeof listeners };
        adminPort = started.admin;
        listeners = started.listeners;
      }
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    try {
      const r = await fetch(`http://127.0.0.1:${adminPort}/ready`);
      if (r.status === 200) return proxy;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  proxy.cleanup();
  throw new Error(`proxy did not become ready:\n${output()}`);
}

export async function adminJson<T>(adminPort: number, path: string): Promise<T> {
  const r = await fetch(`http://127.0.0.1:${adminPort}${path}`);
  return (await r.json()) as T;
}
