/**
 * Turns the measurements into what people read: the pass/fail checks of Weft's targets against nginx and
 * against fixed memory limits, of the mesh section's added latency with mutual TLS, and of the control
 * plane's propagation target; one table per protocol section (targets as columns), one for the mesh
 * section (paths as columns) and one for the control section (proxy counts as columns); and the JSON
 * record written to bench/results/<timestamp>.json and bench/results/latest.json.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROL_TARGET, type ControlResult } from './control.ts';
import type { CellResult, Metrics, SectionResult } from './measure.ts';
import {
  ISTIO_REFERENCE,
  MESH_TARGET,
  type MeshFigures,
  type MeshPath,
  type MeshProxyFigures,
  type MeshResult,
} from './mesh.ts';
import type { Memory } from './proc-stats.ts';
import type { BenchSection, Section, TargetName } from './types.ts';

export type Results = Partial<Record<TargetName, Partial<Record<Section, SectionResult>>>>;

export interface Check {
  /** The section it is judged on: h1 for Weft's data-plane targets, mesh for two sidecars, control for propagation. */
  section: BenchSection;
  name: string;
  /** Weft's figure. */
  actual: number | null;
  /** The bound it is held to (derived from nginx's figure where the target is relative). */
  limit: number | null;
  unit: string;
  /** null when it could not be judged (Weft or nginx did not run). */
  pass: boolean | null;
  detail: string;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  elapsedS: number;
  host: { cpus: number; kernel: string; node: string; pinned: boolean };
  options: Record<string, unknown>;
  tools: Record<string, string>;
  upstream: string;
  results: Results;
  /** The mesh section, when it ran. */
  mesh?: MeshResult;
  /** The control section, when it ran. */
  control?: ControlResult;
  checks: Check[];
  notes: string[];
}

function metrics(results: Results, t: TargetName, s: Section, cellName: string): Metrics | undefined {
  const c: CellResult | undefined = results[t]?.[s]?.cells[cellName];
  return c?.ok === true ? c : undefined;
}

function added(results: Results, t: TargetName, s: Section, cellName: string, key: 'p50' | 'p99') {
  const m = metrics(results, t, s, cellName);
  const floor = metrics(results, 'floor', s, cellName);
  return m === undefined || floor === undefined ? undefined : m[key] - floor[key];
}

/** "@1 conn", "@1 conn, same core", "@10 in flight"... */
function cellLabel(s: Section, cellName: string): string {
  if (s === 'h1') {
    const same = cellName.endsWith('same');
    return `@${cellName.slice(1).replace('same', '')} conn${same ? ', same core' : ''}`;
  }
  if (s === 'grpc') return `@${cellName.slice(1)} in flight`;
  return '';
}

/**
 * The load side (core 1: load generator and upstream) was saturated while the proxy's core was not: the
 * rate measured is then a lower bound of what the proxy can do, and "requests/s per core" says more.
 */
