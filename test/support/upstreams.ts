/**
 * Real upstream servers for tests, all on 127.0.0.1 port 0: the sample echo app (HTTP/1.1 and h2c), a
 * TCP echo, a server-speaks-first TCP server, and a programmable HTTP/1 server.
 */
import http from 'node:http';
import net from 'node:net';
import { startEchoServer } from '../../src/samples/echo/server.ts';

export { startEchoServer };

export interface Closable {
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(
  handler: http.RequestListener,
  options: http.ServerOptions = {},
): Promise<Closable & { server: http.Server }> {
  const server = http.createServer(options, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function startTcpServer(onSocket: (s: net.Socket) => void): Promise<Closable> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export const startTcpEcho = () => startTcpServer((s) => s.pipe(s));

/** A free port with nothing listening, for connect-failure tests. */
export { freePort as closedPort } from './child.ts';
