/**
 * Two of Istio's traffic-management tasks on Bookinfo, with Istio's files applied unchanged (copies in
 * test/fixtures/compat/samples/istio), in the local runtime, as the docs run them:
 *
 * - Traffic shifting (istio.io docs/tasks/traffic-management/traffic-shifting): after
 *   virtual-service-all-v1.yaml, virtual-service-reviews-50-v3.yaml sends about half of the pages to
 *   reviews v1 (no stars) and half to v3 (red stars); virtual-service-reviews-v3.yaml then sends all of them
 *   to v3.
 * - Request timeouts (docs/tasks/traffic-management/request-timeouts, tasks/request-timeouts.yaml): reviews
 *   to v2, then a 2 s delay on every call to ratings ("working normally (with ratings stars displayed), but
 *   there is a 2 second delay whenever you refresh the page"), then a 0.5 s timeout on reviews: the page
 *   "returns in about 1 second, instead of 2, and the reviews are unavailable" (productpage calls reviews
 *   twice, each cut at 0.5 s) with "Sorry, product reviews are currently unavailable for this book.". The
 *   task file holds the reviews VirtualService twice (steps 1 and 3), so its documents are applied one at a
 *   time, in the task's order, as the task's three `kubectl apply` commands do.
 *
 * Weighted routing draws at random per request, so the split is checked with bounds that 40 fair draws
 * leave with a probability of 4·10⁻⁵ (each version between 8 and 32 pages of 40).
 *
 * Transparent mode only, as Istio runs Bookinfo. Skipped, with the reason, where interception is not
 * available.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applySettled, splitDocuments } from '../support/istio-tasks.ts';
import { canRunTransparent, type Mesh, ROOT, startMesh } from '../support/mesh.ts';

const ISTIO = path.join(ROOT, 'test/fixtures/compat/istio');
const SAMPLES = path.join(ROOT, 'test/fixtures/compat/samples/istio');
const NETWORKING = path.join(SAMPLES, 'bookinfo/networking');
const PAGE_URL = 'http://productpage:9080/productpage';
const SEPARATOR = '--- weft page end ---';
const REVIEWS_ERROR = 'Sorry, product reviews are currently unavailable for this book.';

/**
 * The reviews version a rendered page shows (v1 no stars, v2 black stars, v3 red stars, and the stand-in's
 * `data-version`, which must agree), or `error` when the page shows the reviews error instead.
 */
