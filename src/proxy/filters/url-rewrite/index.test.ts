/**
 * Unit tests for URLRewrite: ReplaceFullPath, ReplacePrefixMatch (the Gateway API's table of examples),
 * hostname rewrites, and the query string surviving a path rewrite.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { UpstreamRequest } from '../types.ts';
import { modifyPath, urlRewrite } from './index.ts';

const prefixMod = (value: string) => ({ type: 'ReplacePrefixMatch', value }) as const;
const fullMod = (value: string) => ({ type: 'ReplaceFullPath', value }) as const;

describe('modifyPath ReplacePrefixMatch', () => {
  // The prefix passed in is the router's normalised prefix (no trailing slash), as at run time.
  const cases: Array<[path: string, prefix: string, replacement: string, expected: string]> = [
    // The examples from the Gateway API HTTPPathModifier documentation.
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'],
    ['/foo', '/foo', '/xyz', '/xyz'],
    ['/foo/', '/foo', '/xyz', '/xyz/'],
    ['/foo/bar', '/foo', '', '/bar'],
    ['/foo/', '/foo', '', '/'],
    ['/foo', '/foo', '', '/'],
    ['/foo/', '/foo', '/', '/'],
    ['/foo', '/foo', '/', '/'],
    // The cases named in the brief.
    ['/foo/baz', '/foo', '/bar', '/bar/baz'],
    ['/foo', '/foo', '/bar', '/bar'],
    ['/foo/baz', '/foo', '/', '/baz'],
    // Deeper prefixes and replacements.
    ['/api/v1/users/7', '/api/v1', '/v2', '/v2/users/7'],
    ['/old/a/b', '/old', '/new/place', '/new/place/a/b'],
  ];
  for (const [path, prefix, replacement, expected] of cases) {
    test(`prefix ${prefix} -> "${replacement}": ${path} becomes ${expected}`, () => {
      assert.equal(modifyPath(path, prefixMod(replacement), prefix), expected);
    });
  }

  test('a root prefix keeps the whole path below the replacement', () => {
    assert.equal(modifyPath('/baz', prefixMod('/bar'), '/'), '/bar/baz');
    assert.equal(modifyPath('/a/b', prefixMod('/'), '/'), '/a/b');
  });

  test('without a prefix match (an Exact or regex route) the path is unchanged', () => {
    assert.equal(modifyPath('/foo/bar', prefixMod('/xyz'), undefined), '/foo/bar');
  });
});

describe('modifyPath ReplaceFullPath', () => {
  test('replaces the whole path whatever matched', () => {
    assert.equal(modifyPath('/foo/bar', fullMod('/replaced'), '/foo'), '/replaced');
    assert.equal(modifyPath('/anything', fullMod('/'), undefined), '/');
  });
});

function upstream(path: string, matchedPrefix: string | undefined): UpstreamRequest {
  const q = path.indexOf('?');
  return {
    method: 'GET',
    path,
    matchedPath: q === -1 ? path : path.slice(0, q),
    matchedPrefix,
    authority: 'front.example',
    headers: { host: 'front.example', accept: '*/*' },
  };
}

describe('URLRewrite filter', () => {
  test('rewrites the prefix and keeps the query string', () => {
    const f = urlRewrite.build({ path: prefixMod('/bar') });
    const up = upstream('/foo/baz?x=1&y=2', '/foo');
    f.onRequest?.(up);
    assert.equal(up.path, '/bar/baz?x=1&y=2');
  });

  test('rewrites the full path and keeps the query string', () => {
    const f = urlRewrite.build({ path: fullMod('/new') });
    const up = upstream('/old/deep?q=1', '/old');
    f.onRequest?.(up);
    assert.equal(up.path, '/new?q=1');
  });

  test('keeps an empty query marker as it was', () => {
    const f = urlRewrite.build({ path: fullMod('/new') });
    const up = upstream('/old?', '/old');
    f.onRequest?.(up);
    assert.equal(up.path, '/new?');
  });

  test('rewrites the hostname in both the authority and the host header', () => {
    const f = urlRewrite.build({ hostname: 'back.internal' });
    const up = upstream('/p?a=1', '/');
    f.onRequest?.(up);
    assert.equal(up.authority, 'back.internal');
    assert.equal(up.headers.host, 'back.internal');
    assert.equal(up.path, '/p?a=1');
    assert.equal(up.headers.accept, '*/*');
  });

  test('with neither hostname nor path it changes nothing', () => {
    const f = urlRewrite.build({});
    const up = upstream('/p?a=1', '/');
    const before = structuredClone(up);
    f.onRequest?.(up);
    assert.deepEqual(up, before);
    assert.equal(f.onResponse, undefined);
  });
});
