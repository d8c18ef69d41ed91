/**
 * Unit tests for the route table: Gateway API precedence between matching rules, Istio-style declared
 * order, and the lazily parsed query string.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteMatchConfig } from '../../api/index.ts';
import type { RequestView } from './match.ts';
import { Router } from './router.ts';

type Header = RouteMatchConfig['headers'][number];
type Query = RouteMatchConfig['queryParams'][number];

function m(
  opts: {
    exact?: string;
    prefix?: string;
    regex?: string;
    method?: string;
    headers?: Header[];
    query?: Query[];
  } = {},
): RouteMatchConfig {
  const path =
    opts.exact !== undefined
      ? ({ type: 'Exact', value: opts.exact } as const)
      : opts.prefix !== undefined
        ? ({ type: 'PathPrefix', value: opts.prefix } as const)
        : opts.regex !== undefined
          ? ({ type: 'RegularExpression', value: opts.regex } as const)
          : undefined;
  return {
    ...(path ? { path } : {}),
    ...(opts.method ? { method: opts.method } : {}),
    headers: opts.headers ?? [],
    queryParams: opts.query ?? [],
  };
}

const present = (name: string): Header => ({ name, type: 'Present' });
const qPresent = (name: string): Query => ({ name, type: 'Present' });

function req(url: string, method = 'GET', headers: RequestView['headers'] = {}): RequestView {
  const q = url.indexOf('?');
  return {
    method,
    path: q === -1 ? url : url.slice(0, q),
    query: q === -1 ? '' : url.slice(q + 1),
    headers,
  };
}

/** Builds a router from (name, match) pairs, one route per pair, and returns the name that wins. */
function winner(
  routes: Array<[string, RouteMatchConfig]>,
  request: RequestView,
  order: 'precedence' | 'declared' = 'precedence',
): string | undefined {
  const router = new Router(
    routes.map(([route, match]) => ({ route, matches: [match] })),
    order,
  );
  return router.route(request)?.route;
}

/** Asserts the winner is the same whichever order the two routes are declared in. */
function assertWinsEitherOrder(
  a: [string, RouteMatchConfig],
  b: [string, RouteMatchConfig],
  request: RequestView,
  expected: string,
): void {
  assert.equal(winner([a, b], request), expected, 'declared a, b');
  assert.equal(winner([b, a], request), expected, 'declared b, a');
}

