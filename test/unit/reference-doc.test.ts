import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderReference } from '../../src/api/proxy-config/reference.ts';

test('docs/reference/proxy-config.md is generated from the current schema (run `npm run docs`)', () => {
  const committed = readFileSync(new URL('../../docs/reference/proxy-config.md', import.meta.url), 'utf8');
  assert.equal(committed, renderReference());
});
