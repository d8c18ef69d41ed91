/**
 * The config stream end to end: a real distribution server on a real HTTP/2 server (TCP and Unix
 * socket), real proxies (in this process, and `weft proxy --control-plane` as a child process) serving
 * real traffic to echo upstreams. Views come from a mutable map, as the control plane's index would
 * provide them. Covers first config, changes, nacks, no resend of unchanged views, a control plane
 * restarted under load, replaced and silent streams, backpressure, and the reconnect backoff's jitter.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CONFIG_PATH,
  CONTENT_TYPE,
  createLineReader,
  encodeMessage,
  NODE_HEADER,
  type ProxyMessage,
} from '../../src/api/distribution/index.ts';
import type { ProxyConfigInput } from '../../src/api/index.ts';
import {
  createDistributionServer,
  type DistributionServer,
  type DistributionServerOptions,
  type ViewSource,
} from '../../src/control/distribution/index.ts';
import { createLogger, type Logger, silentLogger } from '../../src/core/index.ts';
import { connectControlPlane } from '../../src/proxy/control-client/index.ts';
import { ProxyServer } from '../../src/proxy/index.ts';
import { collectOutput } from '../support/child.ts';
import { get } from '../support/http.ts';
import { type Closable, startEchoServer } from '../support/upstreams.ts';

const BIN = new URL('../../bin/weft.js', import.meta.url).pathname;
const testLogger: Logger = process.env.WEFT_TEST_LOG ? createLogger({ level: 'debug' }) : silentLogger;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Views from a map, as the index would compute them; `set` notifies like a source change does. */
class ViewMap implements ViewSource {
  readonly views = new Map<string, unknown>();
  readonly #listeners = new Set<() => void>();
  view(node: string): unknown {
    return this.views.get(node);
  }
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  set(node: string, view: unknown): void {
    this.views.set(node, view);
    this.notify();
  }
  notify(): void {
    for (const l of this.#listeners) l();
  }
}

interface ControlPlane {
  dist: DistributionServer;
  server: http2.Http2Server;
  target: string;
  port: number;
  close(): Promise<void>;
}

/** A control plane's HTTP/2 server (h2c) with the distribution server attached. */
async function startControlPlane(
  views: ViewSource,
  listen: { port?: number; path?: string } = {},
  options: Partial<DistributionServerOptions> = {},
): Promise<ControlPlane> {
  const dist = createDistributionServer({ views, logger: testLogger, ...options });
  const server = http2.createServer();
  dist.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (listen.path !== undefined) server.listen(listen.path, resolve);
    else server.listen(listen.port ?? 0, '127.0.0.1', resolve);
  });
  const port = listen.path === undefined ? (server.address() as net.AddressInfo).port : 0;
  return {
    dist,
    server,
    port,
    target: listen.path !== undefined ? `unix:${listen.path}` : `http://127.0.0.1:${port}`,
    close: async () => {
      await dist.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One explicit-mode service `svc` on port 0, routed to one echo backend. */
function viewFor(backendPort: number, backendName = 'echo'): ProxyConfigInput {
  return {
    admin: { address: '127.0.0.1', port: 0 },
    outbound: [
      {
        name: 'svc',
        port: 80,
        listen: { address: '127.0.0.1', port: 0 },
        protocol: 'http1',
        routes: [{ backends: [{ backend: backendName }] }],
      },
    ],
    backends: [{ name: backendName, endpoints: [{ address: '127.0.0.1', port: backendPort }] }],
  };
}

/** The same view with a route to a backend that does not exist: the proxy must reject it. */
function invalidView(backendPort: number): ProxyConfigInput {
  const v = viewFor(backendPort);
  return { ...v, outbound: [{ ...v.outbound![0]!, routes: [{ backends: [{ backend: 'missing' }] }] }] };
}

/** A real proxy in this process, fed by the control plane, as `weft proxy --control-plane` wires it. */
function startControlledProxy(target: string, node: string, extra: { random?: () => number } = {}) {
  const proxy = new ProxyServer({ logger: testLogger });
  let running: string | undefined;
  let applies = 0;
  const client = connectControlPlane({
    target,
    node,
    logger: testLogger,
    random: extra.random,
    currentVersion: () => running,
    apply: async (config) => {
      applies++;
      const r = await proxy.apply(config, 'control plane');
      if (r.ok) running = r.version;
      return r;
    },
  });
  return {
    proxy,
    client,
    applies: () => applies,
    running: () => running,
    url: (path = '/') => {
      const l = proxy.listeners().find((x) => x.service === 'svc');
      if (!l) throw new Error('no listener for svc');
      return `http://127.0.0.1:${l.port}${path}`;
    },
    close: async () => {
      await client.close();
      await proxy.shutdown(0);
    },
  };
}

/** Requests in a loop from several workers until stopped; counts successes and keeps every failure. */
function loadLoop(url: () => string, workers = 8) {
  let stopped = false;
  let ok = 0;
  const failures: string[] = [];
  const served = new Set<string>();
  const worker = async () => {
    while (!stopped) {
      try {
        const r = await get(url());
        if (r.status === 200) {
          ok++;
          served.add(String(r.headers['x-served-by']));
        } else failures.push(`${r.status} ${r.headers['weft-error']}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const done = Promise.all(Array.from({ length: workers }, worker));
  return {
    ok: () => ok,
    stop: async () => {
      stopped = true;
      await done;
      return { ok, failures, served };
    },
  };
}

/** A hand-driven proxy end of the protocol, for what a well-behaved client never does. */
async function rawStream(target: { port: number }, node: string, options: { hello?: boolean } = {}) {
  const session = http2.connect(`http://127.0.0.1:${target.port}`);
  session.on('error', () => {});
  const stream = session.request(
    { ':method': 'POST', ':path': CONFIG_PATH, [NODE_HEADER]: node, 'content-type': CONTENT_TYPE },
    { endStream: false },
  );
  stream.on('error', () => {});
  const messages: Array<{ type: string; version: string; config: Record<string, unknown> }> = [];
  const reader = createLineReader({
    maxLineBytes: 64 * 1024 * 1024,
    onLine: (l) => messages.push(JSON.parse(l)),
    onError: (e) => assert.fail(e),
  });
  stream.on('data', (c: Buffer) => reader.push(c));
  const closed = new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode ?? 0)));
  const send = (m: ProxyMessage | string) => stream.write(typeof m === 'string' ? m : encodeMessage(m));
  if (options.hello !== false) send({ type: 'hello', node, version: '' });
  return {
    session,
    stream,
    messages,
    send,
    closed,
    close: () => {
      stream.close();
      session.destroy();
    },
  };
}

describe('config distribution (in-process proxy over TCP)', () => {
  const servers: Closable[] = [];
  let v1: Closable;
  let v2: Closable;
  const views = new ViewMap();
  let cp: ControlPlane;
  let p: ReturnType<typeof startControlledProxy>;
  const node = 'default/app-1';

  before(async () => {
    v1 = await startEchoServer({ service: 'echo', version: 'v1' });
    v2 = await startEchoServer({ service: 'echo', version: 'v2' });
    servers.push(v1, v2);
    cp = await startControlPlane(views);
  });

  after(async () => {
    await p?.close();
    await cp?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  test('a proxy for an unknown node waits, then gets its view and serves traffic by it', async () => {
    p = startControlledProxy(cp.target, node);
    await waitFor('the proxy to connect', () => cp.dist.proxy(node)?.connected === true);
    await waitFor('the hello', () => cp.dist.proxy(node)?.state === 'waiting');
    assert.equal(p.applies(), 0, 'nothing is sent while the node has no view');

    views.set(node, viewFor(v1.port));
    await p.client.onFirstConfig;
    const r = await get(p.url());
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-served-by'], 'echo-v1');
    await waitFor('synced', () => cp.dist.proxy(node)?.state === 'synced');
    const state = cp.dist.proxy(node)!;
    assert.equal(state.ackedVersion, state.currentVersion);
    assert.equal(state.sentVersion, state.currentVersion);
    assert.match(state.currentVersion ?? '', /^[0-9a-f]{16}$/);
    assert.equal(typeof state.ackLatencyMs, 'number');
    assert.deepEqual(state.counters, { connects: 1, sent: 1, acked: 1, nacked: 0 });
    // What `weft proxy-config` will show: the config exactly as sent, version inside.
    const sent = cp.dist.sent(node) as { version: string; config: { version: string } };
    assert.equal(sent.version, state.currentVersion);
    assert.equal(sent.config.version, state.currentVersion);
    assert.equal(p.client.connected(), true);
  });

  test('a view change reaches the proxy and changes its traffic', async () => {
    views.set(node, viewFor(v2.port));
    await waitFor(
      'traffic to move to v2',
      async () => (await get(p.url())).headers['x-served-by'] === 'echo-v2',
    );
    await waitFor('synced', () => cp.dist.proxy(node)?.state === 'synced');
    assert.equal(cp.dist.proxy(node)?.counters.sent, 2);
  });

  test('an unchanged view is not resent, however often the source says something changed', async () => {
    const before = { applies: p.applies(), sent: cp.dist.proxy(node)!.counters.sent };
    for (let i = 0; i < 10; i++) {
      // A new object with the same content, keys in another order: the same content version.
      const v = viewFor(v2.port);
      views.set(node, { backends: v.backends, outbound: v.outbound, admin: v.admin });
      await sleep(5);
    }
    await sleep(100);
    assert.equal(p.applies(), before.applies);
    assert.equal(cp.dist.proxy(node)!.counters.sent, before.sent);
    assert.equal(cp.dist.proxy(node)!.state, 'synced');
  });

  test('a burst of changes is coalesced: the proxy gets the last one, not every one', async () => {
    const before = cp.dist.proxy(node)!.counters.sent;
    for (let i = 0; i < 20; i++)
      views.set(node, { ...viewFor(v2.port), settings: { drainTimeout: 1000 + i } });
    const last = () =>
      (cp.dist.sent(node)?.config as { settings?: { drainTimeout?: number } } | undefined)?.settings;
    await waitFor('the last change to be sent', () => last()?.drainTimeout === 1019);
    await waitFor('synced', () => cp.dist.proxy(node)?.state === 'synced');
    const sent = cp.dist.proxy(node)!.counters.sent - before;
    assert.equal(sent, 1, `${sent} configs sent for one burst of 20 changes`);
  });

  test('an invalid view is nacked with its issues; the proxy keeps serving the last good one', async () => {
    const good = p.running();
    views.set(node, invalidView(v1.port));
    await waitFor('nacked', () => cp.dist.proxy(node)?.state === 'nacked');
    const state = cp.dist.proxy(node)!;
    assert.equal(state.nack?.version, state.currentVersion);
    const issues = state.nack?.issues as Array<{ code: string; path: string }>;
    assert.equal(issues[0]?.code, 'CONFIG_REFERENCE');
    assert.equal(issues[0]?.path, 'outbound.0.routes.0.backends.0.backend');
    assert.equal(state.ackedVersion, good, 'the proxy still runs the last good version');
    assert.equal(p.running(), good);
    const r = await get(p.url());
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-served-by'], 'echo-v2');
    // The nacked version is not sent again on this stream.
    const sent = state.counters.sent;
    views.notify();
    await sleep(100);
    assert.equal(cp.dist.proxy(node)!.counters.sent, sent);
    // A fixed view goes through.
    views.set(node, viewFor(v2.port));
    await waitFor('synced again', () => cp.dist.proxy(node)?.state === 'synced');
  });

  test('control plane restarted on the same port under load: no failed request, no config resent', async () => {
    const version = cp.dist.proxy(node)!.currentVersion;
    const load = loadLoop(() => p.url());
    await waitFor('some load', () => load.ok() > 50);
    const port = cp.port;
    await cp.close();
    await waitFor('the proxy to notice', () => !p.client.connected());
    const during = load.ok();
    await sleep(300);
    assert.ok(load.ok() > during, 'the proxy serves while the control plane is down');
    cp = await startControlPlane(views, { port });
    await waitFor('the proxy to resync', () => cp.dist.proxy(node)?.state === 'synced', 10_000);
    const { ok, failures } = await load.stop();
    assert.deepEqual(failures, []);
    assert.ok(ok > 100, `${ok} requests`);
    const state = cp.dist.proxy(node)!;
    assert.equal(state.currentVersion, version, 'a restarted control plane computes the same version');
    assert.equal(state.ackedVersion, version);
    assert.equal(state.counters.sent, 0, 'nothing is sent to a proxy that already runs its view');
    // And the new control plane distributes changes.
    views.set(node, viewFor(v1.port));
    await waitFor(
      'traffic to move to v1',
      async () => (await get(p.url())).headers['x-served-by'] === 'echo-v1',
    );
  });

  test('a disconnected proxy stays listed as disconnected', async () => {
    const other = startControlledProxy(cp.target, 'default/brief');
    await waitFor('connected', () => cp.dist.proxy('default/brief')?.state === 'waiting');
    await other.close();
    await waitFor('disconnected', () => cp.dist.proxy('default/brief')?.state === 'disconnected');
    const listed = cp.dist.proxies().find((x) => x.node === 'default/brief');
    assert.equal(listed?.connected, false);
    assert.equal(typeof listed?.disconnectedAt, 'string');
    assert.ok(cp.dist.proxies().some((x) => x.node === node && x.connected));
  });
});

describe('distribution server edge cases (raw protocol client)', () => {
  const views = new ViewMap();
  let cp: ControlPlane;
  let clock = Date.now();

  before(async () => {
    cp = await startControlPlane(views, {}, { now: () => clock });
  });
  after(async () => {
    await cp.close();
  });

  test('a proxy that already runs the view version is sent nothing and counts as synced', async () => {
    views.set('n/hello', { outbound: [] });
    const first = await rawStream(cp, 'n/hello');
    await waitFor('a config', () => first.messages.length === 1);
    const version = first.messages[0]!.version;
    assert.equal(first.messages[0]!.config.version, version);
    first.close();
    await waitFor('disconnected', () => cp.dist.proxy('n/hello')?.state === 'disconnected');
    const second = await rawStream(cp, 'n/hello', { hello: false });
    second.send({ type: 'hello', node: 'n/hello', version });
    await waitFor('synced', () => cp.dist.proxy('n/hello')?.state === 'synced');
    await sleep(100);
    assert.equal(second.messages.length, 0);
    second.close();
  });

  test('a second stream for the same node replaces the first', async () => {
    views.set('n/dup', { outbound: [] });
    const a = await rawStream(cp, 'n/dup');
    await waitFor('a config on the first stream', () => a.messages.length === 1);
    const b = await rawStream(cp, 'n/dup');
    await waitFor('a config on the second stream', () => b.messages.length === 1);
    await a.closed;
    assert.equal(cp.dist.proxy('n/dup')?.connected, true);
    assert.equal(cp.dist.proxy('n/dup')?.counters.connects, 2);
    b.send({ type: 'ack', version: b.messages[0]!.version });
    await waitFor('synced', () => cp.dist.proxy('n/dup')?.state === 'synced');
    b.close();
  });

  test('a bad line is a protocol error that ends the stream, not the server', async () => {
    const errors = cp.dist.totals().protocolErrors;
    const s = await rawStream(cp, 'n/garbage');
    s.send('this is not json\n');
    assert.equal(await s.closed, http2.constants.NGHTTP2_PROTOCOL_ERROR);
    assert.equal(cp.dist.totals().protocolErrors, errors + 1);
    const wrongNode = await rawStream(cp, 'n/one', { hello: false });
    wrongNode.send({ type: 'hello', node: 'n/other', version: '' });
    assert.equal(await wrongNode.closed, http2.constants.NGHTTP2_PROTOCOL_ERROR);
    const ackFirst = await rawStream(cp, 'n/ack-first', { hello: false });
    ackFirst.send({ type: 'ack', version: 'x' });
    assert.equal(await ackFirst.closed, http2.constants.NGHTTP2_PROTOCOL_ERROR);
    // The server still serves.
    views.set('n/after', { outbound: [] });
    const ok = await rawStream(cp, 'n/after');
    await waitFor('a config', () => ok.messages.length === 1);
    ok.close();
  });

  test('a request without the node header, or not a POST, is refused', async () => {
    const session = http2.connect(`http://127.0.0.1:${cp.port}`);
    const status = (headers: http2.OutgoingHttpHeaders) =>
      new Promise<number>((resolve, reject) => {
        const req = session.request(headers);
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.end();
        req.resume();
      });
    assert.equal(await status({ ':method': 'POST', ':path': CONFIG_PATH }), 400);
    assert.equal(await status({ ':method': 'GET', ':path': CONFIG_PATH, [NODE_HEADER]: 'x' }), 405);
    assert.equal(await status({ ':method': 'GET', ':path': '/elsewhere' }), 404);
    session.close();
  });

  test('a stream that cannot keep up gets the latest version when it drains, not every version', async () => {
    const node = 'n/slow';
    const big = 'x'.repeat(512 * 1024);
    views.set(node, { blob: big, generation: 0 });
    const s = await rawStream(cp, node);
    await waitFor('the first config', () => s.messages.length === 1);
    s.stream.pause();
    for (let g = 1; g <= 20; g++) {
      views.set(node, { blob: big, generation: g });
      await sleep(30);
    }
    const sentWhilePaused = cp.dist.proxy(node)!.counters.sent;
    s.stream.resume();
    await waitFor('the last generation', () => s.messages.at(-1)?.config.generation === 20);
    await sleep(100);
    assert.ok(sentWhilePaused <= 3, `${sentWhilePaused} configs written to a stream that was not reading`);
    assert.ok(s.messages.length <= 3, `${s.messages.length} configs received`);
    assert.equal(s.messages.at(-1)?.version, cp.dist.proxy(node)?.currentVersion);
    s.close();
  });

  test('disconnected proxies are dropped from the list after the retention time', async () => {
    views.set('n/gone', { outbound: [] });
    const s = await rawStream(cp, 'n/gone');
    await waitFor('a config', () => s.messages.length === 1);
    s.close();
    await waitFor('disconnected', () => cp.dist.proxy('n/gone')?.state === 'disconnected');
    clock += 9 * 60_000;
    assert.ok(cp.dist.proxies().some((x) => x.node === 'n/gone'));
    clock += 2 * 60_000;
    assert.ok(!cp.dist.proxies().some((x) => x.node === 'n/gone'));
  });
});

describe('liveness and reconnects', () => {
  test('a silent connection is detected by PING on both sides; the proxy reconnects and resyncs', async () => {
    const views = new ViewMap();
    // Timeouts well above a loaded machine's event-loop stalls, so a slow CI run does not flap.
    const cp = await startControlPlane(views, {}, { keepalive: { intervalMs: 100, timeoutMs: 800 } });
    // A relay that can stop forwarding on the connections it holds, like a network path that vanished.
    const pairs: Array<[net.Socket, net.Socket]> = [];
    const relay = net.createServer((down) => {
      const up = net.connect(cp.port, '127.0.0.1');
      down.on('error', () => {});
      up.on('error', () => {});
      down.pipe(up).pipe(down);
      pairs.push([down, up]);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayPort = (relay.address() as net.AddressInfo).port;
    views.set('n/live', { outbound: [] });
    let running: string | undefined;
    const client = connectControlPlane({
      target: `http://127.0.0.1:${relayPort}`,
      node: 'n/live',
      logger: testLogger,
      keepalive: { intervalMs: 100, timeoutMs: 800 },
      currentVersion: () => running,
      apply: async (c) => {
        running = (c as { version: string }).version;
        return { ok: true, version: running };
      },
    });
    try {
      await client.onFirstConfig;
      await waitFor('synced', () => cp.dist.proxy('n/live')?.state === 'synced');
      // Quiet for longer than the timeout, but PINGs answered: nothing is dropped.
      await sleep(1200);
      assert.equal(cp.dist.proxy('n/live')?.counters.connects, 1);
      assert.equal(client.connected(), true);
      for (const [down, up] of pairs) {
        down.unpipe(up);
        up.unpipe(down);
        down.pause();
        up.pause();
      }
      await waitFor('a second stream', () => cp.dist.proxy('n/live')?.counters.connects === 2, 5000);
      await waitFor('synced', () => cp.dist.proxy('n/live')?.state === 'synced');
      assert.equal(
        cp.dist.proxy('n/live')?.counters.sent,
        1,
        'the reconnected proxy is not sent its view again',
      );
    } finally {
      await client.close();
      for (const [down, up] of pairs) {
        down.destroy();
        up.destroy();
      }
      await cp.close();
      await new Promise<void>((r) => relay.close(() => r()));
    }
  });

  test('the server drops a stream whose proxy stopped answering', async () => {
    const views = new ViewMap();
    const cp = await startControlPlane(views, {}, { keepalive: { intervalMs: 100, timeoutMs: 400 } });
    const held: net.Socket[] = [];
    const relay = net.createServer((down) => {
      const up = net.connect(cp.port, '127.0.0.1');
      down.on('error', () => {});
      up.on('error', () => {});
      down.pipe(up).pipe(down);
      held.push(down, up);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const s = await rawStream({ port: (relay.address() as net.AddressInfo).port }, 'n/frozen');
    try {
      await waitFor('waiting', () => cp.dist.proxy('n/frozen')?.state === 'waiting');
      const [down, up] = held as [net.Socket, net.Socket];
      down.unpipe(up);
      down.pause();
      await waitFor('disconnected', () => cp.dist.proxy('n/frozen')?.state === 'disconnected', 3000);
    } finally {
      s.close();
      for (const x of held) x.destroy();
      await cp.close();
      await new Promise<void>((r) => relay.close(() => r()));
    }
  });

  test('reconnects back off exponentially with full jitter from the injected random; one warning', async () => {
    const attempts: number[] = [];
    const sink = net.createServer((s) => {
      attempts.push(performance.now());
      s.destroy();
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const lines: Array<{ level: string; msg: string; delayMs?: number }> = [];
    const logger = createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l)) });
    const sequence = [0.5, 0.25, 1, 1, 1, 0, 0.5];
    let i = 0;
    const client = connectControlPlane({
      target: `http://127.0.0.1:${(sink.address() as net.AddressInfo).port}`,
      node: 'n/backoff',
      logger,
      random: () => sequence[i++ % sequence.length] as number,
      backoff: { baseMs: 40, capMs: 200 },
      currentVersion: () => undefined,
      apply: async () => assert.fail('nothing to apply'),
    });
    try {
      await waitFor('7 connection attempts', () => attempts.length >= 7, 5000);
    } finally {
      await client.close();
      await new Promise<void>((r) => sink.close(() => r()));
    }
    const delays = lines.filter((l) => l.msg === 'reconnecting to the control plane').map((l) => l.delayMs);
    // Ceilings 40, 80, 160, 200 (cap), 200, 200, 200, each scaled by the random draw.
    assert.deepEqual(delays.slice(0, 6), [20, 20, 160, 200, 200, 0]);
    // The waits really happened: attempts 3→4 and 4→5 are at least 160 and 200 ms apart.
    assert.ok((attempts[3] as number) - (attempts[2] as number) >= 150);
    assert.ok((attempts[4] as number) - (attempts[3] as number) >= 190);
    const warnings = lines.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    // After close(), nothing reconnects.
    const n = attempts.length;
    await sleep(300);
    assert.equal(attempts.length, n);
    await assert.rejects(client.onFirstConfig, /closed before a config/);
  });
});

/** `weft proxy --control-plane unix:<path> --node <id>` as a child process, as `weft up` will run it. */
function spawnCliProxy(target: string, node: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, 'proxy', '--control-plane', target, '--node', node, '--log-level', 'debug'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const { output } = collectOutput(child);
  const lines = () =>
    output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map(
        (l) =>
          JSON.parse(l) as {
            level: string;
            msg: string;
            listeners?: Array<{ service?: string; port: number }>;
          },
      );
  return {
    child,
    output,
    lines,
    port: () => {
      const started = lines().find((l) => l.msg === 'proxy started');
      const port = started?.listeners?.find((l) => l.service === 'svc')?.port;
      if (port === undefined) throw new Error(`no "proxy started" line with svc:\n${output()}`);
      return port;
    },
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

describe('weft proxy --control-plane over a Unix socket (child process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-dist-'));
  const socket = join(dir, 'control.sock');
  const views = new ViewMap();
  const node = 'default/child-1';
  let echo: Closable;
  let cp: ControlPlane | undefined;
  let proxy: ReturnType<typeof spawnCliProxy>;

  before(async () => {
    echo = await startEchoServer({ service: 'echo', version: 'v1' });
  });
  after(async () => {
    proxy?.kill();
    await cp?.close();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('starts before the control plane exists, survives an invalid first config, starts on a valid one', async () => {
    proxy = spawnCliProxy(`unix:${socket}`, node);
    await waitFor(
      'a warning that the control plane cannot be reached',
      () => proxy.output().includes('cannot reach the control plane'),
      10_000,
    );
    views.set(node, invalidView(echo.port));
    cp = await startControlPlane(views, { path: socket });
    await waitFor('the nack', () => cp?.dist.proxy(node)?.state === 'nacked', 10_000);
    assert.equal(proxy.child.exitCode, null, 'an invalid first config is not fatal');
    assert.ok(!proxy.output().includes('"proxy started"'));
    views.set(node, viewFor(echo.port));
    await waitFor('"proxy started"', () => proxy.output().includes('"proxy started"'), 10_000);
    await waitFor('synced', () => cp?.dist.proxy(node)?.state === 'synced');
    const r = await get(`http://127.0.0.1:${proxy.port()}/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-served-by'], 'echo-v1');
    assert.equal(cp.dist.proxy(node)?.remote, 'unix');
  });

  test('control plane restarted on the same socket under load: no failed request, resync without resend', async () => {
    assert.ok(cp);
    const url = `http://127.0.0.1:${proxy.port()}/`;
    const load = loadLoop(() => url);
    await waitFor('some load', () => load.ok() > 50);
    await cp.close();
    await sleep(500);
    cp = await startControlPlane(views, { path: socket });
    await waitFor('resync', () => cp?.dist.proxy(node)?.state === 'synced', 10_000);
    const { ok, failures } = await load.stop();
    assert.deepEqual(failures, []);
    assert.ok(ok > 100, `${ok} requests`);
    assert.equal(cp.dist.proxy(node)?.counters.sent, 0);
    const lost = proxy
      .lines()
      .filter((l) => l.msg === 'lost the control plane; serving the current config and reconnecting');
    assert.equal(lost.length, 1, 'one warning per loss, whatever the number of retries');
    assert.equal(proxy.child.exitCode, null);
  });

  test('SIGTERM stops the proxy, control plane client included', async () => {
    const exited = new Promise<number | null>((r) => proxy.child.once('exit', (code) => r(code)));
    proxy.child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
