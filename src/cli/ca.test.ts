/**
 * `weft ca rotate`'s view of a rotation's progress: when the proxies hold the new bundle (before
 * `switch`) and when the old issuer's certificates are gone (before `retire`), and the exact commands
 * it prints.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assessRotation, type ProxyFacts, parseTimeout, renderProgress, rotateCommand } from './ca.ts';
import { caStatus, sidecar } from './testing.ts';

const NOW = Date.parse('2030-06-01T12:00:00Z');
const NEW_ROOT = 'CN=Weft trust anchor 99999999\nO=cluster.local';

const published = caStatus({
  rotation: {
    phase: 'published',
    nextStep: 'switch',
    generation: 1,
    lastStep: {
      step: 'begin',
      at: new Date(NOW - 60_000).toISOString(),
      generation: 1,
      proxyVersions: { 'default/a-0': 'v1', 'default/b-0': 'v1' },
    },
  },
  trustAnchors: [
    ...caStatus().trustAnchors,
    { ...caStatus().trustAnchors[0]!, role: 'next', subject: NEW_ROOT },
  ],
});

function facts(node: string, ackedVersion: string, extra: Partial<ProxyFacts> = {}): ProxyFacts {
  return {
    node,
    sync: { state: 'synced', ackedVersion },
    instance: true,
    identity: sidecar(node, 'a').identity ?? undefined,
    ...extra,
  };
}

describe('before switch: every proxy holds the new bundle', () => {
  test('a proxy that acked a config newer than the step holds it; one still on the old version does not', () => {
    const p = assessRotation(published, [facts('default/a-0', 'v2'), facts('default/b-0', 'v1')], NOW);
    assert.equal(p.ready, false);
    assert.deepEqual(p.done, ['default/a-0']);
    assert.equal(p.pending[0]?.node, 'default/b-0');
    assert.match(p.pending[0]?.why ?? '', /synced only on a config from before the step/);
  });
  test('a proxy that connected after the step, or whose sidecar shows the new root, holds it', () => {
    const renewed = sidecar('default/b-0', 'b').identity!;
    const p = assessRotation(
      published,
      [
        facts('default/c-0', 'v1'),
        facts('default/b-0', 'v1', {
          identity: {
            ...renewed,
            trustBundle: [...renewed.trustBundle, { subject: NEW_ROOT, notAfter: '' }],
          },
        }),
      ],
      NOW,
    );
    assert.equal(p.ready, true);
  });
  test('a disconnected proxy of a running instance does not; one of a gone instance is not counted', () => {
    const p = assessRotation(
      published,
      [
        facts('default/a-0', 'v2'),
        facts('default/b-0', 'v1', { sync: { state: 'disconnected', ackedVersion: 'v1' } }),
        facts('default/gone-0', 'v1', {
          sync: { state: 'disconnected', ackedVersion: 'v1' },
          instance: false,
        }),
      ],
      NOW,
    );
    assert.deepEqual(p.pending, [{ node: 'default/b-0', why: 'not connected to the control plane' }]);
  });
});

describe('before retire: the old issuer’s certificates are gone', () => {
  const switchedAt = NOW - 3_600_000;
  const switched = caStatus({
    rotation: {
      phase: 'switched',
      nextStep: 'retire',
      generation: 2,
      lastStep: { step: 'switch', at: new Date(switchedAt).toISOString(), generation: 2, proxyVersions: {} },
    },
    issuer: { ...caStatus().issuer, fingerprint256: 'NEW' },
  });
  test('sidecars still on the old issuer are pending until they renew or a certificate lifetime passed', () => {
    const p = assessRotation(switched, [facts('default/a-0', 'v1')], NOW);
    assert.equal(p.ready, false);
    assert.match(p.pending[0]?.why ?? '', /from the old issuer; it renews at 2030-06-01 20:00:00Z \(in 8h\)/);
    assert.equal(p.oldCertificatesGoneAt, new Date(switchedAt + 86_400_000).toISOString());
    assert.equal(assessRotation(switched, [facts('default/a-0', 'v1')], switchedAt + 86_400_000).ready, true);
  });
  test('a sidecar whose chain shows the new issuer is done', () => {
    const id = sidecar('default/a-0', 'a').identity!;
    const renewed = { ...id, chain: [id.chain[0]!, { ...id.chain[1]!, fingerprint256: 'NEW' }] };
    assert.equal(
      assessRotation(switched, [facts('default/a-0', 'v1', { identity: renewed })], NOW).ready,
      true,
    );
  });
});

test('idle: nothing to wait for, and the next command repeats how the control plane was named', () => {
  const idle = caStatus();
  const p = assessRotation(idle, [], NOW);
  assert.equal(p.ready, true);
  assert.match(renderProgress(idle, p, NOW, { run: 'abc123' }), /weft ca rotate begin --run abc123\n$/);
  assert.equal(
    rotateCommand('switch', { controlPlane: 'unix:/tmp/c.sock' }),
    'weft ca rotate switch --control-plane unix:/tmp/c.sock',
  );
});

test('timeouts: durations or bare seconds', () => {
  assert.equal(parseTimeout('60s'), 60_000);
  assert.equal(parseTimeout('2m'), 120_000);
  assert.equal(parseTimeout('5'), 5000);
  assert.throws(() => parseTimeout('soon'), /--timeout soon/);
});
