/**
 * SPIFFE ids: the helper builds them, the strict parser reads back exactly what the helper builds and
 * nothing else, and a certificate's subject alternative names yield an identity only when they hold
 * exactly one URI that is such an id.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatSpiffeId, parseSpiffeId, spiffeId, spiffeIdFromSubjectAltName } from './spiffe.ts';

describe('spiffeId', () => {
  test('builds spiffe://<td>/ns/<ns>/sa/<sa>', () => {
    assert.equal(spiffeId('cluster.local', 'shop', 'web'), 'spiffe://cluster.local/ns/shop/sa/web');
    assert.equal(
      formatSpiffeId({ trustDomain: 'weft.test', namespace: 'a-b', serviceAccount: 'x.y-z' }),
      'spiffe://weft.test/ns/a-b/sa/x.y-z',
    );
  });

  test('refuses parts that would make an id the parser cannot read back', () => {
    for (const [td, ns, sa] of [
      ['Cluster.local', 'shop', 'web'],
      ['cluster.local:443', 'shop', 'web'],
      ['', 'shop', 'web'],
      ['cluster.local', 'shop/x', 'web'],
      ['cluster.local', 'Shop', 'web'],
      ['cluster.local', 'shop', ''],
      ['cluster.local', 'shop', '..'],
      ['cluster.local', 'a'.repeat(64), 'web'],
    ] as const) {
      assert.throws(() => spiffeId(td, ns, sa), TypeError, `${td} ${ns} ${sa}`);
    }
  });
});

describe('parseSpiffeId', () => {
  test('reads the parts back', () => {
    assert.deepEqual(parseSpiffeId('spiffe://cluster.local/ns/shop/sa/web'), {
      ok: true,
      identity: { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'web' },
    });
    const id = spiffeId('td_1-x.example', 'n'.repeat(63), 'a.b-c');
    const parsed = parseSpiffeId(id);
    assert.ok(parsed.ok);
    assert.equal(formatSpiffeId(parsed.identity), id);
  });

  test('refuses everything else, with a reason', () => {
    for (const bad of [
      '',
      'spiffe://cluster.local',
      'spiffe://cluster.local/',
      'SPIFFE://cluster.local/ns/shop/sa/web',
      'https://cluster.local/ns/shop/sa/web',
      'spiffe:///ns/shop/sa/web',
      'spiffe://Cluster.local/ns/shop/sa/web',
      'spiffe://cluster.local:8443/ns/shop/sa/web',
      'spiffe://user@cluster.local/ns/shop/sa/web',
      'spiffe://cluster.local/ns/shop/sa/web/',
      'spiffe://cluster.local/ns/shop/sa/web/extra',
      'spiffe://cluster.local/ns//sa/web',
      'spiffe://cluster.local/ns/shop/sa/',
      'spiffe://cluster.local/ns/../sa/web',
      'spiffe://cluster.local/ns/shop/sa/%77eb',
      'spiffe://cluster.local/ns/shop/sa/web?x=1',
      'spiffe://cluster.local/ns/shop/sa/web#frag',
      'spiffe://cluster.local/sa/web/ns/shop',
      'spiffe://cluster.local/namespace/shop/sa/web',
      'spiffe://cluster.local/ns/Shop/sa/web',
      'spiffe://cluster.local/ns/shop/sa/Web',
      ` spiffe://cluster.local/ns/shop/sa/web`,
      `spiffe://${'a'.repeat(256)}/ns/shop/sa/web`,
      `spiffe://cluster.local/ns/shop/sa/${'a.'.repeat(1100)}a`,
    ]) {
      const result = parseSpiffeId(bad);
      assert.equal(result.ok, false, bad);
      if (!result.ok) assert.ok(result.error.length > 0);
    }
  });
});

describe('spiffeIdFromSubjectAltName', () => {
  const id = 'spiffe://cluster.local/ns/shop/sa/web';
  test('one URI name, alone or beside other kinds', () => {
    for (const san of [`URI:${id}`, `DNS:web.shop, URI:${id}`, `URI:${id}, IP Address:10.0.0.1`]) {
      const result = spiffeIdFromSubjectAltName(san);
      assert.ok(result.ok, san);
      assert.equal(result.identity.serviceAccount, 'web');
    }
  });

  test('no name, no URI, two URIs, a quoted or invalid URI: no identity', () => {
    for (const san of [
      undefined,
      '',
      'DNS:web.shop',
      `URI:${id}, URI:spiffe://cluster.local/ns/shop/sa/admin`,
      `URI:"${id},x"`,
      'URI:spiffe://cluster.local/ns/shop',
    ]) {
      assert.equal(spiffeIdFromSubjectAltName(san).ok, false, String(san));
    }
  });
});
