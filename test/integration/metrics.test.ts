/**
 * The admin port's /metrics after real traffic: requests by route, backend, method, code and weft-error
 * cause; the latency histogram; request and response bytes; TCP connections and bytes; listener
 * connections; process gauges. Every sample line must parse as Prometheus text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, rawExchange } from '../support/http.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, closedPort, startEchoServer, startTcpEcho } from '../support/upstreams.ts';

type Sample = { name: string; labels: Record<string, string>; value: number };

function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|\+Inf|NaN)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k as string] = v as string;
    }
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

const find = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe('metrics', () => {
  const servers: Closable[] = [];
  let proxy: TestProxy;

  before(async () => {
    const echo = await startEchoServer({ service: 'echo', version: 'v1' });
    const tcp = await startTcpEcho();
    servers.push(echo, tcp);
    proxy = await startProxy({
      outbound: [
        {
          name: 'web',
          port: 80,
          listen: { address: '127.0.0.1', port: 0 },
          routes: [
            {
              name: 'ok',
              matches: [{ path: { type: 'PathPrefix', value: '/ok' } }],
              backends: [{ backend: 'echo' }],
            },
            {
              name: 'down',
              matches: [{ path: { type: 'PathPrefix', value: '/down' } }],
              backends: [{ backend: 'dead' }],
            },
          ],
        },
        {
          name: 'raw',
          port: 9000,
          protocol: 'tcp',
          listen: { address: '127.0.0.1', port: 0 },
          tcpBackends: [{ backend: 'tcp' }],
        },
      ],
      backends: [
        { name: 'echo', endpoints: [{ address: '127.0.0.1', port: echo.port }] },
        { name: 'dead', endpoints: [{ address: '127.0.0.1', port: await closedPort() }] },
        { name: 'tcp', protocol: 'tcp', endpoints: [{ address: '127.0.0.1', port: tcp.port }] },
      ],
    });
  });

  after(async () => {
    await proxy.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  test('counts requests, latency, bytes and connections as they happen', async () => {
    for (let i = 0; i < 7; i++) assert.equal((await get(proxy.url('web', '/ok'))).status, 200);
    for (let i = 0; i < 3; i++) await get(proxy.url('web', '/ok'), { method: 'POST', body: 'twelve bytes' });
    assert.equal((await get(proxy.url('web', '/nowhere'))).status, 404);
    assert.equal((await get(proxy.url('web', '/down'))).status, 503);
    assert.equal(await rawExchange(proxy.port('raw'), 'hello', 2000, true), 'hello');
    await new Promise((r) => setTimeout(r, 50));

    const text = (await get(`http://127.0.0.1:${proxy.adminPort}/metrics`)).body;
    const samples = parseMetrics(text);
    const base = { direction: 'outbound', service: 'web' };
    const total = (labels: Record<string, string>) =>
      find(samples, 'weft_requests_total', { ...base, ...labels }).reduce((a, s) => a + s.value, 0);
    assert.equal(
      total({ route: 'ok', backend: 'echo', method: 'GET', response_code: '200', response_flags: '-' }),
      7,
    );
    assert.equal(total({ route: 'ok', backend: 'echo', method: 'POST', response_code: '200' }), 3);
    assert.equal(total({ route: '-', response_code: '404', response_flags: 'NO_ROUTE' }), 1);
    assert.equal(
      total({ route: 'down', backend: 'dead', response_code: '503', response_flags: 'CONNECT_FAILED' }),
      1,
    );

    const count = find(samples, 'weft_request_duration_milliseconds_count', {
      ...base,
      route: 'ok',
      backend: 'echo',
    });
    assert.equal(count[0]?.value, 10);
    const inf = find(samples, 'weft_request_duration_milliseconds_bucket', {
      ...base,
      route: 'ok',
      le: '+Inf',
    });
    assert.equal(inf[0]?.value, 10);
    const reqBytes = find(samples, 'weft_request_bytes_total', { ...base, route: 'ok', backend: 'echo' });
    assert.equal(reqBytes[0]?.value, 36, '3 bodies of 12 bytes');
    const resBytes = find(samples, 'weft_response_bytes_total', { ...base, route: 'ok', backend: 'echo' });
    assert.ok((resBytes[0]?.value ?? 0) > 0);

    const tcpOpened = find(samples, 'weft_tcp_connections_opened_total', { listener: 'outbound' });
    assert.equal(
      tcpOpened.reduce((a, s) => a + s.value, 0),
      1,
    );
    const tcpIn = find(samples, 'weft_tcp_received_bytes_total', { listener: 'outbound' });
    assert.equal(
      tcpIn.reduce((a, s) => a + s.value, 0),
      5,
    );
    const accepted = find(samples, 'weft_listener_connections_total', { listener: 'outbound' });
    assert.ok(accepted.reduce((a, s) => a + s.value, 0) >= 2);
    assert.ok((find(samples, 'process_resident_memory_bytes', {})[0]?.value ?? 0) > 0);
    assert.match(text, /# TYPE weft_request_duration_milliseconds histogram/);
  });
});
