/**
 * HTTP/2 cleartext (h2c, prior knowledge) load with nghttp2's h2load: one client thread on core 1, a fixed
 * number of connections and concurrent streams for a fixed time after a warm-up. h2load itself reports only
 * mean latency, so percentiles come from its per-request log (`--log-file`: start time, status, and
 * microseconds to the end of the response, tab-separated).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess } from './procs.ts';
import { roundSummary, summarise } from './stats.ts';
import type { LoadFigures } from './types.ts';

export interface H2Result extends LoadFigures {
  connections: number;
  streams: number;
}

export interface H2Options {
  h2load: string;
  url: string;
  connections: number;
  streams: number;
  durationS: number;
  warmupS: number;
  core: number | undefined;
  tmpDir: string;
}

export async function runH2load(opts: H2Options): Promise<H2Result> {
  const tag = `h2load-${Date.now()}`;
  const logPath = join(opts.tmpDir, `${tag}.requests.tsv`);
  const proc = startProcess(
    tag,
    opts.h2load,
    [
      '-t1',
      `-c${opts.connections}`,
      `-m${opts.streams}`,
      `-D${opts.durationS}`,
      `--warm-up-time=${opts.warmupS}`,
      `--log-file=${logPath}`,
      opts.url,
    ],
    { core: opts.core, logDir: opts.tmpDir },
  );
  const how = await proc.exited;
  const out = readFileSync(proc.logFile, 'utf8');
  // "requests: 100 total, 100 started, 100 done, 100 succeeded, 0 failed, 0 errored, 0 timeout"
  const m =
    /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  if (m === null) throw new Error(`h2load failed (${how}): ${out.trim().slice(-500)}`);
  let text = '';
  try {
    text = readFileSync(logPath, 'utf8');
  } catch {
    throw new Error(`h2load wrote no request log (${how}): ${out.trim().slice(-500)}`);
  }
  const samples: number[] = [];
  for (const line of text.split('\n')) {
    const cols = line.split('\t');
    if (cols.length >= 3) samples.push(Number(cols[2]));
  }
  const done = Number(m[2]);
  // "finished in 4.00s, 51234.50 req/s, 1.2MB/s" covers the measured period only, without the warm-up.
  const f = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
  return {
    connections: opts.connections,
    streams: opts.streams,
    durationS: opts.durationS,
    requests: done,
    rps: f === null ? Math.round(done / opts.durationS) : Math.round(Number(f[1])),
    ...roundSummary(summarise(samples)),
    // h2load's "failed" are responses other than 2xx/3xx; "errored" are stream and connection errors.
    errors: Number(m[4]) + Number(m[5]),
  };
}