export function loadBound(m: Metrics): boolean {
  const [proxyCore = 0, loadCore = 0] = m.coreBusyPercent;
  return m.proxyCpuPercent !== undefined && m.sameCore !== true && loadCore >= 95 && proxyCore < 90;
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * Notes on cells where core 0 was busy beyond the proxy's own CPU time: something else on the machine ran
 * there (a test suite, another benchmark), and that cell's figures are disturbed.
 */
export function interferenceNotes(results: Results): string[] {
  const hit: string[] = [];
  for (const [target, sections] of Object.entries(results)) {
    for (const [section, res] of Object.entries(sections ?? {})) {
      for (const [name, c] of Object.entries(res?.cells ?? {})) {
        if (!c.ok || (target === 'floor' && name === 'c1same')) continue;
        const [core0 = 0] = c.coreBusyPercent;
        const other = core0 - (c.sameCore === true ? 0 : (c.proxyCpuPercent ?? 0));
        if (other > 15) hit.push(`${section}/${target}/${name} +${other}%`);
      }
    }
  }
  if (hit.length === 0) return [];
  return [
    `core 0 was busy beyond the proxy's own CPU in ${hit.length} cell(s), so other load on the machine disturbed them; rerun when it is quiet: ${hit.join(', ')}`,
  ];
}

export function computeChecks(results: Results): Check[] {
  const checks: Check[] = [];
  /** Weft's `figure` against nginx's times `factor`, as an upper bound or (`atLeast`) a lower one. */
  const relative = (
    name: string,
    unit: string,
    figure: (t: TargetName) => number | undefined,
    factor: number,
    atLeast: boolean,
  ) => {
    const weft = figure('weft');
    const nginx = figure('nginx');
    if (weft === undefined || nginx === undefined) {
      const missing = weft === undefined ? 'Weft' : 'nginx';
      checks.push({
        section: 'h1',
        name,
        actual: weft ?? null,
        limit: null,
        unit,
        pass: null,
        detail: `no figure for ${missing}`,
      });
      return;
    }
    // A relative bound from a near-zero nginx figure would be noise: hold it at 1 unit at least.
    const limit = round(Math.max(nginx, 1) * factor);
    const pass = atLeast ? weft >= limit : weft <= limit;
    checks.push({
      section: 'h1',
      name,
      actual: round(weft),
      limit,
      unit,
      pass,
      detail: `Weft ${round(weft)} ${unit}, nginx ${round(nginx)} ${unit}, limit ${atLeast ? '>=' : '<='} ${limit} ${unit}`,
    });
  };
  const c50 = (t: TargetName) => metrics(results, t, 'h1', 'c50');
  // The same-core cell: on the split layout four cross-core wake-ups dominate the added latency of every
  // proxy alike (see measure.ts), which would make this ratio meaningless.
  relative(
    'added p50 latency @1 conn (same core) <= 2x nginx',
    'us',
    (t) => added(results, t, 'h1', 'c1same', 'p50'),
    2,
    false,
  );
  relative('CPU per request @50 conns <= 2.5x nginx', 'us', (t) => c50(t)?.cpuUsPerRequest, 2.5, false);
  relative('max rps on one core @50 conns >= 40% of nginx', 'rps', (t) => c50(t)?.rps, 0.4, true);
  const nginxC50 = c50('nginx');
  const rpsCheck = checks[checks.length - 1];
  if (rpsCheck !== undefined && nginxC50 !== undefined && loadBound(nginxC50)) {
    rpsCheck.detail += ' (nginx was load-bound, so its rate and this limit are lower bounds)';
  }
  const absolute = (name: string, value: number | undefined, limit: number) => {
    checks.push({
      section: 'h1',
      name,
      actual: value ?? null,
      limit,
      unit: 'MB',
      pass: value === undefined ? null : value <= limit,
      detail: value === undefined ? 'no figure for Weft' : `Weft ${value} MB, limit <= ${limit} MB`,
    });
  };
  absolute('RssAnon idle <= 20 MB', results.weft?.h1?.memIdle?.rssAnonMB, 20);
  // "After load" is read 3 s after the last cell, once a burst is over; the reading taken the moment load
  // stops (garbage not yet collected) is printed in the table beside it.
  absolute('RssAnon after load (3 s later) <= 30 MB', results.weft?.h1?.memSettled?.rssAnonMB, 30);
  return checks;
}

/** The control plane's target: p99 change→ack below 1 s at 1,000 proxies (n/a when that count did not run). */
export function controlChecks(control: ControlResult): Check[] {
  const { proxies, p99Ms } = CONTROL_TARGET;
  const name = `p99 change→ack < ${p99Ms / 1000} s at ${proxies.toLocaleString('en-US')} proxies`;
  const run = control.runs.find((r) => r.proxies === proxies);
  if (run === undefined) {
    const why = control.error ?? `--control-proxies has no ${proxies}`;
    return [
      {
        section: 'control',
        name,
        actual: null,
        limit: p99Ms,
        unit: 'ms',
        pass: null,
        detail: `not run: ${why}`,
      },
    ];
  }
  return [
    {
      section: 'control',
      name,
      actual: run.p99,
      limit: p99Ms,
      unit: 'ms',
      pass: run.p99 < p99Ms,
      detail: `p99 ${round(run.p99, 0)} ms (p50 ${round(run.p50, 0)}, max ${round(run.max, 0)}) over ${run.rounds} changes × ${run.proxies} proxies, limit < ${p99Ms} ms`,
    },
  ];
}

/** The figures of a mesh path, also when the path failed after measuring (e.g. mTLS was not in use). */
function meshFigures(mesh: MeshResult, path: MeshPath): MeshFigures | undefined {
  const c = mesh.cells[path];
  return c === undefined ? undefined : c.ok ? c : c.figures;
}

/** Added latency of a mesh path over the direct one, µs; undefined unless both paths succeeded. */
function meshAdded(mesh: MeshResult, path: MeshPath, key: 'p50' | 'p90' | 'p99') {
  const [c, direct] = [mesh.cells[path], mesh.cells.direct];
  return c?.ok === true && direct?.ok === true ? c[key] - direct[key] : undefined;
}

/** Issue 4's target: with mutual TLS, two sidecars add at most 0.3 ms at p50 and 1 ms at p99 over no mesh. */
export function meshChecks(mesh: MeshResult): Check[] {
  const check = (key: 'p50' | 'p99', limit: number): Check => {
    const name = `two sidecars with mTLS: added ${key} <= ${limit / 1000} ms over no mesh`;
    const actual = meshAdded(mesh, 'mtls', key);
    if (actual === undefined) {
      const failed = (['direct', 'mtls'] as const).find((p) => mesh.cells[p]?.ok !== true) ?? 'mtls';
      const cell = mesh.cells[failed];
      const why = cell === undefined ? 'not run' : cell.ok ? '' : cell.error.split('\n')[0];
      return {
        section: 'mesh',
        name,
        actual: null,
        limit,
        unit: 'us',
        pass: null,
        detail: `no figure: the ${failed} path ${why}`,
      };
    }
    const m = mesh.cells.mtls;
    const d = mesh.cells.direct;
    const detail =
      m?.ok === true && d?.ok === true
        ? `added ${key} ${actual} us (mTLS ${m[key]} us, no mesh ${d[key]} us), limit <= ${limit} us`
        : '';
    return { section: 'mesh', name, actual, limit, unit: 'us', pass: actual <= limit, detail };
  };
  return [check('p50', MESH_TARGET.addedP50Us), check('p99', MESH_TARGET.addedP99Us)];
}

// ---- tables ----

type Row = [label: string, ...cells: string[]];

function table(title: string, columns: readonly string[], rows: Row[]): string {
  const widths = [Math.max(title.length, ...rows.map((r) => r[0].length))];
  columns.forEach((c, i) => {
    widths[i + 1] = Math.max(c.length, ...rows.map((r) => (r[i + 1] ?? '').length), 7);
  });
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[0] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line([title, ...columns]), line(widths.map((w) => '-'.repeat(w ?? 0))), ...rows.map(line)].join(
    '\n',
  );
}

