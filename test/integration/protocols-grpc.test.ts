/**
 * gRPC end to end with a real @grpc/grpc-js client and server and the proxy between them (outbound
 * protocol grpc, backend protocol http2). Covers the four call shapes, metadata both ways (initial and
 * trailing), error statuses carried in trailers (both Trailers-Only and after messages), and deadlines:
 * the client's deadline travels as grpc-timeout and a slow handler ends as DEADLINE_EXCEEDED and is
 * cancelled upstream. A raw node:http2 request to an upstream that never answers shows the proxy itself
 * enforcing grpc-timeout with a Trailers-Only DEADLINE_EXCEEDED.
 */
import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createEchoClient,
  type EchoClient,
  type EchoReply,
  type GrpcServer,
  grpc,
  startGrpcServer,
} from '../support/grpc.ts';
import { connectH2, type H2Server, h2Request, startH2Server } from '../support/h2.ts';
import { startProxy, type TestProxy } from '../support/proxy.ts';

function unary(
  fn: EchoClient['Unary'],
  client: EchoClient,
  request: Parameters<EchoClient['Unary']>[0],
  metadata = new grpc.Metadata(),
  options: Partial<grpc.CallOptions> = {},
): Promise<{ reply: EchoReply; headers: grpc.Metadata; trailers: grpc.Metadata }> {
  return new Promise((resolve, reject) => {
    let headers = new grpc.Metadata();
    let trailers = new grpc.Metadata();
    let reply: EchoReply | undefined;
    let settled = 0;
    const done = () => {
      if (++settled === 2) resolve({ reply: reply as EchoReply, headers, trailers });
    };
    const call = fn.call(client, request, metadata, options, (err, r) => {
      if (err) return reject(err);
      reply = r;
      done();
    });
    call.on('metadata', (m: grpc.Metadata) => {
      headers = m;
    });
    call.on('status', (s: grpc.StatusObject) => {
      trailers = s.metadata;
      if (s.code === grpc.status.OK) done();
    });
  });
}

function expectError(p: Promise<unknown>): Promise<grpc.ServiceError> {
  return p.then(
    () => assert.fail('expected the call to fail'),
    (err: grpc.ServiceError) => err,
  );
}

