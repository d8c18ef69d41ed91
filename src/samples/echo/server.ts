/**
 * The bundled sample application: an HTTP server that answers every request with a JSON description of
 * it (service, version, method, path, headers). It speaks HTTP/1.1 and h2c on one port, so the demo and
 * the tests can show routing, splitting and header changes without any other software.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

export interface EchoServer {
  port: number;
  close(): Promise<void>;
}

export async function startEchoServer(options: {
  service: string;
  version: string;
  port?: number;
  host?: string;
}): Promise<EchoServer> {
  const handler = (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({
        service: options.service,
        version: options.version,
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      (res as http.ServerResponse).writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-served-by': `${options.service}-${options.version}`,
      });
      res.end(body);
    });
  };
  const h1 = http.createServer(handler);
  const h2 = http2.createServer(handler);
  const preface = 'PRI * HTTP/2.0';
  const server = net.createServer((socket) => {
    socket.once('readable', () => {
      const first: Buffer | null = socket.read(Math.min(socket.readableLength, 14)) ?? socket.read();
      if (!first) return socket.destroy();
      socket.unshift(first);
      (first.toString('latin1') === preface ? h2 : h1).emit('connection', socket);
    });
  });
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        h1.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
