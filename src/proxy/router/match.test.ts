/**
 * Unit tests for the compiled match predicates: every path, header, query-parameter and method kind the
 * Gateway API defines, tested one at a time so a failure names the kind that broke.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteMatchConfig } from '../../api/index.ts';
import { compileMatch, normalisePrefix, type RequestView } from './match.ts';

/** Test input: like RouteMatchConfig, but readonly so literals can be written `as const`. */
interface MatchInput {
  readonly path?: RouteMatchConfig['path'];
  readonly method?: string;
  readonly headers?: readonly RouteMatchConfig['headers'][number][];
  readonly queryParams?: readonly RouteMatchConfig['queryParams'][number][];
}

function match(m: MatchInput): RouteMatchConfig {
  return {
    ...(m.path ? { path: m.path } : {}),
    ...(m.method ? { method: m.method } : {}),
    headers: [...(m.headers ?? [])],
    queryParams: [...(m.queryParams ?? [])],
  };
}

function req(path: string, extra: Partial<RequestView> = {}): RequestView {
  const q = path.indexOf('?');
  const query = q === -1 ? '' : path.slice(q + 1);
  return {
    method: 'GET',
    path: q === -1 ? path : path.slice(0, q),
    query,
    headers: {},
    params: new URLSearchParams(query),
    ...extra,
  };
}

function matches(m: MatchInput, path: string, extra?: Partial<RequestView>): boolean {
  return compileMatch(match(m)).test(req(path, extra));
}

describe('path Exact', () => {
  const path = { type: 'Exact', value: '/foo' } as const;

  test('matches only the identical path', () => {
    assert.equal(matches({ path }, '/foo'), true);
    assert.equal(matches({ path }, '/foo/'), false);
    assert.equal(matches({ path }, '/foobar'), false);
    assert.equal(matches({ path }, '/foo/bar'), false);
    assert.equal(matches({ path }, '/fo'), false);
  });

  test('is case-sensitive', () => {
    assert.equal(matches({ path }, '/FOO'), false);
  });

  test('does not look at the query string', () => {
    assert.equal(matches({ path }, '/foo?x=1'), true);
  });
});

describe('path PathPrefix', () => {
  const path = { type: 'PathPrefix', value: '/foo' } as const;

  test('matches the prefix itself, with a trailing slash, and below it', () => {
    assert.equal(matches({ path }, '/foo'), true);
    assert.equal(matches({ path }, '/foo/'), true);
    assert.equal(matches({ path }, '/foo/bar'), true);
    assert.equal(matches({ path }, '/foo/bar/baz'), true);
  });

  test('is element-wise: "/foo" does not match "/foobar"', () => {
    assert.equal(matches({ path }, '/foobar'), false);
    assert.equal(matches({ path }, '/foo-bar'), false);
    assert.equal(matches({ path }, '/fo'), false);
    assert.equal(matches({ path }, '/'), false);
  });

  test('ignores a trailing slash in the configured value', () => {
    const slash = { type: 'PathPrefix', value: '/foo/' } as const;
    assert.equal(matches({ path: slash }, '/foo'), true);
    assert.equal(matches({ path: slash }, '/foo/'), true);
    assert.equal(matches({ path: slash }, '/foo/bar'), true);
    assert.equal(matches({ path: slash }, '/foobar'), false);
    assert.equal(compileMatch(match({ path: slash })).prefix, '/foo');
  });

  test('multi-segment prefixes match whole segments', () => {
    const deep = { type: 'PathPrefix', value: '/api/v1' } as const;
    assert.equal(matches({ path: deep }, '/api/v1'), true);
    assert.equal(matches({ path: deep }, '/api/v1/users'), true);
    assert.equal(matches({ path: deep }, '/api/v10'), false);
    assert.equal(matches({ path: deep }, '/api'), false);
  });

  test('"/" matches every path', () => {
    const root = { type: 'PathPrefix', value: '/' } as const;
    for (const p of ['/', '/a', '/foo/bar', '/foobar']) assert.equal(matches({ path: root }, p), true, p);
  });

  test('records the normalised prefix for rewrites', () => {
    assert.equal(compileMatch(match({ path })).prefix, '/foo');
    assert.equal(compileMatch(match({ path: { type: 'Exact', value: '/foo' } })).prefix, undefined);
    assert.equal(compileMatch(match({})).prefix, '/');
  });
});

