/**
 * The Gateway API route schemas: real manifests users have (Istio's and Linkerd's samples) parse, the CRD
 * defaults are applied, and what the CRDs' enums, limits and CEL rules refuse is refused here too.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import {
  GATEWAY_ROUTE_SCHEMAS,
  type GatewayRouteKind,
  GRPCRoute,
  HTTPRoute,
  isGatewayApiVersion,
  TCPRoute,
} from './index.ts';

const SAMPLES =
  process.env.WEFT_COMPAT_SAMPLES ??
  new URL('../../../../test/fixtures/compat/samples', import.meta.url).pathname;
const noSamples = existsSync(SAMPLES) ? false : `compat samples not found at ${SAMPLES}`;

function documents(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((d) => d !== null);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(dir, f));
}

function parse(kind: GatewayRouteKind, doc: unknown) {
  return GATEWAY_ROUTE_SCHEMAS[kind].safeParse(doc);
}

function httpRoute(spec: unknown, apiVersion = 'gateway.networking.k8s.io/v1') {
  return HTTPRoute.safeParse({ apiVersion, kind: 'HTTPRoute', metadata: { name: 'r' }, spec });
}

function messages(result: {
  success: boolean;
  error?: { issues: { path: PropertyKey[]; message: string }[] };
}) {
  assert.equal(result.success, false, 'expected the schema to refuse the route');
  return (result.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
}

const service = { group: '', kind: 'Service', name: 'reviews', port: 9080 };

describe('compat samples', { skip: noSamples }, () => {
  test('every gateway.networking.k8s.io route in the Istio and Linkerd samples parses', () => {
    let count = 0;
    for (const file of [...yamlFiles(join(SAMPLES, 'istio')), ...yamlFiles(join(SAMPLES, 'linkerd'))]) {
      for (const doc of documents(readFileSync(file, 'utf8'))) {
        const kind = doc.kind as GatewayRouteKind;
        if (!isGatewayApiVersion(doc.apiVersion) || !(kind in GATEWAY_ROUTE_SCHEMAS)) continue;
        const result = parse(kind, doc);
        assert.ok(result.success, `${file}: ${result.success ? '' : messages(result)}`);
        count++;
      }
    }
    assert.ok(count >= 15, `only ${count} routes found`);
  });

  test('policy.linkerd.io HTTPRoutes are not Gateway API routes', () => {
    const file = join(SAMPLES, 'linkerd/booksapp/fault-injection/error-split-httproute.yaml');
    const [doc] = documents(readFileSync(file, 'utf8'));
    assert.equal(isGatewayApiVersion(doc?.apiVersion), false);
    assert.equal(parse('HTTPRoute', doc).success, false);
  });
});

describe('HTTPRoute defaults', () => {
  test('a route without rules has one rule matching every path by prefix', () => {
    const r = httpRoute({ parentRefs: [service] });
    assert.ok(r.success);
    assert.deepEqual(r.data.spec.rules, [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }],
        filters: [],
        backendRefs: [],
      },
    ]);
  });

  test('parentRef defaults to a Gateway; backendRef to a Service with weight 1', () => {
    const r = httpRoute({
      parentRefs: [{ name: 'gw' }],
      rules: [{ backendRefs: [{ name: 'a', port: 80 }] }],
    });
    assert.ok(r.success);
    assert.deepEqual(r.data.spec.parentRefs, [
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' },
    ]);
    assert.deepEqual(r.data.spec.rules[0]?.backendRefs, [
      { group: '', kind: 'Service', name: 'a', port: 80, weight: 1, filters: [] },
    ]);
  });

  test('match defaults: path PathPrefix "/", header type Exact, redirect status 302', () => {
    const r = httpRoute({
      rules: [
        {
          matches: [{ headers: [{ name: 'end-user', value: 'jason' }] }],
          filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'example.com' } }],
        },
      ],
    });
    assert.ok(r.success);
    const rule = r.data.spec.rules[0];
    assert.deepEqual(rule?.matches[0], {
      path: { type: 'PathPrefix', value: '/' },
      headers: [{ type: 'Exact', name: 'end-user', value: 'jason' }],
      queryParams: [],
    });
    assert.equal(rule?.filters[0]?.requestRedirect?.statusCode, 302);
  });

  test('every accepted apiVersion parses; unknown fields are ignored', () => {
    for (const v of ['v1', 'v1beta1', 'v1alpha2']) {
      const r = httpRoute({ parentRefs: [service], future: true }, `gateway.networking.k8s.io/${v}`);
      assert.ok(r.success, v);
    }
  });

  test('an unknown filter type passes the schema, for the translator to report', () => {
    const r = httpRoute({ rules: [{ filters: [{ type: 'example.com/Magic' }] }] });
    assert.ok(r.success);
  });
});

describe('HTTPRoute rejections', () => {
  test('a path type outside Exact, PathPrefix, RegularExpression', () => {
    assert.match(
      messages(httpRoute({ rules: [{ matches: [{ path: { type: 'Prefix', value: '/' } }] }] })),
      /type/,
    );
  });

  test('a negative or too large weight', () => {
    const bad = (weight: number) =>
      httpRoute({ rules: [{ backendRefs: [{ name: 'a', port: 80, weight }] }] });
    assert.match(messages(bad(-1)), /weight/);
    assert.match(messages(bad(1_000_001)), /weight/);
  });

  test('Exact and PathPrefix paths must be clean absolute paths', () => {
    for (const value of ['books', '/a//b', '/a/../b', '/a#b', '/a%2Fb', '/a b']) {
      assert.match(
        messages(httpRoute({ rules: [{ matches: [{ path: { type: 'Exact', value } }] }] })),
        /value/,
        value,
      );
    }
  });

  test('a duration that is not a Gateway API duration', () => {
    for (const request of ['10', '1.5s', '10sec', '1d']) {
      assert.match(messages(httpRoute({ rules: [{ timeouts: { request } }] })), /duration/, request);
    }
  });

  test('backendRequest longer than request', () => {
    const r = httpRoute({ rules: [{ timeouts: { request: '1s', backendRequest: '2s' } }] });
    assert.match(messages(r), /backendRequest/);
  });

  test("a filter without its configuration, or with another type's", () => {
    assert.match(
      messages(httpRoute({ rules: [{ filters: [{ type: 'RequestHeaderModifier' }] }] })),
      /required/,
    );
    const crossed = { type: 'URLRewrite', requestHeaderModifier: { set: [] } };
    assert.match(messages(httpRoute({ rules: [{ filters: [crossed] }] })), /must be unset/);
  });

  test('a redirect together with backendRefs, or with a rewrite', () => {
    const redirect = { type: 'RequestRedirect', requestRedirect: { hostname: 'x.example' } };
    const withBackends = httpRoute({
      rules: [{ filters: [redirect], backendRefs: [{ name: 'a', port: 80 }] }],
    });
    assert.match(messages(withBackends), /backendRefs/);
    const rewrite = { type: 'URLRewrite', urlRewrite: { hostname: 'y.example' } };
    assert.match(messages(httpRoute({ rules: [{ filters: [redirect, rewrite] }] })), /together/);
  });

  test('ReplacePrefixMatch needs a single PathPrefix match', () => {
    const rewrite = {
      type: 'URLRewrite',
      urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } },
    };
    const rule = { matches: [{ path: { type: 'Exact', value: '/v1' } }], filters: [rewrite] };
    assert.match(messages(httpRoute({ rules: [rule] })), /ReplacePrefixMatch/);
    assert.ok(httpRoute({ rules: [{ matches: [{ path: { value: '/v1' } }], filters: [rewrite] }] }).success);
  });

  test('a header with two actions in one modifier', () => {
    const modifier = { set: [{ name: 'X-A', value: '1' }], remove: ['x-a'] };
    const r = httpRoute({
      rules: [{ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: modifier }] }],
    });
    assert.match(messages(r), /more than one action/);
  });

  test('a repeated header filter, a duplicate rule name, an unknown apiVersion', () => {
    const f = { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'a', value: 'b' }] } };
    assert.match(messages(httpRoute({ rules: [{ filters: [f, f] }] })), /repeated/);
    assert.match(messages(httpRoute({ rules: [{ name: 'a' }, { name: 'a' }] })), /unique/);
    assert.match(messages(httpRoute({}, 'policy.linkerd.io/v1beta3')), /apiVersion/);
  });
});

describe('GRPCRoute', () => {
  const grpc = (spec: unknown) =>
    GRPCRoute.safeParse({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GRPCRoute',
      metadata: { name: 'g' },
      spec,
    });

  test('a method match defaults to Exact; a route without rules has one empty rule', () => {
    const r = grpc({ rules: [{ matches: [{ method: { service: 'pkg.Echo' } }] }] });
    assert.ok(r.success);
    assert.deepEqual(r.data.spec.rules[0]?.matches[0]?.method, { type: 'Exact', service: 'pkg.Echo' });
    const empty = grpc({});
    assert.ok(empty.success);
    assert.deepEqual(empty.data.spec.rules, [{ matches: [], filters: [], backendRefs: [] }]);
  });

  test('a method match needs a service or a method, and Exact names must be names', () => {
    assert.match(messages(grpc({ rules: [{ matches: [{ method: { type: 'Exact' } }] }] })), /service/);
    assert.match(messages(grpc({ rules: [{ matches: [{ method: { service: 'a/b' } }] }] })), /service/);
    assert.match(messages(grpc({ rules: [{ matches: [{ method: { method: 'Get.All' } }] }] })), /method/);
    assert.ok(
      grpc({ rules: [{ matches: [{ method: { type: 'RegularExpression', service: 'pkg\\..*' } }] }] })
        .success,
    );
  });
});

describe('TCPRoute', () => {
  const tcp = (spec: unknown) =>
    TCPRoute.safeParse({
      apiVersion: 'gateway.networking.k8s.io/v1alpha2',
      kind: 'TCPRoute',
      metadata: { name: 't' },
      spec,
    });

  test('needs a rule with a backend', () => {
    assert.ok(tcp({ rules: [{ backendRefs: [{ name: 'echo', port: 9000 }] }] }).success);
    assert.match(messages(tcp({ rules: [] })), /rules/);
    assert.match(messages(tcp({ rules: [{ backendRefs: [] }] })), /backendRefs/);
  });
});
