/**
 * The checks of `weft check` on what the API and the sidecars could answer: each pass, warn and fail,
 * and the text report without colours. The command against a real mesh is in
 * test/integration/identity.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProxySyncState } from '../api/distribution/index.ts';
import type { InstanceModel } from '../api/runtime/types.ts';
import { checkCa, checkClock, checkProxies, checkSidecars, renderReport } from './check.ts';
import { createStyle } from './output.ts';
import { caStatus, DAY, iso, NOW, sidecar } from './testing.ts';

function proxy(
  node: string,
  state: ProxySyncState['state'],
  extra: Partial<ProxySyncState> = {},
): ProxySyncState {
  return {
    node,
    state,
    connected: state !== 'disconnected',
    connectedAt: undefined,
    disconnectedAt: undefined,
    lastSeen: iso(NOW),
    remote: 'unix',
    currentVersion: 'v2',
    sentVersion: 'v2',
    ackedVersion: state === 'synced' ? 'v2' : 'v1',
    counters: { connects: 1, sent: 1, acked: 1, nacked: 0 },
    ...extra,
  };
}

const inst = (id: string) => ({ id }) as InstanceModel;

describe('clock', () => {
  test('within the Date header’s second: pass; 6 s apart: warn, saying which way', () => {
    const sentAt = NOW + 300;
    const ok = checkClock({ date: new Date(NOW), sentAt, receivedAt: NOW + 320 });
    assert.equal(ok.status, 'pass');
    const ahead = checkClock({ date: new Date(NOW + 7000), sentAt, receivedAt: NOW + 320 });
    assert.equal(ahead.status, 'warn');
    assert.match(ahead.message, /6s ahead of this host/);
    const behind = checkClock({ date: new Date(NOW - 6000), sentAt, receivedAt: NOW + 320 });
    assert.equal(behind.status, 'warn');
    assert.match(behind.message, /behind/);
    assert.equal(checkClock({ date: undefined, sentAt, receivedAt: sentAt }).status, 'warn');
  });
});

describe('proxies', () => {
  test('all synced: pass', () => {
    const r = checkProxies(
      [proxy('default/a-0', 'synced'), proxy('default/b-0', 'synced')],
      [inst('default/a-0')],
    );
    assert.deepEqual([r.status, r.message], ['pass', 'all 2 proxies synced']);
  });
  test('nacked or stale: fail, naming them', () => {
    const r = checkProxies(
      [
        proxy('default/a-0', 'synced'),
        proxy('default/b-0', 'nacked', {
          nack: { version: 'v2', issues: [{ code: 'CONFIG_SCHEMA' }], at: iso(NOW) },
        }),
        proxy('default/c-0', 'stale'),
      ],
      [],
    );
    assert.equal(r.status, 'fail');
    assert.equal(r.message, '1 of 3 proxies synced');
    assert.match(r.details?.[0] ?? '', /^default\/b-0: rejected config v2: .*CONFIG_SCHEMA/);
    assert.match(r.details?.[1] ?? '', /^default\/c-0: stale/);
  });
  test('an instance whose proxy is disconnected or never connected: warn; a gone proxy is ignored', () => {
    const r = checkProxies(
      [
        proxy('default/a-0', 'synced'),
        proxy('default/b-0', 'disconnected'),
        proxy('default/gone-0', 'disconnected'),
      ],
      [inst('default/a-0'), inst('default/b-0'), inst('default/c-0')],
    );
    assert.equal(r.status, 'warn');
    assert.deepEqual(
      r.details?.map((d) => d.split(':')[0]),
      ['default/b-0', 'default/c-0'],
    );
    assert.equal(checkProxies([], []).status, 'warn');
  });
});

describe('CA', () => {
  test('long-lived anchor and issuer: pass', () => {
    assert.deepEqual(
      checkCa(caStatus(), NOW).map((c) => c.status),
      ['pass', 'pass'],
    );
  });
  test('an issuer expiring within 60 days: warn with the date; expired: fail', () => {
    const soon = checkCa(
      caStatus({ issuer: { ...caStatus().issuer, notAfter: iso(NOW + 30 * DAY) } }),
      NOW,
    )[1];
    assert.equal(soon?.name, 'ca-issuer');
    assert.equal(soon?.status, 'warn');
    assert.match(
      soon?.message ?? '',
      /issuer CN=Weft issuer 1a2b3c4d, O=cluster.local expires on 2030-07-01 12:00:00Z \(in 30d\)/,
    );
    assert.match(soon?.hint ?? '', /weft ca rotate begin/);
    const gone = checkCa(
      caStatus({ trustAnchors: [{ ...caStatus().trustAnchors[0]!, notAfter: iso(NOW - DAY) }] }),
      NOW,
    )[0];
    assert.equal(gone?.status, 'fail');
    assert.match(gone?.message ?? '', /expired on/);
  });
  test('the next issuer of a rotation is checked too', () => {
    const r = checkCa(
      caStatus({ nextIssuer: { ...caStatus().issuer, subject: 'CN=next', notAfter: iso(NOW + 10 * DAY) } }),
      NOW,
    )[1];
    assert.equal(r?.status, 'warn');
    assert.match(r?.message ?? '', /next issuer CN=next expires/);
  });
});

describe('sidecar certificates', () => {
  test('valid certificates for their own identity: pass', () => {
    const r = checkSidecars(
      [sidecar('default/web-0', 'web'), sidecar('default/web-1', 'web')],
      caStatus(),
      NOW,
    );
    assert.deepEqual(
      [r.status, r.message],
      ['pass', '2 of 2 sidecars hold a valid certificate for their identity'],
    );
  });
  test('expired, missing, another identity, or an untrusted chain: fail', () => {
    const r = checkSidecars(
      [
        sidecar('default/a-0', 'a', { notAfter: iso(NOW - 1000) }),
        sidecar('default/b-0', 'b', {
          spiffeId: null,
          notAfter: null,
          lastError: { at: iso(NOW), message: 'ECONNREFUSED' },
        }),
        sidecar('default/c-0', 'c', { spiffeId: 'spiffe://cluster.local/ns/default/sa/other' }),
        { ...sidecar('default/d-0', 'd'), identity: { ...sidecar('default/d-0', 'd').identity!, chain: [] } },
      ],
      caStatus({ trustAnchors: [{ ...caStatus().trustAnchors[0]!, subject: 'CN=new root' }] }),
      NOW,
    );
    assert.equal(r.status, 'fail');
    assert.match(r.details?.join('\n') ?? '', /a-0: its certificate expired/);
    assert.match(r.details?.join('\n') ?? '', /b-0: no certificate; last error .*ECONNREFUSED/);
    assert.match(r.details?.join('\n') ?? '', /c-0: its certificate names .*sa\/other, expected .*sa\/c/);
    assert.equal(r.message, '1 of 4 sidecars hold a valid certificate for their identity');
  });
  test('a failing renewal, an old trust bundle or an unreachable sidecar: warn', () => {
    const r = checkSidecars(
      [
        sidecar('default/a-0', 'a', { lastError: { at: iso(NOW), message: 'the CA refused' } }),
        sidecar('default/b-0', 'b'),
        { ...sidecar('default/c-0', 'c'), identity: null, error: 'its sidecar does not answer' },
      ],
      caStatus({
        trustAnchors: [
          ...caStatus().trustAnchors,
          { ...caStatus().trustAnchors[0]!, role: 'next', subject: 'CN=new root' },
        ],
      }),
      NOW,
    );
    assert.equal(r.status, 'warn');
    assert.match(r.details?.join('\n') ?? '', /a-0: renewal failing; last error .*the CA refused/);
    assert.match(r.details?.join('\n') ?? '', /b-0: does not trust CN=new root yet/);
    assert.match(r.details?.join('\n') ?? '', /c-0: its sidecar does not answer/);
  });
});

test('the text report: one line per check, details, hint and a summary; no colours off a terminal', () => {
  const text = renderReport(
    {
      ok: false,
      summary: { pass: 1, warn: 0, fail: 1 },
      checks: [
        { name: 'control-plane', status: 'pass', message: 'answers' },
        {
          name: 'proxies',
          status: 'fail',
          message: '0 of 1 proxies synced',
          details: ['default/a-0: stale'],
          hint: 'look',
        },
      ],
    },
    createStyle({ isTTY: false } as NodeJS.WriteStream),
  );
  assert.equal(
    text,
    [
      'PASS  control plane   answers',
      'FAIL  proxies synced  0 of 1 proxies synced',
      '        default/a-0: stale',
      '        hint: look',
      '',
      '1 passed, 0 warnings, 1 failed',
      '',
    ].join('\n'),
  );
});
