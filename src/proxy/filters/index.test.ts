/**
 * Unit tests for the filter registry and chain composition: config types map to the right filter, and a
 * chain is composed once with fast paths for zero and one filter.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Admission,
  buildFilter,
  composeFilters,
  type FilterContext,
  type HeaderMap,
  type Hold,
  type HttpFilter,
  type LocalReply,
  type RequestBody,
  type UpstreamRequest,
  type Verdict,
} from './index.ts';
import { testContext } from './testing.ts';

/** No backends: enough for the filters that use nothing from the proxy. */
const context: FilterContext = testContext();

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
    const reqMod = buildFilter(
      {
        type: 'RequestHeaderModifier',
        requestHeaderModifier: { set: { 'X-A': '1' }, add: {}, remove: [] },
      },
      context,
    );
    const resMod = buildFilter(
      {
        type: 'ResponseHeaderModifier',
        responseHeaderModifier: { set: { 'X-B': '2' }, add: {}, remove: [] },
      },
      context,
    );
    const rewrite = buildFilter(
      {
        type: 'URLRewrite',
        urlRewrite: { path: { type: 'ReplacePrefixMatch', value: '/bar' } },
      },
      context,
    );
    const up = upstream();
    reqMod.onRequest?.(up);
    rewrite.onRequest?.(up);
    assert.deepEqual(up.headers, { 'x-a': '1' });
    assert.equal(up.path, '/bar/x?q=1');
    const res: HeaderMap = {};
    resMod.onResponse?.(200, res);
    assert.deepEqual(res, { 'x-b': '2' });
  });

  test('RequestMirror naming a backend that does not exist fails the build', () => {
    assert.throws(
      () => buildFilter({ type: 'RequestMirror', requestMirror: { backend: 'nope', percent: 100 } }, context),
      /backend "nope" is not defined/,
    );
  });
});

describe('composeFilters', () => {
  test('no filters: both phases are undefined (the fast path)', () => {
    const chain = composeFilters([]);
    assert.equal(chain.onRequest, undefined);
    assert.equal(chain.onResponse, undefined);
    assert.equal(chain.onDispatch, undefined);
  });

  test('header filters add no dispatch phase', () => {
    const chain = composeFilters([
      buildFilter({ type: 'URLRewrite', urlRewrite: { hostname: 'x' } }, context),
      buildFilter(
        { type: 'RequestHeaderModifier', requestHeaderModifier: { set: {}, add: {}, remove: [] } },
        context,
      ),
    ]);
    assert.equal(chain.onDispatch, undefined);
  });

  test('dispatch phases pass the body along in declared order', () => {
    const calls: string[] = [];
    const step =
      (name: string) =>
      (_r: UpstreamRequest, body: RequestBody): RequestBody => {
        calls.push(`${name}:${String(body)}`);
        return Buffer.from(name);
      };
    const one = step('a');
    assert.equal(composeFilters([{ onDispatch: one }]).onDispatch, one);
    const chain = composeFilters([{ onDispatch: step('a') }, {}, { onDispatch: step('b') }]);
    const out = chain.onDispatch?.(upstream(), null);
    assert.deepEqual(calls, ['a:null', 'b:a']);
    assert.equal(String(out), 'b');
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

  test('admit filters: the first reply ends the phase, holds add up and delay a later reply', () => {
    const reply: LocalReply = {
      kind: 'reply',
      status: 429,
      code: 'RATE_LIMITED',
      grpcStatus: 8,
      headers: undefined,
    };
    const hold = (ms: number): Hold => ({ kind: 'hold', ms, reply: undefined });
    const calls: string[] = [];
    const f = (name: string, v: Verdict | undefined): HttpFilter => ({
      onAdmit: () => {
        calls.push(name);
        return v;
      },
    });
    const admission = (): Admission => ({
      request: { method: 'GET', path: '/', query: '', headers: {} },
      responseHeaders: undefined,
    });
    const only = f('only', undefined).onAdmit;
    assert.equal(composeFilters([{ onAdmit: only }]).onAdmit, only);
    assert.equal(composeFilters([{ onRequest: () => {} }]).onAdmit, undefined);

    assert.equal(
      composeFilters([f('a', undefined), f('b', reply), f('c', hold(5))]).onAdmit?.(admission()),
      reply,
    );
    assert.deepEqual(calls, ['a', 'b']);
    assert.deepEqual(composeFilters([f('a', hold(5)), f('b', hold(7))]).onAdmit?.(admission()), hold(12));
    assert.deepEqual(composeFilters([f('a', hold(5)), f('b', reply)]).onAdmit?.(admission()), {
      kind: 'hold',
      ms: 5,
      reply,
    });
    assert.equal(composeFilters([f('a', undefined), f('b', undefined)]).onAdmit?.(admission()), undefined);
  });

  test('builds the admit filters from their configs', () => {
    const built = [
      buildFilter({ type: 'Fault', fault: { abort: { httpStatus: 503, percentage: 100 } } }, context),
      buildFilter(
        {
          type: 'LocalRateLimit',
          localRateLimit: {
            tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillInterval: 1000 },
            descriptors: [],
            filterEnabled: 100,
            filterEnforced: 100,
            status: 429,
            responseHeadersToAdd: {},
            enableXRateLimitHeaders: false,
          },
        },
        context,
      ),
      buildFilter(
        {
          type: 'CORS',
          cors: {
            allowOrigins: [],
            allowMethods: [],
            allowHeaders: [],
            exposeHeaders: [],
            allowCredentials: false,
            unmatchedPreflights: 'FORWARD',
          },
        },
        context,
      ),
    ];
    for (const f of built) assert.equal(typeof f.onAdmit, 'function');
  });
});
