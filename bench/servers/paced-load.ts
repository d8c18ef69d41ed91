/**
 * The open-loop HTTP/1.1 load generator of the mesh section: GET requests at a fixed rate over a fixed
 * pool of keep-alive connections, with latency timed from when each request was due, not from when a
 * connection was free to send it. A request that falls due while every connection is busy waits in a
 * queue here and that wait counts in its latency, so a stall in the system under test shows in the
 * percentiles instead of quietly lowering the rate (the coordinated omission of closed-loop tools such as
 * wrk, and of h2load's --rps, which times a request from when it is submitted).
 *
 * Pacing: request i is due at t0 + i / rps. Node's timers have millisecond resolution, which would issue
 * requests in bursts, so a pacer thread sleeps until each due time instead (see PACER) and wakes this
 * thread, which issues the request and times its latency from that moment: when the generator would send
 * it with a free connection. How late that was against the exact schedule is reported separately (`lag`,
 * tens of microseconds): it is the generator's own jitter, the same for every path measured, not a delay
 * of the system under test.
 *
 * Responses are parsed by hand (Content-Length or chunked framing) on raw sockets: the client's own cost
 * per request is part of every latency, so it is kept small. A response counts as a success only with
 * status 200 and a body of exactly the expected size.
 *
 * Each connection carries one request at a time; free connections are used in turn (round robin), as a
 * pool of independent clients would. Before the clock starts, one request per connection opens the path
 * end to end (a mesh hop's pooled connection and its TLS handshake included), then an optional warm-up
 * runs closed loop on every connection; the line `PACED_MEASURING` marks the start of the measured run.
 *
 * `node bench/servers/paced-load.ts <port> <path> <rps> <durationS> <connections> <expectBytes> [warmupS]`;
 * prints one line `PACEDJSON {...}` (latencies in microseconds) and exits 0, or exits 1 with the reason. With
 * PACED_LOAD_DUMP=<file> set, it also writes one line per request to that file: the due time since the
 * start, the latency and the lag, in microseconds (-1 for a failed request), to look into the tail.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { roundSummary, summarise } from '../lib/stats.ts';

const [
  portArg = '0',
  path = '/',
  rpsArg = '1000',
  durationArg = '10',
  connArg = '8',
  expectArg = '-1',
  warmupArg = '0',
] = process.argv.slice(2);
const port = Number(portArg);
const rps = Number(rpsArg);
const durationS = Number(durationArg);
const connectionCount = Number(connArg);
const expectBytes = Number(expectArg);
const warmupS = Number(warmupArg);
/** How long to wait for the last responses once every request has been issued. */
const DRAIN_MS = 5000;

