/**
 * Istio's mirroring task (istio.io docs/tasks/traffic-management/mirroring): two httpbin deployments, v1
 * and v2, with access logs (test/fixtures/istio-tasks/httpbin-v1-v2.yaml, as the task creates them), the
 * curl pod, and the task's file tasks/mirroring.yaml unchanged, its documents applied one at a time in the
 * task's order: the Service, the DestinationRule with the v1 and v2 subsets, the VirtualService sending
 * everything to v1, then the same VirtualService with `mirror: v2` at 100 %.
 *
 * What the task shows, from each version's access log: before the mirror, only v1 logs the requests;
 * with it, v1 and v2 both log each request, v2's being the mirrored copies, "sent with their Host/Authority
 * headers appended with -shadow", fire and forget: the client only ever sees v1's response. Each request
 * here asks for a path of its own (`/hostname?mirror=<n>`), so each log is counted per request; /hostname
 * answers with the instance that served it, which tells the client's response came from v1.
 *
 * Transparent mode only. Skipped, with the reason, where interception is not available.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applySettled, splitDocuments } from '../support/istio-tasks.ts';
import { canRunTransparent, type Mesh, ROOT, startMesh } from '../support/mesh.ts';

const SAMPLES = path.join(ROOT, 'test/fixtures/compat/samples/istio');
const FIXTURES = path.join(ROOT, 'test/fixtures/istio-tasks');
const SEPARATOR = '--- weft response end ---';

/** The access-log lines of an instance's httpbin for `/hostname?mirror=<id>`, by id. */
function logged(mesh: Mesh, instance: string): Map<string, string[]> {
  const log = mesh.info().instances.find((i) => i.id === instance)?.logs.app;
  assert.ok(log, `no log for ${instance}`);
  const out = new Map<string, string[]>();
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    const id = /uri=\/hostname\?mirror=([\w-]+) /.exec(line)?.[1];
    if (id) out.set(id, [...(out.get(id) ?? []), line]);
  }
  return out;
}

/** GETs /hostname?mirror=<id> for each id with curl in the curl pod; the hostnames that answered, in order. */
async function send(mesh: Mesh, ids: string[]): Promise<string[]> {
  const script = ids
    .map((id) => `curl -sS -m 10 'http://httpbin:8000/hostname?mirror=${id}'; echo '${SEPARATOR}'`)
    .join('; ');
  const r = await mesh.exec('curl', ['sh', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  const bodies = r.stdout.split(`${SEPARATOR}\n`).filter((b) => b.trim() !== '');
  assert.equal(bodies.length, ids.length, r.stdout);
  return bodies.map((b) => (JSON.parse(b) as { hostname: string }).hostname);
}

const apply = async (mesh: Mesh, file: string) => (await applySettled(mesh, file)).stdout;

describe("Istio's mirroring task on httpbin v1 and v2", { skip: canRunTransparent() }, () => {
  let mesh: Mesh;
  let docs: string[] = [];
  before(async () => {
    mesh = await startMesh({
      files: [path.join(FIXTURES, 'httpbin-v1-v2.yaml'), path.join(SAMPLES, 'curl/curl.yaml')],
    });
    docs = splitDocuments(path.join(SAMPLES, 'tasks/mirroring.yaml'), mesh.base);
  });
  after(async () => {
    if (mesh && mesh.child.exitCode === null) await mesh.stop();
  });

  test('mirroring.yaml: the Service, the subsets and the route to v1 apply in order', async () => {
    const [service, rule, toV1] = docs;
    assert.equal(docs.length, 4, 'mirroring.yaml has four documents');
    assert.match(await apply(mesh, service as string), /^service\/default\/httpbin created$/m);
    assert.match(await apply(mesh, rule as string), /^destinationrule\/default\/httpbin created$/m);
    assert.match(await apply(mesh, toV1 as string), /^virtualservice\/default\/httpbin created$/m);
  });

  test('all traffic to v1: v1 logs each request once, v2 logs none', async () => {
    const ids = ['v1only-1', 'v1only-2', 'v1only-3', 'v1only-4', 'v1only-5'];
    assert.deepEqual(await send(mesh, ids), Array(ids.length).fill('httpbin-v1-0'));
    const v1 = logged(mesh, 'default/httpbin-v1-0');
    for (const id of ids) assert.equal(v1.get(id)?.length, 1, `v1's log for ${id}: ${v1.get(id)}`);
    // A mirror, had there been one, would have had the time of a whole exec to arrive.
    const v2 = logged(mesh, 'default/httpbin-v2-0');
    for (const id of ids) assert.equal(v2.get(id), undefined, `v2's log for ${id}: ${v2.get(id)}`);
  });

  test('with the mirror: v1 and v2 each log each request once, v2 with Host httpbin-shadow:8000, and the client sees only v1', async () => {
    assert.match(await apply(mesh, docs[3] as string), /^virtualservice\/default\/httpbin configured$/m);
    const ids = ['mirror-1', 'mirror-2', 'mirror-3', 'mirror-4', 'mirror-5', 'mirror-6'];
    assert.deepEqual(await send(mesh, ids), Array(ids.length).fill('httpbin-v1-0'));

    const v1 = logged(mesh, 'default/httpbin-v1-0');
    for (const id of ids) {
      assert.equal(v1.get(id)?.length, 1, `v1's log for ${id}: ${v1.get(id)}`);
      assert.match(v1.get(id)?.[0] ?? '', / host="httpbin:8000" /);
    }
    // The copies are fire and forget: they may land after the client has its answers.
    const deadline = Date.now() + 5000;
    let v2 = logged(mesh, 'default/httpbin-v2-0');
    while (!ids.every((id) => v2.has(id)) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50));
      v2 = logged(mesh, 'default/httpbin-v2-0');
    }
    for (const id of ids) {
      assert.equal(v2.get(id)?.length, 1, `v2's log for ${id}: ${v2.get(id)}`);
      assert.match(v2.get(id)?.[0] ?? '', / status=200 method=GET .* host="httpbin-shadow:8000" /);
    }
    const metrics = await mesh.admin('default/curl-0', '/metrics');
    assert.match(metrics, /^weft_mirror_requests_total\{backend="[^"]*\|v2",result="ok"\} 6$/m);
  });
});