describe('path RegularExpression', () => {
  test('must match the whole path', () => {
    const path = { type: 'RegularExpression', value: '/users/[0-9]+' } as const;
    assert.equal(matches({ path }, '/users/42'), true);
    assert.equal(matches({ path }, '/users/42/orders'), false);
    assert.equal(matches({ path }, '/v1/users/42'), false);
    assert.equal(matches({ path }, '/users/'), false);
  });

  test('alternation is anchored as a whole, not per branch', () => {
    const path = { type: 'RegularExpression', value: '/a|/b' } as const;
    assert.equal(matches({ path }, '/a'), true);
    assert.equal(matches({ path }, '/b'), true);
    assert.equal(matches({ path }, '/ab'), false);
    assert.equal(matches({ path }, '/xb'), false);
    assert.equal(matches({ path }, '/a/x'), false);
  });

  test('an explicit wildcard matches below a path', () => {
    const path = { type: 'RegularExpression', value: '/static/.*\\.css' } as const;
    assert.equal(matches({ path }, '/static/site.css'), true);
    assert.equal(matches({ path }, '/static/a/b.css'), true);
    assert.equal(matches({ path }, '/static/site.css.map'), false);
  });
});

describe('no path', () => {
  test('matches every path', () => {
    assert.equal(matches({}, '/'), true);
    assert.equal(matches({}, '/anything/at/all'), true);
  });
});

describe('header matches', () => {
  test('Exact compares the value case-sensitively, the name case-insensitively', () => {
    const m = { headers: [{ name: 'X-Env', type: 'Exact', value: 'canary' }] } as const;
    assert.equal(matches(m, '/', { headers: { 'x-env': 'canary' } }), true);
    assert.equal(matches(m, '/', { headers: { 'x-env': 'Canary' } }), false);
    assert.equal(matches(m, '/', { headers: { 'x-env': 'canary-2' } }), false);
    assert.equal(matches(m, '/', { headers: {} }), false);
  });

  test('Exact sees repeated header values joined with a comma', () => {
    const m = { headers: [{ name: 'x-tag', type: 'Exact', value: 'a,b' }] } as const;
    assert.equal(matches(m, '/', { headers: { 'x-tag': ['a', 'b'] } }), true);
  });

  test('RegularExpression must match the whole value', () => {
    const m = { headers: [{ name: 'x-version', type: 'RegularExpression', value: 'v[0-9]+' }] } as const;
    assert.equal(matches(m, '/', { headers: { 'x-version': 'v2' } }), true);
    assert.equal(matches(m, '/', { headers: { 'x-version': 'v2-beta' } }), false);
    assert.equal(matches(m, '/', { headers: { 'x-version': 'xv2' } }), false);
    assert.equal(matches(m, '/', { headers: {} }), false);
  });

  test('Present matches any value, even empty, and nothing when absent', () => {
    const m = { headers: [{ name: 'X-Debug', type: 'Present' }] } as const;
    assert.equal(matches(m, '/', { headers: { 'x-debug': '1' } }), true);
    assert.equal(matches(m, '/', { headers: { 'x-debug': '' } }), true);
    assert.equal(matches(m, '/', { headers: {} }), false);
  });

  test('Absent matches only when the header is missing', () => {
    const m = { headers: [{ name: 'X-Debug', type: 'Absent' }] } as const;
    assert.equal(matches(m, '/', { headers: {} }), true);
    assert.equal(matches(m, '/', { headers: { 'x-debug': '' } }), false);
    assert.equal(matches(m, '/', { headers: { 'x-debug': '1' } }), false);
  });

  test('all header matches must hold', () => {
    const m = {
      headers: [
        { name: 'a', type: 'Exact', value: '1' },
        { name: 'b', type: 'Present' },
      ],
    } as const;
    assert.equal(matches(m, '/', { headers: { a: '1', b: 'x' } }), true);
    assert.equal(matches(m, '/', { headers: { a: '1' } }), false);
    assert.equal(matches(m, '/', { headers: { a: '2', b: 'x' } }), false);
  });
});

