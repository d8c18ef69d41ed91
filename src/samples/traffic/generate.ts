/**
 * A steady trickle of product-page views, so the dashboard, metrics and traffic splits have something to
 * show: GET <url> at a fixed rate, stopping after --count requests or --duration seconds (whichever comes
 * first; neither means until SIGTERM), with a one-line summary every 10 s and at the end.
 *
 * Usage: `node src/samples/traffic/generate.ts [url] [--rate 2] [--count N] [--duration S]
 * [--header 'name: value']…`. The URL defaults to TRAFFIC_URL or http://productpage:9080/productpage;
 * TRAFFIC_RATE, TRAFFIC_COUNT and TRAFFIC_DURATION are the env forms of the options. Requests go
 * through the Bookinfo outbound helper, so HTTP_PROXY (Weft's explicit mode) is honoured. Each request
 * has a 10 s timeout; requests overlap when the target is slower than the rate.
 */
import { parseArgs } from 'node:util';
import { get } from '../bookinfo/http-client.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rate: { type: 'string' },
    count: { type: 'string' },
    duration: { type: 'string' },
    header: { type: 'string', multiple: true },
  },
});

function numberOption(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

const url = positionals[0] ?? process.env.TRAFFIC_URL ?? 'http://productpage:9080/productpage';
const rate = numberOption('rate', values.rate ?? process.env.TRAFFIC_RATE, 2);
const count = numberOption('count', values.count ?? process.env.TRAFFIC_COUNT, Infinity);
const durationS = numberOption('duration', values.duration ?? process.env.TRAFFIC_DURATION, Infinity);
const headers: Record<string, string> = { 'user-agent': 'weft-traffic/1' };
for (const h of values.header ?? []) {
  const colon = h.indexOf(':');
  if (colon > 0) headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
}

const byStatus = new Map<string, number>();
let window: number[] = [];
let sent = 0;
let inFlight = 0;
const startedAt = Date.now();

function summary(final: boolean): string {
  const sorted = [...window].sort((a, b) => a - b);
  const q = (p: number) =>
    sorted.length
      ? `${Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!)}ms`
      : '-';
  const statuses = [...byStatus].map(([s, n]) => `${s}:${n}`).join(' ') || '-';
  const elapsed = ((Date.now() - startedAt) / 1000).toFixed(0);
  return `${final ? 'done' : 'traffic'} ${elapsed}s sent=${sent} statuses=[${statuses}] last10s p50=${q(0.5)} p99=${q(0.99)} url=${url}`;
}

async function once(): Promise<void> {
  inFlight++;
  const t0 = performance.now();
  const r = await get(url, { timeoutMs: 10_000, attempts: 1, headers });
  window.push(performance.now() - t0);
  const key = r.status ? String(r.status) : (r.error ?? 'error');
  byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
  inFlight--;
}

const report = setInterval(() => {
  console.log(summary(false));
  window = [];
}, 10_000);

let stopping = false;
/** At the count or duration bound the last requests are awaited; on a signal the process exits at once. */
const finish = async (wait: boolean) => {
  if (stopping) return;
  stopping = true;
  clearInterval(tick);
  clearInterval(report);
  while (wait && inFlight > 0) await new Promise((r) => setTimeout(r, 20));
  console.log(summary(true));
  process.exit(0);
};

const tick = setInterval(() => {
  if (sent >= count || Date.now() - startedAt >= durationS * 1000) {
    void finish(true);
    return;
  }
  sent++;
  void once();
}, 1000 / rate);

process.once('SIGTERM', () => void finish(false));
process.once('SIGINT', () => void finish(false));
console.log(
  `traffic: GET ${url} at ${rate}/s${Number.isFinite(count) ? `, ${count} requests` : ''}${Number.isFinite(durationS) ? `, for ${durationS}s` : ''}`,
);
