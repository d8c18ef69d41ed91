/**
 * Where a run keeps its state: `/run/weft/<runId>` as root, else a per-user folder under the system's
 * temporary directory. `run.json` says which process owns the run, so `weft down` can tell a crashed run
 * (owner gone) from a live one, and `weft exec` can find the instances.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function runsBaseDir(): string {
  if (process.env.WEFT_RUN_DIR) return process.env.WEFT_RUN_DIR;
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? '/run/weft' : path.join(os.tmpdir(), `weft-${uid}`);
}

export interface RunInstanceInfo {
  id: string;
  namespace: string;
  workload: string;
  netns: string | undefined;
  address: string;
  /** Explicit mode: what a command run "inside" the instance needs (its sidecar's HTTP proxy). */
  env: Record<string, string>;
  pids: { app: number | undefined; proxy: number | undefined };
  logs: { app: string; proxy: string };
}

export interface RunInfo {
  runId: string;
  pid: number;
  mode: 'transparent' | 'explicit';
  dir: string;
  controlSocket: string;
  controlPort: number;
  controlPid: number | undefined;
  startedAt: string;
  edge: Array<{ url: string; service: string }>;
  instances: RunInstanceInfo[];
}

export function runInfoFile(dir: string): string {
  return path.join(dir, 'run.json');
}

export function writeRunInfo(info: RunInfo): void {
  const file = runInfoFile(info.dir);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(info, null, 1));
  fs.renameSync(tmp, file);
}

/** Whether a process runs. A zombie does not: its parent died and nothing reaped it (PID 1 in containers). */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

/** Every run with a run.json under the base folder, newest first, with whether its owner still lives. */
export function listRuns(base = runsBaseDir()): Array<RunInfo & { alive: boolean }> {
  let names: string[] = [];
  try {
    names = fs.readdirSync(base);
  } catch {
    return [];
  }
  const out: Array<RunInfo & { alive: boolean }> = [];
  for (const n of names) {
    try {
      const info = JSON.parse(fs.readFileSync(runInfoFile(path.join(base, n)), 'utf8')) as RunInfo;
      out.push({ ...info, alive: isAlive(info.pid) });
    } catch {}
  }
  return out.sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
}

/** The run a command means: the one named, else the only live one, else a clear error. */
export function findRun(runId: string | undefined): RunInfo & { alive: boolean } {
  const runs = listRuns();
  if (runId) {
    const r = runs.find((x) => x.runId === runId);
    if (!r) throw new Error(`no run "${runId}" (runs: ${runs.map((x) => x.runId).join(', ') || 'none'})`);
    return r;
  }
  const live = runs.filter((r) => r.alive);
  if (live.length === 0)
    throw new Error('no mesh is running: start one with `weft up -f <files>` or `weft demo`');
  if (live.length > 1) {
    throw new Error(
      `several meshes are running (${live.map((r) => r.runId).join(', ')}): pick one with --run <id>`,
    );
  }
  return live[0] as RunInfo & { alive: boolean };
}
