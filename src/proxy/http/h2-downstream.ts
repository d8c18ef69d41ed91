/**
 * An HTTP/2 request and its response over node:http2's stream API, in the shape the request path uses
 * for node:http (one object serves as both). node's compatibility layer builds two objects per stream
 * (Http2ServerRequest and Http2ServerResponse, each with its own stream state); this is one small object,
 * which measured fewer allocations and less GC per request.
 *
 * The response head is held until the first write or end, so a response with no body (a gRPC
 * Trailers-Only status, an error) goes out as a single HEADERS frame with END_STREAM. Trailers are always
 * offered (waitForTrailers), as the compatibility layer does, and sent empty when there are none.
 */
import http2 from 'node:http2';
import type net from 'node:net';
import type { DownstreamResponse } from './respond.ts';

const { NGHTTP2_INTERNAL_ERROR } = http2.constants;

export class H2Downstream implements DownstreamResponse {
  readonly stream: http2.ServerHttp2Stream;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly method: string;
  readonly url: string;
  readonly socket: net.Socket | null;
  statusCode = 200;
  #head: Record<string, string | string[] | number> = {};
  #trailers: Record<string, string | string[]> | undefined;
  #responded = false;

  constructor(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) {
    this.stream = stream;
    this.headers = headers as Record<string, string | string[] | undefined>;
    this.method = (headers[':method'] as string | undefined) ?? 'GET';
    this.url = (headers[':path'] as string | undefined) ?? '/';
    this.socket = (stream.session?.socket as net.Socket | undefined) ?? null;
  }

  get headersSent(): boolean {
    return this.#responded;
  }

  get writableFinished(): boolean {
    return this.stream.writableFinished;
  }

  writeHead(status: number, headers?: Record<string, string | string[] | number>): void {
    this.statusCode = status;
    if (headers) for (const name in headers) this.#head[name] = headers[name] as string | string[] | number;
  }

  /** Before writeHead: a header that writeHead's own headers may replace (filters' response headers). */
  setHeader(name: string, value: string): void {
    this.#head[name] = value;
  }

  #respond(endStream: boolean): boolean {
    if (this.#responded) return true;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return false;
    this.#responded = true;
    this.#head[':status'] = this.statusCode;
    stream.respond(this.#head, { endStream, waitForTrailers: !endStream });
    if (!endStream) stream.once('wantTrailers', () => stream.sendTrailers(this.#trailers ?? {}));
    return true;
  }

  write(chunk: Buffer): boolean {
    if (!this.#respond(false)) return true;
    return this.stream.write(chunk);
  }

  end(chunk?: Buffer | string): void {
    if (!this.#responded) {
      if (chunk === undefined || chunk.length === 0) {
        this.#respond(true);
        return;
      }
      if (!this.#respond(false)) return;
    }
    if (chunk !== undefined && chunk.length > 0) this.stream.end(chunk);
    else this.stream.end();
  }

  addTrailers(headers: Record<string, string | string[]>): void {
    this.#trailers = headers;
  }

  once(event: 'drain' | 'close', listener: () => void): this {
    this.stream.once(event, listener);
    return this;
  }

  destroy(): void {
    if (!this.stream.destroyed) this.stream.close(NGHTTP2_INTERNAL_ERROR);
  }
}
