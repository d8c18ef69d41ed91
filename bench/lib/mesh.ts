/**
 * The `mesh` section of the bench: what two Weft sidecars add to a request, in plaintext and with mutual
 * TLS, against no mesh at all, at a fixed 1,000 requests/s with 1 KB responses (the shape of Istio's
 * published data-plane benchmark). Three paths, each measured with the open-loop generator
 * (servers/paced-load.ts) after a warm-up:
 *
 * - direct: client -> upstream;
 * - plaintext: client -> proxy A (outbound listener, explicit mode) -> proxy B (inbound listener, explicit
 *   mode, target = the upstream) -> upstream; neither proxy holds a certificate;
 * - mtls: the same with a certificate in each proxy (`weft proxy --identity-dir`, issued by Weft's own CA
 *   in the temp dir), the endpoint of A's backend naming B's SPIFFE id and B's inbound STRICT.
 *
 * After each mesh path, proxy B's /metrics must show the requests arriving as configured (mutual_tls from
 * the client's identity, or none); otherwise the path fails with what the counters said. With pinning,
 * both proxies share core 0 (two sidecars on one node) and the generator, the upstream and the harness
 * share core 1. The target (added p50 and p99 of the mTLS path) and the table are in report.ts.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNginxTarget } from './nginx.ts';
import { runPacedLoad } from './paced-load.ts';
import {
  coreBusyPercent,
  cpuByProcess,
  type Memory,
  othersCpuSeconds,
  processTree,
  readCoreTimes,
  treeCpuSeconds,
  treeMemory,
  treeRuntimeSeconds,
} from './proc-stats.ts';
import { freePort, type Proc, stopProcess } from './procs.ts';
import type { LatencySummary } from './stats.ts';
import { type Cores, type LoadFigures, ONE_KB_BODY, ONE_KB_PATH, type StartContext } from './types.ts';
import { startWeftProxy, type WeftOptions, type WeftProcess } from './weft.ts';

export interface MeshOptions {
  /** Requests per second, open loop (default 1,000 as in Istio's benchmark). */
  rps: number;
  /** Keep-alive connections of the generator (default 8). */
  connections: number;
  /** Seconds measured per path. */
  durationS: number;
  /**
   * Seconds of closed-loop load (every connection, as fast as the path answers) before each path's
   * measured run, in the same generator process: it takes the proxies' JIT to its steady state.
   */
  warmupS: number;
  /** Where the processes run; see MeshLayout. */
  layout: MeshLayout;
  /** The paths measured, in order; `direct` (the floor) is always first. */
  paths: MeshPath[];
}

/**
 * proxy-core: both proxies on the proxy core (0), the generator and the upstream on the load core (1), as
 * the rest of the bench; each proxied request then crosses between the cores four times where the direct
 * one crosses none. two-nodes: the client side (generator, proxy A) on core 0 and the server side (proxy
 * B, upstream) on core 1, as Istio's client and server pods on two nodes; both the direct and the proxied
 * request cross twice.
 */
export type MeshLayout = 'proxy-core' | 'two-nodes';
export const MESH_LAYOUTS: readonly MeshLayout[] = ['proxy-core', 'two-nodes'];

export const MESH_DEFAULTS = {
  rps: 1000,
  connections: 8,
  durationS: 10,
  warmupS: 5,
  layout: 'proxy-core',
  paths: ['direct', 'plaintext', 'mtls'],
} as const;

/** Issue 4's target for the mTLS path over no mesh, microseconds. */
export const MESH_TARGET = { addedP50Us: 300, addedP99Us: 1000 } as const;

/**
 * Istio's published figure, for reference only (other hardware, other layout: client and server on
 * Kubernetes nodes, Envoy with 2 worker threads, fortio as the load generator).
 */
export const ISTIO_REFERENCE = {
  addedP90Us: 228,
  addedP99Us: 298,
  source:
    'Istio 1.20 "Performance and Scalability" (istio.io/v1.20/docs/ops/deployment/performance-and-scalability/): ' +
    'two sidecars, default config with telemetry, mutual TLS, HTTP/1.1, 1 kB payload, 1,000 rps, 2-64 client ' +
    'connections, 2 proxy workers; "different hardware will give different values"',
} as const;