function shownVersion(page: string): string {
  assert.match(page, /<title>Simple Bookstore App<\/title>/, page);
  if (page.includes(REVIEWS_ERROR)) return 'error';
  const colors = new Set([...page.matchAll(/<font color="([a-z]+)">/g)].map((m) => m[1]));
  const stars = (page.match(/glyphicon-star"/g) ?? []).length;
  const version =
    stars === 0 && colors.size === 0
      ? 'v1'
      : colors.size === 1 && colors.has('black') && stars > 0
        ? 'v2'
        : colors.size === 1 && colors.has('red') && stars > 0
          ? 'v3'
          : assert.fail(`cannot tell the reviews version:\n${page}`);
  assert.match(page, new RegExp(`data-version="${version}"`), page);
  assert.doesNotMatch(page, /Error fetching|currently unavailable/, page);
  return version;
}

/** `count` product pages fetched with curl in the curl pod (one `weft exec`), counted by version shown. */
async function pages(mesh: Mesh, count: number): Promise<Record<string, number>> {
  const script = `for i in $(seq ${count}); do curl -s -m 10 ${PAGE_URL}; echo '${SEPARATOR}'; done`;
  const r = await mesh.exec('curl', ['sh', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  const bodies = r.stdout.split(`${SEPARATOR}\n`).filter((b) => b.trim() !== '');
  assert.equal(bodies.length, count, r.stdout);
  const byVersion: Record<string, number> = {};
  for (const body of bodies) {
    const v = shownVersion(body);
    byVersion[v] = (byVersion[v] ?? 0) + 1;
  }
  return byVersion;
}

/** One product page with how long it took, as curl in the mesh measured it. */
async function timedPage(mesh: Mesh): Promise<{ version: string; seconds: number; body: string }> {
  const r = await mesh.exec('curl', ['curl', '-s', '-m', '20', '-w', '\n%{time_total}', PAGE_URL]);
  assert.equal(r.code, 0, r.stderr);
  const nl = r.stdout.lastIndexOf('\n');
  const body = r.stdout.slice(0, nl);
  return { version: shownVersion(body), seconds: Number(r.stdout.slice(nl + 1)), body };
}

const apply = async (mesh: Mesh, file: string) => (await applySettled(mesh, file)).stdout;

describe("Istio's traffic-shifting and request-timeouts tasks on Bookinfo", {
  skip: canRunTransparent(),
}, () => {
  let mesh: Mesh;
  before(async () => {
    mesh = await startMesh({ files: [path.join(ISTIO, 'bookinfo.yaml'), path.join(ISTIO, 'curl.yaml')] });
    // Both tasks start from Bookinfo's destination rules (the subsets) and all traffic on v1.
    assert.match(
      await apply(mesh, path.join(NETWORKING, 'destination-rule-all.yaml')),
      /^destinationrule\/default\/reviews created$/m,
    );
    assert.match(
      await apply(mesh, path.join(NETWORKING, 'virtual-service-all-v1.yaml')),
      /^virtualservice\/default\/reviews created$/m,
    );
  });
  after(async () => {
    if (mesh && mesh.child.exitCode === null) await mesh.stop();
  });

  test('traffic shifting: with virtual-service-all-v1, every page shows reviews v1', async () => {
    assert.deepEqual(await pages(mesh, 10), { v1: 10 });
  });

  test('traffic shifting: virtual-service-reviews-50-v3 shows v1 (no stars) on about half of 40 pages and v3 (red stars) on the rest', async (t) => {
    assert.match(
      await apply(mesh, path.join(NETWORKING, 'virtual-service-reviews-50-v3.yaml')),
      /^virtualservice\/default\/reviews configured$/m,
    );
    const split = await pages(mesh, 40);
    t.diagnostic(`40 pages: ${JSON.stringify(split)}`);
    assert.deepEqual(Object.keys(split).sort(), ['v1', 'v3'], JSON.stringify(split));
    for (const v of ['v1', 'v3']) {
      const n = split[v] ?? 0;
      assert.ok(n >= 8 && n <= 32, `${v} on ${n} of 40 pages: ${JSON.stringify(split)}`);
    }
  });

  test('traffic shifting: virtual-service-reviews-v3 shows v3 on every page', async () => {
    await apply(mesh, path.join(NETWORKING, 'virtual-service-reviews-v3.yaml'));
    assert.deepEqual(await pages(mesh, 20), { v3: 20 });
  });

  test('request timeouts: reviews v2, then a 2 s ratings delay (stars, about 2 s), then a 0.5 s reviews timeout (the reviews error after about 1 s)', async (t) => {
    await apply(mesh, path.join(NETWORKING, 'virtual-service-all-v1.yaml'));
    const [toV2, delay, timeout, ...rest] = splitDocuments(
      path.join(SAMPLES, 'tasks/request-timeouts.yaml'),
      mesh.base,
    );
    assert.ok(toV2 && delay && timeout && rest.length === 0, 'request-timeouts.yaml has three documents');

    // Step 1: reviews v2, a version that calls ratings.
    assert.match(await apply(mesh, toV2), /^virtualservice\/default\/reviews configured$/m);
    const normal = await timedPage(mesh);
    assert.equal(normal.version, 'v2');
    assert.ok(normal.seconds < 1.5, `took ${normal.seconds} s`);

    // Step 2: every call to ratings is held 2 s; the page still shows its stars, 2 s later.
    assert.match(await apply(mesh, delay), /^virtualservice\/default\/ratings configured$/m);
    const delayed = await timedPage(mesh);
    assert.equal(delayed.version, 'v2', delayed.body);
    assert.ok(delayed.seconds >= 2 && delayed.seconds < 3, `took ${delayed.seconds} s`);

    // Step 3: reviews must answer within 0.5 s. It cannot (ratings takes 2 s), and productpage tries it
    // twice: the reviews error after about 1 s.
    assert.match(await apply(mesh, timeout), /^virtualservice\/default\/reviews configured$/m);
    const timedOut = await timedPage(mesh);
    assert.equal(timedOut.version, 'error', timedOut.body);
    assert.ok(timedOut.body.includes(REVIEWS_ERROR));
    t.diagnostic(
      `pages took ${normal.seconds} s, ${delayed.seconds} s (delay), ${timedOut.seconds} s (timeout)`,
    );
    assert.ok(timedOut.seconds >= 0.95 && timedOut.seconds < 1.8, `took ${timedOut.seconds} s`);
  });
});
