/**
 * The local runtime end to end, in transparent mode (root: network namespaces, iptables, SO_ORIGINAL_DST)
 * and in explicit mode (HTTP_PROXY), with the real CLI: `weft up` runs a small mesh, a client inside it
 * calls `http://echo:8080` by its plain name, Gateway API routes split and match, `weft apply` reaches
 * every proxy, a bad resource is reported with its line while the rest works, a killed control plane
 * costs no request, and Ctrl-C leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adminGet } from '../../src/runtime/local/api-client.ts';
import { isAlive as alive } from '../../src/runtime/local/paths.ts';
import { canRunTransparent, type Mesh, ROOT, startMesh } from '../support/mesh.ts';

const FIXTURES = path.join(ROOT, 'test/fixtures/mesh');
const LOAD = path.join(FIXTURES, 'load.ts');

interface LoadResult {
  ok: number;
  failed: number;
  byVersion: Record<string, number>;
  errors: string[];
}

async function load(mesh: Mesh, count: number, headers: string[] = [], concurrency = 8): Promise<LoadResult> {
  const r = await mesh.exec('client', [
    process.execPath,
    LOAD,
    'http://echo:8080/',
    String(count),
    String(concurrency),
    ...headers,
  ]);
  assert.equal(r.code, 0, `load failed: ${r.stderr}\n--- weft up said ---\n${mesh.output().slice(-4000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as LoadResult;
}

/** `weft apply -f <fixture>`, then wait until every proxy acked a new view. Returns apply's output. */
async function applyAndSync(mesh: Mesh, fixture: string): Promise<string> {
  const before = await mesh.versions();
  const r = await mesh.weft(['apply', '--run', mesh.runId, '-f', path.join(FIXTURES, fixture)]);
  assert.equal(r.code, 0, r.stderr);
  await mesh.waitSynced(before);
  return r.stdout;
}

/**
 * A workload that calls the mesh the moment it starts and again when it is told to stop, writing the
 * status codes to files: a redirect route answers without any endpoint, so only the sidecar matters.
 */
function lifecycleWorkload(dir: string): string {
  const call = (file: string) =>
    `curl -s -m 5 -o /dev/null -w '%{http_code}' http://redirector:8080/ > ${path.join(dir, file)}`;
  return `
apiVersion: v1
kind: Service
metadata: { name: redirector }
spec:
  ports: [{ name: http, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: redirector }
spec:
  parentRefs: [{ group: "", kind: Service, name: redirector, port: 8080 }]
  rules:
    - filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.com, statusCode: 302 } }]
---
apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: lifecycle }
spec:
  command: [sh, -c, ${JSON.stringify(`${call('start')}; trap "${call('stop')}; exit 0" TERM; sleep 1000 & wait`)}]
`;
}

