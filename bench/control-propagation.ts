/**
 * `node bench/control-propagation.ts --proxies 100,1000`: how long a change takes to reach every proxy.
 *
 * The control plane's distribution server (src/control/distribution/) runs in a child process on a Unix
 * socket, as under `weft up`, with a synthetic view source: a mesh of `--services` services (one route,
 * one backend of 3 endpoints each) that every proxy calls, plus the proxy's own inbound listener, so a
 * view is a realistic ProxyConfig of some kilobytes and one endpoint change alters every view. This
 * process runs the simulated proxies: the real proxy-side client (src/proxy/control-client/), each with
 * its own HTTP/2 connection, whose `apply` only records the time (no snapshot is compiled).
 *
 * For each N: connect N proxies and wait until all are synced, then `--rounds` times change one
 * endpoint and measure, per proxy, the time from the change (taken in the control plane just before it
 * notifies) to the proxy's ack (when its `apply` returns; the ack is written right after). Both clocks
 * are `performance.timeOrigin + performance.now()` on one machine. Also printed: the time until the
 * control plane itself has seen every ack, and its memory once everything is synced.
 *
 * Also the `control` section of `npm run bench` (bench/lib/control.ts), which imports `measurePropagation`
 * from here; run standalone, this file prints its own table. The control plane child is always a fork of
 * this file (`--child`), so the CLI below runs only when this file is the entry point.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDistributionServer, type ViewSource } from '../src/control/distribution/index.ts';
import { silentLogger } from '../src/core/index.ts';
import { type ControlClient, connectControlPlane } from '../src/proxy/control-client/index.ts';
import { treeMemory } from './lib/proc-stats.ts';
import { pinPids } from './lib/procs.ts';
import { summarise } from './lib/stats.ts';

const wallNow = () => performance.timeOrigin + performance.now();

/** Messages from the control plane child to this process. */
type FromChild =
  | { type: 'ready'; socket: string; viewBytes: number }
  | { type: 'changed'; round: number; at: number }
  | { type: 'all-acked'; round: number; at: number; cpuMs: number }
  | { type: 'memory'; heapUsedMB: number };

type ToChild = { type: 'change'; round: number; expectAcks: number } | { type: 'memory' };

// ---------------------------------------------------------------------------------------------------------
// The control plane (child process).