const dash = '-';
const num = (v: number | undefined, digits = 0) =>
  v === undefined
    ? dash
    : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const signed = (v: number | undefined) => (v === undefined ? dash : `${v >= 0 ? '+' : ''}${num(v)}`);
const mem = (a: Memory | undefined, b: Memory | undefined, key: keyof Memory) =>
  a === undefined && b === undefined ? dash : `${num(a?.[key], 1)} / ${num(b?.[key], 1)}`;

/** "fail" or "skip" in place of a number, so a column that did not run is obvious. */
function cellText(results: Results, t: TargetName, s: Section, cellName: string, f: (m: Metrics) => string) {
  const sec = results[t]?.[s];
  if (sec === undefined) return dash;
  if (sec.status === 'skipped') return 'skip';
  const c = sec.cells[cellName];
  if (c === undefined || !c.ok) return 'FAIL';
  return f(c);
}

function sectionTable(
  results: Results,
  targets: readonly TargetName[],
  s: Section,
  title: string,
  cells: string[],
) {
  const rows: Row[] = [];
  const per = (label: string, cellName: string, f: (m: Metrics, t: TargetName) => string) =>
    rows.push([label, ...targets.map((t) => cellText(results, t, s, cellName, (m) => f(m, t)))]);
  const addedRow = (label: string, cellName: string, key: 'p50' | 'p99') =>
    rows.push([
      label,
      ...targets.map((t) =>
        t === 'floor'
          ? dash
          : cellText(results, t, s, cellName, () => signed(added(results, t, s, cellName, key))),
      ),
    ]);
  for (const c of cells) {
    const at = cellLabel(s, c);
    per(`p50 latency ${at} (us)`, c, (m) => num(m.p50));
    addedRow(`  added p50 ${at}`, c, 'p50');
    per(`p99 latency ${at} (us)`, c, (m) => num(m.p99));
    addedRow(`  added p99 ${at}`, c, 'p99');
    per(`requests/s ${at}`, c, (m, t) => `${num(m.rps)}${t !== 'floor' && loadBound(m) ? '*' : ''}`);
    // On HTTP/1.1 the proxy's CPU is shown for the saturating cell (and @10 below); the rest are latency runs.
    if (s === 'h1' && c !== 'c50') continue;
    per(`proxy CPU per request ${at} (us)`, c, (m) => num(m.cpuUsPerRequest, 1));
    per(`  = requests/s per core (1e6 / CPU per request)`, c, (m) =>
      m.cpuUsPerRequest === undefined || m.cpuUsPerRequest === 0 ? dash : num(1e6 / m.cpuUsPerRequest),
    );
    per(`proxy CPU ${at} (% of a core)`, c, (m) => num(m.proxyCpuPercent));
    per(`core0 / core1 busy ${at} (%)`, c, (m) => m.coreBusyPercent.slice(0, 2).join(' / '));
  }
  if (s === 'h1') {
    per('proxy CPU per request @10 conn (us)', 'c10', (m) => num(m.cpuUsPerRequest, 1));
  }
  const memRow = (label: string, key: keyof Memory) =>
    rows.push([label, ...targets.map((t) => mem(results[t]?.[s]?.memIdle, results[t]?.[s]?.memAfter, key))]);
  memRow('RssAnon idle / after load (MB)', 'rssAnonMB');
  rows.push([
    'RssAnon 3 s after load (MB)',
    ...targets.map((t) => {
      const v = results[t]?.[s]?.memSettled?.rssAnonMB;
      return v === undefined ? '-' : v.toFixed(1);
    }),
  ]);
  memRow('VmRSS idle / after load (MB)', 'rssMB');
  memRow('PSS idle / after load (MB)', 'pssMB');
  rows.push([
    'errors (socket + non-2xx)',
    ...targets.map((t) => {
      const sec = results[t]?.[s];
      if (sec === undefined || sec.status === 'skipped') return dash;
      return num(Object.values(sec.cells).reduce((a, c) => a + (c.ok ? c.errors : 0), 0));
    }),
  ]);
  const text = table(title, targets, rows);
  const marked = targets.some((t) =>
    Object.values(results[t]?.[s]?.cells ?? {}).some((c) => t !== 'floor' && c.ok && loadBound(c)),
  );
  return marked
    ? `${text}\n* the load core (1) was saturated and the proxy's core (0) was not: a lower bound of the proxy's rate`
    : text;
}

