/**
 * `npm run bench`: the side-by-side benchmark of Weft against no proxy (the floor), nginx and haproxy, all
 * in front of the same upstream on loopback. The proxy under test gets core 0; the load generator, the
 * upstreams and this harness share core 1. The mesh section (lib/mesh.ts) runs once, with no target: two
 * Weft proxies in a row on core 0, plaintext and with mutual TLS, against no mesh, at a fixed request
 * rate. The control section (lib/control.ts) runs once, with no target:
 * the control plane on core 0 and simulated proxies in this harness on core 1. Prints one table per
 * section and the status of the targets (Weft's and the control plane's), and writes the figures to
 * bench/results/<timestamp>.json and bench/results/latest.json.
 * Every process it starts is ended on the way out, also on an error or Ctrl-C. See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findCommand } from '../src/runtime/network/command.ts';
import { type ControlResult, runControlSection } from './lib/control.ts';
import { createHaproxyTarget, haproxyBinary } from './lib/haproxy.ts';
import { measureSection, type SectionResult, type Tools } from './lib/measure.ts';
import { type MeshResult, runMeshSection } from './lib/mesh.ts';
import { createNginxTarget, nginxBinary } from './lib/nginx.ts';
import { type Options, parseOptions, USAGE } from './lib/options.ts';
import { coreBusyPercent, readCoreTimes } from './lib/proc-stats.ts';
import { canPin, killAllNow, pinSelf, stopAll, stopProcess } from './lib/procs.ts';
import {
  type BenchReport,
  computeChecks,
  controlChecks,
  formatReport,
  interferenceNotes,
  meshChecks,
  type Results,
  writeReport,
} from './lib/report.ts';
import {
  type Cores,
  isProtocolSection,
  type StartContext,
  type Target,
  type TargetName,
} from './lib/types.ts';
import { createFloorTarget, type StartedUpstreams, startUpstreams } from './lib/upstream.ts';
import { createWeftTarget, type WeftOptions } from './lib/weft.ts';

const ROOT = join(import.meta.dirname, '..');

/** The first match of `pattern` in what `bin args` prints on stdout or stderr (nginx -v uses stderr). */
function version(bin: string | undefined, args: string[], pattern: RegExp): string {
  if (bin === undefined) return 'not installed';
  const res = spawnSync(bin, args, { encoding: 'utf8', timeout: 5000 });
  const text = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  return pattern.exec(text)?.[0] ?? (text.trim().split('\n')[0] || 'unknown');
}

/** One line per section and target while the bench runs: ok, skipped or failed, and why. */
function progress(res: SectionResult): string {
  const cells = Object.entries(res.cells);
  const failedCell = cells.find(([, c]) => !c.ok);
  const why = res.error ?? (failedCell?.[1].ok === false ? `${failedCell[0]}: ${failedCell[1].error}` : '');
  if (res.status !== 'ok') return `${res.status}: ${why.split('\n')[0]}`;
  const errors = cells.reduce((n, [, c]) => n + (c.ok ? c.errors : 0), 0);
  return errors > 0 ? `ok, but ${errors} failed requests` : 'ok';
}