export const TRUST_DOMAIN = 'cluster.local';
export const CLIENT_ID = `spiffe://${TRUST_DOMAIN}/ns/bench/sa/client`;
export const SERVER_ID = `spiffe://${TRUST_DOMAIN}/ns/bench/sa/server`;

/** `nginx`: two nginx proxies in the same places as the Weft pair, plaintext: what the layout itself costs. */
export type MeshPath = 'direct' | 'plaintext' | 'mtls' | 'nginx';
export const MESH_PATHS: readonly MeshPath[] = ['direct', 'plaintext', 'mtls', 'nginx'];

export interface MeshProxyFigures {
  /** CPU time of the proxy (all threads, from the scheduler's clock) over the measured run per request sent, µs. */
  cpuUsPerRequest: number;
  /** The same over wall time, percent of one core. */
  cpuPercent: number;
  /** Right after the measured run. */
  memAfter: Memory;
}

/** What proxy B's /metrics said after the run (cumulative: priming, warm-up and measured requests). */
export interface MeshSecurityCheck {
  mtlsConnectionsInbound: number;
  /** Proxy A's `weft_mtls_connections_total{direction="outbound"}`. */
  mtlsConnectionsOutbound: number;
  requestsMutualTls: number;
  requestsPlaintext: number;
  /** `source_principal` of the mutual_tls series. */
  principals: string[];
}

export interface MeshFigures extends LoadFigures {
  /** Requests sent in the measured run (successes, failures and unanswered). */
  sent: number;
  /** The generator's own timing jitter against the exact schedule, µs (not counted in latency). */
  lag: LatencySummary;
  /** Requests that found every connection busy when due, and waited for one (counted in latency). */
  queued: number;
  maxInFlight: number;
  /** Busy percent of each core during the measured run (/proc/stat). */
  coreBusyPercent: number[];
  /** CPU that processes other than the bench's used during the measured run, percent of one core. */
  othersCpuPercent: number;
  warmupRequests: number;
  /** The two proxies, on the mesh paths. */
  proxies?: { a: MeshProxyFigures; b: MeshProxyFigures };
  security?: MeshSecurityCheck;
}

export type MeshCell = ({ ok: true } & MeshFigures) | { ok: false; error: string; figures?: MeshFigures };

/** The `mesh` field of the results JSON. */
export interface MeshResult {
  /** failed: set-up failed, or a path failed (its cell says why). */
  status: 'ok' | 'failed';
  error?: string;
  /** Where the processes ran. */
  layout: string;
  rps: number;
  connections: number;
  durationS: number;
  warmupS: number;
  layoutName: MeshLayout;
  /** The paths measured, in order. */
  paths: MeshPath[];
  /** The request: `GET /1k`, answered with this many bytes. */
  path: string;
  bodyBytes: number;
  cells: Partial<Record<MeshPath, MeshCell>>;
}

export interface MeshEnvironment {
  tmpDir: string;
  cores: Cores;
  /** The HTTP/1.1 upstream's port (serves ONE_KB_PATH). */
  upstreamPort: number;
  weft: WeftOptions;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Writes `<dir>/client` and `<dir>/server`, each with the cert.pem (leaf + issuer), key.pem and
 * bundle.pem (roots) that `weft proxy --identity-dir` reads, from a CA created in `<dir>/ca`. The CA code
 * is imported only here, so a bench run without this section loads none of it.
 */
async function writeIdentities(dir: string): Promise<{ client: string; server: string }> {
  const { createCertificateAuthority } = await import('../../src/control/ca/authority.ts');
  const { issueWorkload } = await import('../../src/control/ca/testing.ts');
  const ca = await createCertificateAuthority({ stateDir: join(dir, 'ca'), trustDomain: TRUST_DOMAIN });
  const bundle = ca
    .trustBundle()
    .map((pem) => pem.trimEnd())
    .join('\n');
  const out = { client: join(dir, 'client'), server: join(dir, 'server') };
  for (const [serviceAccount, folder] of [
    ['client', out.client],
    ['server', out.server],
  ] as const) {
    const w = await issueWorkload(ca, { namespace: 'bench', serviceAccount });
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'cert.pem'), w.chainPem);
    writeFileSync(join(folder, 'key.pem'), w.keyPem);
    chmodSync(join(folder, 'key.pem'), 0o600);
    writeFileSync(join(folder, 'bundle.pem'), `${bundle}\n`);
  }
  return out;
}

