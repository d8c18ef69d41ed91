/**
 * HTTP/1.1 end to end through an outbound listener: keep-alive on both sides of the proxy, chunked bodies
 * of 20 MiB streamed intact each way (checked by hash), backpressure from a slow reader reaching the
 * upstream instead of piling up in the proxy, `Expect: 100-continue`, and chunked response trailers.
 * node:http is the client throughout because it exposes what these tests look at (reused sockets, the
 * 100 Continue event, trailers); the upstream is a plain node:http server.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleConfig, startProxy, type TestProxy } from '../support/proxy.ts';
import { startHttpServer } from '../support/upstreams.ts';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
/** Random, so a reordered or dropped chunk cannot hash the same. */
const payload = randomBytes(20 * MiB);
const payloadHash = sha256(payload);

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Writes `data` in chunks, waiting for 'drain' whenever the stream asks to, then ends it. */
async function writeAll(
  out: NodeJS.WritableStream,
  data: Buffer,
  onChunk: (bytes: number) => void = () => {},
): Promise<void> {
  for (let off = 0; off < data.length; off += CHUNK) {
    const chunk = data.subarray(off, off + CHUNK);
    onChunk(chunk.length);
    if (!out.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          out.removeListener('close', onClose);
          resolve();
        };
        const onClose = () => {
          out.removeListener('drain', onDrain);
          reject(new Error('stream closed while waiting for drain'));
        };
        out.once('drain', onDrain);
        out.once('close', onClose);
      });
    }
  }
  out.end();
}

interface ClientResponse {
  res: http.IncomingMessage;
  reusedSocket: boolean;
}

/** One node:http request; resolves with the response head, the body left unread. */
function send(
  port: number,
  options: http.RequestOptions & { body?: Buffer | string },
  onRequest?: (req: http.ClientRequest) => void,
): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const { body, ...rest } = options;
    const req = http.request({ host: '127.0.0.1', port, ...rest }, (res) =>
      resolve({ res, reusedSocket: req.reusedSocket }),
    );
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (onRequest) onRequest(req);
    else req.end(body);
  });
}