function controlTable(c: ControlResult): string {
  const title = `Control plane: config change -> every proxy's ack, ${c.services} services, ${c.rounds} change${c.rounds === 1 ? '' : 's'}`;
  const { runs } = c;
  const pair = (a: number, b: number) => `${num(a, 1)} / ${num(b, 1)}`;
  const rows: Row[] = [
    ['view per proxy (KB)', ...runs.map((r) => num(r.viewKB, 1))],
    ['connect, all synced (ms)', ...runs.map((r) => num(r.connectAllSyncedMs))],
    ['change->ack p50 (ms)', ...runs.map((r) => num(r.p50))],
    ['change->ack p99 (ms)', ...runs.map((r) => num(r.p99))],
    ['change->ack max (ms)', ...runs.map((r) => num(r.max))],
    [
      'all acked at control, slowest change (ms)',
      ...runs.map((r) => num(Math.max(...r.allAckedAtControlMs))),
    ],
    [
      'control CPU per change (ms)',
      ...runs.map((r) => num(r.controlCpuMs.reduce((a, b) => a + b, 0) / r.controlCpuMs.length)),
    ],
    ['control RssAnon synced / after (MB)', ...runs.map((r) => pair(r.synced.rssAnonMB, r.after.rssAnonMB))],
    ['control VmRSS synced / after (MB)', ...runs.map((r) => pair(r.synced.rssMB, r.after.rssMB))],
    [
      'control heap used synced / after (MB)',
      ...runs.map((r) => pair(r.synced.heapUsedMB, r.after.heapUsedMB)),
    ],
  ];
  const lines = [
    table(
      title,
      runs.map((r) => `${num(r.proxies)} proxies`),
      rows,
    ),
    `  ${c.layout}; "after" = 200 ms after the last change`,
  ];
  if (c.error !== undefined) lines.push(`  control failed: ${c.error.split('\n')[0]}`);
  return lines.join('\n');
}

