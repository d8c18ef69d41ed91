/**
 * Child processes for the bench: every process the bench starts goes through `startProcess`, which puts it
 * in its own process group (so nginx's workers go with their master), pins it to a core with taskset, sends
 * its output to a log file in the temp dir, and remembers it so `stopAll` (and the exit and signal hooks in
 * run.ts) can end it. Also: free loopback ports and readiness polling. Binaries are found with the runtime's
 * findCommand (src/runtime/network/command.ts).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findCommand } from '../../src/runtime/network/command.ts';

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<string>;
  exitedWith: string | undefined;
}

const live = new Set<Proc>();

export interface StartOptions {
  /** Core to pin to with taskset; undefined = no pinning. */
  core?: number | undefined;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  logDir: string;
}

let tasksetPath: string | undefined | null = null;
function taskset(): string | undefined {
  if (tasksetPath === null) tasksetPath = findCommand('taskset');
  return tasksetPath;
}

/** Pins an already running process (all its threads) to one core; used for the harness itself. */
export function pinSelf(core: number): boolean {
  const bin = taskset();
  if (bin === undefined) return false;
  try {
    execFileSync(bin, ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves running processes (every thread of each) to one core. The bench uses it to put the proxy beside
 * the load generator for the same-core latency cell and back again afterwards.
 */
export function pinPids(pids: readonly number[], core: number): void {
  const bin = taskset();
  if (bin === undefined) throw new Error('taskset not found');
  for (const pid of pids) {
    execFileSync(bin, ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
  }
}

export function canPin(): boolean {
  return taskset() !== undefined;
}

export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  opts: StartOptions,
): Proc {
  const logFile = join(opts.logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const bin = taskset();
  const [file, argv] =
    opts.core !== undefined && bin !== undefined
      ? [bin, ['-c', String(opts.core), command, ...args]]
      : [command, [...args]];
  // detached: a process group of its own, so the whole tree can be signalled by its id, and a Ctrl-C in the
  // terminal reaches only the harness, which then stops everything in order.
  const child = spawn(file, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  let resolveExit: (how: string) => void = () => {};
  const exited = new Promise<string>((resolve) => {
    resolveExit = resolve;
  });
  const proc: Proc = { name, pid: child.pid, logFile, child, exited, exitedWith: undefined };
  child.on('exit', (code, signal) => {
    proc.exitedWith = signal ?? `code ${code}`;
    live.delete(proc);
    resolveExit(proc.exitedWith);
  });
  child.on('error', (err) => {
    proc.exitedWith = `spawn error: ${err.message}`;
    live.delete(proc);
    resolveExit(proc.exitedWith);
  });
  live.add(proc);
  return proc;
}

function signalGroup(proc: Proc, signal: NodeJS.Signals): void {
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** SIGTERM to the process group, SIGKILL after `graceMs` if it is still there. */
export async function stopProcess(proc: Proc, graceMs = 3000): Promise<void> {
  if (proc.exitedWith === undefined) {
    signalGroup(proc, 'SIGTERM');
    const timer = sleep(graceMs).then(() => 'timeout');
    if ((await Promise.race([proc.exited, timer])) === 'timeout') signalGroup(proc, 'SIGKILL');
  }
  // Children of a master that already exited (nginx workers) may outlive it: clear the group either way.
  signalGroup(proc, 'SIGKILL');
  live.delete(proc);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => stopProcess(p, 2000)));
}

/** For the process 'exit' hook, where nothing asynchronous can run: SIGKILL every group still live. */
export function killAllNow(): void {
  for (const proc of live) signalGroup(proc, 'SIGKILL');
  live.clear();
}

/** The last lines of a process's log, for error messages. */
export function logTail(proc: Proc, lines = 15): string {
  try {
    const text = readFileSync(proc.logFile, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** A loopback port that was free a moment ago (the usual bind-to-0 trick; the race is acceptable here). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Polls until `check` returns true, the process exits or the time runs out; throws with the reason and
 * the log's tail so a failed start is reported, not hung on.
 */
export async function waitUntil(proc: Proc, what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitedWith !== undefined) {
      throw new Error(`${proc.name} exited (${proc.exitedWith}) before ${what}\n${logTail(proc)}`);
    }
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`${proc.name}: ${what} did not happen within ${timeoutMs} ms\n${logTail(proc)}`);
}

/** Waits until `proc` accepts TCP connections on `port` (see `waitUntil`). */
export function waitListening(proc: Proc, port: number, timeoutMs = 10_000): Promise<void> {
  return waitUntil(proc, `listening on ${port}`, () => tcpOpen(port), timeoutMs);
}

/** Runs the readiness waits of a process just started; when they fail, stops it before rethrowing. */
export async function readyOrStop(proc: Proc, ready: () => Promise<void>): Promise<void> {
  try {
    await ready();
  } catch (err) {
    await stopProcess(proc);
    throw err;
  }
}

/** True when a TCP connection to the port succeeds. */
export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** True when GET url answers with `status`. */
export async function httpStatus(url: string, status = 200): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === status;
  } catch {
    return false;
  }
}
