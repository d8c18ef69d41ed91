/**
 * Istio's local rate limit task on Bookinfo, unchanged (istio.io, tasks/policy-enforcement/rate-limit):
 * `weft up -f bookinfo.yaml -f curl.yaml`, then `weft apply -f tasks/local-rate-limit.yaml`, an EnvoyFilter
 * in istio-system that gives productpage's sidecar a token bucket of 4 requests a minute on its inbound
 * port. Five pages from the curl pod within the minute: 200, 200, 200, 200 (each a rendered page, so
 * productpage's own calls to details and reviews go on), then 429 with the task's `x-local-rate-limit:
 * true` and Weft's `weft-error: RATE_LIMITED`. Reviews, which the filter does not select, still answers.
 *
 * Transparent mode only, as Istio runs Bookinfo. Skipped, with the reason, where interception is not
 * available.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canRunTransparent, type Mesh, ROOT, startMesh } from '../support/mesh.ts';

const ISTIO = path.join(ROOT, 'test/fixtures/compat/istio');
const TASK = path.join(ROOT, 'test/fixtures/compat/samples/istio/tasks/local-rate-limit.yaml');
const PAGE_URL = 'http://productpage:9080/productpage';
const REVIEWS_URL = 'http://reviews:9080/reviews/0';
const SEPARATOR = '--- weft response end ---';

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** `count` GETs of `url` with curl inside the curl pod (one `weft exec`), each with its status and headers. */
async function fetchAll(mesh: Mesh, url: string, count: number): Promise<Reply[]> {
  const script = `for i in $(seq ${count}); do curl -s -i -m 10 ${url}; echo; echo '${SEPARATOR}'; done`;
  const r = await mesh.exec('curl', ['sh', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  const replies = r.stdout
    .split(`${SEPARATOR}\n`)
    .filter((t) => t.trim() !== '')
    .map((text) => {
      const end = text.indexOf('\r\n\r\n');
      assert.ok(end > 0, `not an HTTP response:\n${text}`);
      const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4) };
    });
  assert.equal(replies.length, count, r.stdout);
  return replies;
}

interface Dump {
  config: { inbound: Array<{ name: string; filters?: Array<{ type: string; localRateLimit?: unknown }> }> };
}

async function inboundFilters(mesh: Mesh, instance: string) {
  const dump = JSON.parse(await mesh.admin(instance, '/config')) as Dump;
  return dump.config.inbound.map((ib) => [ib.name, (ib.filters ?? []).map((f) => f.type)]);
}

describe("Istio's local rate limit task on Bookinfo", { skip: canRunTransparent() }, () => {
  let mesh: Mesh;
  before(async () => {
    mesh = await startMesh({ files: [path.join(ISTIO, 'bookinfo.yaml'), path.join(ISTIO, 'curl.yaml')] });
  });
  after(async () => {
    if (mesh && mesh.child.exitCode === null) await mesh.stop();
  });

  test('`weft apply -f tasks/local-rate-limit.yaml` puts a LocalRateLimit filter on productpage’s inbound port only', async () => {
    const r = await mesh.weft(['apply', '--run', mesh.runId, '-f', TASK]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^envoyfilter\/istio-system\/filter-local-ratelimit-svc created$/m);
    const deadline = Date.now() + 10_000;
    let seen: unknown;
    for (;;) {
      seen = await inboundFilters(mesh, 'default/productpage-v1-0');
      if (JSON.stringify(seen) === JSON.stringify([['inbound-9080', ['LocalRateLimit']]])) break;
      assert.ok(Date.now() < deadline, `productpage's inbound filters: ${JSON.stringify(seen)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    await mesh.waitSynced();
    const dump = JSON.parse(await mesh.admin('default/productpage-v1-0', '/config')) as Dump;
    assert.deepEqual(dump.config.inbound[0]?.filters?.[0]?.localRateLimit, {
      tokenBucket: { maxTokens: 4, tokensPerFill: 4, fillInterval: 60_000 },
      descriptors: [],
      filterEnabled: 100,
      filterEnforced: 100,
      status: 429,
      responseHeadersToAdd: { 'x-local-rate-limit': 'true' },
      enableXRateLimitHeaders: false,
    });
    assert.deepEqual(await inboundFilters(mesh, 'default/reviews-v1-0'), [['inbound-9080', []]]);
    const resources =
      await mesh.api<Array<{ kind: string; state: string; issues: unknown[]; notes: unknown[] }>>(
        '/api/v1/resources',
      );
    const ef = resources.find((x) => x.kind === 'EnvoyFilter');
    assert.deepEqual([ef?.state, ef?.issues, ef?.notes], ['accepted', [], []]);
  });

  test('5 product pages within the minute: 200, 200, 200, 200 (rendered), then 429 marked by the filter', async () => {
    const replies = await fetchAll(mesh, PAGE_URL, 5);
    assert.deepEqual(
      replies.map((r) => r.status),
      [200, 200, 200, 200, 429],
    );
    for (const r of replies.slice(0, 4)) {
      assert.match(r.body, /<title>Simple Bookstore App<\/title>/, r.body);
      assert.match(r.body, /<h4 class="text-center text-primary">Book Details<\/h4>/, r.body);
      assert.match(r.body, /<small>Reviewer1<\/small>/, r.body);
      assert.doesNotMatch(r.body, /Error fetching|currently unavailable/, r.body);
    }
    const limited = replies[4] as Reply;
    assert.equal(limited.headers['x-local-rate-limit'], 'true', JSON.stringify(limited.headers));
    assert.equal(limited.headers['weft-error'], 'RATE_LIMITED', JSON.stringify(limited.headers));
  });

  test('reviews, which the filter does not select, still answers every request', async () => {
    const replies = await fetchAll(mesh, REVIEWS_URL, 6);
    assert.deepEqual(
      replies.map((r) => [r.status, r.headers['x-local-rate-limit']]),
      Array.from({ length: 6 }, () => [200, undefined]),
    );
    // productpage is still limited: its bucket refills only once the minute is over.
    const [again] = await fetchAll(mesh, PAGE_URL, 1);
    assert.equal(again?.status, 429);
  });
});
