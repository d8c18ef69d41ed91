/**
 * Join tokens: what one grants, and each way one is refused (expired on an injected clock, altered
 * claims, altered or re-spelled MAC, another CA's key, not a token at all).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CaError, type CaErrorCode } from '../../api/ca/index.ts';
import { createJoinTokenKey, issueJoinToken, verifyJoinToken } from './join-token.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2030-03-01T00:00:00Z');
const key = createJoinTokenKey();
const token = issueJoinToken(key, { namespace: 'shop', serviceAccount: 'web', ttlMs: HOUR }, T0);

function refused(code: CaErrorCode, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof CaError, String(error));
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

function claimsOf(t: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(t.split('.')[1] as string, 'base64url').toString());
}

describe('join tokens', () => {
  test('a valid token grants its identity until it expires', () => {
    const claims = verifyJoinToken(key, token, T0 + HOUR - 1);
    assert.equal(claims.namespace, 'shop');
    assert.equal(claims.serviceAccount, 'web');
    assert.equal(claims.expiresAt, T0 + HOUR);
    assert.match(claims.id, /^[A-Za-z0-9_-]{16}$/);
  });

  test('tokens are opaque and unique', () => {
    assert.match(token, /^wjt1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const again = issueJoinToken(key, { namespace: 'shop', serviceAccount: 'web', ttlMs: HOUR }, T0);
    assert.notEqual(again, token);
  });

  test('an expired token is refused with its expiry', () => {
    assert.throws(
      () => verifyJoinToken(key, token, T0 + HOUR),
      refused('CA_TOKEN_EXPIRED', /shop\/web expired at 2030-03-01T01:00:00\.000Z/),
    );
  });

  test('altered claims are refused, even when well-formed', () => {
    const claims = { ...claimsOf(token), sa: 'admin' };
    const [prefix, , mac] = token.split('.');
    const forged = `${prefix}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${mac}`;
    assert.throws(() => verifyJoinToken(key, forged, T0), refused('CA_TOKEN_SIGNATURE'));
    const extended = { ...claimsOf(token), exp: T0 + 1000 * HOUR };
    const longer = `${prefix}.${Buffer.from(JSON.stringify(extended)).toString('base64url')}.${mac}`;
    assert.throws(() => verifyJoinToken(key, longer, T0 + 2 * HOUR), refused('CA_TOKEN_SIGNATURE'));
  });

  test('an altered MAC is refused, including another spelling of the same bytes', () => {
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    const firstChanged = token.replace(
      /\.([A-Za-z0-9_-])([A-Za-z0-9_-]{42})$/,
      (_m, a, rest) => `.${flip(a)}${rest}`,
    );
    assert.throws(() => verifyJoinToken(key, firstChanged, T0), refused('CA_TOKEN_SIGNATURE'));
    // 43 base64url characters carry 258 bits for a 256-bit MAC: the last character's two low bits are
    // padding, and changing them must not give a second valid token.
    const last = token.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = token.slice(0, -1) + alphabet[alphabet.indexOf(last) ^ 1];
    assert.throws(() => verifyJoinToken(key, respelled, T0), refused('CA_TOKEN_SIGNATURE'));
  });

  test("another CA's token is refused", () => {
    const other = issueJoinToken(
      createJoinTokenKey(),
      { namespace: 'shop', serviceAccount: 'web', ttlMs: HOUR },
      T0,
    );
    assert.throws(
      () => verifyJoinToken(key, other, T0),
      refused('CA_TOKEN_SIGNATURE', /not issued by this CA/),
    );
  });

  test('strings that are not tokens are malformed', () => {
    const [, claims, mac] = token.split('.');
    for (const bad of [
      '',
      'wjt1',
      'wjt1..',
      `jwt1.${claims}.${mac}`,
      `wjt1.${claims}`,
      `${token}.x`,
      `wjt1.${claims}.${mac}=`,
      `wjt1.a b.${mac}`,
      'x'.repeat(10_000),
    ])
      assert.throws(
        () => verifyJoinToken(key, bad, T0),
        refused('CA_TOKEN_MALFORMED'),
        JSON.stringify(bad.slice(0, 30)),
      );
  });

  test('tokens are only issued for valid names and lifetimes', () => {
    assert.throws(
      () => issueJoinToken(key, { namespace: 'Shop', serviceAccount: 'web', ttlMs: HOUR }, T0),
      refused('CA_IDENTITY_INVALID'),
    );
    assert.throws(
      () => issueJoinToken(key, { namespace: 'shop', serviceAccount: 'a/b', ttlMs: HOUR }, T0),
      refused('CA_IDENTITY_INVALID'),
    );
    assert.throws(
      () => issueJoinToken(key, { namespace: 'shop', serviceAccount: 'web', ttlMs: 0 }, T0),
      RangeError,
    );
  });
});
