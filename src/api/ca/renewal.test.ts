/**
 * The renewal rule: at half the lifetime at the latest, up to a tenth of the lifetime earlier, placed by
 * the injected random source so that the choice can be replayed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '../../core/index.ts';
import { DEFAULT_CERTIFICATE_TTL_MS, nextRenewalTime, renewalDelay } from './renewal.ts';

const HOUR = 3_600_000;
const notBefore = Date.parse('2030-01-01T00:00:00Z');
const notAfter = notBefore + DEFAULT_CERTIFICATE_TTL_MS;

describe('nextRenewalTime', () => {
  test('a 24 h certificate is renewed between 9.6 h and 12 h into its life', () => {
    assert.equal(DEFAULT_CERTIFICATE_TTL_MS, 24 * HOUR);
    assert.equal(
      nextRenewalTime(notBefore, notAfter, () => 0),
      notBefore + 12 * HOUR,
    );
    const latest = nextRenewalTime(notBefore, notAfter, () => 0.999999);
    assert.ok(latest > notBefore + 9.6 * HOUR - 1 && latest < notBefore + 9.6 * HOUR + 1000);
  });

  test('jitter spreads proxies over the window, replayably', () => {
    const random = seededRandom(42);
    const times = Array.from({ length: 1000 }, () => nextRenewalTime(notBefore, notAfter, random));
    for (const t of times) assert.ok(t >= notBefore + 9.6 * HOUR && t <= notBefore + 12 * HOUR);
    assert.ok(new Set(times).size > 990, 'not all proxies renew in the same millisecond');
    const spread = Math.max(...times) - Math.min(...times);
    assert.ok(spread > 2 * HOUR, `spread ${spread / HOUR} h`);
    const again = seededRandom(42);
    assert.deepEqual(
      times.slice(0, 5),
      Array.from({ length: 5 }, () => nextRenewalTime(notBefore, notAfter, again)),
    );
  });

  test('accepts Dates, and follows the lifetime actually granted', () => {
    const short = nextRenewalTime(new Date(notBefore), new Date(notBefore + 2 * HOUR), () => 0);
    assert.equal(short, notBefore + HOUR);
  });

  test('refuses an empty lifetime and a random source out of range', () => {
    assert.throws(() => nextRenewalTime(notAfter, notBefore, () => 0), RangeError);
    assert.throws(() => nextRenewalTime(notBefore, notBefore, () => 0), RangeError);
    assert.throws(() => nextRenewalTime(Number.NaN, notAfter, () => 0), RangeError);
    assert.throws(() => nextRenewalTime(notBefore, notAfter, () => 1), RangeError);
    assert.throws(() => nextRenewalTime(notBefore, notAfter, () => -0.1), RangeError);
  });
});

describe('renewalDelay', () => {
  test('counts from now, and is 0 once the renewal time has passed', () => {
    assert.equal(
      renewalDelay(notBefore + HOUR, notBefore, notAfter, () => 0),
      11 * HOUR,
    );
    assert.equal(
      renewalDelay(notBefore + 13 * HOUR, notBefore, notAfter, () => 0),
      0,
    );
    assert.equal(
      renewalDelay(notAfter + HOUR, notBefore, notAfter, () => 0),
      0,
    );
  });
});