describe('Gateway API precedence', () => {
  test('an Exact path beats a PathPrefix, even a longer one', () => {
    assertWinsEitherOrder(
      ['exact', m({ exact: '/foo' })],
      ['prefix', m({ prefix: '/foo' })],
      req('/foo'),
      'exact',
    );
    assertWinsEitherOrder(
      ['exact', m({ exact: '/a/b' })],
      ['prefix', m({ prefix: '/a/b', method: 'GET', headers: [present('x')] })],
      req('/a/b', 'GET', { x: '1' }),
      'exact',
    );
  });

  test('the longer PathPrefix beats the shorter', () => {
    const short: [string, RouteMatchConfig] = ['short', m({ prefix: '/foo' })];
    const long: [string, RouteMatchConfig] = ['long', m({ prefix: '/foo/bar' })];
    assertWinsEitherOrder(short, long, req('/foo/bar/baz'), 'long');
    assertWinsEitherOrder(short, long, req('/foo/bar'), 'long');
    // "/foo/barn" is not below "/foo/bar", so only the short prefix matches.
    assertWinsEitherOrder(short, long, req('/foo/barn'), 'short');
    assertWinsEitherOrder(['root', m({ prefix: '/' })], short, req('/foo/x'), 'short');
  });

  test('a longer prefix beats a method, header or query match on a shorter one', () => {
    assertWinsEitherOrder(
      ['short', m({ prefix: '/foo', method: 'GET', headers: [present('a')], query: [qPresent('q')] })],
      ['long', m({ prefix: '/foo/bar' })],
      req('/foo/bar?q', 'GET', { a: '1' }),
      'long',
    );
  });

  test('a method match beats none', () => {
    const any: [string, RouteMatchConfig] = ['any', m({ prefix: '/' })];
    const get: [string, RouteMatchConfig] = ['get', m({ prefix: '/', method: 'GET' })];
    assertWinsEitherOrder(any, get, req('/x', 'GET'), 'get');
    assertWinsEitherOrder(any, get, req('/x', 'POST'), 'any');
  });

  test('a method match beats more header matches', () => {
    assertWinsEitherOrder(
      ['headers', m({ headers: [present('a'), present('b')] })],
      ['method', m({ method: 'GET' })],
      req('/', 'GET', { a: '1', b: '2' }),
      'method',
    );
  });

  test('more header matches beat fewer', () => {
    const one: [string, RouteMatchConfig] = ['one', m({ headers: [present('a')] })];
    const two: [string, RouteMatchConfig] = ['two', m({ headers: [present('a'), present('b')] })];
    assertWinsEitherOrder(one, two, req('/', 'GET', { a: '1', b: '2' }), 'two');
    assertWinsEitherOrder(one, two, req('/', 'GET', { a: '1' }), 'one');
  });

  test('header matches beat more query-parameter matches', () => {
    assertWinsEitherOrder(
      ['query', m({ query: [qPresent('a'), qPresent('b')] })],
      ['header', m({ headers: [present('h')] })],
      req('/?a&b', 'GET', { h: '1' }),
      'header',
    );
  });

  test('more query-parameter matches beat fewer', () => {
    const one: [string, RouteMatchConfig] = ['one', m({ query: [qPresent('a')] })];
    const two: [string, RouteMatchConfig] = ['two', m({ query: [qPresent('a'), qPresent('b')] })];
    assertWinsEitherOrder(one, two, req('/?a=1&b=2'), 'two');
    assertWinsEitherOrder(one, two, req('/?a=1'), 'one');
  });

  test('ties keep the declared order', () => {
    const a: [string, RouteMatchConfig] = ['a', m({ prefix: '/foo', headers: [present('x')] })];
    const b: [string, RouteMatchConfig] = ['b', m({ prefix: '/foo', headers: [present('y')] })];
    const r = req('/foo', 'GET', { x: '1', y: '1' });
    assert.equal(winner([a, b], r), 'a');
    assert.equal(winner([b, a], r), 'b');
    const many = ['r0', 'r1', 'r2', 'r3', 'r4'].map((n): [string, RouteMatchConfig] => [n, m({})]);
    assert.equal(winner(many, req('/')), 'r0');
  });

  test('a trailing slash on a prefix is a tie, not a longer prefix', () => {
    const plain: [string, RouteMatchConfig] = ['plain', m({ prefix: '/foo' })];
    const slash: [string, RouteMatchConfig] = ['slash', m({ prefix: '/foo/' })];
    assert.equal(winner([plain, slash], req('/foo/bar')), 'plain');
    assert.equal(winner([slash, plain], req('/foo/bar')), 'slash');
  });

  test('a RegularExpression path ranks after Exact and before any PathPrefix', () => {
    const regex: [string, RouteMatchConfig] = ['regex', m({ regex: '/foo/[0-9]+' })];
    assertWinsEitherOrder(['exact', m({ exact: '/foo/1' })], regex, req('/foo/1'), 'exact');
    assertWinsEitherOrder(['prefix', m({ prefix: '/foo' })], regex, req('/foo/1'), 'regex');
    assertWinsEitherOrder(['root', m({ prefix: '/', method: 'GET' })], regex, req('/foo/1'), 'regex');
  });

  test('no path is the same as PathPrefix "/"', () => {
    assert.equal(
      winner(
        [
          ['none', m()],
          ['root', m({ prefix: '/' })],
        ],
        req('/x'),
      ),
      'none',
    );
    assert.equal(
      winner(
        [
          ['root', m({ prefix: '/' })],
          ['none', m()],
        ],
        req('/x'),
      ),
      'root',
    );
  });

  test('each match of a route is ranked on its own', () => {
    const router = new Router(
      [
        { route: 'wide', matches: [m({ prefix: '/' })] },
        { route: 'multi', matches: [m({ exact: '/login' }), m({ prefix: '/account' })] },
      ],
      'precedence',
    );
    assert.equal(router.size, 3);
    assert.equal(router.route(req('/login'))?.route, 'multi');
    assert.equal(router.route(req('/account/settings'))?.route, 'multi');
    assert.equal(router.route(req('/other'))?.route, 'wide');
    // The entry tells which match won, so rewrites can use its prefix.
    assert.equal(router.route(req('/account/settings'))?.match.prefix, '/account');
    assert.equal(router.route(req('/login'))?.match.prefix, undefined);
  });
});

describe('declared order', () => {
  test('keeps the first match in declared order, whatever is more specific', () => {
    const routes: Array<[string, RouteMatchConfig]> = [
      ['catch-all', m({ prefix: '/' })],
      ['exact', m({ exact: '/foo' })],
    ];
    assert.equal(winner(routes, req('/foo'), 'declared'), 'catch-all');
    assert.equal(winner(routes, req('/foo'), 'precedence'), 'exact');
  });

  test('falls through to later entries that match', () => {
    const routes: Array<[string, RouteMatchConfig]> = [
      ['get', m({ method: 'GET' })],
      ['v2', m({ headers: [{ name: 'x-version', type: 'Exact', value: '2' }] })],
      ['rest', m()],
    ];
    assert.equal(winner(routes, req('/', 'GET', { 'x-version': '2' }), 'declared'), 'get');
    assert.equal(winner(routes, req('/', 'POST', { 'x-version': '2' }), 'declared'), 'v2');
    assert.equal(winner(routes, req('/', 'POST'), 'declared'), 'rest');
  });
});

describe('Router', () => {
  test('returns undefined when nothing matches', () => {
    assert.equal(winner([['a', m({ exact: '/a' })]], req('/b')), undefined);
    assert.equal(new Router<string>([], 'precedence').route(req('/')), undefined);
  });

  test('a route with no matches never matches', () => {
    const router = new Router([{ route: 'none', matches: [] }], 'precedence');
    assert.equal(router.size, 0);
    assert.equal(router.route(req('/')), undefined);
  });

  test('parses the query string only when some match needs it', () => {
    const plain = new Router([{ route: 'a', matches: [m({ prefix: '/' })] }], 'precedence');
    const r1 = req('/x?a=1');
    plain.route(r1);
    assert.equal(r1.params, undefined);

    const withQuery = new Router([{ route: 'a', matches: [m({ query: [qPresent('a')] })] }], 'precedence');
    const r2 = req('/x?a=1');
    assert.equal(withQuery.route(r2)?.route, 'a');
    assert.equal(r2.params?.get('a'), '1');
  });
});
