/**
 * Routing end to end over real sockets: every match kind, weighted splits, redirects, rewrites, direct
 * responses, header changes and consistent hashing, through a proxy running in this process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get } from '../support/http.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, startEchoServer } from '../support/upstreams.ts';

type Echo = { version: string; path: string; headers: Record<string, string>; method: string };

describe('routing', () => {
  const servers: Closable[] = [];
  let proxy: TestProxy;
  const ports: Record<string, number> = {};

  before(async () => {
    for (const v of ['v1', 'v2', 'v3', 'h1', 'h2', 'h3']) {
      const s = await startEchoServer({ service: 'echo', version: v });
      servers.push(s);
      ports[v] = s.port;
    }
    const backend = (name: string) => ({
      name,
      endpoints: [{ address: '127.0.0.1', port: ports[name] as number }],
    });
    proxy = await startProxy({
      outbound: [
        {
          name: 'match',
          port: 80,
          listen: { address: '127.0.0.1', port: 0 },
          routes: [
            {
              name: 'exact',
              matches: [{ path: { type: 'Exact', value: '/exact' } }],
              backends: [{ backend: 'v1' }],
            },
            {
              name: 'prefix',
              matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
              backends: [{ backend: 'v2' }],
            },
            {
              name: 'longer-prefix',
              matches: [{ path: { type: 'PathPrefix', value: '/api/admin' } }],
              backends: [{ backend: 'v3' }],
            },
            {
              name: 'regex',
              matches: [{ path: { type: 'RegularExpression', value: '/items/[0-9]+' } }],
              backends: [{ backend: 'v3' }],
            },
            {
              name: 'header-exact',
              matches: [
                { path: { type: 'PathPrefix', value: '/h' }, headers: [{ name: 'X-Env', value: 'canary' }] },
              ],
              backends: [{ backend: 'v2' }],
            },
            {
              name: 'header-regex',
              matches: [
                {
                  path: { type: 'PathPrefix', value: '/h' },
                  headers: [{ name: 'x-user', type: 'RegularExpression', value: 'adm.*' }],
                },
              ],
              backends: [{ backend: 'v3' }],
            },
            {
              name: 'header-present',
              matches: [
                {
                  path: { type: 'PathPrefix', value: '/p' },
                  headers: [{ name: 'x-debug', type: 'Present' }],
                },
              ],
              backends: [{ backend: 'v2' }],
            },
            {
              name: 'header-absent',
              matches: [
                { path: { type: 'PathPrefix', value: '/p' }, headers: [{ name: 'x-debug', type: 'Absent' }] },
              ],
              backends: [{ backend: 'v3' }],
            },
            {
              name: 'method',
              matches: [{ path: { type: 'PathPrefix', value: '/m' }, method: 'POST' }],
              backends: [{ backend: 'v2' }],
            },
            {
              name: 'query',
              matches: [
                { path: { type: 'PathPrefix', value: '/q' }, queryParams: [{ name: 'tier', value: 'gold' }] },
              ],
              backends: [{ backend: 'v2' }],
            },
            {
              name: 'query-regex',
              matches: [
                {
                  path: { type: 'PathPrefix', value: '/q' },
                  queryParams: [{ name: 'id', type: 'RegularExpression', value: '[a-f]+' }],
                },
              ],
              backends: [{ backend: 'v3' }],
            },
            {
              name: 'fallback',
              matches: [{ path: { type: 'PathPrefix', value: '/' } }],
              backends: [{ backend: 'v1' }],
            },
          ],
        },
        {
          name: 'split',
          port: 80,
          listen: { address: '127.0.0.1', port: 0 },
          routes: [
            {
              backends: [
                { backend: 'v1', weight: 70 },
                { backend: 'v2', weight: 20 },
                { backend: 'v3', weight: 10 },
                { backend: 'h1', weight: 0 },
              ],
            },
          ],
        },
        {
          name: 'actions',
          port: 80,
          listen: { address: '127.0.0.1', port: 0 },
          routes: [
            {
              name: 'redirect-https',
              matches: [{ path: { type: 'PathPrefix', value: '/secure' } }],
              redirect: { scheme: 'https', statusCode: 301 },
            },
            {
              name: 'redirect-host-path',
              matches: [{ path: { type: 'PathPrefix', value: '/old' } }],
              redirect: {
                hostname: 'new.example.com',
                port: 8080,
                path: { type: 'ReplacePrefixMatch', value: '/new' },
              },
            },
            {
              name: 'redirect-full',
              matches: [{ path: { type: 'Exact', value: '/moved' } }],
              redirect: { path: { type: 'ReplaceFullPath', value: '/here' }, statusCode: 308 },
            },
            {
              name: 'direct',
              matches: [{ path: { type: 'Exact', value: '/health' } }],
              directResponse: { status: 503, body: 'maintenance', headers: { 'retry-after': '30' } },
            },
            {
              name: 'rewrite-prefix',
              matches: [{ path: { type: 'PathPrefix', value: '/v1/shop' } }],
              filters: [
                { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', value: '/shop' } } },
              ],
              backends: [{ backend: 'v1' }],
            },
            {
              name: 'rewrite-full-host',
              matches: [{ path: { type: 'PathPrefix', value: '/full' } }],
              filters: [
                {
                  type: 'URLRewrite',
                  urlRewrite: {
                    hostname: 'internal.svc',
                    path: { type: 'ReplaceFullPath', value: '/fixed' },
                  },
                },
              ],
              backends: [{ backend: 'v1' }],
            },
            {
              name: 'headers',
              matches: [{ path: { type: 'PathPrefix', value: '/headers' } }],
              filters: [
                {
                  type: 'RequestHeaderModifier',
                  requestHeaderModifier: {
                    set: { 'x-set': 'one' },
                    add: { 'x-add': 'two' },
                    remove: ['x-remove'],
                  },
                },
                {
                  type: 'ResponseHeaderModifier',
                  responseHeaderModifier: { set: { 'x-resp': 'yes' }, remove: ['x-served-by'] },
                },
              ],
              backends: [
                {
                  backend: 'v2',
                  filters: [
                    { type: 'RequestHeaderModifier', requestHeaderModifier: { set: { 'x-backend': 'v2' } } },
                  ],
                },
              ],
            },
          ],
        },
        {
          name: 'hash',
          port: 80,
          listen: { address: '127.0.0.1', port: 0 },
          routes: [{ backends: [{ backend: 'ring' }] }],
        },
        {
          name: 'maglev',
          port: 80,
          listen: { address: '127.0.0.1', port: 0 },
          routes: [{ backends: [{ backend: 'maglev' }] }],
        },
      ],
      backends: [
        backend('v1'),
        backend('v2'),
        backend('v3'),
        backend('h1'),
        {
          name: 'ring',
          loadBalancer: { type: 'ring-hash', hashOn: { header: 'x-user-id' } },
          endpoints: ['h1', 'h2', 'h3'].map((n) => ({ address: '127.0.0.1', port: ports[n] as number })),
        },
        {
          name: 'maglev',
          loadBalancer: { type: 'maglev', hashOn: { cookie: 'session' } },
          endpoints: ['h1', 'h2', 'h3'].map((n) => ({ address: '127.0.0.1', port: ports[n] as number })),
        },
      ],
    });
  });

  after(async () => {
    await proxy.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  const version = async (path: string, opts: Parameters<typeof get>[1] = {}) => {
    const r = await get(proxy.url('match', path), opts);
    assert.equal(r.status, 200, r.body);
    return r.json<Echo>().version;
  };

  test('path matches: exact, prefix (longest wins, element-wise), regex', async () => {
    assert.equal(await version('/exact'), 'v1');
    assert.equal(await version('/exact/more'), 'v1', 'exact does not match a longer path; falls back');
    assert.equal(await version('/api'), 'v2');
    assert.equal(await version('/api/users'), 'v2');
    assert.equal(await version('/apiary'), 'v1', 'prefix /api must not match /apiary');
    assert.equal(await version('/api/admin/x'), 'v3', 'longest prefix wins');
    assert.equal(await version('/items/42'), 'v3');
    assert.equal(await version('/items/abc'), 'v1', 'regex is a full match');
  });

  test('header matches: exact (case-insensitive name), regex, present, absent', async () => {
    assert.equal(await version('/h', { headers: { 'x-env': 'canary' } }), 'v2');
    assert.equal(await version('/h', { headers: { 'x-env': 'prod' } }), 'v1');
    assert.equal(await version('/h', { headers: { 'x-user': 'admin' } }), 'v3');
    assert.equal(await version('/h', { headers: { 'x-user': 'bob' } }), 'v1');
    assert.equal(await version('/p', { headers: { 'x-debug': '' } }), 'v2');
    assert.equal(await version('/p'), 'v3');
  });

  test('method and query parameter matches', async () => {
    assert.equal(await version('/m', { method: 'POST', body: 'x' }), 'v2');
    assert.equal(await version('/m'), 'v1');
    assert.equal(await version('/q?tier=gold'), 'v2');
    assert.equal(await version('/q?tier=silver'), 'v1');
    assert.equal(await version('/q?id=beef'), 'v3');
    assert.equal(await version('/q?id=xyz'), 'v1');
  });

  test('weighted split stays within ±5% of the weights over 1,000 requests; weight 0 gets nothing', async () => {
    const counts: Record<string, number> = {};
    const n = 1000;
    const batch = 50;
    for (let i = 0; i < n; i += batch) {
      const rs = await Promise.all(Array.from({ length: batch }, () => get(proxy.url('split', '/'))));
      for (const r of rs) {
        const v = r.json<Echo>().version;
        counts[v] = (counts[v] ?? 0) + 1;
      }
    }
    for (const [v, w] of [
      ['v1', 0.7],
      ['v2', 0.2],
      ['v3', 0.1],
    ] as const) {
      const share = (counts[v] ?? 0) / n;
      assert.ok(Math.abs(share - w) <= 0.05, `${v}: ${share} vs ${w} (${JSON.stringify(counts)})`);
    }
    assert.equal(counts.h1 ?? 0, 0);
  });

  test('redirects: scheme, host, port, prefix and full path, status code', async () => {
    const a = await get(proxy.url('actions', '/secure/page?x=1'), {
      headers: { host: 'shop.example.com:80' },
    });
    assert.equal(a.status, 301);
    assert.equal(a.headers.location, 'https://shop.example.com/secure/page?x=1');
    const b = await get(proxy.url('actions', '/old/thing'), { headers: { host: 'shop.example.com' } });
    assert.equal(b.status, 302);
    assert.equal(b.headers.location, 'http://new.example.com:8080/new/thing');
    const c = await get(proxy.url('actions', '/moved'), { headers: { host: 'a.example:9000' } });
    assert.equal(c.status, 308);
    assert.equal(c.headers.location, 'http://a.example:9000/here');
  });

  test('direct response with headers, marked as made by the proxy', async () => {
    const r = await get(proxy.url('actions', '/health'));
    assert.equal(r.status, 503);
    assert.equal(r.body, 'maintenance');
    assert.equal(r.headers['retry-after'], '30');
    assert.equal(r.headers['weft-error'], 'DIRECT_RESPONSE');
  });

  test('URL rewrite: prefix, full path and host; the query survives', async () => {
    const a = (await get(proxy.url('actions', '/v1/shop/cart?id=7'))).json<Echo>();
    assert.equal(a.path, '/shop/cart?id=7');
    const b = (await get(proxy.url('actions', '/full/anything?q=1'))).json<Echo>();
    assert.equal(b.path, '/fixed?q=1');
    assert.equal(b.headers.host, 'internal.svc');
  });

  test('request and response header changes, route then backend filters', async () => {
    const r = await get(proxy.url('actions', '/headers'), {
      headers: { 'x-remove': 'gone', 'x-add': 'one' },
    });
    const e = r.json<Echo>();
    assert.equal(e.headers['x-set'], 'one');
    assert.equal(e.headers['x-add'], 'one, two');
    assert.equal(e.headers['x-remove'], undefined);
    assert.equal(e.headers['x-backend'], 'v2');
    assert.equal(r.headers['x-resp'], 'yes');
    assert.equal(r.headers['x-served-by'], undefined);
  });

  test('consistent hashing keeps a key on one endpoint (ring hash by header, maglev by cookie)', async () => {
    const spread = new Set<string>();
    for (let k = 0; k < 30; k++) {
      const seen = new Set<string>();
      for (let i = 0; i < 5; i++) {
        seen.add(
          (await get(proxy.url('hash', '/'), { headers: { 'x-user-id': `user-${k}` } })).json<Echo>().version,
        );
      }
      assert.equal(seen.size, 1, `key user-${k} went to ${[...seen]}`);
      spread.add([...seen][0] as string);
      const mseen = new Set<string>();
      for (let i = 0; i < 5; i++) {
        mseen.add(
          (await get(proxy.url('maglev', '/'), { headers: { cookie: `a=b; session=s${k}` } })).json<Echo>()
            .version,
        );
      }
      assert.equal(mseen.size, 1, `session s${k} went to ${[...mseen]}`);
    }
    assert.ok(spread.size >= 2, 'keys spread over several endpoints');
  });
});
