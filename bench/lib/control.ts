/**
 * The `control` section of the bench: how long a config change takes to reach every proxy (change→ack
 * p50/p99/max) with N simulated proxies, and what the control plane costs meanwhile (CPU per change,
 * RssAnon/VmRSS/heap). The runner is bench/control-propagation.ts, imported only when the section runs, so
 * the harness of a data-plane run loads none of the control plane's code. With pinning, the control plane
 * (the thing measured) gets core 0 as a proxy under test does, and the simulated proxies run in the
 * harness on core 1. The target and the table are in report.ts.
 */
import type { PropagationResult } from '../control-propagation.ts';
import type { Cores } from './types.ts';

export interface ControlOptions {
  /** Simulated proxy counts, one measurement each, in order (default 100, 1000). */
  proxies: number[];
  /** Services in the synthetic mesh every proxy calls: the size of a view (50 ≈ 29 KB). */
  services: number;
  /** Endpoint changes measured per proxy count. */
  rounds: number;
}

export const CONTROL_DEFAULTS: ControlOptions = { proxies: [100, 1000], services: 50, rounds: 5 };

/** The target: p99 of change→ack below this many ms at this many proxies. */
export const CONTROL_TARGET = { proxies: 1000, p99Ms: 1000 } as const;

/** The `control` field of the results JSON. */
export interface ControlResult {
  /** failed: a measurement threw; `runs` holds the proxy counts measured before it. */
  status: 'ok' | 'failed';
  error?: string;
  /** Where the processes ran, e.g. "control plane on core 0, simulated proxies on core 1". */
  layout: string;
  services: number;
  rounds: number;
  /** One per proxy count, in the order run. Times in ms, memory in MB (see PropagationResult). */
  runs: PropagationResult[];
}

export async function runControlSection(
  opts: ControlOptions,
  cores: Cores,
  progress: (text: string) => void,
  cancelled: () => boolean,
): Promise<ControlResult> {
  const layout =
    cores.proxy === undefined
      ? 'not pinned: the control plane (a child process) and the simulated proxies (the harness) share the cores'
      : `control plane pinned to core ${cores.proxy}, simulated proxies (the harness) on core ${cores.load}`;
  const result: ControlResult = {
    status: 'ok',
    layout,
    services: opts.services,
    rounds: opts.rounds,
    runs: [],
  };
  try {
    const { measurePropagation } = await import('../control-propagation.ts');
    for (const n of opts.proxies) {
      if (cancelled()) break;
      progress(`bench: control ${n} proxies ...`);
      const t0 = Date.now();
      const run = await measurePropagation(n, opts.services, opts.rounds, { controlCore: cores.proxy });
      result.runs.push(run);
      progress(` ok: change→ack p99 ${run.p99.toFixed(0)} ms (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    }
  } catch (err) {
    result.status = 'failed';
    result.error = err instanceof Error ? err.message : String(err);
    progress(` failed: ${result.error.split('\n')[0]}\n`);
  }
  return result;
}
