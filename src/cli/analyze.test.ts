import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { analyze } from './analyze.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const BOOKINFO = path.join(ROOT, 'test/fixtures/compat/istio/bookinfo.yaml');
const NET = path.join(ROOT, 'test/fixtures/compat/samples/istio/bookinfo/networking');

test('subsets no DestinationRule defines are errors at their line; with the rules, none', () => {
  const findings = analyze([BOOKINFO, path.join(NET, 'virtual-service-all-v1.yaml')]);
  const errors = findings.filter((f) => f.level === 'error');
  assert.deepEqual(
    errors.map((f) => [f.code, f.resource, path.basename(f.at), f.path]),
    ['productpage', 'reviews', 'ratings', 'details'].map((s, i) => [
      'CONFIG_REFERENCE',
      `VirtualService default/${s}`,
      `virtual-service-all-v1.yaml:${12 + 13 * i}:17`,
      'spec.http.0.route.0.destination.subset',
    ]),
  );
  const clean = analyze([
    BOOKINFO,
    path.join(NET, 'virtual-service-all-v1.yaml'),
    path.join(NET, 'destination-rule-all.yaml'),
  ]);
  assert.deepEqual(
    clean.filter((f) => f.level === 'error'),
    [],
  );
});

test('the command exits 1 on an error and prints file:line:column', () => {
  const r = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'bin/weft.js'),
      'analyze',
      '-f',
      BOOKINFO,
      '-f',
      path.join(NET, 'virtual-service-all-v1.yaml'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stdout,
    /Error \[CONFIG_REFERENCE\] \(VirtualService default\/reviews\) .*virtual-service-all-v1\.yaml:25:17 /,
  );
  assert.match(r.stdout, /4 errors, 0 notes\./);
});