/** Proxy A: the client's sidecar, an explicit-mode outbound listener in front of backend `b` (proxy B). */
export function clientProxyConfig(adminPort: number, listenPort: number, peerPort: number, mtls: boolean) {
  return {
    node: { id: 'bench-client', workload: 'client', namespace: 'bench' },
    admin: { address: '127.0.0.1', port: adminPort },
    backends: [
      {
        name: 'b',
        protocol: 'http1',
        endpoints: [{ address: '127.0.0.1', port: peerPort, ...(mtls ? { identity: SERVER_ID } : {}) }],
      },
    ],
    outbound: [
      {
        name: 'b',
        port: 80,
        protocol: 'http1',
        listen: { address: '127.0.0.1', port: listenPort },
        routes: [{ backends: [{ backend: 'b' }] }],
      },
    ],
    settings: { drainTimeout: '200ms' },
  };
}

/** Proxy B: the server's sidecar, an explicit-mode inbound listener in front of the upstream. */
export function serverProxyConfig(
  adminPort: number,
  listenPort: number,
  upstreamPort: number,
  mtls: boolean,
) {
  return {
    node: { id: 'bench-server', workload: 'server', namespace: 'bench' },
    admin: { address: '127.0.0.1', port: adminPort },
    inbound: [
      {
        name: 'server',
        listen: { address: '127.0.0.1', port: listenPort },
        protocol: 'http1',
        target: { address: '127.0.0.1', port: upstreamPort },
        mtls: mtls ? 'STRICT' : 'DISABLE',
      },
    ],
    settings: { drainTimeout: '200ms' },
  };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (enough of the format for Weft's own /metrics). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

function sum(samples: readonly Sample[], name: string, labels: Record<string, string>): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

async function metricsOf(adminPort: number): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(2000) });
  if (res.status !== 200) throw new Error(`/metrics on ${adminPort} answered ${res.status}`);
  return parsePrometheus(await res.text());
}

async function securityCheck(a: WeftProcess, b: WeftProcess): Promise<MeshSecurityCheck> {
  const [ma, mb] = [await metricsOf(a.adminPort), await metricsOf(b.adminPort)];
  const mutual = mb.filter(
    (s) => s.name === 'weft_inbound_requests_total' && s.labels.connection_security_policy === 'mutual_tls',
  );
  return {
    mtlsConnectionsInbound: sum(mb, 'weft_mtls_connections_total', { direction: 'inbound' }),
    mtlsConnectionsOutbound: sum(ma, 'weft_mtls_connections_total', { direction: 'outbound' }),
    requestsMutualTls: mutual.reduce((n, s) => n + s.value, 0),
    requestsPlaintext: sum(mb, 'weft_inbound_requests_total', { connection_security_policy: 'none' }),
    principals: [...new Set(mutual.map((s) => s.labels.source_principal ?? ''))],
  };
}

/** Why the counters do not match the path, or undefined when they do. */
function securityProblem(path: MeshPath, c: MeshSecurityCheck, measured: number): string | undefined {
  const saw = `proxy B counted ${c.mtlsConnectionsInbound} inbound mTLS connections, ${c.requestsMutualTls} mutual_tls and ${c.requestsPlaintext} plaintext requests; proxy A ${c.mtlsConnectionsOutbound} outbound mTLS connections`;
  if (path === 'mtls') {
    if (c.mtlsConnectionsInbound === 0 || c.mtlsConnectionsOutbound === 0)
      return `mutual TLS was not used: ${saw}`;
    if (c.requestsPlaintext > 0 || c.requestsMutualTls < measured)
      return `not every request came over mutual TLS (${measured} measured): ${saw}`;
    if (c.principals.length !== 1 || c.principals[0] !== CLIENT_ID)
      return `the peer was not ${CLIENT_ID} but ${c.principals.join(', ')}: ${saw}`;
    return undefined;
  }
  if (c.mtlsConnectionsInbound > 0 || c.requestsMutualTls > 0)
    return `the plaintext path used mutual TLS: ${saw}`;
  if (c.requestsPlaintext < measured)
    return `proxy B did not see every request (${measured} measured): ${saw}`;
  return undefined;
}

