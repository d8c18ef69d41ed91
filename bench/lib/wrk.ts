/**
 * HTTP/1.1 keep-alive load with wrk: one thread (it shares core 1 with the upstream), a fixed number of
 * connections for a fixed time. A small Lua `done` hook prints the summary as one JSON line with exact
 * percentiles in microseconds, instead of parsing wrk's rounded, unit-suffixed text.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type StartOptions, startProcess } from './procs.ts';
import type { LoadFigures } from './types.ts';

const LUA = `-- Written by bench/lib/wrk.ts: prints the run's summary as JSON.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"durationUs":%d,"bytes":%d,"errConnect":%d,"errRead":%d,"errWrite":%d,' ..
    '"errStatus":%d,"errTimeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.2f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
`;

/** `errors` counts socket errors plus responses that were not 2xx/3xx. */
export interface WrkResult extends LoadFigures {
  connections: number;
  /** The 99.9th latency percentile in microseconds. */
  p999: number;
}

export interface WrkOptions {
  wrk: string;
  url: string;
  connections: number;
  durationS: number;
  core: number | undefined;
  tmpDir: string;
}

let luaPath: string | undefined;

export async function runWrk(opts: WrkOptions): Promise<WrkResult> {
  if (luaPath === undefined) {
    luaPath = join(opts.tmpDir, 'wrk-summary.lua');
    writeFileSync(luaPath, LUA);
  }
  const startOpts: StartOptions = { core: opts.core, logDir: opts.tmpDir };
  const name = `wrk-c${opts.connections}-${Date.now()}`;
  const proc = startProcess(
    name,
    opts.wrk,
    ['-t1', `-c${opts.connections}`, `-d${opts.durationS}s`, '--timeout', '5s', '-s', luaPath, opts.url],
    startOpts,
  );
  const how = await proc.exited;
  const out = readFileSync(proc.logFile, 'utf8');
  const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (line === undefined) throw new Error(`wrk failed (${how}): ${out.trim().slice(-500)}`);
  const j = JSON.parse(line.slice('WRKJSON '.length)) as Record<string, number>;
  const n = (k: string) => j[k] ?? 0;
  const seconds = n('durationUs') / 1e6;
  return {
    connections: opts.connections,
    durationS: Math.round(seconds * 100) / 100,
    requests: n('requests'),
    rps: seconds > 0 ? Math.round(n('requests') / seconds) : 0,
    p50: n('p50'),
    p90: n('p90'),
    p99: n('p99'),
    p999: n('p999'),
    max: n('max'),
    mean: n('mean'),
    errors: n('errConnect') + n('errRead') + n('errWrite') + n('errStatus') + n('errTimeout'),
  };
}
