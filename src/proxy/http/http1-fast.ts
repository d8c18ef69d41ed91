/**
 * The fast path for plain HTTP/1.1 requests on a downstream connection: the request head is parsed here
 * and the response written here, skipping node:http's IncomingMessage, ServerResponse and their stream
 * machinery (measured: a bare node:http server costs 13–18 µs per request, a raw parser 7–9 µs).
 *
 * Only the common case is taken: HTTP/1.1, a well-formed head, no request body, no Expect, no Upgrade.
 * Anything else, from the first unusual request on, is handed to node:http with the unread bytes put
 * back, so node:http stays the reference for every edge of the protocol (bodies, 100-continue, Upgrade,
 * HTTP/1.0, malformed input and its 400/431 answers). Requests on one connection are served one after
 * another: a pipelined request waits, unparsed, until the previous response has ended.
 */
import { STATUS_CODES } from 'node:http';
import type net from 'node:net';
import type { DownstreamResponse } from './respond.ts';
import { hasForbiddenChar, isFieldValue, isRequestTarget, isToken } from './syntax.ts';

const CRLF2 = Buffer.from('\r\n\r\n');
const METHOD = /^[A-Z]+$/;
const HEAD_TIMEOUT_MS = 30_000;
/** Bodies up to this size are written together with the head, as one string. */
const SMALL = 16 * 1024;

/** What the request path reads from an HTTP/1.1 request on the fast path. */
export interface FastRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly httpVersionMajor: 1;
  readonly socket: net.Socket;
}

export interface FastHooks {
  /** One parsed request and its response object. */
  serve(req: FastRequest, res: FastResponse): void;
  /** The connection leaves the fast path: node:http takes it (the unread bytes are back in the socket). */
  handOver(socket: net.Socket): void;
  draining(): boolean;
}

export class FastConnection {
  readonly socket: net.Socket;
  readonly #hooks: FastHooks;
  readonly #maxHead: number;
  #buffer: Buffer | undefined;
  #busy = false;
  #headStarted = 0;
  #gone = false;
  #current: FastResponse | undefined;
  readonly #onData = (chunk: Buffer) => {
    this.#buffer = this.#buffer === undefined ? chunk : Buffer.concat([this.#buffer, chunk]);
    if (!this.#busy) this.#next();
    // A pipelining client is not read further than one head's worth while a response is in progress.
    else if (this.#buffer.length > this.#maxHead) this.socket.pause();
  };
  readonly #onClose = () => {
    this.#gone = true;
    this.#current?.closed();
  };