for (const mode of ['transparent', 'explicit'] as const) {
  const skip = mode === 'transparent' ? canRunTransparent() : undefined;
  describe(`local runtime, ${mode} mode`, { skip }, () => {
    let mesh: Mesh;
    const lifecycle = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-lifecycle-'));
    before(async () => {
      fs.writeFileSync(path.join(lifecycle, 'lifecycle.yaml'), lifecycleWorkload(lifecycle));
      mesh = await startMesh({
        files: [
          path.join(FIXTURES, 'mesh.yaml'),
          path.join(FIXTURES, 'bad-route.yaml'),
          path.join(lifecycle, 'lifecycle.yaml'),
        ],
        args: mode === 'explicit' ? ['--explicit'] : [],
      });
    });
    after(async () => {
      if (mesh && mesh.child.exitCode === null) await mesh.stop();
      fs.rmSync(lifecycle, { recursive: true, force: true });
    });

    test('an application starts only once its sidecar is ready: its very first request goes through', () => {
      assert.equal(fs.readFileSync(path.join(lifecycle, 'start'), 'utf8'), '302');
    });

    test('the application calls a plain service name and reaches both versions', async () => {
      assert.equal(mesh.info().mode, mode);
      const r = await load(mesh, 200);
      assert.equal(r.failed, 0, JSON.stringify(r.errors));
      assert.ok((r.byVersion.v1 ?? 0) > 40 && (r.byVersion.v2 ?? 0) > 40, JSON.stringify(r.byVersion));
      // Each sidecar got a certificate for its workload's identity from the control plane's CA.
      const instances =
        await mesh.api<Array<{ id: string; sidecar?: { adminSocket?: string } }>>('/api/v1/instances');
      const admin = instances.find((i) => i.id === 'default/client-0')?.sidecar?.adminSocket ?? '';
      const identity = await adminGet(admin, '/identity');
      assert.equal(identity.status, 200, identity.body);
      assert.equal(JSON.parse(identity.body).spiffeId, 'spiffe://cluster.local/ns/default/sa/client');
    });

    test('a TCP service is reached too: by name (transparent) or by its Kubernetes-style variables (explicit)', async () => {
      const r = await mesh.exec('client', [process.execPath, path.join(FIXTURES, 'tcp-client.ts')]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'hello weft\n');
    });

    test('a bad resource is reported with its file and line; the rest keeps working', async () => {
      const resources =
        await mesh.api<
          Array<{
            kind: string;
            name: string;
            state: string;
            issues: Array<{ at: string; code: string; message: string }>;
          }>
        >('/api/v1/resources');
      const bad = resources.find((r) => r.name === 'broken');
      assert.equal(bad?.state, 'invalid');
      const at = bad?.issues[0]?.at ?? '';
      assert.match(at, /bad-route\.yaml:10:\d+$/, JSON.stringify(bad));
      assert.equal(bad?.issues[0]?.code, 'CONFIG_SCHEMA');
      assert.ok(resources.filter((r) => r.state === 'accepted').length >= 6);
      // `weft up` said so at start, and `weft status` says so now.
      assert.match(mesh.output(), /bad-route\.yaml:10:\d+: HTTPRoute default\/broken invalid: CONFIG_SCHEMA/);
      const status = await mesh.weft(['status', '--run', mesh.runId]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /bad-route\.yaml:10:\d+: HTTPRoute default\/broken invalid/);
      assert.match(status.stdout, /default\/client-0 {2}synced/);
    });

    test('an HTTPRoute applied with weft apply reaches every proxy and splits 90/10 within ±5% over 1,000 requests', async () => {
      const out = await applyAndSync(mesh, 'routes/split-90-10.yaml');
      assert.match(out, /httproute\/default\/echo (created|configured)/);
      const res = await load(mesh, 1000, [], 16);
      assert.equal(res.failed, 0, JSON.stringify(res.errors));
      const v2 = (res.byVersion.v2 ?? 0) / 1000;
      assert.ok(Math.abs(v2 - 0.1) <= 0.05, `v2 share ${v2}`);
    });

    test('a header match sends one user to v2 and everyone else to v1', async () => {
      await applyAndSync(mesh, 'routes/jason-v2.yaml');
      // What the client's sidecar holds, as an operator sees it.
      const pc = await mesh.weft([
        'proxy-config',
        'client',
        '--run',
        mesh.runId,
        '--section',
        'outbound',
        '-o',
        'json',
      ]);
      assert.equal(pc.code, 0, pc.stderr);
      const echo = (
        JSON.parse(pc.stdout) as Array<{ name: string; routes: Array<{ matches?: unknown }> }>
      ).find((o) => o.name === 'default/echo:8080');
      assert.match(JSON.stringify(echo?.routes[0]?.matches), /"name":"end-user".*"value":"jason"/);
      const jason = await load(mesh, 50, ['end-user: jason']);
      const others = await load(mesh, 50, ['end-user: mary']);
      assert.deepEqual(jason.byVersion, { v2: 50 });
      assert.deepEqual(others.byVersion, { v1: 50 });
    });

    test('an application that dies is restarted (CrashLoopBackOff) and serves again', async () => {
      const pidOf = () => mesh.info().instances.find((i) => i.id === 'default/echo-v2-0')?.pids.app;
      const first = pidOf();
      assert.ok(alive(first));
      process.kill(first as number, 'SIGKILL');
      const deadline = Date.now() + 15_000;
      for (;;) {
        const instances = await mesh.api<Array<{ id: string; ready: boolean }>>('/api/v1/instances');
        const now = pidOf();
        if (now !== first && alive(now) && instances.find((i) => i.id === 'default/echo-v2-0')?.ready) break;
        assert.ok(Date.now() < deadline, 'echo-v2 was not restarted within 15 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      await mesh.waitSynced(undefined, 10_000);
      const jason = await load(mesh, 50, ['end-user: jason']);
      assert.deepEqual(jason.byVersion, { v2: 50 });
    });

    test('killing the control plane during load fails no request; it is restarted and proxies resync', async () => {
      const pid = mesh.info().controlPid;
      assert.ok(alive(pid));
      const running = load(mesh, 3000, [], 4);
      await new Promise((r) => setTimeout(r, 300));
      process.kill(pid as number, 'SIGKILL');
      const res = await running;
      assert.equal(res.failed, 0, JSON.stringify(res.errors));
      assert.equal(res.ok, 3000);
      // The runtime restarts it; the proxies reconnect and are in sync again.
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && (mesh.info().controlPid === pid || !alive(mesh.info().controlPid))) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.notEqual(mesh.info().controlPid, pid);
      await mesh.waitSynced(undefined, 15_000);
    });

    test('a second run at the same time does not collide with the first', async () => {
      const second = await startMesh({
        files: [path.join(FIXTURES, 'mesh.yaml')],
        args: mode === 'explicit' ? ['--explicit'] : [],
      });
      try {
        assert.notEqual(second.runId, mesh.runId);
        const [a, b] = await Promise.all([load(mesh, 100), load(second, 100)]);
        assert.equal(a.failed + b.failed, 0, JSON.stringify([a.errors, b.errors]));
        // The second run has no route: both versions answer; the first keeps its header route (v1 here).
        assert.ok((b.byVersion.v2 ?? 0) > 0 && (b.byVersion.v1 ?? 0) > 0, JSON.stringify(b.byVersion));
        assert.deepEqual(a.byVersion, { v1: 100 });
      } finally {
        assert.equal(await second.stop('SIGINT'), 0);
      }
      const after = await load(mesh, 50);
      assert.equal(after.failed, 0, JSON.stringify(after.errors));
    });

    test('after a crashed `weft up`, `weft down` removes what it left behind', async () => {
      const crashed = await startMesh({
        files: [path.join(FIXTURES, 'mesh.yaml')],
        args: mode === 'explicit' ? ['--explicit'] : [],
      });
      const info = crashed.info();
      const pids = [info.controlPid, ...info.instances.flatMap((i) => [i.pids.app, i.pids.proxy])].filter(
        (p): p is number => p !== undefined,
      );
      crashed.child.kill('SIGKILL');
      await new Promise((r) => crashed.child.once('exit', r));
      // The crash left the children running (and, in transparent mode, the namespaces).
      assert.ok(pids.some(alive));
      const down = await crashed.weft(['down']);
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stdout, new RegExp(`removed run ${info.runId}`));
      for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} still runs`);
      assert.equal(fs.existsSync(info.dir), false);
      if (mode === 'transparent') {
        assert.doesNotMatch(
          execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }),
          new RegExp(`weft-${info.runId}-`),
        );
      }
      // The live run was left alone.
      const still = await load(mesh, 20);
      assert.equal(still.failed, 0, JSON.stringify(still.errors));
      await crashed.stop();
    });

    test('Ctrl-C removes every process, namespace and file of the run', async () => {
      const info = mesh.info();
      const pids = [info.controlPid, ...info.instances.flatMap((i) => [i.pids.app, i.pids.proxy])].filter(
        (p): p is number => p !== undefined,
      );
      assert.ok(pids.length >= 9);
      const code = await mesh.stop('SIGINT');
      assert.equal(code, 0, mesh.output());
      for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} still runs`);
      // The application stopped first: on SIGTERM it still made a request through its sidecar.
      assert.equal(fs.readFileSync(path.join(lifecycle, 'stop'), 'utf8'), '302');
      assert.equal(fs.existsSync(info.dir), false);
      if (mode === 'transparent') {
        const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
        assert.doesNotMatch(netns, new RegExp(`weft-${info.runId}-`));
        const etc = fs.existsSync('/etc/netns') ? fs.readdirSync('/etc/netns') : [];
        assert.deepEqual(
          etc.filter((n) => n.startsWith(`weft-${info.runId}-`)),
          [],
        );
      }
    });
  });
}
