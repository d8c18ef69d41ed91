/**
 * The filter state cache: the same key in the next compile returns the same state, two identical keys in
 * one compile get distinct state, and state no compile used for two generations is dropped.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FilterStateCache } from './state.ts';

describe('FilterStateCache', () => {
  test('keeps state across compiles while the key is unchanged', () => {
    const cache = new FilterStateCache();
    cache.begin();
    const a = cache.acquire('k', () => ({ n: 1 }));
    cache.begin();
    assert.equal(
      cache.acquire('k', () => ({ n: 2 })),
      a,
    );
    assert.notEqual(
      cache.acquire('other', () => ({ n: 3 })),
      a,
    );
  });

  test('the same key twice in one compile gives two states, stable across compiles', () => {
    const cache = new FilterStateCache();
    cache.begin();
    const first = cache.acquire('k', () => ({}));
    const second = cache.acquire('k', () => ({}));
    assert.notEqual(first, second);
    cache.begin();
    assert.equal(
      cache.acquire('k', () => ({})),
      first,
    );
    assert.equal(
      cache.acquire('k', () => ({})),
      second,
    );
  });

  test('drops state unused for two generations, keeps it through one', () => {
    const cache = new FilterStateCache();
    cache.begin();
    const a = cache.acquire('k', () => ({}));
    cache.begin(); // a compile that failed before reaching the filter
    cache.begin();
    assert.equal(
      cache.acquire('k', () => ({})),
      a,
      'one generation without use is kept',
    );
    cache.begin();
    cache.begin();
    cache.begin();
    assert.equal(cache.size, 0);
  });
});
