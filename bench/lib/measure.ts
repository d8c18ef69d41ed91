/**
 * The measuring sequence, one protocol section of one target at a time: start the target on the proxy core,
 * read its idle memory, warm it up, run the load cells while reading the proxy tree's CPU time and each
 * core's busy time around every cell, read its memory after load, stop it. A target that fails to start
 * or dies marks its cells failed with the reason; the run goes on with the next one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type GrpcResult, runGrpcLoad } from './grpc.ts';
import { type H2Result, runH2load } from './h2load.ts';
import {
  coreBusyPercent,
  type Memory,
  processTree,
  readCoreTimes,
  treeCpuSeconds,
  treeMemory,
} from './proc-stats.ts';
import { type Proc, pinPids } from './procs.ts';
import {
  type LoadFigures,
  loadFigures,
  type RunningTarget,
  type Section,
  type StartContext,
  type Target,
} from './types.ts';
import { runWrk, type WrkResult } from './wrk.ts';

export interface Metrics extends LoadFigures {
  /** What generated the load, e.g. "wrk -c1" or "h2load -c1 -m10". */
  load: string;
  /** Proxy tree CPU time per request in microseconds (absent for the floor). */
  cpuUsPerRequest?: number;
  /** Proxy tree CPU time over wall time, percent of one core. */
  proxyCpuPercent?: number;
  /** Busy percent of each core during the cell. */
  coreBusyPercent: number[];
  /** The proxy ran on the load core for this cell (the same-core latency cell). */
  sameCore?: boolean;
}

export type CellResult = ({ ok: true } & Metrics) | { ok: false; error: string };

export interface SectionResult {
  status: 'ok' | 'failed' | 'skipped';
  error?: string;
  note?: string;
  memIdle?: Memory;
  memAfter?: Memory;
  /** Read 3 s after the last cell: what the proxy keeps once a burst is over (Weft collects when idle). */
  memSettled?: Memory;
  cells: Record<string, CellResult>;
}

export interface Tools {
  wrk: string | undefined;
  h2load: string | undefined;
}

export interface MeasureOptions {
  durationS: number;
  warmupS: number;
  /** Streams per h2load connection, and calls in flight for gRPC. */
  h2Streams: number;
  grpcConcurrency: number;
}

/**
 * The HTTP/1.1 cells. `c1same` runs one connection with the proxy moved onto the load core: with one
 * request in flight only one process is runnable at a time, so sharing a core costs nothing, and it takes
 * out the cross-core wake-ups (about 50 us each on this VM, four per proxied request) that otherwise
 * dominate `c1` and hide the proxy's own cost.
 */
export const H1_CELLS = [
  { name: 'c1', connections: 1, sameCore: false },
  { name: 'c1same', connections: 1, sameCore: true },
  { name: 'c10', connections: 10, sameCore: false },
  { name: 'c50', connections: 50, sameCore: false },
] as const;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

type Raw = Omit<Metrics, 'coreBusyPercent' | 'cpuUsPerRequest' | 'proxyCpuPercent'> & { cpuDivisor?: number };

/** Runs one load cell and adds the proxy's CPU per request and the cores' busy time around it. */
async function cell(rt: RunningTarget, run: () => Promise<Raw>): Promise<CellResult> {
  try {
    const pids = rt.proc === undefined ? [] : processTree(rt.proc.pid);
    const cpuBefore = treeCpuSeconds(pids);
    const coresBefore = readCoreTimes();
    const t0 = performance.now();
    const raw = await run();
    const wallS = (performance.now() - t0) / 1000;
    const cpuS = treeCpuSeconds(pids) - cpuBefore;
    const coreBusy = coreBusyPercent(coresBefore, readCoreTimes());
    if (rt.proc?.exitedWith !== undefined) {
      return { ok: false, error: `the proxy exited during the run (${rt.proc.exitedWith})` };
    }
    const { cpuDivisor, ...metrics } = raw;
    const out: CellResult = { ok: true, ...metrics, coreBusyPercent: coreBusy };
    if (rt.proc !== undefined) {
      const divisor = cpuDivisor ?? raw.requests;
      if (divisor > 0) out.cpuUsPerRequest = Math.round((cpuS * 1e6 * 100) / divisor) / 100;
      out.proxyCpuPercent = Math.round((cpuS / wallS) * 100);
    }
    return out;
  } catch (err) {
    return { ok: false, error: message(err) };
  }
}

function fromWrk(r: WrkResult): Raw {
  return { load: `wrk -t1 -c${r.connections}`, ...loadFigures(r), mean: Math.round(r.mean) };
}

function fromH2(r: H2Result): Raw {
  return { load: `h2load -t1 -c${r.connections} -m${r.streams}`, ...loadFigures(r) };
}

function fromGrpc(r: GrpcResult): Raw {
  const load = `grpc-js unary, ${r.concurrency} in flight on one channel`;
  return { load, ...loadFigures(r), cpuDivisor: r.totalCalls };
}

