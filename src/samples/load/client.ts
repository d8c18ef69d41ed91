/**
 * A small load client in the manner of fortio (`fortio load -c 2 -qps 0 -n 20 <url>`), which Istio's
 * circuit-breaking task runs from a client pod: GET <url> `-n` times over `-c` keep-alive connections,
 * either as fast as the connections allow (`--qps 0`, each connection sends its next request when the
 * last one ends, as fortio's -qps 0) or paced at `--qps` requests a second in all (open loop: request i is
 * due at start + i/qps; a request with no free connection waits for one, and its latency counts from its
 * due time). It reports the status codes, as fortio does ("Code 503 : 19 (63.3 %)"), and the `weft-error`
 * codes of the responses the mesh generated itself (OVERFLOW for a circuit-breaker refusal).
 *
 * Usage: `node src/samples/load/client.ts [url] [-c 2] [-n 20] [--qps 0] [--timeout 10000] [--json]`.
 * The URL defaults to LOAD_URL or http://httpbin:8000/get. `--json` prints one JSON object instead:
 * `statuses` and `errors` by code, latency percentiles, and every request that did not get a 2xx with its
 * wall-clock time (`failures[].at`, ms since the epoch), so a test can line failures up with an event.
 * A request that got no response is counted under status 0 with its error code (ECONNRESET, TIMEOUT…).
 * With HTTP_PROXY set (Weft's explicit mode) requests go to the proxy in absolute form.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { proxyFor } from '../common/proxy.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    connections: { type: 'string', short: 'c' },
    requests: { type: 'string', short: 'n' },
    qps: { type: 'string' },
    timeout: { type: 'string' },
    json: { type: 'boolean' },
  },
});

function intOption(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) {
    console.error(`--${name} must be a number of at least ${min}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

const target = new URL(positionals[0] ?? process.env.LOAD_URL ?? 'http://httpbin:8000/get');
const connections = intOption('connections', values.connections, 1, 1);
const total = intOption('requests', values.requests, 100, 1);
const qps = intOption('qps', values.qps, 0, 0);
const timeoutMs = intOption('timeout', values.timeout, 10_000, 1);
const proxy = proxyFor(target, process.env);

interface Outcome {
  /** When the request was due (paced) or sent (qps 0), ms since the epoch. */
  at: number;
  status: number;
  /** The weft-error header, or the client-side error code when there was no response. */
  error?: string;
  ms: number;
}

// One keep-alive connection per slot, as fortio's -c: the agent never opens more than `connections`.
const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });

function once(dueAt: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now() - (Date.now() - dueAt);
    const done = (status: number, error: string | undefined) => {
      const ms = Math.round((performance.now() - started) * 10) / 10;
      resolve(error === undefined ? { at: dueAt, status, ms } : { at: dueAt, status, error, ms });
    };
    const req = http.request(
      {
        host: proxy?.hostname ?? target.hostname,
        port: proxy ? proxy.port || 80 : target.port || 80,
        path: proxy ? target.href : `${target.pathname}${target.search}`,
        headers: { host: target.host, 'user-agent': 'weft-load/1' },
        agent,
      },
      (res) => {
        const weftError = res.headers['weft-error'];
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0, typeof weftError === 'string' ? weftError : undefined));
        res.on('error', (err: NodeJS.ErrnoException) => done(0, err.code ?? err.message));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => done(0, err.code ?? err.message));
    req.end();
  });
}

const startedAt = Date.now();
const outcomes: Outcome[] = [];

if (qps === 0) {
  // Closed loop: each connection sends its next request as soon as its last one ended.
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      outcomes.push(await once(Date.now()));
    }
  };
  await Promise.all(Array.from({ length: Math.min(connections, total) }, worker));
} else {
  // Open loop: request i is due at startedAt + i × 1000/qps whatever the earlier ones are doing.
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = startedAt + (i * 1000) / qps;
    const wait = due - Date.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(once(due).then((o) => void outcomes.push(o)));
  }
  await Promise.all(pending);
}
agent.destroy();

const durationMs = Date.now() - startedAt;
const statuses: Record<string, number> = {};
const errors: Record<string, number> = {};
for (const o of outcomes) {
  statuses[o.status] = (statuses[o.status] ?? 0) + 1;
  if (o.error) errors[o.error] = (errors[o.error] ?? 0) + 1;
}
const sorted = outcomes.map((o) => o.ms).sort((a, b) => a - b);
const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const failures = outcomes.filter((o) => o.status < 200 || o.status > 299).sort((a, b) => a.at - b.at);

if (values.json) {
  console.log(
    JSON.stringify({
      url: target.href,
      connections,
      requests: outcomes.length,
      qps,
      startedAt,
      durationMs,
      statuses,
      errors,
      latencyMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: sorted[sorted.length - 1] ?? 0 },
      failures,
    }),
  );
} else {
  const rate = ((outcomes.length * 1000) / Math.max(1, durationMs)).toFixed(1);
  console.log(
    `${outcomes.length} requests over ${connections} connection(s) in ${durationMs} ms (${rate}/s) to ${target.href}`,
  );
  console.log(`latency ms: p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)}`);
  const pct = (n: number) => ((n * 100) / outcomes.length).toFixed(1);
  for (const [code, n] of Object.entries(statuses)) console.log(`Code ${code} : ${n} (${pct(n)} %)`);
  for (const [code, n] of Object.entries(errors)) console.log(`weft-error ${code} : ${n}`);
}
