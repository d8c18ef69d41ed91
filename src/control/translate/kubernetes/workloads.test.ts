/**
 * The pieces of the workload translator that are plain functions: how an image reference is matched
 * (without tag or digest) and how the `weft.dev/command` annotation is read. The translation itself is
 * covered through the index (src/control/index/index.test.ts) and the golden mesh.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imageRepository, parseCommandAnnotation } from './workloads.ts';

test('imageRepository drops the tag and the digest, not a registry port', () => {
  const cases: Array<[string, string]> = [
    [
      'registry.istio.io/release/examples-bookinfo-reviews-v2:1.20.3',
      'registry.istio.io/release/examples-bookinfo-reviews-v2',
    ],
    ['nginx', 'nginx'],
    ['nginx:1.27', 'nginx'],
    ['localhost:5000/team/app', 'localhost:5000/team/app'],
    ['localhost:5000/team/app:dev', 'localhost:5000/team/app'],
    ['ghcr.io/acme/shop@sha256:0123abcd', 'ghcr.io/acme/shop'],
    ['ghcr.io/acme/shop:1.2@sha256:0123abcd', 'ghcr.io/acme/shop'],
  ];
  for (const [image, repo] of cases) assert.equal(imageRepository(image), repo, image);
});

test('parseCommandAnnotation: a JSON array of strings, or a command line split on spaces', () => {
  assert.deepEqual(parseCommandAnnotation('["/bin/app", "--name", "a b"]'), ['/bin/app', '--name', 'a b']);
  assert.deepEqual(parseCommandAnnotation('  python3   -m http.server '), ['python3', '-m', 'http.server']);
  for (const bad of ['[]', '[1]', '["a", 2]', '[not json', '', '   '])
    assert.equal(parseCommandAnnotation(bad), undefined, JSON.stringify(bad));
});
