/**
 * Sanity checks on the error registry and the error classes built on it: codes are well-formed and
 * unique across tables, statuses are real HTTP statuses, and the classes carry code, status and issues.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, ConfigErrors, ProxyError, type ProxyErrorCode, ProxyErrors } from './errors.ts';

const CODE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

describe('ProxyErrors registry', () => {
  const entries = Object.entries(ProxyErrors);

  test('is not empty', () => {
    assert.ok(entries.length > 0);
  });

  test('codes are UPPER_SNAKE_CASE and safe to send in a header', () => {
    for (const [code] of entries) assert.match(code, CODE);
  });

  test('statuses are integers in the HTTP range', () => {
    for (const [code, e] of entries) {
      assert.ok(Number.isInteger(e.status) && e.status >= 100 && e.status <= 599, `${code}: ${e.status}`);
    }
  });

  test('every code except DIRECT_RESPONSE is an error status (4xx or 5xx)', () => {
    for (const [code, e] of entries) {
      if (code === 'DIRECT_RESPONSE') continue;
      assert.ok(e.status >= 400, `${code}: ${e.status}`);
    }
  });

  test('descriptions are single full sentences', () => {
    for (const [code, e] of entries) {
      assert.match(e.description, /^[A-Z].*\.$/, code);
      assert.doesNotMatch(e.description, /[\r\n]/, code);
    }
  });
});

describe('ConfigErrors registry', () => {
  test('codes start with CONFIG_ and descriptions are sentences', () => {
    for (const [code, description] of Object.entries(ConfigErrors)) {
      assert.match(code, CODE);
      assert.ok(code.startsWith('CONFIG_'), code);
      assert.match(description, /^[A-Z].*\.$/, code);
    }
  });

  test('no code appears in both tables', () => {
    const proxy = new Set(Object.keys(ProxyErrors));
    for (const code of Object.keys(ConfigErrors)) assert.equal(proxy.has(code), false, code);
  });
});

describe('ProxyError', () => {
  test('carries its code and the registry status', () => {
    for (const code of Object.keys(ProxyErrors) as ProxyErrorCode[]) {
      const err = new ProxyError(code);
      assert.equal(err.code, code);
      assert.equal(err.status, ProxyErrors[code].status);
      assert.equal(err.message, ProxyErrors[code].description);
    }
  });

  test('is an Error with a name, an optional message and a cause', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new ProxyError('CONNECT_FAILED', 'could not reach 10.0.0.1:80', { cause });
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'ProxyError');
    assert.equal(err.message, 'could not reach 10.0.0.1:80');
    assert.equal(err.cause, cause);
    assert.equal(err.status, 503);
  });
});

describe('ConfigError', () => {
  test('keeps every issue and names each in its message', () => {
    const issues = [
      {
        code: 'CONFIG_REFERENCE',
        path: 'outbound.0.routes.0.backends.0.backend',
        message: 'no such backend',
      },
      { code: 'CONFIG_SCHEMA', path: '', message: 'expected an object' },
    ] as const;
    const err = new ConfigError(issues);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'ConfigError');
    assert.deepEqual(err.issues, issues);
    assert.equal(
      err.message,
      'CONFIG_REFERENCE at outbound.0.routes.0.backends.0.backend: no such backend; CONFIG_SCHEMA at <root>: expected an object',
    );
  });
});