const request = Buffer.from(
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: weft-bench\r\n\r\n`,
);
const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');

interface Parsed {
  /** Bytes of the response in the buffer (head, body, chunk framing). */
  end: number;
  status: number;
  bodyBytes: number;
}

/** The first complete response in `buf`, or undefined while it is incomplete. Throws on bad framing. */
function parseResponse(buf: Buffer): Parsed | undefined {
  const headEnd = buf.indexOf(CRLFCRLF);
  if (headEnd === -1) return undefined;
  const head = buf.toString('latin1', 0, headEnd);
  const status = Number(head.slice(9, 12));
  const start = headEnd + 4;
  const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
  if (length !== null) {
    const bodyBytes = Number(length[1]);
    return buf.length < start + bodyBytes ? undefined : { end: start + bodyBytes, status, bodyBytes };
  }
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) {
    let pos = start;
    let bodyBytes = 0;
    for (;;) {
      const lineEnd = buf.indexOf(CRLF, pos);
      if (lineEnd === -1) return undefined;
      const size = Number.parseInt(buf.toString('latin1', pos, lineEnd).split(';', 1)[0] ?? '', 16);
      if (!Number.isFinite(size)) throw new Error('bad chunk size');
      if (size === 0) {
        // The last chunk, then trailer fields (none expected), then an empty line.
        const trailerEnd = buf.indexOf(CRLFCRLF, lineEnd);
        return trailerEnd === -1 ? undefined : { end: trailerEnd + 4, status, bodyBytes };
      }
      bodyBytes += size;
      pos = lineEnd + 2 + size + 2;
      if (pos > buf.length) return undefined;
    }
  }
  if (status === 204 || status === 304 || (status >= 100 && status < 200))
    return { end: start, status, bodyBytes: 0 };
  throw new Error(`a response without Content-Length or chunked framing (status ${status})`);
}

interface Conn {
  socket: net.Socket;
  /** Index of the request in flight, or -1. */
  inFlight: number;
  buf: Buffer | undefined;
  /** Called once with the response of a request outside the schedule (priming, warm-up). */
  onReply: ((err?: Error) => void) | undefined;
}

const total = Math.max(1, Math.round(rps * durationS));
const intervalMs = 1000 / rps;
/** When each request was issued (performance.now(), ms): when the pacer woke this thread for it. */
const issued = new Float64Array(total);
/** How late that was against the exact schedule, µs. */
const lag = new Float64Array(total);
const samples = new Float64Array(total);
/** Latency per request index, µs (-1: failed or unanswered), for PACED_LOAD_DUMP. */
const byRequest = new Float64Array(total).fill(-1);
let nSamples = 0;
let issuedCount = 0;
let sentCount = 0;
let done = 0;
let errors = 0;
let lastError = '';
/** Requests that found no free connection when they fell due, and waited here. */
let queued = 0;
let queuedUpTo = 0;
let maxInFlight = 0;
let inFlight = 0;
let t0 = 0;
let lastDoneAt = 0;
let finished = false;
let finish: () => void = () => {};

const conns: Conn[] = [];
/** Free connections, oldest first (round robin). */
const idle: Conn[] = [];

function fail(conn: Conn, message: string): void {
  lastError = message;
  if (conn.onReply !== undefined) {
    const cb = conn.onReply;
    conn.onReply = undefined;
    cb(new Error(message));
    return;
  }
  if (conn.inFlight >= 0) {
    conn.inFlight = -1;
    inFlight--;
    errors++;
    done++;
  }
  // Replace the connection so the pool keeps its size; requests wait in the queue meanwhile.
  conn.socket.destroy();
  const i = conns.indexOf(conn);
  const j = idle.indexOf(conn);
  if (j !== -1) idle.splice(j, 1);
  if (i !== -1) {
    const next = open();
    conns[i] = next;
    next.socket.once('connect', () => {
      idle.push(next);
      dispatch();
    });
  }
  if (done === issuedCount && issuedCount === total) finish();
}

function onData(conn: Conn, chunk: Buffer): void {
  let buf = conn.buf === undefined ? chunk : Buffer.concat([conn.buf, chunk]);
  for (;;) {
    let parsed: Parsed | undefined;
    try {
      parsed = parseResponse(buf);
    } catch (err) {
      fail(conn, (err as Error).message);
      return;
    }
    if (parsed === undefined) break;
    const now = performance.now();
    const ok = parsed.status === 200 && (expectBytes < 0 || parsed.bodyBytes === expectBytes);
    if (!ok) {
      lastError = `status ${parsed.status}, body ${parsed.bodyBytes} bytes (expected 200 and ${expectBytes})`;
    }
    buf = buf.subarray(parsed.end);
    if (conn.onReply !== undefined) {
      const cb = conn.onReply;
      conn.onReply = undefined;
      cb(ok ? undefined : new Error(`a request before the measured run: ${lastError}`));
      continue;
    }
    const idx = conn.inFlight;
    if (idx < 0) {
      fail(conn, 'a response with no request in flight');
      return;
    }
    conn.inFlight = -1;
    inFlight--;
    done++;
    lastDoneAt = now;
    if (ok) {
      const us = (now - (issued[idx] as number)) * 1000;
      samples[nSamples++] = us;
      byRequest[idx] = us;
    } else errors++;
    idle.push(conn);
  }
  conn.buf = buf.length === 0 ? undefined : buf;
  dispatch();
  if (done === total) finish();
}

function open(): Conn {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  const conn: Conn = { socket, inFlight: -1, buf: undefined, onReply: undefined };
  socket.on('data', (chunk: Buffer) => onData(conn, chunk));
  socket.on('error', (err) => fail(conn, `socket: ${err.message}`));
  socket.on('close', () => {
    if (conns.includes(conn) && !finished) fail(conn, 'the connection was closed');
  });
  return conn;
}

/** Sends queued requests on free connections, oldest request first. */
function dispatch(): void {
  while (sentCount < issuedCount) {
    const conn = idle.shift();
    if (conn === undefined) return;
    conn.inFlight = sentCount++;
    inFlight++;
    if (inFlight > maxInFlight) maxInFlight = inFlight;
    conn.socket.write(request);
  }
}

/** Issues requests up to `last` (the pacer's count), then sends what it can. */
function issueUpTo(last: number): void {
  const now = performance.now();
  while (issuedCount <= last && issuedCount < total) {
    issued[issuedCount] = now;
    lag[issuedCount] = (now - (t0 + issuedCount * intervalMs)) * 1000;
    issuedCount++;
  }
  dispatch();
  if (sentCount < issuedCount) {
    queued += issuedCount - Math.max(queuedUpTo, sentCount);
    queuedUpTo = issuedCount;
  }
}

/**
 * The pacer: a worker thread that sleeps until each request's due time with Atomics.wait (sub-millisecond
 * timeouts, where the event loop's timers have whole milliseconds) and posts the request's index to this
 * thread. It must not do the I/O itself: a thread blocked in Atomics.wait cannot read its sockets.
 */
const PACER = `
const { parentPort, workerData } = require('node:worker_threads');
const { intervalMs, total } = workerData;
const cell = new Int32Array(new SharedArrayBuffer(4));
parentPort.once('message', ({ start }) => {
  for (let i = 0; i < total; i++) {
    const wait = start + i * intervalMs - (performance.timeOrigin + performance.now());
    if (wait > 0) Atomics.wait(cell, 0, 0, wait);
    parentPort.postMessage(i);
  }
  parentPort.close();
});
parentPort.postMessage('ready');
`;

async function main(): Promise<void> {
  // The pacer thread first: a worker takes tens of milliseconds to start, which must not delay the first
  // requests of the measured run.
  const pacer = new Worker(PACER, { eval: true, workerData: { intervalMs, total } });
  const pacerReady = new Promise<void>((resolve, reject) => {
    pacer.once('message', () => resolve());
    pacer.once('error', reject);
  });
  for (let i = 0; i < connectionCount; i++) conns.push(open());
  await Promise.all(
    conns.map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          c.socket.once('connect', () => resolve());
          c.socket.once('error', reject);
        }),
    ),
  );
  // One request per connection, one after the other, before anything is timed.
  const roundTrip = (c: Conn) =>
    new Promise<void>((resolve, reject) => {
      c.onReply = (err) => (err === undefined ? resolve() : reject(err));
      c.socket.write(request);
    });
  for (const c of conns) await roundTrip(c);
  // The warm-up, closed loop on every connection (as fast as the path answers): a JIT tiers code up by
  // how often it runs, so a few seconds at full speed get the proxies (and this process) to their steady
  // state, which minutes at the measured rate would not; compilation pauses would otherwise fill the tail.
  let warmupRequests = 0;
  if (warmupS > 0) {
    const end = performance.now() + warmupS * 1000;
    await Promise.all(
      conns.map(async (c) => {
        while (performance.now() < end) {
          await roundTrip(c);
          warmupRequests++;
        }
      }),
    );
  }
  for (const c of conns) idle.push(c);
  // The harness reads its CPU counters when it sees this line (the log is a file: written at once).
  console.log('PACED_MEASURING');
  const allDone = new Promise<void>((resolve) => {
    finish = resolve;
  });
  await pacerReady;
  // A few milliseconds ahead, so the pacer is waiting before the first request is due.
  t0 = performance.now() + 5;
  pacer.on('message', (i: number) => issueUpTo(i));
  pacer.postMessage({ start: performance.timeOrigin + t0 });
  pacer.on('error', (err) => {
    lastError = `pacer: ${err.message}`;
    finish();
  });
  const scheduleEnd = t0 + total * intervalMs;
  await Promise.race([
    allDone,
    new Promise<void>((resolve) => setTimeout(resolve, scheduleEnd - performance.now() + DRAIN_MS).unref()),
  ]);
  finished = true;
  const unanswered = total - done;
  if (unanswered > 0) {
    errors += unanswered;
    lastError = `${unanswered} requests unanswered ${DRAIN_MS} ms after the last was due`;
  }
  const elapsedS = ((lastDoneAt || performance.now()) - t0) / 1000;
  const out = {
    requests: nSamples,
    sent: sentCount,
    errors,
    lastError,
    durationS: Math.round(elapsedS * 100) / 100,
    rps: Math.round(nSamples / elapsedS),
    ...roundSummary(summarise(samples.subarray(0, nSamples))),
    lag: roundSummary(summarise(lag.subarray(0, issuedCount))),
    queued,
    maxInFlight,
    warmupRequests,
  };
  const dump = process.env.PACED_LOAD_DUMP;
  if (dump !== undefined && dump !== '') {
    const lines: string[] = [];
    for (let i = 0; i < issuedCount; i++) {
      lines.push(
        `${Math.round(i * intervalMs * 1000)} ${Math.round(byRequest[i] as number)} ${Math.round(lag[i] as number)}`,
      );
    }
    writeFileSync(dump, `${lines.join('\n')}\n`);
  }
  console.log(`PACEDJSON ${JSON.stringify(out)}`);
  for (const c of conns) c.socket.destroy();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`paced-load: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
