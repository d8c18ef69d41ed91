/**
 * Inbound listeners: the port a workload's callers reach, forwarding to the local application (target).
 * HTTP on an http1 inbound and on a default (detect) inbound, h2c on the detect inbound translated to the
 * HTTP/1.1 application, gRPC on a grpc inbound and on a detect inbound, and raw TCP on a
 * tcp inbound.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createEchoClient, type EchoReply, grpc, startGrpcServer } from '../support/grpc.ts';
import { connectH2, h2Request } from '../support/h2.ts';
import { get } from '../support/http.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';
import { type Closable, startHttpServer, startTcpEcho } from '../support/upstreams.ts';

describe('inbound listeners', () => {
  const servers: Closable[] = [];
  let proxy: TestProxy;

  before(async () => {
    const app = await startHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.stringify({
          httpVersion: req.httpVersion,
          method: req.method,
          url: req.url,
          host: req.headers.host,
          probe: req.headers['x-probe'],
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
    const echo = await startTcpEcho();
    const grpcApp = await startGrpcServer({
      Unary: (call, callback) => callback(null, { message: `inbound: ${call.request.message}`, index: 0 }),
      Fail: (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED }),
      Slow: (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED }),
      ServerStream: (call) => call.end(),
      ClientStream: (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED }),
      Bidi: (call) => call.end(),
    });
    servers.push(app, echo, grpcApp);
    const listen = { address: '127.0.0.1', port: 0 };
    proxy = await startProxy({
      inbound: [
        { name: 'web', listen, protocol: 'http1', target: { address: '127.0.0.1', port: app.port } },
        // No protocol: inbound ports detect by default. The application speaks HTTP/1.1 only.
        {
          name: 'web-detect',
          listen,
          target: { address: '127.0.0.1', port: app.port },
          targetProtocol: 'http1',
        },
        { name: 'raw', listen, protocol: 'tcp', target: { address: '127.0.0.1', port: echo.port } },
        { name: 'grpc', listen, protocol: 'grpc', target: { address: '127.0.0.1', port: grpcApp.port } },
        // Detect, and no targetProtocol: "defaults to the downstream protocol" (schema).
        { name: 'grpc-detect', listen, target: { address: '127.0.0.1', port: grpcApp.port } },
      ],
    });
  });

  after(async () => {
    await proxy?.close();
    for (const s of servers) await s.close();
  });

  test('an http1 inbound forwards HTTP to the target', async () => {
    const r = await get(proxy.url('web', '/orders?id=9'), {
      method: 'POST',
      headers: { 'x-probe': 'inbound', host: 'web.example' },
      body: 'payload',
    });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), {
      httpVersion: '1.1',
      method: 'POST',
      url: '/orders?id=9',
      host: 'web.example',
      probe: 'inbound',
      body: 'payload',
    });
  });

  test('a detect inbound forwards HTTP/1.1 and h2c to an HTTP/1.1 target', async () => {
    const r = await get(proxy.url('web-detect', '/a'), { headers: { 'x-probe': 'h1' } });
    assert.equal(r.status, 200);
    assert.equal(r.json<{ url: string; probe: string }>().url, '/a');
    assert.equal(r.json<{ url: string; probe: string }>().probe, 'h1');

    const session = await connectH2(proxy.port('web-detect'));
    try {
      const res = await h2Request(
        session,
        { ':method': 'PUT', ':path': '/b?c=1', 'x-probe': 'h2' },
        'via h2',
      );
      assert.equal(res.status, 200);
      const seen = JSON.parse(res.body.toString()) as Record<string, string>;
      assert.equal(seen.httpVersion, '1.1', 'targetProtocol http1: translated to HTTP/1.1');
      assert.equal(seen.method, 'PUT');
      assert.equal(seen.url, '/b?c=1');
      assert.equal(seen.probe, 'h2');
      assert.equal(seen.body, 'via h2');
    } finally {
      session.close();
    }
  });

  function callUnary(port: number): Promise<EchoReply> {
    const client = createEchoClient(port);
    return new Promise<EchoReply>((resolve, reject) =>
      client.Unary({ message: 'hi' }, new grpc.Metadata(), { deadline: Date.now() + 3000 }, (err, r) =>
        err ? reject(err) : resolve(r!),
      ),
    ).finally(() => client.close());
  }

  test('a grpc inbound forwards gRPC to the target', async () => {
    assert.deepEqual(await callUnary(proxy.port('grpc')), { message: 'inbound: hi', index: 0 });
  });

  test('a detect inbound forwards gRPC (h2c) to the target over HTTP/2', async () => {
    assert.deepEqual(await callUnary(proxy.port('grpc-detect')), { message: 'inbound: hi', index: 0 });
  });

  test('a tcp inbound forwards bytes to the target', async () => {
    const s = net.connect(proxy.port('raw'), '127.0.0.1');
    try {
      const data = Buffer.from('raw bytes through an inbound port\n'.repeat(1000));
      const back = new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let got = 0;
        const timer = setTimeout(() => reject(new Error(`timed out after ${got} bytes`)), 5000);
        s.on('data', (c: Buffer) => {
          chunks.push(c);
          got += c.length;
          if (got >= data.length) {
            clearTimeout(timer);
            resolve(Buffer.concat(chunks));
          }
        });
        s.on('error', reject);
      });
      s.write(data);
      assert.ok((await back).equals(data));
    } finally {
      s.destroy();
    }
  });
});
