/** Times, spans and names as the operator commands print them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createStyle, formatName, formatRelative, formatSpan, formatTime } from './output.ts';

test('spans use two units at most', () => {
  assert.equal(formatSpan(0), '0s');
  assert.equal(formatSpan(12_400), '12s');
  assert.equal(formatSpan(250_000), '4m 10s');
  assert.equal(formatSpan((11 * 60 + 58) * 60_000 + 30_000), '11h 58m');
  assert.equal(formatSpan(3 * 86_400_000 + 4 * 3_600_000 + 59_000), '3d 4h');
  assert.equal(formatSpan(-3_600_000), '1h');
});

test('relative times say in or ago; times are UTC to the second', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  assert.equal(formatRelative('2030-01-01T11:58:10Z', now), 'in 11h 58m');
  assert.equal(formatRelative(new Date(now - 90_000), now), '1m 30s ago');
  assert.equal(formatTime('2030-01-01T11:58:10.123Z'), '2030-01-01 11:58:10Z');
  assert.equal(formatTime('not a time'), 'not a time');
});

test("Node's multi-line names go on one line", () => {
  assert.equal(
    formatName('CN=Weft issuer 1a2b3c4d\nO=cluster.local'),
    'CN=Weft issuer 1a2b3c4d, O=cluster.local',
  );
  assert.equal(formatName(''), '(empty)');
});

test('no colours off a terminal', () => {
  const style = createStyle({ isTTY: false } as NodeJS.WriteStream);
  assert.equal(style.red('FAIL'), 'FAIL');
});
