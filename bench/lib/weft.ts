/**
 * Weft as a target: writes a ProxyConfig YAML (one backend `up` and one explicit-mode outbound listener
 * `up` in front of the section's upstream), checks it against Weft's own schema, starts
 * `node <flags> bin/weft.js proxy --config <file>` (the user-facing command) on the proxy core and waits for the admin `/ready`.
 * `startWeftProxy` does the starting part for any config (the mesh section starts two proxies with it).
 * The Node flags default to the memory settings in STYLE.md and can be changed with --weft-node-flags.
 * Any failure (no CLI yet, a config the proxy rejects, no readiness) is thrown with the proxy's log tail,
 * so the bench reports the cell as failed instead of stopping.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { stringify } from 'yaml';
import {
  freePort,
  httpStatus,
  type Proc,
  readyOrStop,
  startProcess,
  stopProcess,
  waitListening,
  waitUntil,
} from './procs.ts';
import type { RunningTarget, Section, Target } from './types.ts';

export const DEFAULT_WEFT_NODE_FLAGS = [
  '--max-semi-space-size=1',
  '--max-old-space-size=32',
  '--single-threaded',
  '--v8-pool-size=1',
];

export interface WeftOptions {
  /** The repository root, where Weft is run from. */
  root: string;
  /** The CLI entry, relative to root or absolute. */
  entry: string;
  nodeFlags: readonly string[];
  readyTimeoutMs: number;
}

const OUTBOUND_PROTOCOL = { h1: 'http1', h2: 'http2', grpc: 'grpc' } as const;
const BACKEND_PROTOCOL = { h1: 'http1', h2: 'http2', grpc: 'http2' } as const;

export function weftConfig(section: Section, adminPort: number, listenPort: number, upstreamPort: number) {
  return {
    node: { id: 'bench', workload: 'bench', namespace: 'default' },
    admin: { address: '127.0.0.1', port: adminPort },
    backends: [
      {
        name: 'up',
        protocol: BACKEND_PROTOCOL[section],
        endpoints: [{ address: '127.0.0.1', port: upstreamPort }],
      },
    ],
    outbound: [
      {
        name: 'up',
        port: 80,
        protocol: OUTBOUND_PROTOCOL[section],
        listen: { address: '127.0.0.1', port: listenPort },
        routes: [{ backends: [{ backend: 'up' }] }],
      },
    ],
    // A short drain so stopping the proxy between cells does not wait for the 10 s default.
    settings: { drainTimeout: '200ms' },
  };
}

/** Validates with Weft's schema when it loads; a schema that cannot be loaded is not the bench's concern. */
async function checkConfig(root: string, config: unknown): Promise<void> {
  let schema: { safeParse(v: unknown): { success: boolean; error?: { message: string } } };
  try {
    const mod = (await import(join(root, 'src/api/proxy-config/schema.ts'))) as {
      ProxyConfig: typeof schema;
    };
    schema = mod.ProxyConfig;
  } catch {
    return;
  }
  const res = schema.safeParse(config);
  if (!res.success) throw new Error(`the bench's Weft config fails the schema: ${res.error?.message ?? ''}`);
}

export interface WeftProcess {
  proc: Proc;
  adminPort: number;
}

/**
 * Starts one `weft proxy` with `config` (checked against Weft's schema first, written to `<dir>/<name>.yaml`)
 * on `core`, with `extraArgs` after `--config` (e.g. `--identity-dir`), and waits until the admin `/ready`
 * answers and every port of `listenPorts` accepts connections. Stops it again when it does not get there.
 */
export async function startWeftProxy(
  opts: WeftOptions,
  spec: {
    name: string;
    dir: string;
    config: { admin: { port: number } };
    listenPorts: readonly number[];
    core: number | undefined;
    extraArgs?: readonly string[];
  },
): Promise<WeftProcess> {
  const entry = isAbsolute(opts.entry) ? opts.entry : join(opts.root, opts.entry);
  if (!existsSync(entry)) throw new Error(`${opts.entry} not found (Weft's CLI is not there yet)`);
  mkdirSync(spec.dir, { recursive: true });
  await checkConfig(opts.root, spec.config);
  const cfgPath = join(spec.dir, `${spec.name}.yaml`);
  writeFileSync(cfgPath, `# Written by the bench (bench/lib) for one run.\n${stringify(spec.config)}`);
  const proc = startProcess(
    spec.name,
    process.execPath,
    [...opts.nodeFlags, entry, 'proxy', '--config', cfgPath, ...(spec.extraArgs ?? [])],
    { core: spec.core, cwd: opts.root, logDir: spec.dir },
  );
  const adminPort = spec.config.admin.port;
  await readyOrStop(proc, async () => {
    await waitUntil(
      proc,
      `admin /ready on ${adminPort}`,
      () => httpStatus(`http://127.0.0.1:${adminPort}/ready`),
      opts.readyTimeoutMs,
    );
    for (const port of spec.listenPorts) await waitListening(proc, port, 5000);
  });
  return { proc, adminPort };
}

export function createWeftTarget(opts: WeftOptions): Target {
  return {
    name: 'weft',
    // Weft is what the bench is for: a missing CLI is a failure to report, not a tool that is not installed.
    unavailable: () => undefined,
    unsupported: () => undefined,
    async start(section, ctx): Promise<RunningTarget> {
      const [adminPort, listenPort] = [await freePort(), await freePort()];
      const config = weftConfig(section, adminPort, listenPort, ctx.upstreams[section]);
      const { proc } = await startWeftProxy(opts, {
        name: `weft-${section}`,
        dir: join(ctx.tmpDir, `weft-${section}`),
        config,
        listenPorts: [listenPort],
        core: ctx.cores.proxy,
      });
      const note = `outbound ${OUTBOUND_PROTOCOL[section]} -> backend ${BACKEND_PROTOCOL[section]}`;
      return { port: listenPort, proc, note, stop: () => stopProcess(proc, 5000) };
    },
  };
}
