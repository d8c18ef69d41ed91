/**
 * Unit tests for the filter registry and chain composition: config types map to the right filter, and a
 * chain is composed once with fast paths for zero and one filter.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  buildFilter,
  composeFilters,
  type HeaderMap,
  type HttpFilter,
  type UpstreamRequest,
} from './index.ts';

function upstream(): UpstreamRequest {
  return {
    method: 'GET',
    path: '/foo/x?q=1',
    matchedPath: '/foo/x',
    matchedPrefix: '/foo',
    authority: 'svc',
    headers: {},
  };
}

describe('buildFilter', () => {
  test('builds each filter kind from its config', () => {
    const reqMod = buildFilter({
      type: 'RequestHeaderModifier',
      requestHeaderModifier: { set: { 'X-A': '1' }, add: {}, remove: [] },
    });
    const resMod = buildFilter({
      type: 'ResponseHeaderModifier',
      responseHeaderModifier: { set: { 'X-B': '2' }, add: {}, remove: [] },
    });
    const rewrite = buildFilter({
      type: 'URLRewrite',
      urlRewrite: { path: { type: 'ReplacePrefixMatch', value: '/bar' } },
    });
    const up = upstream();
    reqMod.onRequest?.(up);
    rewrite.onRequest?.(up);
    assert.deepEqual(up.headers, { 'x-a': '1' });
    assert.equal(up.path, '/bar/x?q=1');
    const res: HeaderMap = {};
    resMod.onResponse?.(200, res);
    assert.deepEqual(res, { 'x-b': '2' });
  });
});

describe('composeFilters', () => {
  test('no filters: both phases are undefined (the fast path)', () => {
    const chain = composeFilters([]);
    assert.equal(chain.onRequest, undefined);
    assert.equal(chain.onResponse, undefined);
  });

  test('one filter per phase is used as is, without a wrapper', () => {
    const onRequest = (_r: UpstreamRequest) => {};
    const onResponse = (_s: number, _h: HeaderMap) => {};
    const chain = composeFilters([{ onRequest }, { onResponse }]);
    assert.equal(chain.onRequest, onRequest);
    assert.equal(chain.onResponse, onResponse);
  });

  test('several filters run in declared order', () => {
    const calls: string[] = [];
    const filter = (name: string): HttpFilter => ({
      onRequest: () => calls.push(`req:${name}`),
      onResponse: (status) => calls.push(`res:${name}:${status}`),
    });
    const chain = composeFilters([filter('a'), { onRequest: () => calls.push('req:b') }, filter('c')]);
    chain.onRequest?.(upstream());
    chain.onResponse?.(204, {});
    assert.deepEqual(calls, ['req:a', 'req:b', 'req:c', 'res:a:204', 'res:c:204']);
  });
});
