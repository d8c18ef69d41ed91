/**
 * Unit tests for duration parsing: Go / Kubernetes style strings and plain milliseconds, and the
 * inputs that must be refused rather than guessed at.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDuration, parseDuration } from './duration.ts';

describe('parseDuration', () => {
  const valid: Array<[string | number, number]> = [
    ['250ms', 250],
    ['1s', 1000],
    ['1.5s', 1500],
    ['0.5s', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['1h1m1s1ms', 3_661_001],
    ['1s500ms', 1500],
    ['0', 0],
    ['0s', 0],
    ['0ms', 0],
    ['100us', 0.1],
    ['100µs', 0.1],
    ['1000000ns', 1],
    ['  5s  ', 5000],
    [0, 0],
    [250, 250],
    [1.5, 1.5],
  ];
  for (const [input, ms] of valid) {
    test(`${JSON.stringify(input)} is ${ms} ms`, () => {
      assert.equal(parseDuration(input), ms);
    });
  }

  test('"ms" is milliseconds, not minutes followed by seconds', () => {
    assert.equal(parseDuration('5ms'), 5);
    assert.equal(parseDuration('5m'), 300_000);
  });

  const invalid: Array<string | number> = [
    '',
    '   ',
    '5',
    '1.5',
    's',
    'ms',
    '-1s',
    '+1s',
    '1 s',
    '1s 2s',
    '1d',
    '1S',
    '1.s',
    '.5s',
    '1.5.5s',
    '1s2',
    '5 seconds',
    'abc',
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
  ];
  for (const input of invalid) {
    test(`${typeof input === 'string' ? JSON.stringify(input) : String(input)} is not a duration`, () => {
      assert.equal(parseDuration(input), undefined);
    });
  }

  test('a failed parse does not disturb the next one', () => {
    assert.equal(parseDuration('1s?'), undefined);
    assert.equal(parseDuration('2s'), 2000);
    assert.equal(parseDuration('3x'), undefined);
    assert.equal(parseDuration('4ms'), 4);
  });
});

describe('formatDuration', () => {
  test('whole seconds print as seconds, the rest as milliseconds', () => {
    assert.equal(formatDuration(5000), '5s');
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(1500), '1500ms');
  });

  test('round-trips through parseDuration', () => {
    for (const ms of [0, 1, 250, 1000, 1500, 60_000, 3_600_000]) {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }
  });
});
