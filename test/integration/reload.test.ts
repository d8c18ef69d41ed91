/**
 * Hot reload through the real CLI: the config file is rewritten every 100 ms while 5,000 requests flow,
 * and none may fail. An invalid file is rejected, the last good config keeps serving, and the admin
 * port says which version was rejected and why.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ProxyConfigInput } from '../../src/api/index.ts';
import { adminJson, type ChildProxy, spawnProxy } from '../support/child.ts';
import { get } from '../support/http.ts';
import { type Closable, startEchoServer } from '../support/upstreams.ts';

describe('config reload', () => {
  const servers: Closable[] = [];
  let proxy: ChildProxy;
  let listenPort: number;
  let config: (generation: number) => ProxyConfigInput;

  before(async () => {
    const v1 = await startEchoServer({ service: 'echo', version: 'v1' });
    const v2 = await startEchoServer({ service: 'echo', version: 'v2' });
    servers.push(v1, v2);
    config = (generation) => ({
      outbound: [
        {
          name: 'svc',
          port: 80,
          listen: { address: '127.0.0.1', port: 0 },
          routes: [
            {
              filters: [
                {
                  type: 'RequestHeaderModifier',
                  requestHeaderModifier: { set: { 'x-generation': String(generation) } },
                },
              ],
              backends: [
                { backend: 'v1', weight: generation % 2 === 0 ? 80 : 20 },
                { backend: 'v2', weight: generation % 2 === 0 ? 20 : 80 },
              ],
            },
          ],
        },
      ],
      backends: [
        { name: 'v1', endpoints: [{ address: '127.0.0.1', port: v1.port }] },
        // Alternate endpoint sets so pools are created and released while requests run.
        {
          name: 'v2',
          endpoints:
            generation % 3 === 0
              ? [{ address: '127.0.0.1', port: v2.port }]
              : [
                  { address: '127.0.0.1', port: v2.port },
                  { address: 'localhost', port: v2.port },
                ],
        },
      ],
    });
    proxy = await spawnProxy(config(0));
    // Port 0 listeners keep their port across reloads: the listener's key (address and port 0) is unchanged.
    listenPort = proxy.port('svc');
  });

  after(async () => {
    proxy.cleanup();
    await Promise.all(servers.map((s) => s.close()));
  });

  test('reloading every 100 ms during 5,000 requests fails none', async () => {
    let generation = 0;
    const reloader = setInterval(() => proxy.write(config(++generation)), 100);
    const failures: string[] = [];
    const seen = new Set<string>();
    const total = 5000;
    let next = 0;
    const deadline = Date.now() + 60_000;
    const worker = async () => {
      while (next < total && Date.now() < deadline) {
        next++;
        try {
          const r = await get(`http://127.0.0.1:${listenPort}/`);
          if (r.status !== 200) failures.push(`${r.status} ${r.headers['weft-error']}`);
          else seen.add(r.json<{ headers: Record<string, string> }>().headers['x-generation'] as string);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: 16 }, worker));
    } finally {
      clearInterval(reloader);
    }
    assert.equal(next, total, 'all requests were sent before the deadline');
    assert.deepEqual(failures, []);
    assert.ok(generation >= 5, `the config changed during the run (${generation} reloads)`);
    assert.ok(seen.size >= 3, `requests saw several generations: ${[...seen]}`);
  });

  test('an invalid config is rejected, the last good one keeps serving, /config says why', async () => {
    // Let the last reload of the previous test land first, so "before" is the version that stays.
    await new Promise((r) => setTimeout(r, 500));
    const before = await adminJson<{ version: string }>(proxy.adminPort, '/config');
    proxy.write({
      ...config(100),
      outbound: [
        {
          name: 'svc',
          port: 80,
          listen: { address: '127.0.0.1', port: 0 },
          routes: [{ backends: [{ backend: 'does-not-exist' }] }],
        },
      ],
    });
    let state:
      | { version: string; lastRejected: { issues: Array<{ code: string; path: string }> } | null }
      | undefined;
    for (let i = 0; i < 100; i++) {
      state = await adminJson(proxy.adminPort, '/config');
      if (state?.lastRejected?.issues.some((x) => x.code === 'CONFIG_REFERENCE')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(state?.lastRejected, 'a rejection is reported');
    assert.equal(state.lastRejected.issues[0]?.code, 'CONFIG_REFERENCE');
    assert.equal(state.lastRejected.issues[0]?.path, 'outbound.0.routes.0.backends.0.backend');
    assert.equal(state.version, before.version, 'the last good version still runs');
    const r = await get(`http://127.0.0.1:${listenPort}/`);
    assert.equal(r.status, 200);

    proxy.write('outbound: [ { name: svc, port: 80\n  broken: yaml: here');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      (await get(`http://127.0.0.1:${listenPort}/`)).status,
      200,
      'unparseable YAML keeps serving',
    );
    assert.match(proxy.output(), /CONFIG_PARSE/);
  });
});