describe('query parameter matches', () => {
  test('Exact compares the value', () => {
    const m = { queryParams: [{ name: 'v', type: 'Exact', value: '2' }] } as const;
    assert.equal(matches(m, '/?v=2'), true);
    assert.equal(matches(m, '/?a=1&v=2'), true);
    assert.equal(matches(m, '/?v=3'), false);
    assert.equal(matches(m, '/'), false);
  });

  test('names are case-sensitive', () => {
    const m = { queryParams: [{ name: 'v', type: 'Exact', value: '2' }] } as const;
    assert.equal(matches(m, '/?V=2'), false);
  });

  test('a repeated parameter is judged by its first value', () => {
    const m = { queryParams: [{ name: 'v', type: 'Exact', value: '1' }] } as const;
    assert.equal(matches(m, '/?v=1&v=2'), true);
    assert.equal(matches(m, '/?v=2&v=1'), false);
  });

  test('values are percent-decoded before comparison', () => {
    const m = { queryParams: [{ name: 'q', type: 'Exact', value: 'a b' }] } as const;
    assert.equal(matches(m, '/?q=a%20b'), true);
  });

  test('RegularExpression must match the whole value', () => {
    const m = { queryParams: [{ name: 'id', type: 'RegularExpression', value: '[0-9]{3}' }] } as const;
    assert.equal(matches(m, '/?id=123'), true);
    assert.equal(matches(m, '/?id=1234'), false);
    assert.equal(matches(m, '/?id=12'), false);
    assert.equal(matches(m, '/'), false);
  });

  test('Present and Absent', () => {
    const present = { queryParams: [{ name: 'debug', type: 'Present' }] } as const;
    const absent = { queryParams: [{ name: 'debug', type: 'Absent' }] } as const;
    assert.equal(matches(present, '/?debug'), true);
    assert.equal(matches(present, '/?debug='), true);
    assert.equal(matches(present, '/?other=1'), false);
    assert.equal(matches(absent, '/?other=1'), true);
    assert.equal(matches(absent, '/?debug=1'), false);
  });

  test('marks the match as needing parsed parameters', () => {
    assert.equal(compileMatch(match({ queryParams: [{ name: 'a', type: 'Present' }] })).usesQuery, true);
    assert.equal(compileMatch(match({})).usesQuery, false);
  });
});

describe('method match', () => {
  test('matches the method exactly; the configured value is upper-cased', () => {
    assert.equal(matches({ method: 'POST' }, '/', { method: 'POST' }), true);
    assert.equal(matches({ method: 'post' }, '/', { method: 'POST' }), true);
    assert.equal(matches({ method: 'POST' }, '/', { method: 'GET' }), false);
  });
});

describe('combined matches', () => {
  test('path, method, header and query must all hold', () => {
    const m = {
      path: { type: 'PathPrefix', value: '/api' },
      method: 'GET',
      headers: [{ name: 'x-env', type: 'Exact', value: 'prod' }],
      queryParams: [{ name: 'v', type: 'Exact', value: '1' }],
    } as const;
    const ok = { method: 'GET', headers: { 'x-env': 'prod' } };
    assert.equal(matches(m, '/api/x?v=1', ok), true);
    assert.equal(matches(m, '/apix?v=1', ok), false);
    assert.equal(matches(m, '/api/x?v=1', { ...ok, method: 'PUT' }), false);
    assert.equal(matches(m, '/api/x?v=1', { ...ok, headers: {} }), false);
    assert.equal(matches(m, '/api/x?v=2', ok), false);
  });
});

