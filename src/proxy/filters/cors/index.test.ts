/**
 * CORS: origin matching (exact, prefix, whole-value regex, "*"), preflights answered as Envoy answers
 * them, unmatched preflights forwarded or ignored, and CORS headers on actual responses only for allowed
 * origins.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RequestView } from '../../router/index.ts';
import { testContext } from '../testing.ts';
import type { Admission, HttpFilter, Verdict } from '../types.ts';
import { type CorsConfig, compileOrigins, cors } from './index.ts';

function config(overrides: Partial<CorsConfig> = {}): CorsConfig {
  return {
    allowOrigins: [{ type: 'Exact', value: 'https://app.example.com' }],
    allowMethods: ['GET', 'POST'],
    allowHeaders: ['content-type', 'x-token'],
    exposeHeaders: ['x-trace'],
    maxAge: 86_400_000,
    allowCredentials: true,
    unmatchedPreflights: 'FORWARD',
    ...overrides,
  };
}

function admit(filter: HttpFilter, method: string, headers: RequestView['headers']) {
  const admission: Admission = {
    request: { method, path: '/', query: '', headers },
    responseHeaders: undefined,
  };
  const verdict: Verdict | undefined = filter.onAdmit?.(admission);
  return { verdict, headers: admission.responseHeaders };
}

const preflight = (origin: string) => ({ origin, 'access-control-request-method': 'POST' });

describe('compileOrigins', () => {
  test('exact, prefix and whole-value regex', () => {
    const allowed = compileOrigins([
      { type: 'Exact', value: 'https://a.example' },
      { type: 'Prefix', value: 'https://b.' },
      { type: 'RegularExpression', value: 'https://[a-z]+\\.c\\.example' },
    ]);
    assert.ok(allowed('https://a.example'));
    assert.ok(!allowed('https://a.example.evil'));
    assert.ok(allowed('https://b.anything'));
    assert.ok(allowed('https://x.c.example'));
    assert.ok(!allowed('https://x.c.example.evil'), 'regex matches the whole origin');
  });

  test('a match that accepts "*" allows every origin, as in Envoy', () => {
    assert.ok(compileOrigins([{ type: 'Exact', value: '*' }])('https://any.example'));
    assert.ok(compileOrigins([{ type: 'RegularExpression', value: '.*' }])('https://any.example'));
    assert.ok(!compileOrigins([])('https://any.example'));
  });
});

describe('CORS', () => {
  test('answers a preflight from an allowed origin: 200, no body, the CORS headers', () => {
    const { verdict } = admit(
      cors.build(config(), testContext()),
      'OPTIONS',
      preflight('https://app.example.com'),
    );
    assert.equal(verdict?.kind, 'reply');
    if (verdict?.kind !== 'reply') return;
    assert.equal(verdict.status, 200);
    assert.equal(verdict.code, undefined);
    assert.deepEqual(verdict.headers, {
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET,POST',
      'access-control-allow-headers': 'content-type,x-token',
      'access-control-max-age': '86400',
      'content-length': '0',
    });
  });

  test('"*" methods and headers echo what the browser asked for', () => {
    const f = cors.build(
      config({ allowMethods: ['*'], allowHeaders: ['*'], allowCredentials: false, maxAge: undefined }),
      testContext(),
    );
    const { verdict } = admit(f, 'OPTIONS', {
      ...preflight('https://app.example.com'),
      'access-control-request-headers': 'x-a,x-b',
    });
    assert.deepEqual(verdict?.kind === 'reply' ? verdict.headers : undefined, {
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'x-a,x-b',
      'content-length': '0',
    });
  });

  test('an unmatched preflight goes upstream (FORWARD) or is answered without CORS headers (IGNORE)', () => {
    const forward = admit(cors.build(config(), testContext()), 'OPTIONS', preflight('https://evil.example'));
    assert.equal(forward.verdict, undefined);
    assert.equal(forward.headers, undefined);
    const ignore = admit(
      cors.build(config({ unmatchedPreflights: 'IGNORE' }), testContext()),
      'OPTIONS',
      preflight('https://evil.example'),
    );
    assert.equal(ignore.verdict?.kind, 'reply');
    if (ignore.verdict?.kind !== 'reply') return;
    assert.equal(ignore.verdict.status, 200);
    assert.ok(!Object.keys(ignore.verdict.headers ?? {}).some((h) => h.startsWith('access-control-')));
  });

  test('actual requests from an allowed origin get the response headers; others none', () => {
    const f = cors.build(config(), testContext());
    const ok = admit(f, 'GET', { origin: 'https://app.example.com' });
    assert.equal(ok.verdict, undefined);
    assert.deepEqual(ok.headers, {
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'x-trace',
    });
    assert.deepEqual(admit(f, 'GET', { origin: 'https://evil.example' }), {
      verdict: undefined,
      headers: undefined,
    });
    assert.deepEqual(admit(f, 'GET', {}), { verdict: undefined, headers: undefined });
    // OPTIONS without Access-Control-Request-Method is not a preflight: it goes on, with the headers.
    const plainOptions = admit(f, 'OPTIONS', { origin: 'https://app.example.com' });
    assert.equal(plainOptions.verdict, undefined);
    assert.equal(plainOptions.headers?.['access-control-allow-origin'], 'https://app.example.com');
  });
});
