/**
 * Unit tests for gRPC specifics: recognising gRPC requests and parsing the grpc-timeout header (gRPC
 * over HTTP/2: TimeoutValue is at most 8 ASCII digits, TimeoutUnit one of H M S m u n).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isGrpc, parseGrpcTimeout } from './grpc.ts';

describe('parseGrpcTimeout', () => {
  const valid: Array<[string, number]> = [
    ['1H', 3_600_000],
    ['2M', 120_000],
    ['5S', 5000],
    ['250m', 250],
    ['1500u', 2], // 1.5 ms rounds up: a deadline is never shortened to below what was asked
    ['1000u', 1],
    ['5000000n', 5],
    ['1n', 1], // anything positive is at least 1 ms
    ['0m', 1],
    ['99999999S', 99_999_999_000], // 8 digits is the maximum
    ['00000010m', 10],
  ];
  for (const [value, ms] of valid) {
    test(`${value} is ${ms} ms`, () => {
      assert.equal(parseGrpcTimeout(value), ms);
    });
  }

  const invalid: Array<[string, string | string[] | undefined]> = [
    ['absent', undefined],
    ['empty', ''],
    ['a unit only', 'S'],
    ['digits only', '100'],
    ['nine digits', '123456789S'],
    ['an unknown unit', '10s'],
    ['days', '1D'],
    ['a decimal', '1.5S'],
    ['a sign', '-1S'],
    ['spaces', ' 1S'],
    ['a trailing space', '1S '],
    ['repeated header', ['1S', '2S']],
  ];
  for (const [name, value] of invalid) {
    test(`${name} is not a timeout`, () => {
      assert.equal(parseGrpcTimeout(value), undefined);
    });
  }
});

describe('isGrpc', () => {
  test('recognises application/grpc and its subtypes', () => {
    assert.equal(isGrpc({ 'content-type': 'application/grpc' }), true);
    assert.equal(isGrpc({ 'content-type': 'application/grpc+proto' }), true);
  });

  test('anything else is not gRPC', () => {
    assert.equal(isGrpc({ 'content-type': 'application/json' }), false);
    assert.equal(isGrpc({}), false);
  });
});
