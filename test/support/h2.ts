/**
 * HTTP/2 helpers for tests: an h2c (prior knowledge) upstream on 127.0.0.1 port 0 that tracks its sessions
 * so `close` never waits on a client, and a client request that reads the whole response, trailers
 * included. node:http2 is used on both sides because it is the peer real services run.
 */
import http2 from 'node:http2';
import type net from 'node:net';

export interface H2Server {
  port: number;
  server: http2.Http2Server;
  close(): Promise<void>;
}

export async function startH2Server(
  handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
): Promise<H2Server> {
  const server = http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An h2c client session with prior knowledge; resolves once the connection and settings are exchanged. */
export function connectH2(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.once('error', reject);
    session.once('remoteSettings', () => {
      session.removeListener('error', reject);
      session.on('error', () => {});
      resolve(session);
    });
  });
}

export interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** Sends one request on the session and reads the response to its end (bounded by `timeoutMs`). */
export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer | string,
  timeoutMs = 5000,
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`h2 request timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    let status = 0;
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      resHeaders = h;
      status = Number(h[':status']);
    });
    stream.on('trailers', (t) => {
      trailers = t;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      clearTimeout(timer);
      resolve({ status, headers: resHeaders, trailers, body: Buffer.concat(chunks) });
    });
    stream.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (body !== undefined) stream.end(body);
  });
}
