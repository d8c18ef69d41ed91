/**
 * The edge of a local mesh: a port on the host's 127.0.0.1 that reaches a service inside the mesh, like
 * an ingress or `kubectl port-forward`. The edge sidecar serves the service on a Unix socket (transparent
 * mode: Unix sockets cross network namespaces, the host's loopback does not) or directly on the port
 * (explicit mode); here the host port is piped to that socket.
 */
import net from 'node:net';
import path from 'node:path';
import { freePort } from './instance.ts';

export interface EdgeOptions {
  runDir: string;
  /** `<ns>/<name>` of the service. */
  service: string;
  port: number;
  /** Port on 127.0.0.1; 0 picks one. */
  hostPort: number;
  transparent: boolean;
}

export class EdgeForwarder {
  readonly #o: EdgeOptions;
  readonly #server: net.Server | undefined;
  #hostPort: number;
  readonly #sockets = new Set<net.Socket>();

  constructor(options: EdgeOptions) {
    this.#o = options;
    this.#hostPort = options.hostPort;
    if (options.transparent) {
      this.#server = net.createServer((down) => {
        this.#sockets.add(down);
        const up = net.connect(this.socketPath);
        this.#sockets.add(up);
        down.pipe(up).pipe(down);
        const close = () => {
          down.destroy();
          up.destroy();
          this.#sockets.delete(down);
          this.#sockets.delete(up);
        };
        down.on('error', close).on('close', close);
        up.on('error', close).on('close', close);
      });
    }
  }

  get service(): string {
    return `${this.#o.service}:${this.#o.port}`;
  }

  get serviceKey(): string {
    return this.#o.service;
  }

  get port(): number {
    return this.#o.port;
  }

  get socketPath(): string {
    return path.join(
      this.#o.runDir,
      'sidecars',
      `edge-${this.#o.service.replace('/', '.')}-${this.#o.port}.sock`,
    );
  }

  /** Where the edge sidecar listens for this service. */
  get proxyListen(): { port: number } | { path: string } {
    return this.#o.transparent ? { path: this.socketPath } : { port: this.#hostPort };
  }

  get url(): string {
    return `http://127.0.0.1:${this.#hostPort}/`;
  }

  /** Takes the host port; when it is in use (another run, another program), a free one instead. */
  async listen(): Promise<void> {
    if (!this.#server) {
      // Explicit mode: the edge sidecar listens on the host port itself; check it is free, or pick one.
      if (this.#hostPort === 0 || !(await portFree(this.#hostPort))) this.#hostPort = await freePort();
      return;
    }
    const server = this.#server;
    const bind = (port: number) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
    try {
      await bind(this.#hostPort);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      await bind(0);
    }
    this.#hostPort = (server.address() as net.AddressInfo).port;
  }

  close(): void {
    this.#server?.close();
    for (const s of this.#sockets) s.destroy();
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
