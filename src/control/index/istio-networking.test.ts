/**
 * Istio's traffic kinds in the index, as `weft up` and `weft apply` see them: a valid VirtualService,
 * DestinationRule, ServiceEntry or EnvoyFilter is accepted (not unsupported), a ServiceEntry with a note
 * that it is not applied yet (the route translator reports on the others); an invalid one is reported at
 * its field's line; Istio's Gateway stays unsupported.
 * (This belongs beside src/control/index/index.test.ts; it lives here while that folder is being changed.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../core/index.ts';
import { parseDocuments } from '../sources/file/parse.ts';
import { ISTIO_NETWORKING_NOTE, MeshIndex } from './index.ts';
import { createVipAllocator } from './vips.ts';

const YAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: bookinfo-gateway }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews, subset: v1 }
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin-ext }
spec:
  hosts: [httpbin.org]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: DNS
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: filter, namespace: istio-system }
spec:
  configPatches: [{ applyTo: HTTP_FILTER, patch: { operation: INSERT_BEFORE, value: { name: x } } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: { host: ratings }
      wieght: 100
`;

test('valid Istio traffic resources are accepted (those not applied yet with a note); a typo is invalid at its line', () => {
  const index = new MeshIndex({
    images: { lookup: () => undefined, root: '/', node: process.execPath },
    vips: createVipAllocator(),
    logger: silentLogger,
    transparent: true,
  });
  index.events('files').reset(parseDocuments(YAML, 'istio.yaml'));
  const seen = index
    .resources()
    .map((r) => [
      `${r.key?.kind}/${r.key?.namespace}/${r.key?.name}`,
      r.state,
      (r.notes ?? []).map((n) => `${n.at.line} ${n.path}: ${n.message}`),
      r.issues.map((i) => `${i.at.line}:${i.at.column} ${i.code} ${i.path}: ${i.message}`),
    ]);
  assert.deepEqual(seen, [
    [
      'Gateway/default/bookinfo-gateway',
      'unsupported',
      [],
      [
        '2:7 CONFIG_UNSUPPORTED kind: Gateway (networking.istio.io/v1) is not a kind Weft reads; it is ignored',
      ],
    ],
    // Applied by the route translator (not run here), so no "not applied yet" note.
    ['VirtualService/default/reviews', 'accepted', [], []],
    ['DestinationRule/default/reviews', 'accepted', [], []],
    ['ServiceEntry/default/httpbin-ext', 'accepted', [`25 kind: ${ISTIO_NETWORKING_NOTE}`], []],
    // The route translator (not run here) reports what it applies of an EnvoyFilter, and what not.
    ['EnvoyFilter/istio-system/filter', 'accepted', [], []],
    [
      'VirtualService/default/ratings',
      'invalid',
      [],
      ['45:7 CONFIG_SCHEMA spec.http.0.route.0: Unrecognized key: "wieght"'],
    ],
  ]);
});
