/**
 * Runs `weft up` as a real child process (bin/weft.js, as users do) in a run folder of its own
 * (WEFT_RUN_DIR), and drives it with the real CLI: `weft exec`, `weft apply`, the control plane's API.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { RunInfo } from '../../src/runtime/local/paths.ts';

export const BIN = new URL('../../bin/weft.js', import.meta.url).pathname;
export const ROOT = new URL('../..', import.meta.url).pathname;

export interface Mesh {
  runId: string;
  base: string;
  child: ChildProcess;
  output(): string;
  info(): RunInfo;
  /** Runs a weft subcommand against this run; resolves with its exit code and output. */
  weft(args: string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  exec(
    workload: string,
    command: string[],
    timeoutMs?: number,
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
  api<T>(p: string): Promise<T>;
  /** GET `p` on the admin socket of an instance's sidecar (`default/productpage-v1-0`), found through the API. */
  admin(instance: string, p: string): Promise<string>;
  /** Resolves once every proxy acked a view newer than `since` (a map node → version from `versions`). */
  waitSynced(since?: Map<string, string>, timeoutMs?: number): Promise<void>;
  versions(): Promise<Map<string, string>>;
  /** SIGINT (Ctrl-C) and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function canRunTransparent(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and iptables)';
  if (!fs.existsSync(path.join(ROOT, 'native/original-dst/build/original-dst.node')))
    return 'the SO_ORIGINAL_DST addon is not built (npm run setup)';
  for (const c of ['iptables-restore', 'setpriv', 'ip']) {
    const found = (process.env.PATH ?? '')
      .split(':')
      .concat(['/usr/sbin', '/sbin'])
      .some((d) => fs.existsSync(path.join(d, c)));
    if (!found) return `\`${c}\` is missing (npm run setup)`;
  }
  return undefined;
}

export async function startMesh(options: {
  files: string[];
  args?: string[];
  command?: string;
  timeoutMs?: number;
}): Promise<Mesh> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-runs-'));
  // Sidecars run as uid 1337 and reach the control socket through this folder.
  fs.chmodSync(base, 0o755);
  const env = { ...process.env, WEFT_RUN_DIR: base };
  // `weft demo` takes no files and has no table option (it draws none when stdout is not a terminal).
  const demo = options.command === 'demo';
  const args = [
    BIN,
    options.command ?? 'up',
    ...(demo ? [] : [...options.files.flatMap((f) => ['-f', f]), '--no-table']),
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await Promise.race<string>([
    (async () => {
      const deadline = Date.now() + (options.timeoutMs ?? 90_000);
      // Stops polling once the child is gone (the other branch reports it).
      while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
        const m = /weft up: ready \(run ([a-z0-9]+)\)/.exec(out);
        if (m) return m[1] as string;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`weft up did not get ready:\n${out}`);
    })(),
    exited.then((code) => {
      throw new Error(`weft up exited (${code}):\n${out}`);
    }),
  ]).catch(async (err: unknown) => {
    // Not ready in time: stop it (Ctrl-C removes its namespaces), so a failed start leaves nothing behind.
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    }
    fs.rmSync(base, { recursive: true, force: true });
    throw err;
  });
  const runId = ready;
  const info = () => JSON.parse(fs.readFileSync(path.join(base, runId, 'run.json'), 'utf8')) as RunInfo;
  const weft = (a: string[], timeoutMs = 60_000) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [BIN, ...a], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      c.stdout?.on('data', (d: Buffer) => {
        stdout += d.toString('utf8');
      });
      c.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString('utf8');
      });
      const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
      c.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  const api = <T>(p: string) =>
    new Promise<T>((resolve, reject) => {
      http
        .get({ socketPath: info().controlSocket, path: p, agent: false }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString('utf8');
          });
          res.on('end', () => resolve(JSON.parse(body) as T));
        })
        .on('error', reject);
    });
  const admin = async (instance: string, p: string) => {
    const instances =
      await api<Array<{ id: string; sidecar?: { adminSocket?: string } }>>('/api/v1/instances');
    const socketPath = instances.find((i) => i.id === instance)?.sidecar?.adminSocket;
    if (!socketPath) throw new Error(`no admin socket for ${instance} in ${JSON.stringify(instances)}`);
    return new Promise<string>((resolve, reject) => {
      http
        .get({ socketPath, path: p, agent: false }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString('utf8');
          });
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
  };
  const versions = async () => {
    const proxies =
      await api<Array<{ node: string; ackedVersion?: string; state: string }>>('/api/v1/proxies');
    return new Map(proxies.map((p) => [p.node, p.ackedVersion ?? '']));
  };
  return {
    runId,
    base,
    child,
    output: () => out,
    info,
    weft,
    exec: (workload, command, timeoutMs) =>
      weft(['exec', workload, '--run', runId, '--', ...command], timeoutMs),
    api,
    admin,
    versions,
    async waitSynced(since, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const proxies =
          await api<Array<{ node: string; ackedVersion?: string; state: string }>>('/api/v1/proxies');
        const connected = proxies.filter((p) => p.state !== 'disconnected');
        const done = connected.every(
          (p) => p.state === 'synced' && (!since || since.get(p.node) !== p.ackedVersion),
        );
        if (done && connected.length > 0) return;
        if (Date.now() > deadline)
          throw new Error(`proxies not synced: ${JSON.stringify(proxies.map((p) => [p.node, p.state]))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null) child.kill(signal);
      const code = await exited;
      fs.rmSync(base, { recursive: true, force: true });
      return code;
    },
  };
}
