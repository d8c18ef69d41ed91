/**
 * Runs the gRPC load loop (bench/servers/grpc-load.ts) as a child process on the load core and reads its
 * one-line JSON summary.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess } from './procs.ts';
import type { LoadFigures } from './types.ts';

/** `requests` counts the successful calls in the measured period. */
export interface GrpcResult extends LoadFigures {
  concurrency: number;
  /** Every call the client made, warm-up included: the divisor of the proxy's CPU per request. */
  totalCalls: number;
  lastError: string;
}

export interface GrpcOptions {
  port: number;
  concurrency: number;
  durationS: number;
  warmupS: number;
  core: number | undefined;
  tmpDir: string;
}

const LOAD = join(import.meta.dirname, '..', 'servers', 'grpc-load.ts');

export async function runGrpcLoad(opts: GrpcOptions): Promise<GrpcResult> {
  const proc = startProcess(
    `grpc-load-${Date.now()}`,
    process.execPath,
    [LOAD, `127.0.0.1:${opts.port}`, `${opts.durationS}`, `${opts.warmupS}`, `${opts.concurrency}`],
    { core: opts.core, logDir: opts.tmpDir },
  );
  // The loop bounds itself; this guards against a client that hangs on a proxy that never answers.
  const limitMs = (opts.durationS + opts.warmupS + 30) * 1000;
  const timer = setTimeout(() => {
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }, limitMs);
  const how = await proc.exited;
  clearTimeout(timer);
  const out = readFileSync(proc.logFile, 'utf8');
  const line = out.split('\n').find((l) => l.startsWith('GRPCJSON '));
  if (line === undefined) throw new Error(`gRPC load failed (${how}): ${out.trim().slice(-500)}`);
  const j = JSON.parse(line.slice('GRPCJSON '.length)) as Omit<GrpcResult, 'concurrency'>;
  return { concurrency: opts.concurrency, ...j };
}