function meshViews(proxies: number, services: number): ViewSource & { change(round: number): void } {
  const listeners = new Set<() => void>();
  let round = 0;
  let shared = build(0);
  let cache = new Map<string, unknown>();

  function build(r: number) {
    const outbound = [];
    const backends = [];
    for (let s = 0; s < services; s++) {
      outbound.push({
        name: `svc-${s}`,
        hosts: [`svc-${s}`, `svc-${s}.default`, `svc-${s}.default.svc.cluster.local`],
        port: 80,
        listen: { address: '127.0.0.1', port: 20000 + s },
        protocol: 'http1',
        routes: [
          { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backends: [{ backend: `svc-${s}` }] },
        ],
      });
      backends.push({
        name: `svc-${s}`,
        protocol: 'http1',
        // The change: service 0's first endpoint moves (a pod was replaced).
        endpoints: [0, 1, 2].map((e) => ({
          address: `10.0.${s}.${e + 1}`,
          port: s === 0 && e === 0 ? 8080 + r : 8080,
          labels: { app: `svc-${s}`, 'pod-template-hash': 'abc123' },
        })),
      });
    }
    return { outbound, backends };
  }

  return {
    view(node) {
      const n = Number(node.slice(node.lastIndexOf('-') + 1));
      if (!(n >= 0 && n < proxies)) return undefined;
      // One object per node and generation: the server skips re-rendering an identical object.
      let v = cache.get(node);
      if (v === undefined) {
        v = {
          node: { id: node, workload: `app-${n % 50}`, namespace: 'default' },
          admin: { address: '127.0.0.1', port: 0 },
          inbound: [
            {
              name: 'http',
              listen: { address: '127.0.0.1', port: 15006 },
              target: { address: '127.0.0.1', port: 8080 },
            },
          ],
          outbound: shared.outbound,
          backends: shared.backends,
        };
        cache.set(node, v);
      }
      return v;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    change(r) {
      round = r;
      shared = build(round);
      cache = new Map();
      for (const l of listeners) l();
    },
  };
}

async function runChild(proxies: number, services: number, socket: string): Promise<void> {
  const send = (m: FromChild) => process.send?.(m);
  const views = meshViews(proxies, services);
  const dist = createDistributionServer({ views, logger: silentLogger });
  const server = http2.createServer();
  dist.attach(server);
  await new Promise<void>((resolve) => server.listen({ path: socket, backlog: 4096 }, resolve));
  send({ type: 'ready', socket, viewBytes: JSON.stringify(views.view('node-0')).length });
  process.on('message', (m: ToChild) => {
    if (m.type === 'memory') {
      send({ type: 'memory', heapUsedMB: Math.round(process.memoryUsage().heapUsed / 104857.6) / 10 });
      return;
    }
    const base = dist.totals().acked;
    const cpu = process.cpuUsage();
    const at = wallNow();
    views.change(m.round);
    send({ type: 'changed', round: m.round, at });
    // Poll the server's own count of acks, every millisecond so that polling takes little of the control
    // plane's time: when did the control plane know that every proxy has the change?
    const poll = () => {
      if (dist.totals().acked - base < m.expectAcks) {
        setTimeout(poll, 1);
        return;
      }
      const used = process.cpuUsage(cpu);
      send({ type: 'all-acked', round: m.round, at: wallNow(), cpuMs: (used.user + used.system) / 1000 });
    };
    setTimeout(poll, 1);
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------------------
// The simulated proxies and the report (this process).

export interface PropagationMemory {
  rssAnonMB: number;
  rssMB: number;
  heapUsedMB: number;
}

/** One N: milliseconds throughout (the change→ack percentiles and the per-change figures to 0.1 ms). */
export interface PropagationResult {
  proxies: number;
  services: number;
  rounds: number;
  viewKB: number;
  connectAllSyncedMs: number;
  samples: number;
  p50: number;
  p99: number;
  max: number;
  /** Per change: until the control plane had every ack, and the CPU time it used meanwhile. */
  allAckedAtControlMs: number[];
  controlCpuMs: number[];
  /** The control plane's memory once all are synced, before any change, and 200 ms after the last one. */
  synced: PropagationMemory;
  after: PropagationMemory;
}

export interface PropagationOptions {
  /** Pin the control plane process (all its threads) to this core once it is up; undefined = no pinning. */
  controlCore?: number | undefined;
}

const tenth = (v: number) => Math.round(v * 10) / 10;

/**
 * Starts a control plane child with a mesh of `services` services, connects `proxies` simulated proxies
 * (in this process), changes one endpoint `rounds` times and measures every proxy's change→ack time. The
 * child and the clients are gone when it returns or throws.
 */
export async function measurePropagation(
  proxies: number,
  services: number,
  rounds: number,
  opts: PropagationOptions = {},
): Promise<PropagationResult> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-cp-'));
  const socket = join(dir, 'control.sock');
  // Also when the bench exits mid-measurement (Ctrl-C in run.ts), where the finally below does not run.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  const child: ChildProcess = fork(
    import.meta.filename,
    ['--child', '--proxies', String(proxies), '--services', String(services), '--socket', socket],
    { execArgv: ['--disable-warning=ExperimentalWarning'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const waiting = new Map<string, (m: FromChild) => void>();
  child.on('message', (m: FromChild) => {
    const key = m.type === 'changed' || m.type === 'all-acked' ? `${m.type}:${m.round}` : m.type;
    waiting.get(key)?.(m);
    waiting.delete(key);
  });
  const next = <T extends FromChild>(key: string) =>
    new Promise<T>((resolve) => waiting.set(key, resolve as (m: FromChild) => void));
  const clients: ControlClient[] = [];
  try {
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(new Error(`the control plane child exited (${signal ?? code})`)),
      ),
    );
    exited.catch(() => undefined);
    const ready = await Promise.race([next<Extract<FromChild, { type: 'ready' }>>('ready'), exited]);
    if (opts.controlCore !== undefined) pinPids([child.pid as number], opts.controlCore);
    // Per proxy: the time its apply ran, for the round being measured.
    let round = -1;
    const acked = new Float64Array(proxies);
    let ackedInRound = 0;
    const t0 = performance.now();
    for (let i = 0; i < proxies; i++) {
      let running: string | undefined;
      clients.push(
        connectControlPlane({
          target: `unix:${ready.socket}`,
          node: `node-${i}`,
          logger: silentLogger,
          currentVersion: () => running,
          apply: async (config) => {
            running = (config as { version: string }).version;
            if (round > 0) {
              acked[i] = wallNow();
              ackedInRound++;
            }
            return { ok: true, version: running };
          },
        }),
      );
    }
    await Promise.all(clients.map((c) => c.onFirstConfig));
    const connectAllSyncedMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
    const readMemory = async () => {
      const reply = next<Extract<FromChild, { type: 'memory' }>>('memory');
      child.send({ type: 'memory' } satisfies ToChild);
      const { heapUsedMB } = await reply;
      const { rssAnonMB, rssMB } = treeMemory([child.pid as number]);
      return { rssAnonMB, rssMB, heapUsedMB };
    };
    const synced = await readMemory();

    const samples: number[] = [];
    const allAckedAtControlMs: number[] = [];
    const controlCpuMs: number[] = [];
    for (let r = 1; r <= rounds; r++) {
      round = r;
      ackedInRound = 0;
      acked.fill(0);
      const changed = next<Extract<FromChild, { type: 'changed' }>>(`changed:${r}`);
      const allAcked = next<Extract<FromChild, { type: 'all-acked' }>>(`all-acked:${r}`);
      child.send({ type: 'change', round: r, expectAcks: proxies } satisfies ToChild);
      const { at } = await Promise.race([changed, exited]);
      const done = await Promise.race([allAcked, exited]);
      while (ackedInRound < proxies) await new Promise((res) => setTimeout(res, 5));
      for (const t of acked) samples.push(t - at);
      allAckedAtControlMs.push(done.at - at);
      controlCpuMs.push(done.cpuMs);
      await new Promise((res) => setTimeout(res, 200));
    }
    const after = await readMemory();
    const s = summarise(samples);
    return {
      proxies,
      services,
      rounds,
      viewKB: Math.round(ready.viewBytes / 102.4) / 10,
      connectAllSyncedMs: Math.round(connectAllSyncedMs),
      samples: samples.length,
      p50: tenth(s.p50),
      p99: tenth(s.p99),
      max: tenth(s.max),
      allAckedAtControlMs: allAckedAtControlMs.map(tenth),
      controlCpuMs: controlCpuMs.map(tenth),
      synced,
      after,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    child.disconnect();
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    removeDir();
    process.off('exit', removeDir);
  }
}

function table(results: PropagationResult[]): string {
  const rows = [
    [
      'proxies',
      'view (KB)',
      'connect, all synced (ms)',
      'change→ack p50 / p99 / max (ms)',
      'all acked at control (ms, max)',
      'control CPU per change (ms)',
      'control RssAnon synced / after (MB)',
      'heap used synced / after (MB)',
    ],
    ...results.map((r) => [
      String(r.proxies),
      String(r.viewKB),
      String(r.connectAllSyncedMs),
      `${r.p50.toFixed(0)} / ${r.p99.toFixed(0)} / ${r.max.toFixed(0)}`,
      String(Math.round(Math.max(...r.allAckedAtControlMs))),
      String(Math.round(r.controlCpuMs.reduce((a, b) => a + b, 0) / r.controlCpuMs.length)),
      `${r.synced.rssAnonMB} / ${r.after.rssAnonMB}`,
      `${r.synced.heapUsedMB} / ${r.after.heapUsedMB}`,
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => cell.padStart(widths[c]!)).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

// The CLI: standalone (`node bench/control-propagation.ts`) or the control plane child (`--child`), never
// when bench/lib/control.ts imports this file.
if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      child: { type: 'boolean', default: false },
      proxies: { type: 'string', default: '100,1000' },
      services: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '5' },
      socket: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const services = Number(values.services);
  if (values.help) {
    process.stdout.write(
      'Usage: node bench/control-propagation.ts [--proxies 100,1000] [--services 50] [--rounds 5]\n',
    );
  } else if (values.child) {
    await runChild(Number(values.proxies), services, values.socket as string);
  } else {
    const counts = String(values.proxies)
      .split(',')
      .map((s) => Number(s.trim()));
    const rounds = Number(values.rounds);
    process.stderr.write(
      `control-propagation: ${counts.join(', ')} proxies, ${services} services, ${rounds} changes each, ` +
        `${availableParallelism()} cores (control plane in a child process; proxies here)\n`,
    );
    const results: PropagationResult[] = [];
    for (const n of counts) {
      process.stderr.write(`  ${n} proxies ...`);
      const r = await measurePropagation(n, services, rounds);
      process.stderr.write(` p99 ${r.p99.toFixed(0)} ms\n`);
      results.push(r);
    }
    process.stdout.write(`${table(results)}\n`);
    const worst = results.at(-1);
    if (worst !== undefined)
      process.stdout.write(
        `target p99 < 1000 ms at ${worst.proxies} proxies: ${worst.p99 < 1000 ? 'PASS' : 'FAIL'} (${worst.p99.toFixed(0)} ms)\n`,
      );
  }
}