/** The cores of each part of the set-up (undefined: not pinned). */
interface Placement {
  generator: number | undefined;
  a: number | undefined;
  b: number | undefined;
}

function placement(layout: MeshLayout, cores: Cores): Placement {
  if (layout === 'two-nodes') return { generator: cores.proxy, a: cores.proxy, b: cores.load };
  return { generator: cores.load, a: cores.proxy, b: cores.proxy };
}

/** A started chain of two proxies: where the load goes, the processes, and Weft's admin ports. */
interface Chain {
  port: number;
  a: Proc;
  b: Proc;
  weft: { a: WeftProcess; b: WeftProcess } | undefined;
}

async function startChain(
  path: Exclude<MeshPath, 'direct'>,
  env: MeshEnvironment,
  at: Placement,
  ids: { client: string; server: string } | undefined,
  started: Proc[],
): Promise<Chain> {
  const dir = join(env.tmpDir, `mesh-${path}`);
  if (path === 'nginx') {
    // nginx.ts's proxy target: one worker, a keep-alive pool to what it forwards to.
    const nginx = createNginxTarget();
    const ctx = (core: number | undefined, next: number): StartContext => ({
      tmpDir: dir,
      cores: { proxy: core, load: env.cores.load },
      upstreams: { h1: next, h2: 0, grpc: 0 },
    });
    const b = await nginx.start('h1', ctx(at.b, env.upstreamPort));
    if (b.proc !== undefined) started.push(b.proc);
    const a = await nginx.start('h1', ctx(at.a, b.port));
    if (a.proc !== undefined) started.push(a.proc);
    if (a.proc === undefined || b.proc === undefined) throw new Error('nginx started without a process');
    return { port: a.port, a: a.proc, b: b.proc, weft: undefined };
  }
  const mtls = path === 'mtls';
  if (mtls && ids === undefined) throw new Error('no certificates for the mTLS path');
  const [adminA, adminB, outA, inB] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const b = await startWeftProxy(env.weft, {
    name: `mesh-${path}-b`,
    dir,
    config: serverProxyConfig(adminB, inB, env.upstreamPort, mtls),
    listenPorts: [inB],
    core: at.b,
    extraArgs: mtls && ids !== undefined ? ['--identity-dir', ids.server] : [],
  });
  started.push(b.proc);
  const a = await startWeftProxy(env.weft, {
    name: `mesh-${path}-a`,
    dir,
    config: clientProxyConfig(adminA, outA, inB, mtls),
    listenPorts: [outA],
    core: at.a,
    extraArgs: mtls && ids !== undefined ? ['--identity-dir', ids.client] : [],
  });
  started.push(a.proc);
  return { port: outA, a: a.proc, b: b.proc, weft: { a, b } };
}

/** CPU seconds of a process tree: the scheduler's clock where the kernel has it, else utime + stime. */
function cpuSeconds(pids: readonly number[]): number {
  return treeRuntimeSeconds(pids) ?? treeCpuSeconds(pids);
}