/** Runs `fn` with the proxy's whole process tree moved to the load core, and moves it back after. */
async function sameCore(
  proc: Proc,
  load: number,
  home: number,
  fn: () => Promise<CellResult>,
): Promise<CellResult> {
  try {
    pinPids(processTree(proc.pid), load);
    return await fn();
  } catch (err) {
    return { ok: false, error: message(err) };
  } finally {
    if (proc.exitedWith === undefined) {
      try {
        pinPids(processTree(proc.pid), home);
      } catch {
        // It exited meanwhile; the next cell reports that.
      }
    }
  }
}

function memoryOf(rt: RunningTarget): Memory | undefined {
  return rt.proc === undefined ? undefined : treeMemory(processTree(rt.proc.pid));
}

export async function measureSection(
  target: Target,
  section: Section,
  ctx: StartContext,
  tools: Tools,
  opts: MeasureOptions,
): Promise<SectionResult> {
  const skip = target.unavailable() ?? target.unsupported(section);
  if (skip !== undefined) return { status: 'skipped', error: skip, cells: {} };
  if (section === 'h1' && tools.wrk === undefined)
    return { status: 'skipped', error: 'wrk not installed', cells: {} };
  if (section === 'h2' && tools.h2load === undefined) {
    return { status: 'skipped', error: 'h2load not installed (Debian nghttp2-client)', cells: {} };
  }
  if (section === 'grpc' && ctx.upstreams.grpc === 0) {
    return { status: 'skipped', error: 'the gRPC upstream did not start', cells: {} };
  }

  let rt: RunningTarget;
  try {
    rt = await target.start(section, ctx);
  } catch (err) {
    return { status: 'failed', error: message(err), cells: {} };
  }
  const result: SectionResult = { status: 'ok', note: rt.note, cells: {} };
  try {
    // Let start-up work (JIT of the config path, first GCs) settle before calling the process idle.
    await sleep(500);
    result.memIdle = memoryOf(rt);
    const url = `http://127.0.0.1:${rt.port}/`;
    const load = ctx.cores.load;
    if (section === 'h1' && tools.wrk !== undefined) {
      const wrk = tools.wrk;
      if (opts.warmupS > 0) {
        await runWrk({
          wrk,
          url,
          connections: 10,
          durationS: opts.warmupS,
          core: load,
          tmpDir: ctx.tmpDir,
        }).catch(() => undefined);
      }
      for (const c of H1_CELLS) {
        const run = async () =>
          fromWrk(
            await runWrk({
              wrk,
              url,
              connections: c.connections,
              durationS: opts.durationS,
              core: load,
              tmpDir: ctx.tmpDir,
            }),
          );
        if (!c.sameCore) {
          result.cells[c.name] = await cell(rt, run);
        } else if (rt.proc === undefined) {
          // The floor has no proxy to move: its c1 already runs on one core.
          const c1 = result.cells.c1;
          if (c1 !== undefined) result.cells[c.name] = c1;
        } else if (load === undefined || ctx.cores.proxy === undefined) {
          result.cells[c.name] = { ok: false, error: 'needs pinning (taskset and 2 cores)' };
        } else {
          const res = await sameCore(rt.proc, load, ctx.cores.proxy, () => cell(rt, run));
          result.cells[c.name] = res.ok ? { ...res, sameCore: true } : res;
        }
      }
    } else if (section === 'h2' && tools.h2load !== undefined) {
      const base = {
        h2load: tools.h2load,
        url,
        connections: 1,
        streams: opts.h2Streams,
        warmupS: 0,
        core: load,
        tmpDir: ctx.tmpDir,
      };
      // A separate warm-up run, so the measured run's CPU time covers exactly the requests it counts.
      if (opts.warmupS > 0) await runH2load({ ...base, durationS: opts.warmupS }).catch(() => undefined);
      result.cells[`c1m${opts.h2Streams}`] = await cell(rt, async () =>
        fromH2(await runH2load({ ...base, durationS: opts.durationS })),
      );
    } else if (section === 'grpc') {
      // One call in flight for latency, then several for throughput; the first cell carries the warm-up.
      const levels = [...new Set([1, opts.grpcConcurrency])];
      for (const [i, concurrency] of levels.entries()) {
        result.cells[`x${concurrency}`] = await cell(rt, async () =>
          fromGrpc(
            await runGrpcLoad({
              port: rt.port,
              concurrency,
              durationS: opts.durationS,
              warmupS: i === 0 ? opts.warmupS : 0,
              core: load,
              tmpDir: ctx.tmpDir,
            }),
          ),
        );
      }
    }
    result.memAfter = memoryOf(rt);
    await sleep(3000);
    result.memSettled = memoryOf(rt);
    if (Object.values(result.cells).some((c) => !c.ok)) result.status = 'failed';
  } catch (err) {
    result.status = 'failed';
    result.error = message(err);
  } finally {
    await rt.stop();
  }
  return result;
}
