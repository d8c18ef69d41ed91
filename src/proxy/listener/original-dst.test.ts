import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { originalDestination, originalDstAvailable } from './original-dst.ts';

// The redirected case needs root and network namespaces: test/integration/interception.test.ts.
const available = originalDstAvailable();
const skip = available.ok ? false : available.reason;

/** Accepts one connection on `host` and returns both ends. */
async function pair(listenHost: string, connectHost: string): Promise<{ server: net.Socket; close(): void }> {
  const listener = net.createServer();
  listener.listen(0, listenHost);
  await once(listener, 'listening');
  const { port } = listener.address() as net.AddressInfo;
  const client = net.connect(port, connectHost);
  const [server] = (await once(listener, 'connection')) as [net.Socket];
  return {
    server,
    close() {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}

describe('originalDestination', { skip }, () => {
  it('is undefined for a connection that was not redirected (IPv4)', async () => {
    const { server, close } = await pair('127.0.0.1', '127.0.0.1');
    try {
      assert.equal(originalDestination(server), undefined);
    } finally {
      close();
    }
  });

  it('is undefined for a v4-mapped connection on a dual-stack listener', async () => {
    const { server, close } = await pair('::', '127.0.0.1');
    try {
      assert.equal(server.localAddress, '::ffff:127.0.0.1');
      assert.equal(originalDestination(server), undefined);
    } finally {
      close();
    }
  });

  it('is undefined for a connection that was not redirected (IPv6)', async (t) => {
    let p: Awaited<ReturnType<typeof pair>>;
    try {
      p = await pair('::1', '::1');
    } catch {
      t.skip('no IPv6 loopback here');
      return;
    }
    try {
      assert.equal(originalDestination(p.server), undefined);
    } finally {
      p.close();
    }
  });

  it('throws when the socket has no descriptor', async () => {
    const { server, close } = await pair('127.0.0.1', '127.0.0.1');
    close();
    await once(server, 'close');
    assert.throws(() => originalDestination(server), /no file descriptor/);
  });
});

describe('originalDstAvailable', () => {
  it('says how to fix it when it is not available', () => {
    if (!available.ok) assert.match(available.reason, /npm run build:native|only on Linux/);
  });
});
