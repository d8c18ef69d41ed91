/**
 * Runs the open-loop load generator (bench/servers/paced-load.ts) as a child process on the load core and
 * reads its one-line JSON summary. Used by the mesh section: a fixed request rate over a fixed pool of
 * keep-alive connections, latency timed from when each request was due.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess } from './procs.ts';
import type { LatencySummary } from './stats.ts';
import type { LoadFigures } from './types.ts';

/** `requests` counts the successful responses (200 with the expected body size). */
export interface PacedResult extends LoadFigures {
  /** Requests sent (successes, failures and unanswered). */
  sent: number;
  lastError: string;
  /** How late the generator's timer ticks were against the exact schedule, µs (its own jitter). */
  lag: LatencySummary;
  /** Requests that fell due while every connection was busy, and waited for one (counted in latency). */
  queued: number;
  maxInFlight: number;
  /** Requests of the closed-loop warm-up before the measured run. */
  warmupRequests: number;
}

export interface PacedOptions {
  port: number;
  path: string;
  rps: number;
  durationS: number;
  connections: number;
  /** Body size every response must have to count as a success. */
  expectBytes: number;
  /** Seconds of closed-loop load on every connection before the measured run, in the same process. */
  warmupS: number;
  /** Called when the measured run starts (within ~10 ms), e.g. to read CPU counters. */
  onMeasuring?: () => void;
  core: number | undefined;
  tmpDir: string;
}

const LOAD = join(import.meta.dirname, '..', 'servers', 'paced-load.ts');

export async function runPacedLoad(opts: PacedOptions): Promise<PacedResult> {
  const proc = startProcess(
    `paced-load-${Date.now()}`,
    process.execPath,
    [
      LOAD,
      `${opts.port}`,
      opts.path,
      `${opts.rps}`,
      `${opts.durationS}`,
      `${opts.connections}`,
      `${opts.expectBytes}`,
      `${opts.warmupS}`,
    ],
    { core: opts.core, logDir: opts.tmpDir },
  );
  // The generator bounds itself (schedule + 5 s for the last answers); this guards against one that hangs.
  const limitS = opts.durationS + opts.warmupS + 30;
  const timer = setTimeout(() => {
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }, limitS * 1000);
  const onMeasuring = opts.onMeasuring;
  if (onMeasuring !== undefined) {
    // The generator writes a line to its log (a file) when the measured run starts.
    const watch = setInterval(() => {
      let text = '';
      try {
        text = readFileSync(proc.logFile, 'utf8');
      } catch {
        return;
      }
      if (text.includes('PACED_MEASURING')) {
        clearInterval(watch);
        onMeasuring();
      }
    }, 10);
    void proc.exited.then(() => clearInterval(watch));
  }
  const how = await proc.exited;
  clearTimeout(timer);
  const out = readFileSync(proc.logFile, 'utf8');
  const line = out.split('\n').find((l) => l.startsWith('PACEDJSON '));
  if (line === undefined) throw new Error(`paced load failed (${how}): ${out.trim().slice(-500)}`);
  return JSON.parse(line.slice('PACEDJSON '.length)) as PacedResult;
}