async function main(opts: Options): Promise<number> {
  const started = new Date();
  const notes: string[] = [];
  const tmpDir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  let upstreams: StartedUpstreams | undefined;
  const protocolSections = opts.sections.filter(isProtocolSection);
  const withMesh = opts.sections.includes('mesh');

  let cancelled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (cancelled) return;
    cancelled = true;
    process.stderr.write(`\nbench: ${signal}, stopping everything it started\n`);
    void stopAll().finally(() => {
      if (!opts.keepTmp) rmSync(tmpDir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    const cpus = availableParallelism();
    let cores: Cores = { proxy: undefined, load: undefined };
    if (opts.pin && cpus >= 2 && canPin()) {
      cores = { proxy: 0, load: 1 };
      // The harness itself samples /proc and waits on children: keep it off the proxy's core too.
      if (!pinSelf(1)) notes.push('could not pin the harness itself to core 1');
    } else {
      notes.push(
        opts.pin
          ? `not pinned: ${cpus < 2 ? `only ${cpus} core(s)` : 'taskset not found'}; proxy and load share cores`
          : 'not pinned (--no-pin)',
      );
    }

    // A benchmark on a machine that is busy elsewhere measures that too: say so up front.
    const before = readCoreTimes();
    await sleep(1000);
    const busy = coreBusyPercent(before, readCoreTimes());
    if (busy.some((b) => b > 15)) {
      const msg = `the machine was already busy before the run (cores ${busy.join('% / ')}%): figures will be disturbed`;
      process.stderr.write(`bench: warning: ${msg}\n`);
      notes.push(msg);
    }

    const nginx = nginxBinary();
    const tools: Tools = { wrk: findCommand('wrk'), h2load: findCommand('h2load') };
    const toolVersions = {
      wrk: version(tools.wrk, ['-v'], /wrk \S+/),
      h2load: version(tools.h2load, ['--version'], /nghttp2\/\S+/),
      nginx: version(nginx, ['-v'], /nginx\/\S+/),
      haproxy: version(haproxyBinary(), ['-v'], /HAProxy version \S+/),
      node: process.version,
    };
    // The control section needs none of these tools, and no upstream; the mesh section needs the HTTP/1.1
    // upstream (nginx or the Node one) and none of the load tools.
    if (protocolSections.length > 0 || withMesh) {
      for (const [name, v] of Object.entries(toolVersions)) {
        if (v === 'not installed' && (protocolSections.length > 0 || name === 'nginx'))
          notes.push(`${name} not installed: run scripts/install-bench-deps.sh`);
      }
      const useNginx = opts.upstream === 'nginx' || (opts.upstream === 'auto' && nginx !== undefined);
      if (opts.upstream === 'nginx' && nginx === undefined)
        throw new Error('--upstream nginx, but nginx is not installed');
      upstreams = await startUpstreams(tmpDir, cores, useNginx, opts.sections.includes('grpc'));
      if (upstreams.grpcError !== undefined) notes.push(`gRPC upstream: ${upstreams.grpcError}`);
    }

    const weft: WeftOptions = {
      root: ROOT,
      entry: opts.weftEntry,
      nodeFlags: opts.weftNodeFlags,
      readyTimeoutMs: 20_000,
    };
    const all: Record<TargetName, Target> = {
      floor: createFloorTarget(),
      weft: createWeftTarget(weft),
      nginx: createNginxTarget(),
      haproxy: createHaproxyTarget(),
    };
    const results: Results = {};
    let control: ControlResult | undefined;
    let mesh: MeshResult | undefined;
    for (const section of opts.sections) {
      if (section === 'mesh') {
        if (cancelled) break;
        if (upstreams === undefined) throw new Error('no upstream for the mesh section');
        mesh = await runMeshSection(
          opts.mesh,
          { tmpDir, cores, upstreamPort: upstreams.ports.h1, weft },
          (text) => process.stderr.write(text),
          () => cancelled,
        );
        continue;
      }
      if (section === 'control') {
        if (cancelled) break;
        control = await runControlSection(
          opts.control,
          cores,
          (text) => process.stderr.write(text),
          () => cancelled,
        );
        continue;
      }
      if (upstreams === undefined) throw new Error('no upstreams for a protocol section');
      const ctx: StartContext = { tmpDir, cores, upstreams: upstreams.ports };
      for (const name of opts.targets) {
        if (cancelled) break;
        process.stderr.write(`bench: ${section} ${name} ...`);
        const t0 = Date.now();
        const res = await measureSection(all[name], section, ctx, tools, {
          durationS: opts.durationS,
          warmupS: opts.warmupS,
          h2Streams: opts.h2Streams,
          grpcConcurrency: opts.grpcConcurrency,
        });
        (results[name] ??= {})[section] = res;
        process.stderr.write(` ${progress(res)} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
      }
    }

    const finished = new Date();
    const report: BenchReport = {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      elapsedS: Math.round((finished.getTime() - started.getTime()) / 100) / 10,
      host: { cpus, kernel: release(), node: process.version, pinned: cores.proxy !== undefined },
      options: {
        durationS: opts.durationS,
        warmupS: opts.warmupS,
        targets: opts.targets,
        sections: opts.sections,
        weftEntry: opts.weftEntry,
        weftNodeFlags: opts.weftNodeFlags,
        h2Streams: opts.h2Streams,
        grpcConcurrency: opts.grpcConcurrency,
        ...(mesh !== undefined ? { mesh: opts.mesh } : {}),
        ...(control !== undefined ? { control: opts.control } : {}),
        cores,
      },
      tools: toolVersions,
      upstream:
        upstreams === undefined
          ? 'none (no protocol section)'
          : upstreams.kind === 'nginx'
            ? 'nginx 1 worker, return 200 "ok" (1 KB at /1k)'
            : 'Node http/http2 server ("ok"; 1 KB at /1k)',
      results,
      ...(mesh !== undefined ? { mesh } : {}),
      ...(control !== undefined ? { control } : {}),
      checks: [
        ...(protocolSections.length > 0 ? computeChecks(results) : []),
        ...(mesh !== undefined ? meshChecks(mesh) : []),
        ...(control !== undefined ? controlChecks(control) : []),
      ],
      notes: [...notes, ...interferenceNotes(results)],
    };
    process.stdout.write(`\n${formatReport(report, opts.targets, opts.sections)}\n`);
    if (opts.write) {
      const path = writeReport(join(ROOT, 'bench', 'results'), report);
      process.stdout.write(`\nwrote ${path} and bench/results/latest.json\n`);
    }
    return 0;
  } finally {
    for (const p of upstreams?.procs ?? []) await stopProcess(p);
    await stopAll();
    if (opts.keepTmp) process.stderr.write(`bench: configs and logs kept in ${tmpDir}\n`);
    else rmSync(tmpDir, { recursive: true, force: true });
  }
}

// Last resort: whatever way the process ends, no child outlives it.
process.on('exit', killAllNow);

let options: Options | undefined;
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  process.exit(2);
}
if (options === undefined) {
  process.stdout.write(USAGE);
} else {
  main(options).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