describe('gRPC through the proxy', () => {
  let server: GrpcServer;
  let proxy: TestProxy;
  let client: EchoClient;
  let silent: H2Server;
  const silentStreams: http2.ServerHttp2Stream[] = [];
  const slowCancelled: boolean[] = [];
  /** The deadline each Slow call had on the server: grpc-js derives it from the grpc-timeout header. */
  const seenDeadlines: number[] = [];

  before(async () => {
    server = await startGrpcServer({
      Unary(call, callback) {
        const who = call.metadata.get('x-client')[0];
        const initial = new grpc.Metadata();
        initial.set('x-server-initial', `hello ${String(who)}`);
        call.sendMetadata(initial);
        const trailing = new grpc.Metadata();
        trailing.set('x-server-trailing', 'bye');
        trailing.set('x-bin-bin', Buffer.from([0, 1, 2, 255]));
        callback(null, { message: `echo: ${call.request.message}`, index: 0 }, trailing);
      },
      ServerStream(call) {
        for (let i = 0; i < call.request.count; i++)
          call.write({ message: `${call.request.message} #${i}`, index: i });
        if (call.request.message === 'then fail') {
          call.emit('error', { code: grpc.status.FAILED_PRECONDITION, details: 'failed after messages' });
          return;
        }
        call.end();
      },
      ClientStream(call, callback) {
        const parts: string[] = [];
        call.on('data', (r: { message: string }) => parts.push(r.message));
        call.on('end', () => callback(null, { message: parts.join('+'), index: parts.length }));
      },
      Bidi(call) {
        let i = 0;
        call.on('data', (r: { message: string }) =>
          call.write({ message: r.message.toUpperCase(), index: i++ }),
        );
        call.on('end', () => call.end());
      },
      Fail(call, callback) {
        const md = new grpc.Metadata();
        md.set('x-reason', 'widget-missing');
        callback({ code: grpc.status.NOT_FOUND, details: `no widget ${call.request.message}`, metadata: md });
      },
      Slow(call, callback) {
        seenDeadlines.push(Number(call.getDeadline()));
        const timer = setTimeout(
          () => callback(null, { message: 'too late', index: 0 }),
          call.request.delayMs,
        );
        call.on('cancelled', () => {
          clearTimeout(timer);
          slowCancelled.push(true);
        });
      },
    });
    silent = await startH2Server((req) => silentStreams.push(req.stream));
    proxy = await startProxy({
      outbound: [
        {
          name: 'grpc-silent',
          port: 81,
          listen: { address: '127.0.0.1', port: 0 },
          protocol: 'grpc',
          routes: [{ backends: [{ backend: 'silent' }] }],
        },
        {
          name: 'grpc',
          port: 80,
          listen: { address: '127.0.0.1', port: 0 },
          protocol: 'grpc',
          routes: [{ backends: [{ backend: 'echo' }] }],
        },
      ],
      backends: [
        { name: 'echo', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port: server.port }] },
        { name: 'silent', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port: silent.port }] },
      ],
    });
    client = createEchoClient(proxy.port('grpc'));
  });

  after(async () => {
    client?.close();
    await proxy?.close();
    await server?.close();
    await silent?.close();
  });

  test('unary: the reply arrives and metadata passes both ways (headers and trailers)', async () => {
    const md = new grpc.Metadata();
    md.set('x-client', 'tester');
    const { reply, headers, trailers } = await unary(client.Unary, client, { message: 'ping' }, md);
    assert.deepEqual(reply, { message: 'echo: ping', index: 0 });
    assert.deepEqual(headers.get('x-server-initial'), ['hello tester']);
    assert.deepEqual(trailers.get('x-server-trailing'), ['bye']);
    assert.deepEqual(trailers.get('x-bin-bin'), [Buffer.from([0, 1, 2, 255])]);
  });

  test('server streaming: every message in order, then OK', async () => {
    const call = client.ServerStream({ message: 'tick', count: 25 });
    const got: EchoReply[] = [];
    for await (const r of call) got.push(r as EchoReply);
    assert.equal(got.length, 25);
    for (const [i, r] of got.entries()) assert.deepEqual(r, { message: `tick #${i}`, index: i });
  });

  test('client streaming: all messages reach the server, one reply comes back', async () => {
    const reply = await new Promise<EchoReply>((resolve, reject) => {
      const call = client.ClientStream(new grpc.Metadata(), {}, (err, r) =>
        err ? reject(err) : resolve(r!),
      );
      for (let i = 0; i < 10; i++) call.write({ message: `m${i}` });
      call.end();
    });
    assert.equal(reply.index, 10);
    assert.equal(reply.message, Array.from({ length: 10 }, (_, i) => `m${i}`).join('+'));
  });

  test('bidi streaming: replies interleave with requests', async () => {
    const call = client.Bidi();
    const replies: EchoReply[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', (r: EchoReply) => replies.push(r));
      call.on('end', resolve);
      call.on('error', reject);
    });
    // Wait for each reply before the next request: proves the stream is truly full duplex through the proxy.
    for (let i = 0; i < 5; i++) {
      call.write({ message: `word${i}` });
      for (let j = 0; j < 100 && replies.length <= i; j++) await sleep(5);
      assert.equal(replies.length, i + 1, `reply ${i} arrived before the next request`);
    }
    call.end();
    await ended;
    assert.deepEqual(
      replies,
      Array.from({ length: 5 }, (_, i) => ({ message: `WORD${i}`, index: i })),
    );
  });

  test('an error status passes through unchanged (Trailers-Only), with its metadata', async () => {
    const err = await expectError(unary(client.Fail, client, { message: '7' }));
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.equal(err.details, 'no widget 7');
    assert.deepEqual(err.metadata.get('x-reason'), ['widget-missing']);
  });

  test('an error status after streamed messages passes through in the trailers', async () => {
    const call = client.ServerStream({ message: 'then fail', count: 3 });
    const got: EchoReply[] = [];
    const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
      call.on('data', (r: EchoReply) => got.push(r));
      call.on('error', resolve);
      call.on('end', () => reject(new Error('expected an error status')));
    });
    assert.equal(got.length, 3);
    assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(err.details, 'failed after messages');
  });

  test('a client deadline shorter than the handler gives DEADLINE_EXCEEDED and cancels upstream', async () => {
    const before = slowCancelled.length;
    const started = Date.now();
    const err = await expectError(
      unary(client.Slow, client, { delayMs: 3000 }, new grpc.Metadata(), { deadline: Date.now() + 300 }),
    );
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 2000, 'failed at the deadline, not when the handler finished');
    const deadline = seenDeadlines.at(-1) ?? Number.POSITIVE_INFINITY;
    assert.ok(deadline - started < 1000, 'the client deadline reached the server as grpc-timeout');
    for (let i = 0; i < 40 && slowCancelled.length === before; i++) await sleep(25);
    assert.equal(slowCancelled.length, before + 1, 'the handler saw the call cancelled');
  });

  test('the proxy enforces grpc-timeout itself: grpc-status 4 in a Trailers-Only response', async () => {
    // A raw HTTP/2 client, so nothing on the client side enforces the deadline, and an upstream that never
    // answers, so nothing upstream does either.
    const session = await connectH2(proxy.port('grpc-silent'));
    try {
      // A length-prefixed message (flag byte, 4-byte length) holding EchoRequest{delay_ms: 1000}.
      const frame = Buffer.from([0, 0, 0, 0, 3, 0x18, 0xe8, 0x07]);
      const started = Date.now();
      const res = await h2Request(
        session,
        {
          ':method': 'POST',
          ':path': '/weft.test.Echo/Slow',
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': '150m',
        },
        frame,
      );
      assert.ok(Date.now() - started < 2000);
      assert.equal(res.status, 200);
      assert.equal(res.headers['grpc-status'], String(grpc.status.DEADLINE_EXCEEDED));
      assert.equal(res.headers['weft-error'], 'TIMEOUT');
      assert.equal(res.body.length, 0);
      assert.deepEqual(
        Object.keys(res.trailers),
        [],
        'Trailers-Only: the status is in the only HEADERS frame',
      );
      assert.equal(silentStreams.length, 1, 'the request reached the silent upstream');
      for (let i = 0; i < 40 && !silentStreams[0]?.closed; i++) await sleep(25);
      assert.ok(silentStreams[0]?.closed, 'the proxy reset the upstream stream');
    } finally {
      session.close();
    }
  });
});
