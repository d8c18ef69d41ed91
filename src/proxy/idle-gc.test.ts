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
  // The heap as the test says it is: in a process running hundreds of tests, the real one moves with
  // everyone else's garbage.
  let heap = 50 * 1024 * 1024;
  const stop = startIdleGc(
    () => requests,
    () => heap,
  );
  try {
    mock.timers.tick(1000);
    assert.equal(calls.length, 0, 'no traffic yet');
    heap += 20 * 1024 * 1024;
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
    // A short burst that left less than 4 MB behind is not worth a full collection.
    requests += 1;
    heap += 1024 * 1024;
    mock.timers.tick(2000);
    assert.equal(calls.length, 1, 'small growth: no collection');
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
