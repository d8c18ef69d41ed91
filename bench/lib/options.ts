/**
 * Command-line options of `npm run bench` (node bench/run.ts). Defaults give the full run (about two and a
 * half minutes, plus about 50 s for the mesh section and 10 s for the control section); --quick shortens
 * every data-plane cell and mesh path.
 */
import { parseArgs } from 'node:util';
import { CONTROL_DEFAULTS, type ControlOptions } from './control.ts';
import { MESH_DEFAULTS, MESH_LAYOUTS, MESH_PATHS, type MeshOptions } from './mesh.ts';
import { BENCH_SECTIONS, type BenchSection, TARGET_NAMES, type TargetName } from './types.ts';
import { DEFAULT_WEFT_NODE_FLAGS } from './weft.ts';

export interface Options {
  durationS: number;
  warmupS: number;
  targets: TargetName[];
  /** Protocol sections and `control`, in the order given. */
  sections: BenchSection[];
  weftEntry: string;
  weftNodeFlags: string[];
  upstream: 'nginx' | 'node' | 'auto';
  pin: boolean;
  keepTmp: boolean;
  write: boolean;
  h2Streams: number;
  grpcConcurrency: number;
  control: ControlOptions;
  mesh: MeshOptions;
}

export const USAGE = `Usage: node bench/run.ts [options]

Compares no proxy (the floor), Weft, nginx and haproxy in front of one upstream on loopback (sections
h1, h2, grpc); measures what two Weft sidecars add, plaintext and with mutual TLS, over no mesh at a fixed
1,000 requests/s with 1 KB responses (section mesh; target for mTLS: added p50 <= 0.3 ms, p99 <= 1 ms);
and measures how fast the control plane gets a config change acked by every one of 100 and 1,000
simulated proxies, and its memory (section control; target p99 change->ack < 1 s at 1,000 proxies).

  --quick                 2 s per cell instead of 5, 2 s per mesh path instead of 10 (about 2 minutes in all)
  --duration <s>          seconds per measured cell (default 5) and per mesh path (default 10)
  --warmup <s>            seconds of warm-up load before each target's cells (default 1) and before each
                          mesh path (closed loop, default 5; 2 with --quick)
  --targets <list>        comma-separated subset of floor,weft,nginx,haproxy (floor is always run)
  --sections <list>       comma-separated subset of h1,h2,grpc,mesh,control (default all)
  --weft-entry <path>     Weft's CLI entry (default bin/weft.js: Node 24, the proxy's V8 flags, type-stripped cache)
  --weft-node-flags <s>   Node flags for Weft, space-separated; "" for none
                          (default: ${DEFAULT_WEFT_NODE_FLAGS.join(' ')}; env WEFT_BENCH_NODE_FLAGS)
  --upstream <kind>       nginx | node | auto (default auto: nginx when installed)
  --h2-streams <n>        concurrent streams on the one h2load connection (default 10)
  --grpc-concurrency <n>  gRPC calls in flight (default 10)
  --mesh-rps <n>          mesh: requests per second, open loop (default ${MESH_DEFAULTS.rps})
  --mesh-connections <n>  mesh: keep-alive connections of the load generator (default ${MESH_DEFAULTS.connections})
  --mesh-layout <name>    mesh: proxy-core (both proxies on core 0, load and upstream on core 1; default) or
                          two-nodes (generator and proxy A on core 0, proxy B and upstream on core 1)
  --mesh-paths <list>     mesh: comma-separated subset of plaintext,mtls,nginx (default plaintext,mtls;
                          nginx = two nginx proxies in the same places, plaintext); no mesh always runs first
  --control-proxies <ns>  control: comma-separated simulated proxy counts (default ${CONTROL_DEFAULTS.proxies.join(',')})
  --control-services <n>  control: services in the mesh, the size of each view (default ${CONTROL_DEFAULTS.services}, ~29 KB)
  --control-rounds <n>    control: config changes measured per proxy count (default ${CONTROL_DEFAULTS.rounds})
  --no-pin                do not pin processes to cores with taskset
  --keep-tmp              keep the temp dir (configs and logs) and print its path
  --no-write              do not write bench/results/*.json
  -h, --help              this text
`;

function list<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  what: string,
): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new Error(`unknown ${what} "${item}" (one of ${allowed.join(', ')})`);
    }
  }
  return items as T[];
}

