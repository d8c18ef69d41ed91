import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRunId, hubNetnsName, instanceNetnsName, validateRunId } from './names.ts';

describe('namespace names', () => {
  it('names the hub and instances after the run', () => {
    assert.equal(hubNetnsName('ab12'), 'weft-ab12-hub');
    assert.equal(instanceNetnsName('ab12', 3), 'weft-ab12-3');
  });

  it('rejects run ids that could match another run or break interface names', () => {
    for (const bad of ['', 'a-b', 'ABC', 'abcdefghi', 'a b', '../x']) {
      assert.throws(() => validateRunId(bad), /invalid run id/, bad);
    }
    assert.throws(() => instanceNetnsName('ab', 100_000), /invalid instance index/);
  });

  it('creates valid random run ids', () => {
    const ids = new Set(Array.from({ length: 50 }, createRunId));
    for (const id of ids) validateRunId(id);
    assert.ok(ids.size > 45);
  });
});
