/**
 * What `npm start` does: `weft demo` runs the bundled Bookinfo-compatible application (examples/demo)
 * meshed, with productpage on a host port through an edge sidecar. From this process (the host's
 * loopback, as a browser) the page shows the book's details and reviews; productpage's sidecar counted
 * its calls to details and reviews; and the demo's gRPC greeter answers a client inside the mesh.
 *
 * Transparent mode when this machine allows it (root, iptables, the SO_ORIGINAL_DST addon), else explicit.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canRunTransparent, type Mesh, ROOT, startMesh } from '../support/mesh.ts';

const PRODUCTPAGE = 'default/productpage-v1-0';
const GREETER_CLIENT = path.join(ROOT, 'src/samples/grpc-greeter/client.ts');

const mode = canRunTransparent() === undefined ? 'transparent' : 'explicit';

/** GET from the host, with no proxy from the environment in the way. */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, timeout: 10_000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString('utf8');
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(new Error(`GET ${url} timed out`));
      })
      .on('error', reject);
  });
}

/** Sum of a Prometheus counter over the series whose labels include every one given. */
function counter(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const set = line.slice(name.length + 1, close);
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`)))
      sum += Number(line.slice(close + 1).trim());
  }
  return sum;
}

describe(`weft demo (${mode} mode)`, () => {
  let mesh: Mesh;
  let url: string;

  before(async () => {
    mesh = await startMesh({
      command: 'demo',
      files: [],
      args: ['--port', '0', '--no-traffic', ...(mode === 'explicit' ? ['--explicit'] : [])],
    });
    const m = /Bookinfo is up: open (http:\/\/127\.0\.0\.1:\d+\/productpage)/.exec(mesh.output());
    assert.ok(m, mesh.output());
    url = m[1] as string;
  });
  after(async () => {
    if (mesh && mesh.child.exitCode === null) await mesh.stop();
  });

  test('the printed URL serves the product page from the host, with details and reviews', async () => {
    assert.equal(mesh.info().mode, mode);
    assert.equal(`${mesh.info().edge[0]?.url}productpage`, url);
    const { status, body } = await get(url);
    assert.equal(status, 200, body);
    assert.doesNotMatch(body, /Error fetching|currently unavailable/);
    assert.match(body, /<h3 class="text-center text-primary">The Comedy of Errors<\/h3>/);
    // The details table, as details answered it.
    assert.match(body, /<h4 class="text-center text-primary">Book Details<\/h4>/);
    assert.match(body, /<dt>Publisher:<\/dt>PublisherA/);
    assert.match(body, /<dt>ISBN-10:<\/dt>1234567890/);
    // The reviews section: both reviews, served by one of the reviews instances.
    assert.match(body, /<h4 class="text-center text-primary">Book Reviews<\/h4>/);
    assert.match(body, /<small>Reviewer1<\/small>/);
    assert.match(body, /<small>Reviewer2<\/small>/);
    assert.match(body, /Reviews served by:<\/dt><u id="reviews-podname">reviews-v[123]-0<\/u>/);
  });

  test("productpage's sidecar counted its calls to details and reviews", async () => {
    // Three more pages, so the counts do not hinge on the previous test alone.
    for (let i = 0; i < 3; i++) assert.equal((await get(url)).status, 200);
    const metrics = await mesh.admin(PRODUCTPAGE, '/metrics');
    const outbound = (service: string) =>
      counter(metrics, 'weft_requests_total', { direction: 'outbound', service, response_code: '200' });
    assert.ok(outbound('default/details:9080') >= 3, metrics);
    assert.ok(outbound('default/reviews:9080') >= 3, metrics);
    // And the pages themselves came in through its inbound side.
    assert.ok(counter(metrics, 'weft_requests_total', { direction: 'inbound', response_code: '200' }) >= 3);
  });

  // Explicit mode: the client speaks h2c to its sidecar's HTTP proxy listener with `:authority` naming the
  // service; the listener detects HTTP/2.
  test('the gRPC greeter answers a client inside productpage, through its sidecar', async () => {
    const r = await mesh.exec('productpage', [
      process.execPath,
      GREETER_CLIENT,
      'greeter:9090',
      'weft',
      '--count',
      '4',
    ]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const replies = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { message?: string; version?: string; hostname?: string });
    assert.equal(replies.length, 4, r.stdout);
    for (const reply of replies) {
      assert.equal(reply.message, 'Hello weft', r.stdout);
      assert.match(reply.version ?? '', /^v[12]$/);
      assert.equal(reply.hostname, `greeter-${reply.version}-0`);
    }
    // Intercepted: productpage's sidecar routed the calls to the greeter service.
    const metrics = await mesh.admin(PRODUCTPAGE, '/metrics');
    const grpc = counter(metrics, 'weft_requests_total', {
      direction: 'outbound',
      service: 'default/greeter:9090',
      method: 'POST',
    });
    assert.ok(grpc >= 4, metrics);
  });
});