const MESH_COLUMNS: Record<MeshPath, string> = {
  direct: 'no mesh',
  plaintext: 'Weft, plaintext',
  mtls: 'Weft, mTLS',
  nginx: 'nginx pair',
};

function meshTable(m: MeshResult): string {
  const title = `Mesh: two sidecars, GET ${m.path.split(' ')[1]} (${m.bodyBytes} B), ${num(m.rps)} req/s open loop, ${m.connections} conns, ${m.durationS} s per path`;
  const rows: Row[] = [];
  /** A row of one figure per path: "FAIL" where the path failed before measuring. */
  const per = (label: string, f: (x: MeshFigures, path: MeshPath) => string) =>
    rows.push([
      label,
      ...m.paths.map((p) => {
        const x = meshFigures(m, p);
        return x === undefined ? 'FAIL' : f(x, p);
      }),
    ]);
  const proxies = (f: (p: MeshProxyFigures) => string) => (x: MeshFigures) =>
    x.proxies === undefined ? dash : `${f(x.proxies.a)} / ${f(x.proxies.b)}`;
  per('p50 / p90 / p99 latency (us)', (x) => `${num(x.p50)} / ${num(x.p90)} / ${num(x.p99)}`);
  per('max latency (us)', (x) => num(x.max));
  per('  added p50 / p90 / p99 (us)', (_, p) => {
    if (p === 'direct') return dash;
    const v = (['p50', 'p90', 'p99'] as const).map((k) => meshAdded(m, p, k));
    return v.some((a) => a === undefined) ? dash : v.map((a) => signed(a)).join(' / ');
  });
  per('requests/s achieved', (x) => num(x.rps));
  per('requests ok / failed', (x) => `${num(x.requests)} / ${num(x.errors)}`);
  per(
    'proxy A / B CPU per request (us)',
    proxies((p) => num(p.cpuUsPerRequest, 1)),
  );
  per(
    'proxy A / B CPU (% of a core)',
    proxies((p) => num(p.cpuPercent)),
  );
  per(
    'proxy A / B RssAnon after load (MB)',
    proxies((p) => num(p.memAfter.rssAnonMB, 1)),
  );
  per('generator lag p50 / p99 (us)', (x) => `${num(x.lag.p50)} / ${num(x.lag.p99)}`);
  per('requests queued for a connection', (x) => num(x.queued));
  per("others' CPU during the run (% of a core)", (x) => num(x.othersCpuPercent));
  per('at B: mTLS conns / mutual_tls / plaintext reqs', (x) =>
    x.security === undefined
      ? dash
      : `${num(x.security.mtlsConnectionsInbound)} / ${num(x.security.requestsMutualTls)} / ${num(x.security.requestsPlaintext)}`,
  );
  const lines = [
    table(
      title,
      m.paths.map((p) => MESH_COLUMNS[p]),
      rows,
    ),
    `  ${m.layout}`,
    `  latency from when each request was due (open loop); closed-loop warm-up of ${m.warmupS} s before each path`,
    `  Istio, for reference: two sidecars with mTLS add +${ISTIO_REFERENCE.addedP90Us} us p90, +${ISTIO_REFERENCE.addedP99Us} us p99`,
    `    (${ISTIO_REFERENCE.source})`,
  ];
  for (const p of m.paths) {
    const c = m.cells[p];
    if (c !== undefined && !c.ok) lines.push(`  ${p} failed: ${c.error}`);
    const others = meshFigures(m, p)?.othersCpuPercent ?? 0;
    if (others > 10)
      lines.push(
        `  ${p}: other processes used ${others}% of a core during the run: its figures are disturbed`,
      );
  }
  if (m.error !== undefined) lines.push(`  mesh: ${m.error}`);
  return lines.join('\n');
}

