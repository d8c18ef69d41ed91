/**
 * Transparent interception end to end, in network namespaces this test makes (nothing in the host's):
 * a hub bridge and two instances, A (10.77.1.1) and B (10.77.1.2), both with the interception rules.
 *
 *   A: client (root) → echo.weft:9080 = VIP 10.77.128.10:9080, which exists nowhere
 *        ⤷ OUTPUT REDIRECT → A's proxy on :15001 (uid 1337): SO_ORIGINAL_DST says 10.77.128.10:9080
 *      A's proxy → 10.77.1.2:9080 (not redirected: owner match on uid 1337)
 *   B:   ⤷ PREROUTING REDIRECT → B's proxy on :15006 (uid 1337): original dst 10.77.1.2:9080
 *      B's proxy → 127.0.0.1:9080 → the echo server; the bytes come back the same way.
 *
 * Also: the same over IPv6 (ip6tables, IP6T_SO_ORIGINAL_DST), an excluded inbound port reached directly,
 * and a hosts file rewritten in place reaching a process already running in the namespace. Needs root,
 * iptables, setpriv and the addon (`npm run setup`); skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { originalDstAvailable } from '../../src/proxy/listener/original-dst.ts';
import {
  applyInterceptionRules,
  DEFAULT_INTERCEPTION,
  readInterceptionRules,
  renderInterceptionRules,
  ruleLines,
} from '../../src/runtime/interception/index.ts';
import {
  createAddressPlan,
  createHub,
  createInstanceNetns,
  createRunId,
  deleteRun,
  execInNetns,
  findCommand,
  listRunNetns,
  writeHostsFile,
} from '../../src/runtime/network/index.ts';

function skipReason(): string | false {
  if (process.platform !== 'linux') return 'transparent interception is Linux only';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and iptables)';
  for (const tool of ['ip', 'iptables-restore', 'iptables-save', 'setpriv']) {
    if (!findCommand(tool)) return `\`${tool}\` not found: run \`npm run setup\``;
  }
  const addon = originalDstAvailable();
  return addon.ok ? false : addon.reason;
}

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/interception/${name}`, import.meta.url));
const PROXY_UID = DEFAULT_INTERCEPTION.proxyUid;
const VIP = '10.77.128.10';
const VIP6 = 'fd00:77::8000:a';

interface Event {
  event: string;
  [key: string]: unknown;
}

/** A child started in a namespace, with the JSON lines it printed. */
class Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly events: Event[] = [];
  stderr = '';
  readonly #waiters = new Set<() => void>();

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.process = child;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as Event);
      } catch {
        this.stderr += `(stdout) ${line}\n`;
      }
      for (const wake of this.#waiters) wake();
    });
    child.on('exit', () => {
      for (const wake of this.#waiters) wake();
    });
  }

  /** The first event (from `from` on) named `name`; fails after `ms` or when the child exits without it. */
  async next(name: string, from = 0, ms = 5000): Promise<Event> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.events.slice(from).find((e) => e.event === name);
      if (found) return found;
      if (this.process.exitCode !== null || this.process.signalCode !== null || Date.now() > deadline) {
        throw new Error(
          `${this.name}: no '${name}' event (exit ${this.process.exitCode ?? this.process.signalCode}); ` +
            `events ${JSON.stringify(this.events)}; stderr: ${this.stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()) + 1);
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        const waiters = this.#waiters;
        waiters.add(done);
      });
    }
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = once(this.process, 'exit');
    this.process.kill('SIGKILL');
    await exited;
  }
}

test('transparent interception: outbound and inbound redirect, original destination, owner match', {
  skip: skipReason(),
  timeout: 30_000,
}, async (t) => {
  const runId = createRunId();
  const plan = createAddressPlan();
  const children: Child[] = [];
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    // deleteRun kills whatever still runs in the run's namespaces: here, every child still running.
    await deleteRun(runId);
    await Promise.all(children.map((c) => c.stop()));
  };
  t.after(cleanup);

  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/' };
  const start = (name: string, netns: string, script: string, args: string[], uid?: number) => {
    const child = new Child(
      name,
      execInNetns(netns, process.execPath, [fixture(script), ...args], { uid, env }),
    );
    children.push(child);
    return child;
  };

  await createHub(runId);
  const a = await createInstanceNetns(runId, 0, plan.instanceAddress(0), plan.prefixLen, {
    address6: 'fd00:77::1',
  });
  const b = await createInstanceNetns(runId, 1, plan.instanceAddress(1), plan.prefixLen, {
    address6: 'fd00:77::2',
  });
  assert.deepEqual((await listRunNetns(runId)).sort(), [a.netns, b.netns, `weft-${runId}-hub`].sort());

  // The hosts file exists before any process starts, so `ip netns exec` bind-mounts it.
  const hostsPath = await writeHostsFile(a.netns, [{ ip: '10.77.128.99', names: ['old.weft'] }]);
  const inode = (await stat(hostsPath)).ino;

  const options = { ...DEFAULT_INTERCEPTION, excludeInboundPorts: [15000] };
  await applyInterceptionRules(a.netns, options, [4, 6]);
  await applyInterceptionRules(b.netns, options, [4, 6]);
  // Applying again replaces rather than doubles them, and they read back exactly as rendered.
  await applyInterceptionRules(b.netns, options, [4, 6]);
  assert.deepEqual(await readInterceptionRules(b.netns, 4), ruleLines(renderInterceptionRules(options, 4)));
  assert.deepEqual(await readInterceptionRules(b.netns, 6), ruleLines(renderInterceptionRules(options, 6)));

  const echo = start('echo (B)', b.netns, 'echo-server.ts', ['9080']);
  // The proxy's admin port is excluded from inbound interception: callers reach it directly.
  const admin = start('admin stand-in (B)', b.netns, 'echo-server.ts', ['15000']);
  const proxyB = start(
    'proxy (B)',
    b.netns,
    'proxy.ts',
    ['15006', '0.0.0.0,::', JSON.stringify({ '*': '127.0.0.1:*' })],
    PROXY_UID,
  );
  const routesA = {
    [`${VIP}:9080`]: `${b.address}:9080`,
    [`${VIP}:15000`]: `${b.address}:15000`,
    [`${VIP6}:9080`]: `${b.address6}:9080`,
  };
  const proxyA = start('proxy (A)', a.netns, 'proxy.ts', ['15001', '::', JSON.stringify(routesA)], PROXY_UID);
  const reader = start('hosts reader (A)', a.netns, 'hosts-reader.ts', []);
  await Promise.all([echo, admin, proxyB, proxyA].map((c) => c.next('listening')));
  assert.equal((await proxyA.next('listening')).uid, PROXY_UID);
  const connections = (child: Child) => child.events.filter((e) => e.event === 'connection');
  const trace = () => children.map((c) => `\n${c.name}: ${JSON.stringify(c.events)} ${c.stderr}`).join('');

  await t.test('a hosts file rewritten in place reaches a running process', async () => {
    assert.match(String((await reader.next('hosts')).text), /old\.weft/);
    await writeHostsFile(a.netns, [{ ip: VIP, names: ['echo.weft', 'echo'] }]);
    assert.equal((await stat(hostsPath)).ino, inode, 'same inode');
    reader.process.stdin?.write('again\n');
    const text = String((await reader.next('hosts', 1)).text);
    assert.match(text, new RegExp(`^${VIP.replaceAll('.', '\\.')}\\techo\\.weft echo$`, 'm'));
    assert.doesNotMatch(text, /old\.weft/);
    assert.match(text, /^127\.0\.0\.1\tlocalhost$/m);
  });

  await t.test('a call to a virtual IP goes through both proxies with its original destination', async () => {
    const client = start('client (A)', a.netns, 'client.ts', ['echo.weft', '9080', 'hello through the mesh']);
    const reply = await client.next('reply');
    assert.equal(reply.reply, 'hello through the mesh', trace());
    assert.equal(reply.remoteAddress, VIP, 'the client believes it talked to the virtual IP');

    const outbound = await proxyA.next('connection');
    assert.deepEqual(outbound.originalDst, { address: VIP, port: 9080, family: 4 });
    const inbound = await proxyB.next('connection');
    // A's proxy listens dual-stack (`::`), so the addon read that IPv4 destination from a v4-mapped socket;
    // B's listens on 0.0.0.0 and `::` apart, so this one comes from a plain AF_INET socket.
    assert.equal(outbound.remoteAddress, `::ffff:${a.address}`);
    assert.deepEqual(inbound.originalDst, { address: b.address, port: 9080, family: 4 });
    assert.equal(inbound.remoteAddress, a.address, 'A proxy connected from its own address');
    const served = await echo.next('connection');
    assert.equal(served.remoteAddress, '127.0.0.1', 'the application is reached by its own proxy only');

    // Exactly one connection each: the proxies' own upstream connections were not redirected back to them.
    assert.equal(connections(proxyA).length, 1, trace());
    assert.equal(connections(proxyB).length, 1, trace());
  });

  await t.test('an excluded inbound port is reached directly', async () => {
    const client = start('client to :15000 (A)', a.netns, 'client.ts', [VIP, '15000', 'admin']);
    assert.equal((await client.next('reply')).reply, 'admin', trace());
    // A's proxy still intercepted the outbound call; B's proxy saw nothing new.
    assert.deepEqual(connections(proxyA)[1]?.originalDst, { address: VIP, port: 15000, family: 4 });
    assert.equal((await admin.next('connection')).remoteAddress, a.address);
    assert.equal(connections(proxyB).length, 1, trace());
  });

  await t.test('IPv6: the same path with ip6tables and IP6T_SO_ORIGINAL_DST', async () => {
    const client = start('client over IPv6 (A)', a.netns, 'client.ts', [VIP6, '9080', 'hello over IPv6']);
    const reply = await client.next('reply');
    assert.equal(reply.reply, 'hello over IPv6', trace());
    assert.equal(reply.remoteAddress, VIP6);
    assert.deepEqual(connections(proxyA)[2]?.originalDst, { address: VIP6, port: 9080, family: 6 });
    const inbound = connections(proxyB)[1];
    assert.deepEqual(inbound?.originalDst, { address: b.address6, port: 9080, family: 6 });
    assert.equal(inbound?.remoteAddress, a.address6);
    assert.equal(connections(proxyB).length, 2, trace());
  });

  for (const child of [proxyA, proxyB]) {
    assert.deepEqual(
      child.events.filter((e) => e.event === 'error'),
      [],
      `${child.name} reported errors: ${trace()}`,
    );
  }
  await cleanup();
  assert.deepEqual(await listRunNetns(runId), [], 'no namespace of the run is left');
  for (const child of children)
    assert.notEqual(child.process.exitCode ?? child.process.signalCode, null, child.name);
});
