/**
 * Unit tests for RequestHeaderModifier and ResponseHeaderModifier: set replaces, add appends, remove
 * deletes, and configured names match request headers whatever their case.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HeaderMap, UpstreamRequest } from '../types.ts';
import {
  compileHeaderModifier,
  type HeaderModifierConfig,
  requestHeaderModifier,
  responseHeaderModifier,
} from './index.ts';

function modifier(config: Partial<HeaderModifierConfig>): (h: HeaderMap) => void {
  return compileHeaderModifier({ set: {}, add: {}, remove: [], ...config });
}

function apply(config: Partial<HeaderModifierConfig>, headers: HeaderMap): HeaderMap {
  modifier(config)(headers);
  return headers;
}

describe('set', () => {
  test('replaces an existing value whatever the configured case', () => {
    assert.deepEqual(apply({ set: { 'X-Env': 'prod' } }, { 'x-env': 'dev', other: '1' }), {
      'x-env': 'prod',
      other: '1',
    });
  });

  test('adds the header when missing, under its lower-case name', () => {
    assert.deepEqual(apply({ set: { 'X-New': 'v' } }, {}), { 'x-new': 'v' });
  });

  test('replaces every value of a repeated header', () => {
    assert.deepEqual(apply({ set: { 'x-tag': 'only' } }, { 'x-tag': ['a', 'b'] }), { 'x-tag': 'only' });
  });
});

describe('add', () => {
  test('appends to an existing value instead of replacing it', () => {
    assert.deepEqual(apply({ add: { 'X-Tag': 'b' } }, { 'x-tag': 'a' }), { 'x-tag': ['a', 'b'] });
  });

  test('appends to a repeated header without mutating the original array', () => {
    const original = ['a', 'b'];
    const h = apply({ add: { 'x-tag': 'c' } }, { 'x-tag': original });
    assert.deepEqual(h, { 'x-tag': ['a', 'b', 'c'] });
    assert.deepEqual(original, ['a', 'b']);
  });

  test('creates the header when missing', () => {
    assert.deepEqual(apply({ add: { 'X-Tag': 'a' } }, {}), { 'x-tag': 'a' });
  });
});

describe('remove', () => {
  test('deletes headers whatever the configured case', () => {
    assert.deepEqual(apply({ remove: ['X-Secret', 'COOKIE'] }, { 'x-secret': 's', cookie: 'c', keep: 'k' }), {
      keep: 'k',
    });
  });

  test('ignores headers that are not there', () => {
    assert.deepEqual(apply({ remove: ['x-missing'] }, { a: '1' }), { a: '1' });
  });
});

describe('set, add and remove together', () => {
  test('apply in that order', () => {
    const h = apply(
      { set: { 'X-A': 'set' }, add: { 'X-A': 'added', 'X-B': 'b' }, remove: ['x-b', 'X-C'] },
      { 'x-a': 'orig', 'x-c': 'gone' },
    );
    assert.deepEqual(h, { 'x-a': ['set', 'added'] });
  });

  test('one compiled modifier can be applied to many requests', () => {
    const f = modifier({ add: { 'x-tag': 'a' } });
    const h1: HeaderMap = {};
    const h2: HeaderMap = {};
    f(h1);
    f(h2);
    assert.deepEqual(h1, { 'x-tag': 'a' });
    assert.deepEqual(h2, { 'x-tag': 'a' });
  });
});

describe('filter factories', () => {
  const config: HeaderModifierConfig = { set: { 'X-Env': 'prod' }, add: {}, remove: [] };

  test('RequestHeaderModifier changes the upstream request headers only', () => {
    const f = requestHeaderModifier.build(config);
    assert.equal(requestHeaderModifier.type, 'RequestHeaderModifier');
    assert.equal(f.onResponse, undefined);
    const up: UpstreamRequest = {
      method: 'GET',
      path: '/',
      matchedPath: '/',
      matchedPrefix: '/',
      authority: 'svc',
      headers: { 'x-env': 'dev' },
    };
    f.onRequest?.(up);
    assert.deepEqual(up.headers, { 'x-env': 'prod' });
  });

  test('ResponseHeaderModifier changes the response headers only', () => {
    const f = responseHeaderModifier.build(config);
    assert.equal(responseHeaderModifier.type, 'ResponseHeaderModifier');
    assert.equal(f.onRequest, undefined);
    const headers: HeaderMap = { 'x-env': 'dev' };
    f.onResponse?.(200, headers);
    assert.equal(headers['x-env'], 'prod');
  });
});