async function readBody(res: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('HTTP/1.1 through the proxy', () => {
  let proxy: TestProxy;
  let upstream: Awaited<ReturnType<typeof startHttpServer>>;
  const upstreamConnections: number[] = [];
  /** Bytes the upstream has handed to its socket for the download in progress. */
  let downloadWritten = 0;

  before(async () => {
    upstream = await startHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/info') {
        const body = JSON.stringify({
          remotePort: req.socket.remotePort,
          httpVersion: req.httpVersion,
          headers: req.headers,
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      if (url.pathname === '/upload') {
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (c: Buffer) => {
          bytes += c.length;
          hash.update(c);
        });
        req.on('end', () => {
          const body = JSON.stringify({
            bytes,
            sha256: hash.digest('hex'),
            transferEncoding: req.headers['transfer-encoding'] ?? null,
            expect: req.headers.expect ?? null,
          });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(body);
        });
        return;
      }
      if (url.pathname === '/download') {
        // No content-length: node:http sends the body chunked. Writes respect backpressure, so
        // `downloadWritten` stops growing as soon as the proxy stops reading.
        downloadWritten = 0;
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        writeAll(res, payload, (n) => {
          downloadWritten += n;
        }).catch(() => res.destroy());
        return;
      }
      if (url.pathname === '/trailers') {
        const body = Buffer.from('a body with a checksum after it\n'.repeat(100));
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
        res.write(body.subarray(0, 1000));
        res.write(body.subarray(1000));
        res.addTrailers({ 'x-checksum': sha256(body) });
        res.end();
        return;
      }
      res.writeHead(404);
      res.end();
    });
    upstream.server.on('connection', (s) => upstreamConnections.push(s.remotePort ?? 0));
    proxy = await startProxy(simpleConfig([{ name: 'app', port: upstream.port }]));
  });

  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  test('keep-alive: several requests share one downstream and one upstream connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      upstreamConnections.length = 0;
      const ports: number[] = [];
      for (let i = 0; i < 5; i++) {
        const { res, reusedSocket } = await send(proxy.port('svc'), { path: `/info?i=${i}`, agent });
        const info = JSON.parse((await readBody(res)).toString()) as { remotePort: number };
        assert.equal(res.statusCode, 200);
        assert.equal(reusedSocket, i > 0, `request ${i}: client socket reused`);
        ports.push(info.remotePort);
      }
      assert.equal(new Set(ports).size, 1, `the proxy reused its upstream connection: ${ports.join(',')}`);
      assert.equal(upstreamConnections.length, 1, 'the upstream accepted exactly one connection');
    } finally {
      agent.destroy();
    }
  });

  test('a 20 MiB chunked upload arrives intact', async () => {
    const { res } = await send(
      proxy.port('svc'),
      { method: 'POST', path: '/upload', headers: { 'content-type': 'application/octet-stream' } },
      (req) => {
        writeAll(req, payload).catch((err: Error) => req.destroy(err));
      },
    );
    const got = JSON.parse((await readBody(res)).toString()) as {
      bytes: number;
      sha256: string;
      transferEncoding: string | null;
    };
    assert.equal(res.statusCode, 200);
    assert.equal(got.bytes, payload.length);
    assert.equal(got.sha256, payloadHash);
    assert.equal(got.transferEncoding, 'chunked', 'the body was streamed, not buffered into a length');
  });

  test('a 20 MiB chunked download arrives intact', async () => {
    const { res } = await send(proxy.port('svc'), { path: '/download' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const c of res) {
      bytes += (c as Buffer).length;
      hash.update(c as Buffer);
    }
    assert.equal(bytes, payload.length);
    assert.equal(hash.digest('hex'), payloadHash);
  });

  test('a paused reader stalls the upstream (no unbounded buffering) and a slow reader gets everything', async () => {
    const { res } = await send(proxy.port('svc'), { path: '/download' });
    res.pause();
    // Wait until the upstream stops making progress: every buffer between it and the paused client is full.
    let last = -1;
    for (let i = 0; i < 40 && downloadWritten !== last; i++) {
      last = downloadWritten;
      await sleep(150);
    }
    const stalledAt = downloadWritten;
    assert.equal(stalledAt, last, 'the upstream stopped writing while the client was paused');
    assert.ok(
      stalledAt < payload.length,
      `the upstream stalled at ${(stalledAt / MiB).toFixed(1)} MiB of ${payload.length / MiB} MiB`,
    );

    // Now read slowly: a pause after every MiB. Backpressure must release, not deadlock.
    const hash = createHash('sha256');
    let bytes = 0;
    let nextPause = MiB;
    for await (const c of res) {
      bytes += (c as Buffer).length;
      hash.update(c as Buffer);
      if (bytes >= nextPause) {
        nextPause += MiB;
        await sleep(5);
      }
    }
    assert.equal(bytes, payload.length);
    assert.equal(hash.digest('hex'), payloadHash);
  });

  test('Expect: 100-continue gets 100 before the body is sent, then the final response', async () => {
    const body = Buffer.from('sent only after 100 Continue');
    const events: string[] = [];
    const { res } = await send(
      proxy.port('svc'),
      {
        method: 'PUT',
        path: '/upload',
        headers: { expect: '100-continue', 'content-length': body.length },
      },
      (req) => {
        req.on('continue', () => {
          events.push('continue');
          req.end(body);
        });
        req.flushHeaders();
      },
    );
    events.push(`response ${res.statusCode}`);
    const got = JSON.parse((await readBody(res)).toString()) as { bytes: number; sha256: string };
    assert.deepEqual(events, ['continue', 'response 200']);
    assert.equal(got.bytes, body.length);
    assert.equal(got.sha256, sha256(body));
  });

  test('response trailers pass over a chunked response', async () => {
    const { res } = await send(proxy.port('svc'), { path: '/trailers' });
    const body = await readBody(res);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(body.length, 3200);
    assert.equal(res.trailers['x-checksum'], sha256(body));
  });
});