async function measurePath(
  path: MeshPath,
  opts: MeshOptions,
  env: MeshEnvironment,
  ids: { client: string; server: string } | undefined,
): Promise<MeshCell> {
  const at = placement(opts.layout, env.cores);
  const started: Proc[] = [];
  try {
    const chain = path === 'direct' ? undefined : await startChain(path, env, at, ids, started);
    let pidsA: number[] = [];
    let pidsB: number[] = [];
    let cpu0 = { a: 0, b: 0 };
    let others0 = new Map<number, number>();
    let cores0 = readCoreTimes();
    let t0 = performance.now();
    const r = await runPacedLoad({
      port: chain?.port ?? env.upstreamPort,
      path: ONE_KB_PATH,
      rps: opts.rps,
      connections: opts.connections,
      expectBytes: ONE_KB_BODY.length,
      durationS: opts.durationS,
      warmupS: opts.warmupS,
      core: at.generator,
      tmpDir: env.tmpDir,
      onMeasuring: () => {
        if (chain !== undefined) {
          pidsA = processTree(chain.a.pid);
          pidsB = processTree(chain.b.pid);
          cpu0 = { a: cpuSeconds(pidsA), b: cpuSeconds(pidsB) };
        }
        others0 = cpuByProcess();
        cores0 = readCoreTimes();
        t0 = performance.now();
      },
    });
    const wallS = (performance.now() - t0) / 1000;
    const coreBusy = coreBusyPercent(cores0, readCoreTimes());
    const othersS = othersCpuSeconds(others0, cpuByProcess(), new Set(processTree(process.pid)));
    const proxyFigures = (pids: number[], before: number): MeshProxyFigures => {
      const cpuS = cpuSeconds(pids) - before;
      return {
        cpuUsPerRequest: r.sent > 0 ? Math.round((cpuS * 1e6 * 100) / r.sent) / 100 : 0,
        cpuPercent: Math.round((cpuS / wallS) * 100),
        memAfter: treeMemory(pids),
      };
    };
    const { lastError, ...figures } = r;
    const out: MeshFigures = {
      ...figures,
      coreBusyPercent: coreBusy,
      othersCpuPercent: Math.round((othersS / wallS) * 100),
    };
    if (chain !== undefined) {
      for (const p of [chain.a, chain.b]) {
        if (p.exitedWith !== undefined)
          return { ok: false, error: `${p.name} exited during the run (${p.exitedWith})`, figures: out };
      }
      out.proxies = { a: proxyFigures(pidsA, cpu0.a), b: proxyFigures(pidsB, cpu0.b) };
      if (chain.weft !== undefined) {
        out.security = await securityCheck(chain.weft.a, chain.weft.b);
        const problem = securityProblem(path, out.security, r.requests);
        if (problem !== undefined) return { ok: false, error: problem, figures: out };
      }
    }
    if (r.requests === 0) return { ok: false, error: `no successful request: ${lastError}`, figures: out };
    return { ok: true, ...out };
  } catch (err) {
    return { ok: false, error: message(err) };
  } finally {
    for (const p of started.reverse()) await stopProcess(p, 5000);
  }
}

/** One short line per path for the progress output. */
function progressLine(cell: MeshCell): string {
  if (!cell.ok) return `failed: ${cell.error.split('\n')[0]}`;
  const errors = cell.errors > 0 ? `, ${cell.errors} failed requests` : '';
  return `ok: p50 ${cell.p50} us, p99 ${cell.p99} us, ${cell.rps} req/s${errors}`;
}

export async function runMeshSection(
  opts: MeshOptions,
  env: MeshEnvironment,
  progress: (text: string) => void,
  cancelled: () => boolean,
): Promise<MeshResult> {
  const { cores } = env;
  const layout =
    cores.proxy === undefined
      ? 'not pinned: proxies, load generator and upstream share the cores'
      : opts.layout === 'two-nodes'
        ? `two-nodes: load generator and proxy A on core ${cores.proxy}; proxy B, upstream and harness on core ${cores.load}`
        : `proxy-core: both proxies on core ${cores.proxy}; load generator, upstream and harness on core ${cores.load}`;
  const result: MeshResult = {
    status: 'ok',
    layout,
    rps: opts.rps,
    connections: opts.connections,
    durationS: opts.durationS,
    warmupS: opts.warmupS,
    layoutName: opts.layout,
    paths: opts.paths,
    path: `GET ${ONE_KB_PATH}`,
    bodyBytes: ONE_KB_BODY.length,
    cells: {},
  };
  let ids: { client: string; server: string } | undefined;
  try {
    ids = await writeIdentities(join(env.tmpDir, 'mesh-identities'));
  } catch (err) {
    // The plaintext paths can still run; the mTLS one fails with this.
    result.error = `certificates: ${message(err)}`;
  }
  for (const path of opts.paths) {
    if (cancelled()) break;
    progress(`bench: mesh ${path} ...`);
    const t0 = Date.now();
    const cell =
      path === 'mtls' && ids === undefined
        ? { ok: false as const, error: result.error ?? 'no certificates' }
        : await measurePath(path, opts, env, ids);
    result.cells[path] = cell;
    progress(` ${progressLine(cell)} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
  if (Object.values(result.cells).some((c) => !c.ok)) result.status = 'failed';
  return result;
}
