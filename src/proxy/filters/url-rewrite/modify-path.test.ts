import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modifyPath } from './index.ts';

test('ReplacePrefix replaces the matched string as written (Envoy prefix_rewrite)', () => {
  const to = (value: string) => ({ type: 'ReplacePrefix' as const, value });
  assert.equal(modifyPath('/productpage/x', to('/new'), '/productpage'), '/new/x');
  assert.equal(modifyPath('/foobar', to('/baz'), '/foo'), '/bazbar');
  // As Envoy does, and unlike Gateway API's ReplacePrefixMatch: no slash is merged.
  assert.equal(modifyPath('/foo/bar', to('/'), '/foo'), '//bar');
  assert.equal(modifyPath('/foo/bar', { type: 'ReplacePrefixMatch', value: '/' }, '/foo'), '/bar');
});
