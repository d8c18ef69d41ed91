/**
 * What every sample server shares with Weft's local runtime: the port comes from `PORT` when the runtime
 * sets it (explicit mode gives each instance its own port), else the image's own port; the socket binds
 * all addresses ('::', or '0.0.0.0' where the host has no IPv6); one line `listening on :<port>` goes to
 * stdout once bound (the tests read the real port from it when they pass PORT=0); and SIGTERM or SIGINT
 * closes the listener, cuts open connections and exits at once, as a container does when the kubelet
 * stops it, so the runtime never waits out a grace period.
 */
import type net from 'node:net';
import { hostname as osHostname } from 'node:os';

/** `PORT` if set (0 is allowed: the OS picks), else the image's documented port. */
export function portFromEnv(defaultPort: number): number {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return defaultPort;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a port number, got ${JSON.stringify(raw)}`);
  }
  return port;
}

/** Binds `server` on all addresses and resolves to the bound port. */
export async function listenAll(server: net.Server, port: number): Promise<number> {
  const bind = (host: string) =>
    new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
  try {
    await bind('::');
  } catch (err) {
    // A host or network namespace without IPv6 refuses '::'; anything else (EADDRINUSE) is fatal.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw err;
    await bind('0.0.0.0');
  }
  return (server.address() as net.AddressInfo).port;
}

/**
 * Listens, logs the start line, and arranges a prompt exit on SIGTERM/SIGINT. Open connections are
 * tracked so keep-alive and HTTP/2 sessions do not hold the process open after close().
 */
export async function serve(server: net.Server, options: { name: string; port: number }): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = await listenAll(server, options.port);
  console.log(`${options.name} listening on :${port}`);
  const stop = (signal: NodeJS.Signals) => {
    console.log(`${options.name} stopping on ${signal}`);
    server.close(() => process.exit(0));
    for (const socket of sockets) socket.destroy();
    // close() waits for nothing else once the sockets are gone; this is only a backstop.
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return port;
}

/** The pod name the Kubernetes image would see: the runtime may set HOSTNAME per instance. */
export function instanceName(): string {
  return process.env.HOSTNAME || process.env.POD_NAME || osHostname();
}
