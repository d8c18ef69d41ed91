/**
 * Istio's TCP traffic shifting task (istio.io docs/tasks/traffic-management/tcp-traffic-shifting) on the
 * tcp-echo sample (samples/tcp-echo/tcp-echo-services.yaml, unchanged: v1 answers "one <line>", v2
 * "two <line>") with Istio's curl pod as the client, in the local runtime.
 *
 * The task sends its connections through the ingress gateway, and its files (tcp-echo-all-v1.yaml,
 * tcp-echo-20-v2.yaml) bind the VirtualService to `tcp-echo-gateway` only. Weft runs no ingress gateway
 * yet: applied unchanged, the task's DestinationRule is accepted, the Gateway kind is reported as not read,
 * and the VirtualService is `unsupported` with the reason ("applies to nothing"), so connections keep going
 * to both versions. The same rules bound to the mesh (test/fixtures/istio-tasks/tcp-echo-mesh-*.yaml:
 * host `tcp-echo`, port 9000, the task's subsets) are applied by the client's sidecar: every connection
 * to v1, then about 80 % to v1 and 20 % to v2. Each connection sends one line and reads the answer, as the
 * task's `(date; sleep 1) | nc` loop does (src/samples/tcp-echo/client.ts, the curl image has no nc).
 *
 * Weighted routing draws per connection: of 100, v2 gets between 5 and 40 (a fair draw leaves those
 * bounds with a probability of 5·10⁻⁶).
 *
 * Transparent mode only. Skipped, with the reason, where interception is not available.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applySettled } from '../support/istio-tasks.ts';
import { canRunTransparent, type Mesh, ROOT, startMesh } from '../support/mesh.ts';

const SAMPLES = path.join(ROOT, 'test/fixtures/compat/samples/istio');
const FIXTURES = path.join(ROOT, 'test/fixtures/istio-tasks');
const CLIENT = path.join(ROOT, 'src/samples/tcp-echo/client.ts');

/** `count` connections to tcp-echo:`port` from the curl pod, one after another, by the prefix that answered. */
async function connections(mesh: Mesh, count: number, port = 9000): Promise<Record<string, number>> {
  const r = await mesh.exec('curl', [
    process.execPath,
    CLIENT,
    `tcp-echo:${port}`,
    '--count',
    String(count),
    '--message',
    'hello weft',
  ]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, count, r.stdout);
  const byPrefix: Record<string, number> = {};
  for (const line of lines) {
    const m = /^(one|two) hello weft$/.exec(line);
    assert.ok(m, `not a tcp-echo answer: ${line}`);
    byPrefix[m[1] as string] = (byPrefix[m[1] as string] ?? 0) + 1;
  }
  return byPrefix;
}

const apply = (mesh: Mesh, file: string) => applySettled(mesh, file, false);

describe("Istio's TCP traffic shifting task on tcp-echo", { skip: canRunTransparent() }, () => {
  let mesh: Mesh;
  before(async () => {
    mesh = await startMesh({
      files: [path.join(SAMPLES, 'tcp-echo/tcp-echo-services.yaml'), path.join(SAMPLES, 'curl/curl.yaml')],
    });
  });
  after(async () => {
    if (mesh && mesh.child.exitCode === null) await mesh.stop();
  });

  test('without rules, both versions answer on port 9000', async () => {
    const split = await connections(mesh, 30);
    assert.ok(split.one && split.two, JSON.stringify(split));
  });

  test("the task's tcp-echo-all-v1.yaml, unchanged: the gateway-bound rule is reported as applying to nothing", async () => {
    const r = await apply(mesh, path.join(SAMPLES, 'tcp-echo/tcp-echo-all-v1.yaml'));
    // The Gateway kind is not read (exit 1); the other two documents still apply.
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Gateway\/default\/tcp-echo-gateway: CONFIG_UNSUPPORTED/);
    assert.match(r.stdout, /^destinationrule\/default\/tcp-echo-destination created$/m);
    assert.match(r.stdout, /^virtualservice\/default\/tcp-echo created$/m);
    const resources =
      await mesh.api<
        Array<{ kind: string; name: string; state: string; issues: Array<{ message: string }> }>
      >('/api/v1/resources');
    const vs = resources.find((x) => x.kind === 'VirtualService' && x.name === 'tcp-echo');
    assert.equal(vs?.state, 'unsupported', JSON.stringify(vs));
    assert.match(vs?.issues[0]?.message ?? '', /bound to gateways only .* applies to nothing/);
    const split = await connections(mesh, 30);
    assert.ok(split.one && split.two, JSON.stringify(split));
  });

  test('the same rule bound to the mesh: every connection to v1', async () => {
    const r = await apply(mesh, path.join(FIXTURES, 'tcp-echo-mesh-all-v1.yaml'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await connections(mesh, 20), { one: 20 });
  });

  test('80/20 bound to the mesh: of 100 connections, about 20 go to v2; port 9001 is not matched', async (t) => {
    const r = await apply(mesh, path.join(FIXTURES, 'tcp-echo-mesh-20-v2.yaml'));
    assert.equal(r.code, 0, r.stderr);
    const split = await connections(mesh, 100);
    t.diagnostic(`100 connections: ${JSON.stringify(split)}`);
    const v2 = split.two ?? 0;
    assert.ok(v2 >= 5 && v2 <= 40, JSON.stringify(split));
    assert.equal((split.one ?? 0) + v2, 100);
    // The rule matches port 9000; the service's other port still reaches both versions.
    const other = await connections(mesh, 30, 9001);
    assert.ok(other.one && other.two, JSON.stringify(other));
  });
});
