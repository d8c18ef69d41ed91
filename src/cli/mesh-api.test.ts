/** How `<workload>` arguments of the operator commands name instances, and how the control plane is found. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InstanceModel } from '../api/runtime/types.ts';
import { adminTarget, matchInstances, resolveMesh } from './mesh-api.ts';

function instance(namespace: string, workload: string, n: number): InstanceModel {
  return {
    id: `${namespace}/${workload}-${n}`,
    namespace,
    workload,
    labels: {},
    serviceAccount: workload,
    address: '10.77.1.1',
    ports: [],
    ready: true,
    sidecar: { mode: 'transparent', adminSocket: `/run/weft/x/sidecars/${n}.admin.sock` },
  };
}

const mesh = [
  instance('default', 'web', 1),
  instance('default', 'web', 0),
  instance('default', 'reviews-v1', 0),
  instance('default', 'reviews-v2', 0),
  instance('shop', 'cart', 0),
  instance('deployment', 'odd', 0),
  instance('other', 'cart', 0),
];
const ids = (spec: string) => matchInstances(mesh, spec).map((i) => i.id);

describe('matchInstances', () => {
  test('a plain name is every instance of that workload, in order', () => {
    assert.deepEqual(ids('web'), ['default/web-0', 'default/web-1']);
  });
  test('namespace/name, name.namespace and deployment/name', () => {
    assert.deepEqual(ids('default/web'), ['default/web-0', 'default/web-1']);
    assert.deepEqual(ids('cart.shop'), ['shop/cart-0']);
    assert.deepEqual(ids('deployment/web'), ['default/web-0', 'default/web-1']);
    assert.deepEqual(ids('Workload/web'), ['default/web-0', 'default/web-1']);
    assert.deepEqual(ids('deployment/shop/cart'), ['shop/cart-0']);
  });
  test('an instance id is that instance alone', () => {
    assert.deepEqual(ids('default/web-1'), ['default/web-1']);
    assert.deepEqual(ids('web-1'), ['default/web-1']);
  });
  test('a namespace that happens to be called like a kind is still a namespace', () => {
    assert.deepEqual(ids('deployment/odd'), ['deployment/odd-0']);
  });
  test('a name prefix finds the versions of a workload, as weft exec does', () => {
    assert.deepEqual(ids('reviews'), ['default/reviews-v1-0', 'default/reviews-v2-0']);
  });
  test('an unknown name lists the workloads; a name in two namespaces asks for one', () => {
    assert.throws(
      () => ids('nope'),
      /no workload "nope" in the mesh \(workloads: default\/reviews-v1, .*shop\/cart/,
    );
    assert.throws(() => ids('cart'), /several namespaces \(other, shop\): name one, as <namespace>\/cart/);
    assert.throws(() => matchInstances([], 'web'), /it runs no workload yet/);
  });
});

describe('targets', () => {
  test('--control-plane takes unix: and http: targets', () => {
    assert.deepEqual(resolveMesh({ controlPlane: 'unix:/tmp/c.sock' }).target, { socketPath: '/tmp/c.sock' });
    assert.deepEqual(resolveMesh({ controlPlane: 'http://127.0.0.1:15010' }).target, {
      host: '127.0.0.1',
      port: 15010,
    });
    assert.throws(() => resolveMesh({ controlPlane: 'not a target' }), /use unix:<path> or http/);
  });
  test("a sidecar's admin endpoint: its socket, else its explicit-mode port", () => {
    const i = instance('default', 'web', 0);
    assert.deepEqual(adminTarget(i), { socketPath: '/run/weft/x/sidecars/0.admin.sock' });
    assert.deepEqual(
      adminTarget({ ...i, sidecar: { mode: 'explicit', adminPort: 1500, httpProxyPort: 1501 } }),
      {
        host: '127.0.0.1',
        port: 1500,
      },
    );
  });
});
