/**
 * PeerAuthentication precedence, as istiod composes it: workload (with its port-level modes) over
 * namespace over mesh over the default; UNSET inherits; the oldest of competing policies wins; selector
 * policies in the root namespace apply to nobody. Policies are written as users write them and go
 * through the schema and the translation, as the index does.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PeerAuthentication } from '../../../api/resources/istio/peer-authentication.ts';
import type { MtlsMode, PeerAuthenticationModel } from '../../model/types.ts';
import {
  DEFAULT_MTLS_MODE,
  DEFAULT_ROOT_NAMESPACE,
  effectiveMtls,
  mtlsModeFor,
  translatePeerAuthentication,
  type WorkloadRef,
} from './peer-authentication.ts';

interface Policy {
  namespace: string;
  name?: string;
  created?: string;
  selector?: Record<string, string>;
  mode?: string;
  ports?: Record<string, string>;
}

function pa(p: Policy): PeerAuthenticationModel {
  const doc = PeerAuthentication.parse({
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: {
      name: p.name ?? 'default',
      namespace: p.namespace,
      ...(p.created ? { creationTimestamp: p.created } : {}),
    },
    spec: {
      ...(p.selector ? { selector: { matchLabels: p.selector } } : {}),
      ...(p.mode ? { mtls: { mode: p.mode } } : {}),
      ...(p.ports
        ? { portLevelMtls: Object.fromEntries(Object.entries(p.ports).map(([k, mode]) => [k, { mode }])) }
        : {}),
    },
  });
  return translatePeerAuthentication(doc, p.namespace);
}

const httpbin: WorkloadRef = { namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } };
const sleep: WorkloadRef = { namespace: 'foo', labels: { app: 'sleep' } };
const inBar: WorkloadRef = { namespace: 'bar', labels: { app: 'httpbin' } };

const mode = (policies: Policy[], workload = httpbin, port = 8080): MtlsMode =>
  mtlsModeFor(policies.map(pa), workload, port);

describe('mtlsModeFor: precedence', () => {
  const mesh = (m: string, extra: Partial<Policy> = {}): Policy => ({
    namespace: 'istio-system',
    mode: m,
    ...extra,
  });
  const ns = (m: string, extra: Partial<Policy> = {}): Policy => ({ namespace: 'foo', mode: m, ...extra });
  const wl = (m: string | undefined, extra: Partial<Policy> = {}): Policy => ({
    namespace: 'foo',
    name: 'httpbin',
    selector: { app: 'httpbin' },
    ...(m ? { mode: m } : {}),
    ...extra,
  });

  const table: Array<[string, Policy[], MtlsMode, { workload?: WorkloadRef; port?: number }?]> = [
    ['no policy: the default (PERMISSIVE, as Istio)', [], 'PERMISSIVE'],
    ['mesh STRICT', [mesh('STRICT')], 'STRICT'],
    ['mesh STRICT reaches every namespace', [mesh('STRICT')], 'STRICT', { workload: inBar }],
    ['namespace PERMISSIVE over mesh STRICT', [mesh('STRICT'), ns('PERMISSIVE')], 'PERMISSIVE'],
    [
      'a namespace policy stays in its namespace',
      [mesh('STRICT'), ns('PERMISSIVE')],
      'STRICT',
      { workload: inBar },
    ],
    ['workload DISABLE over namespace STRICT', [ns('STRICT'), wl('DISABLE')], 'DISABLE'],
    [
      'a workload policy only for the workloads it selects',
      [ns('STRICT'), wl('DISABLE')],
      'STRICT',
      { workload: sleep },
    ],
    [
      'port-level DISABLE over workload STRICT, on that port',
      [wl('STRICT', { ports: { 8080: 'DISABLE' } })],
      'DISABLE',
    ],
    [
      'port-level DISABLE: other ports keep STRICT',
      [wl('STRICT', { ports: { 8080: 'DISABLE' } })],
      'STRICT',
      { port: 9090 },
    ],
    ['workload UNSET inherits the namespace', [mesh('DISABLE'), ns('STRICT'), wl('UNSET')], 'STRICT'],
    ['workload without mtls inherits the namespace', [ns('STRICT'), wl(undefined)], 'STRICT'],
    ['namespace UNSET inherits the mesh', [mesh('STRICT'), ns('UNSET')], 'STRICT'],
    ['mesh UNSET inherits the default', [mesh('UNSET')], 'PERMISSIVE'],
    [
      'port-level UNSET inherits the workload-level result',
      [ns('STRICT'), wl('UNSET', { ports: { 8080: 'UNSET' } })],
      'STRICT',
    ],
    [
      'port-level mode over an inherited workload mode',
      [mesh('STRICT'), wl('UNSET', { ports: { 8080: 'PERMISSIVE' } })],
      'PERMISSIVE',
    ],
    [
      'two namespace policies: the oldest wins',
      [
        ns('DISABLE', { name: 'b-new', created: '2024-05-02T00:00:00Z' }),
        ns('STRICT', { name: 'z-old', created: '2024-05-01T00:00:00Z' }),
      ],
      'STRICT',
    ],
    [
      'two namespace policies created together: the first by name wins',
      [
        ns('DISABLE', { name: 'b', created: '2024-05-01T00:00:00Z' }),
        ns('STRICT', { name: 'a', created: '2024-05-01T00:00:00Z' }),
      ],
      'STRICT',
    ],
    [
      'two mesh policies: the oldest wins',
      [
        mesh('DISABLE', { name: 'new', created: '2024-05-02T00:00:00Z' }),
        mesh('STRICT', { name: 'old', created: '2024-05-01T00:00:00Z' }),
      ],
      'STRICT',
    ],
    [
      'two workload policies for one workload: the oldest wins, port levels included',
      [
        wl('DISABLE', { name: 'by-version', selector: { version: 'v1' }, created: '2024-05-02T00:00:00Z' }),
        wl('STRICT', { name: 'by-app', created: '2024-05-01T00:00:00Z', ports: { 9090: 'DISABLE' } }),
      ],
      'STRICT',
    ],
    [
      "the oldest workload policy's port levels, not the newer one's",
      [
        wl('STRICT', {
          name: 'by-version',
          selector: { version: 'v1' },
          created: '2024-05-02T00:00:00Z',
          ports: { 8080: 'DISABLE' },
        }),
        wl('STRICT', { name: 'by-app', created: '2024-05-01T00:00:00Z' }),
      ],
      'STRICT',
    ],
    [
      'a selector policy in the root namespace applies to no workload (istiod ignores it)',
      [
        mesh('STRICT'),
        { namespace: 'istio-system', name: 'everywhere', selector: { app: 'httpbin' }, mode: 'DISABLE' },
      ],
      'STRICT',
    ],
    [
      'not even to workloads of the root namespace',
      [
        mesh('STRICT'),
        { namespace: 'istio-system', name: 'gw', selector: { app: 'httpbin' }, mode: 'DISABLE' },
      ],
      'STRICT',
      { workload: { namespace: 'istio-system', labels: { app: 'httpbin', version: 'v1' } } },
    ],
    [
      'a policy without selector in the root namespace is the mesh policy for its own workloads too',
      [mesh('STRICT')],
      'STRICT',
      { workload: { namespace: 'istio-system', labels: { app: 'httpbin', version: 'v1' } } },
    ],
  ];
  for (const [name, policies, expected, at] of table) {
    test(name, () => assert.equal(mode(policies, at?.workload ?? httpbin, at?.port ?? 8080), expected));
  }

  test('the root namespace and the default mode are parameters', () => {
    const policies = [
      pa({ namespace: 'mesh-root', mode: 'STRICT' }),
      pa({ namespace: 'istio-system', mode: 'DISABLE' }),
    ];
    assert.equal(DEFAULT_ROOT_NAMESPACE, 'istio-system');
    assert.equal(DEFAULT_MTLS_MODE, 'PERMISSIVE');
    assert.equal(mtlsModeFor(policies, httpbin, 8080, 'mesh-root'), 'STRICT');
    // istio-system is then an ordinary namespace: its policy is not the mesh's.
    assert.equal(mtlsModeFor(policies, inBar, 8080, 'mesh-root'), 'STRICT');
    assert.equal(mtlsModeFor([], httpbin, 8080, 'istio-system', 'STRICT'), 'STRICT');
    assert.equal(
      mtlsModeFor(
        [pa({ namespace: 'istio-system', mode: 'UNSET' })],
        httpbin,
        8080,
        'istio-system',
        'DISABLE',
      ),
      'DISABLE',
    );
  });

  test('effectiveMtls gives the workload mode and the port-level exceptions', () => {
    const e = effectiveMtls([pa(wl('STRICT', { ports: { 8080: 'DISABLE', 9000: 'UNSET' } }))], httpbin);
    assert.equal(e.mode, 'STRICT');
    assert.deepEqual(
      [...e.ports],
      [
        [8080, 'DISABLE'],
        [9000, 'STRICT'],
      ],
    );
  });
});

describe("Istio's mTLS migration task (foo, bar and legacy namespaces, httpbin and sleep in each)", () => {
  const foo = { namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } };
  const fooSleep = { namespace: 'foo', labels: { app: 'sleep' } };
  const bar = { namespace: 'bar', labels: { app: 'httpbin', version: 'v1' } };
  const steps: Policy[][] = [];
  // 1. Mesh-wide PERMISSIVE: every sidecar accepts plaintext (legacy clients) and mutual TLS.
  steps.push([
    { namespace: 'istio-system', name: 'default', created: '2024-01-01T00:00:00Z', mode: 'PERMISSIVE' },
  ]);
  // 2. Namespace foo moves to STRICT.
  steps.push([
    ...(steps[0] ?? []),
    { namespace: 'foo', name: 'default', created: '2024-01-02T00:00:00Z', mode: 'STRICT' },
  ]);
  // 3. httpbin in foo keeps port 8080 open to plaintext (a workload policy, mode inherited).
  steps.push([
    ...(steps[1] ?? []),
    {
      namespace: 'foo',
      name: 'httpbin',
      created: '2024-01-03T00:00:00Z',
      selector: { app: 'httpbin' },
      mode: 'UNSET',
      ports: { 8080: 'DISABLE' },
    },
  ]);

  const at = (step: number, w: { namespace: string; labels: Record<string, string> }, port: number) =>
    mtlsModeFor((steps[step] ?? []).map(pa), w, port);

  test('step 1: mesh PERMISSIVE everywhere', () => {
    assert.deepEqual(
      [at(0, foo, 8080), at(0, fooSleep, 80), at(0, bar, 8080)],
      ['PERMISSIVE', 'PERMISSIVE', 'PERMISSIVE'],
    );
  });

  test('step 2: foo STRICT, bar still PERMISSIVE', () => {
    assert.deepEqual(
      [at(1, foo, 8080), at(1, fooSleep, 80), at(1, bar, 8080)],
      ['STRICT', 'STRICT', 'PERMISSIVE'],
    );
  });

  test("step 3: httpbin's port 8080 DISABLE, its other ports and foo's other workloads STRICT", () => {
    assert.deepEqual(
      [at(2, foo, 8080), at(2, foo, 9090), at(2, fooSleep, 8080), at(2, bar, 8080)],
      ['DISABLE', 'STRICT', 'STRICT', 'PERMISSIVE'],
    );
  });
});
