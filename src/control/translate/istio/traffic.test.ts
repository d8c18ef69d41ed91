/**
 * Istio's traffic API through the whole control plane: Istio's own Bookinfo manifests and its networking
 * samples (test/fixtures/compat/samples/istio/bookinfo) read by the index, one ready instance per Deployment,
 * then the view of productpage's sidecar — what the proxy is sent, checked by the proxy's validator.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { validateProxyConfig } from '../../../api/index.ts';
import type { MeshIndex } from '../../index/index.ts';
import { parseDocuments } from '../../sources/file/parse.ts';
import { buildView } from '../../views/build.ts';
import { istioMesh } from './testing.ts';

const ROOT = new URL('../../../../', import.meta.url).pathname;
const BOOKINFO = path.join(ROOT, 'test/fixtures/compat/istio/bookinfo.yaml');
const NETWORKING = path.join(
  process.env.WEFT_COMPAT_SAMPLES ?? path.join(ROOT, 'test/fixtures/compat/samples'),
  'istio/bookinfo/networking',
);

function docs(file: string) {
  return parseDocuments(readFileSync(file, 'utf8'), file);
}

/** Bookinfo plus the given networking samples, with one ready instance per Deployment. */
function mesh(samples: string[]): MeshIndex {
  return istioMesh([docs(BOOKINFO), ...samples.map((s) => docs(path.join(NETWORKING, s)))].flat());
}

function view(index: MeshIndex, node = 'default/productpage-v1-0') {
  const v = buildView(index.model, node, { trustDomain: 'cluster.local' });
  assert.ok(v);
  const checked = validateProxyConfig(structuredClone(v));
  assert.deepEqual(checked.ok ? [] : checked.issues, [], 'the proxy would refuse this view');
  return v;
}

function outbound(v: ReturnType<typeof view>, name: string) {
  const ob = v.outbound?.find((o) => o.name === name);
  assert.ok(ob, `no outbound ${name}`);
  return ob;
}

function endpointsOf(v: ReturnType<typeof view>, backend: string): string[] {
  const b = v.backends?.find((x) => x.name === backend);
  assert.ok(b, `no backend ${backend}`);
  return (b.endpoints ?? []).map((e) => (e.labels as Record<string, string>).version ?? '?');
}

function statusOf(index: MeshIndex, kind: string, name: string) {
  return index.resources().find((r) => r.key?.kind === kind && r.key.name === name);
}

