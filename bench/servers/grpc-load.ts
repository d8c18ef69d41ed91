/**
 * The gRPC load generator: a grpc-js client on one channel keeps `concurrency` unary calls in flight for a
 * warm-up and then a measured period, bounded in both time and count, and prints one JSON line with the
 * rate and latency percentiles (microseconds). Run as its own process pinned to core 1:
 * `node bench/servers/grpc-load.ts <host:port> <durationS> <warmupS> <concurrency> [maxCalls]`.
 */
import { type Client, credentials, type ServiceError } from '@grpc/grpc-js';
import { roundSummary, summarise } from '../lib/stats.ts';
import { loadBenchService } from './grpc-proto.ts';

const [target = '127.0.0.1:0', durationArg = '5', warmupArg = '1', concArg = '10', maxArg = '2000000'] =
  process.argv.slice(2);
const durationMs = Number(durationArg) * 1000;
const warmupMs = Number(warmupArg) * 1000;
const concurrency = Number(concArg);
const maxCalls = Number(maxArg);

type UnaryFn = (req: unknown, cb: (err: ServiceError | null, res?: unknown) => void) => void;

const Bench = loadBenchService();
const client = new Bench(target, credentials.createInsecure()) as unknown as Client & { Unary: UnaryFn };
const request = { body: 'ping' };

function call(): Promise<ServiceError | null> {
  return new Promise((resolve) => client.Unary(request, (err) => resolve(err)));
}

async function main(): Promise<void> {
  // First call outside the clock: it opens the channel, and a failure here ends the run with its reason.
  const first = await call();
  if (first !== null) throw new Error(`first call failed: ${first.code} ${first.details}`);

  const samples = new Float64Array(Math.min(maxCalls, 4_000_000));
  let n = 0;
  let errors = 0;
  let totalCalls = 1;
  let lastError = '';
  const t0 = performance.now();
  const measureFrom = t0 + warmupMs;
  const end = measureFrom + durationMs;
  let measuredStart = 0;

  async function worker(): Promise<void> {
    while (n < samples.length) {
      const start = performance.now();
      if (start >= end) return;
      const err = await call();
      const stop = performance.now();
      totalCalls++;
      if (start < measureFrom) continue;
      if (measuredStart === 0) measuredStart = start;
      if (err !== null) {
        errors++;
        lastError = `${err.code} ${err.details}`;
        continue;
      }
      samples[n++] = (stop - start) * 1000;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  const elapsedS = (performance.now() - (measuredStart || measureFrom)) / 1000;
  const out = {
    requests: n,
    totalCalls,
    errors,
    lastError,
    durationS: Math.round(elapsedS * 100) / 100,
    rps: Math.round(n / elapsedS),
    ...roundSummary(summarise(samples.subarray(0, n))),
  };
  console.log(`GRPCJSON ${JSON.stringify(out)}`);
  client.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`grpc-load: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
