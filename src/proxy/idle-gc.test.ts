import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { startIdleGc } from './idle-gc.ts';

test('one full collection when traffic stops after the heap grew; none while busy or idle', () => {
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  const calls: unknown[] = [];
  g.gc = (options: unknown) => calls.push(options);
  mock.timers.enable({ apis: ['setInterval'] });
  let requests = 0;
  const stop = startIdleGc(() => requests);
  try {
    mock.timers.tick(1000);
    assert.equal(calls.length, 0, 'no traffic yet');
    const garbage = Array.from({ length: 300_000 }, (_, i) => ({ i, s: `x${i}` }));
    requests += 10;
    mock.timers.tick(1000);
    requests += 10;
    mock.timers.tick(1000);
    assert.equal(calls.length, 0, 'still busy');
    mock.timers.tick(1000);
    assert.equal(calls.length, 1, 'traffic stopped and the heap grew');
    assert.deepEqual(calls[0], { type: 'major', execution: 'sync', flavor: 'last-resort' });
    mock.timers.tick(5000);
    assert.equal(calls.length, 1, 'idle: nothing more');
    assert.ok(garbage.length > 0);
  } finally {
    stop();
    mock.timers.reset();
    g.gc = saved;
  }
});

test('without --expose-gc it does nothing', () => {
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  g.gc = undefined;
  try {
    const stop = startIdleGc(() => 0);
    stop();
  } finally {
    g.gc = saved;
  }
});