  constructor(socket: net.Socket, hooks: FastHooks, maxHead: number) {
    this.socket = socket;
    this.#hooks = hooks;
    this.#maxHead = maxHead;
    socket.on('data', this.#onData);
    socket.on('close', this.#onClose);
    socket.setTimeout(60_000, () => socket.destroy());
    socket.resume();
  }

  #next(): void {
    const buf = this.#buffer;
    if (buf === undefined || buf.length === 0 || this.#gone) return;
    const end = buf.indexOf(CRLF2);
    if (end === -1) {
      const now = performance.now();
      if (this.#headStarted === 0) this.#headStarted = now;
      if (buf.length > this.#maxHead || now - this.#headStarted > HEAD_TIMEOUT_MS) this.#handOver();
      return;
    }
    this.#headStarted = 0;
    // Over the limit: node:http answers 431.
    const req = end > this.#maxHead ? undefined : this.#parse(buf.toString('latin1', 0, end));
    if (req === undefined) {
      this.#handOver();
      return;
    }
    this.#buffer = end + 4 === buf.length ? undefined : buf.subarray(end + 4);
    const connection = req.headers.connection;
    const keepAlive = !(typeof connection === 'string' && connection.toLowerCase().includes('close'));
    const res = new FastResponse(this, req.method === 'HEAD', keepAlive);
    this.#busy = true;
    this.#current = res;
    this.#hooks.serve(req, res);
  }

  /** Parses a head; undefined when the request is not for the fast path. */
  #parse(text: string): FastRequest | undefined {
    let eol = text.indexOf('\r\n');
    if (eol === -1) eol = text.length;
    const sp1 = text.indexOf(' ');
    const sp2 = text.indexOf(' ', sp1 + 1);
    if (sp1 <= 0 || sp2 === -1 || sp2 >= eol || eol - sp2 !== 9 || !text.startsWith(' HTTP/1.1', sp2))
      return undefined;
    const method = text.slice(0, sp1);
    const url = text.slice(sp1 + 1, sp2);
    if (!METHOD.test(method) || url.length === 0 || !isRequestTarget(url)) return undefined;
    const headers: Record<string, string | string[] | undefined> = {};
    let pos = eol + 2;
    while (pos < text.length) {
      let lineEnd = text.indexOf('\r\n', pos);
      if (lineEnd === -1) lineEnd = text.length;
      const colon = text.indexOf(':', pos);
      if (colon <= pos || colon >= lineEnd) return undefined;
      const name = text.slice(pos, colon).toLowerCase();
      if (!isToken(name)) return undefined;
      const value = text.slice(colon + 1, lineEnd).trim();
      if (!isFieldValue(value)) return undefined;
      pos = lineEnd + 2;
      switch (name) {
        case 'transfer-encoding':
        case 'expect':
        case 'upgrade':
          return undefined;
        case 'content-length':
          if (value !== '0') return undefined;
          break;
        case 'host':
          if (headers.host !== undefined) return undefined;
          break;
      }
      const prev = headers[name];
      headers[name] = prev === undefined ? value : `${prev}, ${value}`;
    }
    return { method, url, headers, httpVersionMajor: 1, socket: this.socket };
  }

  #handOver(): void {
    const socket = this.socket;
    socket.removeListener('data', this.#onData);
    socket.removeListener('close', this.#onClose);
    socket.setTimeout(0);
    socket.pause();
    if (this.#buffer !== undefined && this.#buffer.length > 0) socket.unshift(this.#buffer);
    this.#buffer = undefined;
    this.#hooks.handOver(socket);
  }

  /** The response ended: close, or serve the next request. */
  done(keepAlive: boolean): void {
    this.#busy = false;
    this.#current = undefined;
    if (!keepAlive || this.#hooks.draining()) {
      this.socket.end();
      return;
    }
    if (this.socket.isPaused()) this.socket.resume();
    if (this.#buffer !== undefined) process.nextTick(() => this.#next());
  }

  get draining(): boolean {
    return this.#hooks.draining();
  }
}

/** The response side, written straight to the socket: one write for the head and a single-chunk body. */
export class FastResponse implements DownstreamResponse {
  statusCode = 200;
  onClose: (() => void) | undefined = undefined;
  readonly #conn: FastConnection;
  readonly #noBody: boolean;
  #keepAlive: boolean;
  #headers: Record<string, string | string[] | number> | undefined;
  #trailers: Record<string, string | string[]> | undefined;
  #headSent = false;
  #chunked = false;
  #ended = false;
  #closed = false;

  constructor(conn: FastConnection, noBody: boolean, keepAlive: boolean) {
    this.#conn = conn;
    this.#noBody = noBody;
    this.#keepAlive = keepAlive;
  }

  get headersSent(): boolean {
    return this.#headSent;
  }

  get writableFinished(): boolean {
    return this.#ended;
  }

  writeHead(status: number, headers?: Record<string, string | string[] | number>): void {
    this.statusCode = status;
    if (headers) {
      if (this.#headers === undefined) this.#headers = headers;
      else for (const name in headers) this.#headers[name] = headers[name] as string | string[] | number;
    }
  }

  /** Before writeHead: a header that writeHead's own headers may replace (filters' response headers). */
  setHeader(name: string, value: string): void {
    if (this.#headers === undefined) this.#headers = {};
    this.#headers[name] = value;
  }

  #head(bodyLength: number | undefined): string {
    const status = this.statusCode;
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
    const headers = this.#headers;
    let hasLength = false;
    if (headers) {
      for (const name in headers) {
        const v = headers[name];
        if (v === undefined) continue;
        // Names arrive lower-cased (parsers, responder, and direct responses at compile time); framing
        // fields are this writer's to set.
        if (name === 'connection' || name === 'transfer-encoding' || name === 'keep-alive') continue;
        if (name === 'content-length') hasLength = true;
        if (typeof v === 'object') {
          for (const one of v) head += `${name}: ${checked(one)}\r\n`;
        } else head += `${name}: ${checked(String(v))}\r\n`;
      }
    }
    const bodyless = this.#noBody || status === 204 || status === 304 || status < 200;
    if (!hasLength && !bodyless) {
      if (bodyLength !== undefined) head += `content-length: ${bodyLength}\r\n`;
      else {
        this.#chunked = true;
        head += 'transfer-encoding: chunked\r\n';
      }
    }
    if (this.#conn.draining) this.#keepAlive = false;
    if (!this.#keepAlive) head += 'connection: close\r\n';
    this.#headSent = true;
    return `${head}\r\n`;
  }

  write(chunk: Buffer): boolean {
    const socket = this.#conn.socket;
    if (this.#ended || socket.destroyed) return true;
    if (!this.#headSent) {
      const head = this.#head(undefined);
      // Head and a small first chunk go out as one latin1 string: one write, no cork/writev.
      if (chunk.length <= SMALL || this.#noBody) return socket.write(head + this.#framed(chunk), 'latin1');
      socket.cork();
      socket.write(head, 'latin1');
      const ok = this.#body(chunk);
      socket.uncork();
      return ok;
    }
    return this.#body(chunk);
  }

  /** A small chunk as a latin1 string, with chunked framing when the response is chunked. */
  #framed(chunk: Buffer): string {
    if (this.#noBody || chunk.length === 0) return '';
    const data = chunk.toString('latin1');
    return this.#chunked ? `${chunk.length.toString(16)}\r\n${data}\r\n` : data;
  }

  #body(chunk: Buffer): boolean {
    const socket = this.#conn.socket;
    if (this.#noBody || chunk.length === 0) return true;
    if (!this.#chunked) return socket.write(chunk);
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    return socket.write('\r\n', 'latin1');
  }

  end(chunk?: Buffer | string): void {
    if (this.#ended) return;
    const socket = this.#conn.socket;
    const body = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (!socket.destroyed) {
      let text = this.#headSent ? '' : this.#head(body?.length ?? 0);
      if (body !== undefined && body.length > 0) {
        if (body.length <= SMALL) text += this.#framed(body);
        else {
          if (text !== '') socket.write(text, 'latin1');
          text = '';
          this.#body(body);
        }
      }
      if (this.#chunked) {
        text += '0\r\n';
        const t = this.#trailers;
        if (t) for (const name in t) text += `${name}: ${checked(String(t[name]))}\r\n`;
        text += '\r\n';
      }
      if (text !== '') socket.write(text, 'latin1');
    }
    this.#ended = true;
    this.closed();
    this.#conn.done(this.#keepAlive);
  }

  addTrailers(headers: Record<string, string | string[]>): void {
    this.#trailers = headers;
  }

  once(event: 'drain' | 'close', listener: () => void): this {
    if (event === 'drain') this.#conn.socket.once('drain', listener);
    else this.onClose = listener;
    return this;
  }

  destroy(): void {
    this.#conn.socket.destroy();
  }

  /** Called once: when the response ended, or when the connection closed first. */
  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose?.();
  }
}

/** Response field values come from upstreams: one with CR or LF would split the response. */
function checked(v: string): string {
  if (hasForbiddenChar(v)) throw new Error('response header value has a forbidden character');
  return v;
}