describe('Istio traffic management, Bookinfo samples', () => {
  test('virtual-service-all-v1 with destination-rule-all: every service to v1, first match, no timeout', () => {
    const index = mesh(['destination-rule-all.yaml', 'virtual-service-all-v1.yaml']);
    for (const name of ['productpage', 'reviews', 'ratings', 'details']) {
      const st = statusOf(index, 'VirtualService', name);
      assert.equal(st?.state, 'accepted', JSON.stringify(st?.issues));
      assert.deepEqual(st?.issues, []);
    }
    const v = view(index);
    const reviews = outbound(v, 'default/reviews:9080');
    assert.equal(reviews.routeOrder, 'declared');
    assert.deepEqual(
      reviews.routes?.map((r) => ({ backends: r.backends, timeout: r.timeout })),
      [{ backends: [{ backend: 'default/reviews:9080|v1', weight: 1 }], timeout: 0 }],
    );
    assert.deepEqual(endpointsOf(v, 'default/reviews:9080|v1'), ['v1']);
    // The plain backend (no subset) is not needed any more; a subset keeps the DestinationRule's identity.
    assert.equal(
      v.backends?.find((b) => b.name === 'default/reviews:9080|v1')?.endpoints?.[0]?.identity,
      'spiffe://cluster.local/ns/default/sa/bookinfo-reviews',
    );
  });

  test('reviews-test-v2: jason goes to v2, everyone else to v1, in declared order', () => {
    const index = mesh(['destination-rule-all.yaml', 'virtual-service-reviews-test-v2.yaml']);
    const reviews = outbound(view(index), 'default/reviews:9080');
    assert.deepEqual(
      reviews.routes?.map((r) => ({ matches: r.matches, backends: r.backends })),
      [
        {
          matches: [{ headers: [{ name: 'end-user', type: 'Exact', value: 'jason' }], queryParams: [] }],
          backends: [{ backend: 'default/reviews:9080|v2', weight: 1 }],
        },
        {
          matches: [{ headers: [], queryParams: [] }],
          backends: [{ backend: 'default/reviews:9080|v1', weight: 1 }],
        },
      ],
    );
  });

  test('weighted shifting keeps the weights (reviews 80/20)', () => {
    const index = mesh(['destination-rule-all.yaml', 'virtual-service-reviews-80-20.yaml']);
    const reviews = outbound(view(index), 'default/reviews:9080');
    assert.deepEqual(reviews.routes?.[0]?.backends, [
      { backend: 'default/reviews:9080|v1', weight: 80 },
      { backend: 'default/reviews:9080|v2', weight: 20 },
    ]);
  });

  test('a subset no DestinationRule defines is a status error, and the backend has no endpoints', () => {
    const index = mesh(['virtual-service-reviews-test-v2.yaml']);
    const st = statusOf(index, 'VirtualService', 'reviews');
    assert.equal(st?.state, 'accepted');
    assert.match(
      st?.issues.map((i) => `${i.code} ${i.path} ${i.message}`).join('\n') ?? '',
      /CONFIG_REFERENCE spec\.http\.0\.route\.0\.destination\.subset subset "v2" is not defined by any DestinationRule/,
    );
    assert.deepEqual(endpointsOf(view(index), 'default/reviews:9080|v2'), []);
  });

  test('a second VirtualService for the same host is reported; the oldest keeps it', () => {
    const index = mesh([
      'destination-rule-all.yaml',
      'virtual-service-all-v1.yaml',
      'virtual-service-reviews-v3.yaml',
    ]);
    const issues = index
      .resources()
      .filter((r) => r.key?.kind === 'VirtualService' && r.key.name === 'reviews')
      .flatMap((r) => r.issues.map((i) => i.code));
    assert.ok(issues.includes('CONFIG_CONFLICT'), JSON.stringify(issues));
  });

  test('every Bookinfo networking sample is accepted or explained, and every view is one the proxy takes', () => {
    const all = [
      'destination-rule-all.yaml',
      'virtual-service-all-v1.yaml',
      'fault-injection-details-v1.yaml',
      'virtual-service-ratings-test-delay.yaml',
      'virtual-service-ratings-test-abort.yaml',
      'virtual-service-reviews-jason-v2-v3.yaml',
    ];
    for (const sample of all) {
      const index = mesh(['destination-rule-all.yaml', sample]);
      for (const node of index.model.instances.map((i) => i.id)) view(index, node);
      for (const r of index.resources())
        assert.notEqual(r.state, 'invalid', `${sample}: ${JSON.stringify(r.issues)}`);
    }
  });

  test("ratings-test-delay: jason's requests are held 7 s by a Fault filter, everyone else's are not; Istio's default retries", () => {
    const index = mesh(['destination-rule-all.yaml', 'virtual-service-ratings-test-delay.yaml']);
    const ratings = outbound(view(index, 'default/reviews-v2-0'), 'default/ratings:9080');
    const [jason, rest] = ratings.routes ?? [];
    assert.deepEqual(jason?.filters, [
      { type: 'Fault', fault: { delay: { fixedDelay: 7000, percentage: 100 } } },
    ]);
    assert.deepEqual(rest?.filters, []);
    for (const r of [jason, rest]) {
      assert.deepEqual(r?.retries, {
        attempts: 2,
        retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 503],
      });
      assert.equal(r?.includeAttemptCount, true);
    }
  });

  test('ratings-test-abort: an HTTP 500 abort for jason', () => {
    const index = mesh(['destination-rule-all.yaml', 'virtual-service-ratings-test-abort.yaml']);
    const ratings = outbound(view(index, 'default/reviews-v2-0'), 'default/ratings:9080');
    assert.deepEqual(ratings.routes?.[0]?.filters, [
      { type: 'Fault', fault: { abort: { httpStatus: 500, percentage: 100 } } },
    ]);
  });
});

describe("Istio's circuit-breaking task", () => {
  test('connectionPool and outlierDetection become the backend circuit breaker and outlier detection', () => {
    const samples = path.join(ROOT, 'test/fixtures/compat/samples/istio');
    const index = istioMesh([
      ...docs(path.join(samples, 'httpbin/httpbin.yaml')),
      ...docs(path.join(samples, 'tasks/circuit-breaking-destinationrule.yaml')),
      ...docs(BOOKINFO),
    ]);
    const httpbin = view(index).backends?.find((b) => b.name === 'default/httpbin:8000');
    assert.deepEqual(
      {
        circuitBreaker: httpbin?.circuitBreaker,
        maxRequestsPerConnection: httpbin?.maxRequestsPerConnection,
        outlierDetection: httpbin?.outlierDetection,
      },
      {
        circuitBreaker: { maxConnections: 1, maxPendingRequests: 1 },
        maxRequestsPerConnection: 1,
        outlierDetection: {
          consecutive5xx: 1,
          consecutiveGatewayErrors: 0,
          interval: 1000,
          baseEjectionTime: 180_000,
          maxEjectionPercent: 100,
        },
      },
    );
  });
});