describe('rank', () => {
  test('describes the match for precedence sorting', () => {
    assert.deepEqual(
      compileMatch(
        match({
          path: { type: 'PathPrefix', value: '/abc' },
          method: 'GET',
          headers: [{ name: 'a', type: 'Present' }],
          queryParams: [
            { name: 'b', type: 'Present' },
            { name: 'c', type: 'Present' },
          ],
        }),
      ).rank,
      { exact: false, prefixLength: 4, regex: false, method: true, headers: 1, query: 2 },
    );
    assert.deepEqual(compileMatch(match({ path: { type: 'Exact', value: '/abc' } })).rank, {
      exact: true,
      prefixLength: 0,
      regex: false,
      method: false,
      headers: 0,
      query: 0,
    });
    assert.equal(compileMatch(match({ path: { type: 'RegularExpression', value: '/.*' } })).rank.regex, true);
    // No path is the same as PathPrefix "/".
    assert.equal(compileMatch(match({})).rank.prefixLength, 1);
  });

  test('a trailing slash in a prefix does not lengthen it', () => {
    const a = compileMatch(match({ path: { type: 'PathPrefix', value: '/foo' } })).rank.prefixLength;
    const b = compileMatch(match({ path: { type: 'PathPrefix', value: '/foo/' } })).rank.prefixLength;
    assert.equal(a, b);
  });
});

describe('normalisePrefix', () => {
  test('drops one trailing slash except for the root', () => {
    assert.equal(normalisePrefix('/foo/'), '/foo');
    assert.equal(normalisePrefix('/foo'), '/foo');
    assert.equal(normalisePrefix('/'), '/');
  });
});

describe("Istio's match kinds", () => {
  test('Prefix is a plain string prefix, and the matched prefix is kept for rewrites', () => {
    const path = { type: 'Prefix', value: '/foo' } as const;
    assert.equal(matches({ path }, '/foo'), true);
    assert.equal(matches({ path }, '/foobar'), true);
    assert.equal(matches({ path }, '/fo'), false);
    assert.equal(compileMatch(match({ path })).prefix, '/foo');
  });

  test('ignoreCase applies to exact, prefix, element prefix and regex paths', () => {
    assert.equal(matches({ path: { type: 'Exact', value: '/Foo', ignoreCase: true } }, '/fOO'), true);
    assert.equal(matches({ path: { type: 'Exact', value: '/Foo', ignoreCase: true } }, '/fOO/x'), false);
    assert.equal(matches({ path: { type: 'Prefix', value: '/a.b', ignoreCase: true } }, '/A.Bc'), true);
    // The dot is a literal, not "any character".
    assert.equal(matches({ path: { type: 'Prefix', value: '/a.b', ignoreCase: true } }, '/aXb'), false);
    assert.equal(matches({ path: { type: 'PathPrefix', value: '/api', ignoreCase: true } }, '/API/v1'), true);
    assert.equal(matches({ path: { type: 'PathPrefix', value: '/api', ignoreCase: true } }, '/APIv1'), false);
    assert.equal(
      matches({ path: { type: 'RegularExpression', value: '/v[0-9]+', ignoreCase: true } }, '/V2'),
      true,
    );
  });

  test('header Prefix, inverted matches (withoutHeaders), and host also matching :authority', () => {
    const h = (name: string, type: 'Prefix' | 'Exact' | 'Present', value?: string, invert?: boolean) => ({
      name,
      type,
      value,
      ...(invert ? { invert } : {}),
    });
    assert.equal(
      matches({ headers: [h('x-user', 'Prefix', 'ja')] }, '/', { headers: { 'x-user': 'jason' } }),
      true,
    );
    assert.equal(
      matches({ headers: [h('x-user', 'Prefix', 'ja')] }, '/', { headers: { 'x-user': 'jo' } }),
      false,
    );
    assert.equal(matches({ headers: [h('x-user', 'Exact', 'jason', true)] }, '/', { headers: {} }), true);
    assert.equal(
      matches({ headers: [h('x-user', 'Exact', 'jason', true)] }, '/', { headers: { 'x-user': 'jason' } }),
      false,
    );
    assert.equal(
      matches({ headers: [h('x-debug', 'Present', undefined, true)] }, '/', { headers: {} }),
      true,
    );
    assert.equal(
      matches({ headers: [h('host', 'Exact', 'web:80')] }, '/', { headers: { ':authority': 'web:80' } }),
      true,
    );
    assert.equal(
      matches({ headers: [h('host', 'Exact', 'web:80')] }, '/', { headers: { host: 'web:80' } }),
      true,
    );
  });
});