export function formatReport(
  report: BenchReport,
  targets: readonly TargetName[],
  sections: readonly BenchSection[],
) {
  const d = report.options.durationS;
  const out: string[] = [];
  const titles: Record<Section, string> = {
    h1: `HTTP/1.1 keep-alive, "ok" body, wrk -t1, ${d} s per cell`,
    h2: `h2c, h2load -t1 -c1 -m${report.options.h2Streams}, ${d} s`,
    grpc: `gRPC unary, grpc-js client and server, one channel, ${d} s per cell`,
  };
  const cellNames: Record<Section, string[]> = {
    h1: ['c1', 'c1same', 'c10', 'c50'],
    h2: [`c1m${report.options.h2Streams}`],
    grpc: [...new Set(['x1', `x${report.options.grpcConcurrency}`])],
  };
  for (const s of sections) {
    if (s === 'control') {
      if (report.control !== undefined) out.push(controlTable(report.control), '');
      continue;
    }
    if (s === 'mesh') {
      if (report.mesh !== undefined) out.push(meshTable(report.mesh), '');
      continue;
    }
    out.push(sectionTable(report.results, targets, s, titles[s], cellNames[s]), '');
    const notes: string[] = [];
    for (const t of targets) {
      const sec = report.results[t]?.[s];
      if (sec === undefined) continue;
      if (sec.note !== undefined && t !== 'floor') notes.push(`  ${t}: ${sec.note}`);
      const errs = [
        ...(sec.error !== undefined ? [sec.error] : []),
        ...Object.entries(sec.cells).flatMap(([k, c]) => (c.ok ? [] : [`${k}: ${c.error}`])),
      ];
      for (const e of errs) {
        const [first, ...rest] = e.split('\n');
        notes.push(`  ${t} ${sec.status}: ${first}`);
        for (const l of rest.slice(-8)) notes.push(`      | ${l}`);
      }
    }
    if (notes.length > 0) out.push(notes.join('\n'), '');
  }
  const groups: [BenchSection, string][] = [
    ['h1', 'Targets (Weft, HTTP/1.1)'],
    ['mesh', 'Targets (mesh: two sidecars, mutual TLS)'],
    ['control', 'Targets (control plane)'],
  ];
  for (const [section, heading] of groups) {
    const checks = report.checks.filter((c) => c.section === section);
    if (checks.length === 0) continue;
    if (section !== 'h1' && out.at(-1) !== '') out.push('');
    out.push(heading);
    for (const c of checks) {
      const mark = c.pass === null ? 'n/a ' : c.pass ? 'PASS' : 'FAIL';
      out.push(`  [${mark}] ${c.name}: ${c.detail}`);
    }
  }
  if (report.notes.length > 0) out.push('', ...report.notes.map((n) => `note: ${n}`));
  return out.join('\n');
}

/** Writes <dir>/<timestamp>.json and <dir>/latest.json (each through a .tmp file and a rename). */
export function writeReport(dir: string, report: BenchReport): string {
  mkdirSync(dir, { recursive: true });
  const stamp = report.startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const path = join(dir, `${stamp}.json`);
  for (const p of [path, join(dir, 'latest.json')]) {
    writeFileSync(`${p}.tmp`, text);
    renameSync(`${p}.tmp`, p);
  }
  return path;
}
