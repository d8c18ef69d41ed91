/**
 * The PeerAuthentication schema: the documents of Istio's mTLS tasks parse as users write them (v1 and
 * v1beta1), and what Istio's CRD rules and validation webhook refuse is refused here too, with a message
 * that says why.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { validateResource } from '../registry.ts';
import { PeerAuthentication } from './peer-authentication.ts';

const SAMPLES =
  process.env.WEFT_COMPAT_SAMPLES ??
  new URL('../../../../test/fixtures/compat/samples', import.meta.url).pathname;
const TASK = join(SAMPLES, 'istio/tasks/mtls-peerauthentication.yaml');
const noSamples = existsSync(TASK) ? false : `compat sample not found at ${TASK}`;

function documents(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((d) => d !== null);
}

function policy(spec: unknown, apiVersion = 'security.istio.io/v1') {
  return PeerAuthentication.safeParse({
    apiVersion,
    kind: 'PeerAuthentication',
    metadata: { name: 'p', namespace: 'foo' },
    spec,
  });
}

/** The issues of a refused policy as "path: message". */
function refused(result: ReturnType<typeof policy>): string[] {
  assert.equal(result.success, false, 'expected the schema to refuse the policy');
  return (result.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('compat samples', { skip: noSamples }, () => {
  test("every document of Istio's mTLS migration and authn-policy tasks is valid", () => {
    const docs = documents(readFileSync(TASK, 'utf8'));
    assert.equal(docs.length, 4);
    for (const doc of docs) {
      const verdict = validateResource(doc);
      assert.equal(verdict.state, 'valid', JSON.stringify(verdict.state === 'valid' ? '' : verdict.issues));
    }
    const parsed = docs.map((d) => PeerAuthentication.parse(d));
    assert.deepEqual(
      parsed.map((p) => [
        p.metadata.namespace,
        p.metadata.name,
        p.spec.mtls?.mode,
        p.spec.selector?.matchLabels,
      ]),
      [
        ['foo', 'default', 'STRICT', undefined],
        ['istio-system', 'default', 'STRICT', undefined],
        ['bar', 'httpbin', 'STRICT', { app: 'httpbin' }],
        ['foo', 'overwrite-example', 'DISABLE', { app: 'httpbin' }],
      ],
    );
    // YAML's integer key 8080 arrives as the string "8080", as from JSON.
    assert.deepEqual(parsed[2]?.spec.portLevelMtls, { 8080: { mode: 'DISABLE' } });
  });
});

describe('PeerAuthentication schema', () => {
  test('v1 and v1beta1 are the same schema; other versions are refused with the ones Weft reads', () => {
    const doc = (apiVersion: string) => ({
      apiVersion,
      kind: 'PeerAuthentication',
      metadata: { name: 'default', namespace: 'foo' },
      spec: { mtls: { mode: 'PERMISSIVE' } },
    });
    assert.equal(validateResource(doc('security.istio.io/v1')).state, 'valid');
    assert.equal(validateResource(doc('security.istio.io/v1beta1')).state, 'valid');
    const old = validateResource(doc('security.istio.io/v1alpha1'));
    assert.equal(old.state, 'invalid');
    assert.match(
      old.state === 'invalid' ? (old.issues[0]?.message ?? '') : '',
      /security\.istio\.io\/v1, security\.istio\.io\/v1beta1/,
    );
  });

  test('an absent spec, mtls or mode is UNSET (inherit); unknown fields are ignored as a cluster prunes them', () => {
    const empty = PeerAuthentication.parse({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default' },
    });
    assert.deepEqual(empty.spec, {});
    const r = policy({ mtls: {}, futureField: true });
    assert.ok(r.success);
    assert.deepEqual(r.data.spec, { mtls: { mode: 'UNSET' } });
    assert.ok(policy({ selector: { matchLabels: { app: 'a' } }, portLevelMtls: { 80: {} } }).success);
  });

  test('modes are the four of the API, upper-case', () => {
    for (const mode of ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'])
      assert.ok(policy({ mtls: { mode } }).success);
    for (const mode of ['strict', 'ISTIO_MUTUAL', 'MUTUAL', '']) {
      assert.match(refused(policy({ mtls: { mode } })).join('\n'), /^spec\.mtls\.mode: /);
    }
    assert.match(
      refused(
        policy({ selector: { matchLabels: { app: 'a' } }, portLevelMtls: { 8080: { mode: 'OFF' } } }),
      ).join('\n'),
      /^spec\.portLevelMtls\.8080\.mode: /,
    );
  });

  test('portLevelMtls requires a workload selector (the CRD refuses it on a namespace or mesh policy)', () => {
    const ports = { 8080: { mode: 'DISABLE' } };
    for (const selector of [undefined, {}, { matchLabels: {} }]) {
      assert.deepEqual(refused(policy({ selector, mtls: { mode: 'STRICT' }, portLevelMtls: ports })), [
        'spec.portLevelMtls: portLevelMtls requires selector: only a workload policy (spec.selector.matchLabels) ' +
          'may set port-level modes, not a namespace-wide or mesh-wide one',
      ]);
    }
    assert.ok(policy({ selector: { matchLabels: { app: 'httpbin' } }, portLevelMtls: ports }).success);
  });

  test('port keys are 1-65535, and a portLevelMtls has at least one', () => {
    const selector = { matchLabels: { app: 'a' } };
    for (const port of ['0', '65536', 'http', '-1', '80.5']) {
      assert.deepEqual(refused(policy({ selector, portLevelMtls: { [port]: { mode: 'DISABLE' } } })), [
        `spec.portLevelMtls.${port}: port must be between 1-65535`,
      ]);
    }
    assert.deepEqual(refused(policy({ selector, portLevelMtls: {} })), [
      'spec.portLevelMtls: portLevelMtls, if defined, must have at least one port',
    ]);
  });

  test('selector labels: no wildcards, no empty key', () => {
    assert.deepEqual(refused(policy({ selector: { matchLabels: { 'app*': 'a', '': 'b', tier: 'web*' } } })), [
      'spec.selector.matchLabels.app*: wildcard not allowed in label key match',
      'spec.selector.matchLabels.: key must not be empty',
      'spec.selector.matchLabels.tier: wildcard not allowed in label value match',
    ]);
  });
});
