/**
 * Command-line options of `npm run bench` (node bench/run.ts). Defaults give the full run (about two and a
 * half minutes, plus about 10 s for the control section); --quick shortens every data-plane cell.
 */
import { parseArgs } from 'node:util';
import { CONTROL_DEFAULTS, type ControlOptions } from './control.ts';
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
}

export const USAGE = `Usage: node bench/run.ts [options]

Compares no proxy (the floor), Weft, nginx and haproxy in front of one upstream on loopback (sections
h1, h2, grpc), and measures how fast the control plane gets a config change acked by every one of 100 and
1,000 simulated proxies, and its memory (section control; target p99 change->ack < 1 s at 1,000 proxies).

  --quick                 2 s per cell instead of 5 (about a minute in all)
  --duration <s>          seconds per measured cell (default 5)
  --warmup <s>            seconds of warm-up load before each target's cells (default 1)
  --targets <list>        comma-separated subset of floor,weft,nginx,haproxy (floor is always run)
  --sections <list>       comma-separated subset of h1,h2,grpc,control (default all)
  --weft-entry <path>     Weft's CLI entry (default bin/weft.js: Node 24, the proxy's V8 flags, type-stripped cache)
  --weft-node-flags <s>   Node flags for Weft, space-separated; "" for none
                          (default: ${DEFAULT_WEFT_NODE_FLAGS.join(' ')}; env WEFT_BENCH_NODE_FLAGS)
  --upstream <kind>       nginx | node | auto (default auto: nginx when installed)
  --h2-streams <n>        concurrent streams on the one h2load connection (default 10)
  --grpc-concurrency <n>  gRPC calls in flight (default 10)
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
    warmupS: positive(values.warmup, 1, '--warmup', true),
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
  };
}
