import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { peek } from '../listener/detect.ts';
import { clientHelloAlpn, meshTlsStart } from './client-hello.ts';

/** The first bytes a real node:tls client sends, offering `alpn`. */
async function realClientHello(alpn: string[] | undefined): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) =>
    server.once('connection', (s) => {
      let buf = Buffer.alloc(0);
      s.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
          resolve(buf);
          s.destroy();
        }
      });
    }),
  );
  const client = tls.connect({ host: '127.0.0.1', port, ...(alpn ? { ALPNProtocols: alpn } : {}) });
  client.on('error', () => {});
  const hello = await got;
  client.destroy();
  server.close();
  return hello;
}

test('reads the ALPN list of a real ClientHello, and says when it needs more bytes', async () => {
  const hello = await realClientHello(['weft/http1']);
  assert.deepEqual(clientHelloAlpn(hello), ['weft/http1']);
  for (const n of [0, 1, 4, 5, 40, hello.length - 1])
    assert.equal(clientHelloAlpn(hello.subarray(0, n)), 'more');
  assert.deepEqual(clientHelloAlpn(await realClientHello(['h2', 'http/1.1'])), ['h2', 'http/1.1']);
  assert.deepEqual(clientHelloAlpn(await realClientHello(undefined)), []);
});

test('anything that is not a ClientHello record is not one', () => {
  assert.equal(clientHelloAlpn(Buffer.from('GET / HTTP/1.1\r\n')), undefined);
  assert.equal(clientHelloAlpn(Buffer.from([0x16, 0x01, 0x00])), undefined);
  // A handshake record whose body is not a ClientHello (type 2 = ServerHello).
  assert.equal(
    clientHelloAlpn(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00])),
    undefined,
  );
  // A ClientHello whose ALPN list overruns its extension.
  const bad = Buffer.from([
    0x16,
    0x03,
    0x01,
    0x00,
    0x35,
    0x01,
    0x00,
    0x00,
    0x31,
    0x03,
    0x03,
    ...new Array(32).fill(0),
    0x00,
    0x00,
    0x02,
    0x13,
    0x01,
    0x01,
    0x00,
    0x00,
    0x08,
    0x00,
    0x10,
    0x00,
    0x04,
    0x00,
    0x09,
    0x01,
    0x61,
  ]);
  assert.equal(clientHelloAlpn(bad), undefined);
});

test('sniffing tells a Weft client from plaintext and puts every byte back', async () => {
  const hello = await realClientHello(['weft/tcp']);
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const sniff = (payload: Buffer, timeoutMs = 2000) =>
    new Promise<{ kind: string; bytes: Buffer }>((resolve) => {
      server.once('connection', (s) =>
        peek(s, timeoutMs, meshTlsStart, 'other', (kind) => {
          const bytes = (s.read() as Buffer | null) ?? Buffer.alloc(0);
          s.destroy();
          resolve({ kind, bytes });
        }),
      );
      const c = net.connect({ host: '127.0.0.1', port }, () => {
        // Split the ClientHello over two writes: the sniffer must wait for the whole record.
        c.write(payload.subarray(0, 3));
        setTimeout(() => c.write(payload.subarray(3)), 20);
      });
      c.on('error', () => {});
    });
  const mesh = await sniff(hello);
  assert.equal(mesh.kind, 'mesh');
  assert.deepEqual(mesh.bytes, hello);
  const plain = await sniff(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  assert.equal(plain.kind, 'other');
  assert.equal(plain.bytes.toString(), 'GET / HTTP/1.1\r\n\r\n'.slice(0, plain.bytes.length));
  const other = await sniff(await realClientHello(['h2']));
  assert.equal(other.kind, 'other');
  server.close();
});