function positive(value: string | undefined, fallback: number, what: string, integer = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)))
    throw new Error(`bad ${what}: ${value}`);
  return n;
}

/** Returns undefined for --help. */
export function parseOptions(argv: readonly string[]): Options | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      targets: { type: 'string' },
      sections: { type: 'string' },
      'weft-entry': { type: 'string', default: 'bin/weft.js' },
      'weft-node-flags': { type: 'string' },
      upstream: { type: 'string', default: 'auto' },
      'h2-streams': { type: 'string' },
      'grpc-concurrency': { type: 'string' },
      'mesh-rps': { type: 'string' },
      'mesh-connections': { type: 'string' },
      'mesh-layout': { type: 'string' },
      'mesh-paths': { type: 'string' },
      'control-proxies': { type: 'string' },
      'control-services': { type: 'string' },
      'control-rounds': { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      'keep-tmp': { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;
  const upstream = values.upstream;
  if (upstream !== 'nginx' && upstream !== 'node' && upstream !== 'auto') {
    throw new Error(`bad --upstream: ${upstream} (nginx, node or auto)`);
  }
  // wrk and h2load take whole seconds.
  const durationS = positive(values.duration, values.quick ? 2 : 5, '--duration', true);
  if (durationS < 1) throw new Error('--duration must be at least 1');
  const warmupS = positive(values.warmup, 1, '--warmup', true);
  const meshLayout = list(values['mesh-layout'], MESH_LAYOUTS, 'mesh layout')?.[0] ?? MESH_DEFAULTS.layout;
  const meshPaths = list(values['mesh-paths'], MESH_PATHS, 'mesh path') ?? [...MESH_DEFAULTS.paths];
  const targets = list(values.targets, TARGET_NAMES, 'target') ?? [...TARGET_NAMES];
  const flags = values['weft-node-flags'] ?? process.env.WEFT_BENCH_NODE_FLAGS;
  const controlProxies =
    values['control-proxies'] === undefined
      ? [...CONTROL_DEFAULTS.proxies]
      : values['control-proxies']
          .split(',')
          .filter((s) => s.trim() !== '')
          .map((s) => positive(s.trim(), 0, '--control-proxies', true));
  if (controlProxies.length === 0 || controlProxies.includes(0))
    throw new Error(`bad --control-proxies: ${values['control-proxies']}`);
  return {
    durationS,
    warmupS,
    // The floor is what added latency is measured against, so it always runs, and first.
    targets: TARGET_NAMES.filter((t) => t === 'floor' || targets.includes(t)),
    sections: list(values.sections, BENCH_SECTIONS, 'section') ?? [...BENCH_SECTIONS],
    weftEntry: values['weft-entry'],
    weftNodeFlags:
      flags === undefined ? [...DEFAULT_WEFT_NODE_FLAGS] : flags.split(/\s+/).filter((f) => f !== ''),
    upstream,
    pin: !values['no-pin'],
    keepTmp: values['keep-tmp'],
    write: !values['no-write'],
    h2Streams: positive(values['h2-streams'], 10, '--h2-streams', true) || 1,
    grpcConcurrency: positive(values['grpc-concurrency'], 10, '--grpc-concurrency', true) || 1,
    control: {
      proxies: controlProxies,
      services:
        positive(values['control-services'], CONTROL_DEFAULTS.services, '--control-services', true) || 1,
      rounds: positive(values['control-rounds'], CONTROL_DEFAULTS.rounds, '--control-rounds', true) || 1,
    },
    mesh: {
      rps: positive(values['mesh-rps'], MESH_DEFAULTS.rps, '--mesh-rps', true) || MESH_DEFAULTS.rps,
      connections:
        positive(values['mesh-connections'], MESH_DEFAULTS.connections, '--mesh-connections', true) || 1,
      // A path is one measurement of a few thousand requests: longer than a protocol cell unless asked.
      durationS: values.duration !== undefined ? durationS : values.quick ? 2 : MESH_DEFAULTS.durationS,
      warmupS: values.warmup !== undefined ? warmupS : values.quick ? 2 : MESH_DEFAULTS.warmupS,
      layout: meshLayout,
      // The floor first: every added figure is measured against it.
      paths: MESH_PATHS.filter((p) => p === 'direct' || meshPaths.includes(p)),
    },
  };
}
