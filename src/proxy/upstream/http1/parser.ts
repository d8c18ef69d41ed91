/**
 * An HTTP/1.1 response parser for the upstream side (RFC 9112): the status line and fields, then the
 * body by its framing (Content-Length, chunked with trailers, or until close). Pure and incremental: it
 * is fed socket chunks and emits events, so it can be tested without sockets. Body bytes are handed on as
 * slices of the input, never copied.
 */
import { isToken } from '../../http/syntax.ts';
import { codedError, type HeaderValues, UPSTREAM_PROTOCOL_ERROR } from '../types.ts';

export interface ResponseEvents {
  /** Final (non-1xx) response head. Return false to keep the connection from being reused. */
  head(status: number, reason: string, headers: HeaderValues, keepAlive: boolean): void;
  data(chunk: Buffer): void;
  end(trailers: HeaderValues): void;
}

const MAX_HEAD = 64 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n');
const EMPTY: HeaderValues = Object.freeze({}) as HeaderValues;

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'close' | 'done';

export class ResponseParser {
  #state: State = 'head';
  #pending: Buffer | undefined;
  #remaining = 0;
  #line = '';
  #trailers: HeaderValues | undefined;
  #noBody = false;
  #started = false;
  readonly #events: ResponseEvents;
  keepAlive = true;
  /** The server's `Keep-Alive` field (e.g. "timeout=5"), if it sent one. */
  keepAliveHint: string | undefined = undefined;

  constructor(events: ResponseEvents) {
    this.#events = events;
  }

  /** Starts a new response; `headRequest` means the response has no body whatever its fields say. */
  reset(headRequest: boolean): void {
    this.#state = 'head';
    this.#pending = undefined;
    this.#noBody = headRequest;
    this.#started = false;
    this.#trailers = undefined;
    this.#line = '';
  }

  get done(): boolean {
    return this.#state === 'done';
  }

  /** True when bytes of the current response have arrived (the head, or part of it). */
  get started(): boolean {
    // A flag, not the state: a whole 1xx response or a rejected head leaves the state at 'head'.
    return this.#started;
  }

  /** The connection closed: ends a close-delimited body, or reports a truncated response. */
  eof(): Error | undefined {
    if (this.#state === 'close') {
      this.#state = 'done';
      this.#events.end(EMPTY);
      return undefined;
    }
    if (this.#state === 'done') return undefined;
    return codedError('ECONNRESET', 'upstream closed the connection before the response was complete');
  }

  /** Feeds bytes; throws a coded error on a malformed response. Bytes after the response are an error. */
  feed(chunk: Buffer): void {
    if (chunk.length > 0) this.#started = true;
    let buf = chunk;
    let off = 0;
    while (off < buf.length) {
      switch (this.#state) {
        case 'head': {
          // A head arriving in pieces: search only the new bytes (and the three before them), so a head
          // dripped byte by byte costs linear time, not quadratic.
          let from = off;
          if (this.#pending !== undefined) {
            from = Math.max(0, this.#pending.length - 3);
            buf = Buffer.concat([this.#pending, buf.subarray(off)]);
            off = 0;
            this.#pending = undefined;
          }
          const end = buf.indexOf(CRLF2, from);
          if (end === -1) {
            if (buf.length - off > MAX_HEAD) throw protocolError('response head too large');
            this.#pending = buf.subarray(off);
            return;
          }
          if (end - off > MAX_HEAD) throw protocolError('response head too large');
          this.#parseHead(buf.toString('latin1', off, end));
          off = end + 4;
          break;
        }
        case 'length': {
          const n = Math.min(this.#remaining, buf.length - off);
          this.#events.data(off === 0 && n === buf.length ? buf : buf.subarray(off, off + n));
          off += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#finish(EMPTY);
          break;
        }
        case 'close':
          this.#events.data(off === 0 ? buf : buf.subarray(off));
          return;
        case 'chunk-size':
        case 'trailers': {
          const nl = buf.indexOf(10, off);
          const text = buf.toString('latin1', off, nl === -1 ? buf.length : nl + 1);
          this.#line += text;
          if (this.#line.length > 8192) throw protocolError('chunk line too long');
          if (nl === -1) return;
          off = nl + 1;
          const line = this.#line.endsWith('\r\n') ? this.#line.slice(0, -2) : this.#line.slice(0, -1);
          this.#line = '';
          if (this.#state === 'chunk-size') this.#chunkSize(line);
          else this.#trailer(line);
          break;
        }
        case 'chunk-data': {
          const n = Math.min(this.#remaining, buf.length - off);
          this.#events.data(buf.subarray(off, off + n));
          off += n;
          this.#remaining -= n;
          if (this.#remaining === 0) {
            this.#state = 'chunk-crlf';
            this.#remaining = 2;
          }
          break;
        }
        case 'chunk-crlf': {
          const c = buf[off] as number;
          if (!(c === 13 && this.#remaining === 2) && c !== 10)
            throw protocolError('missing CRLF after chunk');
          off++;
          if (c === 10) this.#state = 'chunk-size';
          else this.#remaining = 1;
          break;
        }
        case 'done':
          throw protocolError('bytes after the end of the response');
      }
    }
  }

  #parseHead(text: string): void {
    // Status line: "HTTP/1.x NNN reason", checked by hand (a regex here cost measurable CPU per request).
    let eol = text.indexOf('\r\n');
    if (eol === -1) eol = text.length;
    if (
      eol < 12 ||
      !text.startsWith('HTTP/1.') ||
      (text.charCodeAt(7) !== 48 && text.charCodeAt(7) !== 49) ||
      text.charCodeAt(8) !== 32 ||
      (eol > 12 && text.charCodeAt(12) !== 32)
    ) {
      throw protocolError(`bad status line: ${JSON.stringify(text.slice(0, Math.min(eol, 40)))}`);
    }
    const status = digit(text, 9) * 100 + digit(text, 10) * 10 + digit(text, 11);
    if (!(status >= 100 && status <= 999)) throw protocolError('bad status code');
    const minor = text.charCodeAt(7) === 49 ? '1' : '0';
    const reason = eol > 13 ? text.slice(13, eol) : '';
    // Hop-by-hop fields (RFC 9110 §7.6.1) are read for framing and never stored: the headers object is
    // handed to the downstream as it is.
    const headers: HeaderValues = {};
    let connText = '';
    let te: string | undefined;
    let keepAliveHint: string | undefined;
    let pos = eol + 2;
    while (pos < text.length) {
      let end = text.indexOf('\r\n', pos);
      if (end === -1) end = text.length;
      const colon = text.indexOf(':', pos);
      const first = text.charCodeAt(pos);
      if (colon === -1 || colon >= end || colon === pos || first === 32 || first === 9) {
        throw protocolError(`bad header line: ${JSON.stringify(text.slice(pos, Math.min(end, pos + 40)))}`);
      }
      if (text.charCodeAt(colon - 1) === 32) throw protocolError('space before colon in a header');
      const name = text.slice(pos, colon).toLowerCase();
      if (!isToken(name)) throw protocolError(`bad header name: ${JSON.stringify(name.slice(0, 40))}`);
      const value = text.slice(colon + 1, end).trim();
      pos = end + 2;
      switch (name) {
        case 'connection':
          connText = connText ? `${connText},${value.toLowerCase()}` : value.toLowerCase();
          continue;
        case 'transfer-encoding':
          te = te === undefined ? value : `${te},${value}`;
          continue;
        case 'keep-alive':
          keepAliveHint = value;
          continue;
        case 'proxy-connection':
        case 'upgrade':
        case 'trailer':
        case 'te':
          continue;
      }
      const prev = headers[name];
      headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
    // 1xx responses (100 Continue, 103 Early Hints) are interim: skip them and wait for the final one.
    if (status < 200) return;
    this.keepAlive = minor === '1' ? !connText.includes('close') : connText.includes('keep-alive');
    this.keepAliveHint = keepAliveHint;
    // Fields named in Connection are hop-by-hop as well.
    if (connText !== '' && connText !== 'keep-alive' && connText !== 'close') {
      for (const token of connText.split(',')) delete headers[token.trim()];
    }
    const cl = headers['content-length'];
    let mode: State;
    if (this.#noBody || status === 204 || status === 304) mode = 'done';
    else if (te !== undefined) {
      // RFC 9112 §6.1: chunked must be the final coding; otherwise the body runs until close.
      const last = te.split(',').pop()?.trim().toLowerCase();
      mode = last === 'chunked' ? 'chunk-size' : 'close';
      if (mode === 'close') this.keepAlive = false;
      delete headers['content-length'];
    } else if (cl !== undefined) {
      if (typeof cl !== 'string' || !/^\d{1,15}$/.test(cl)) throw protocolError('bad content-length');
      this.#remaining = Number(cl);
      mode = this.#remaining === 0 ? 'done' : 'length';
    } else {
      mode = 'close';
      this.keepAlive = false;
    }
    this.#state = mode === 'done' ? 'length' : mode;
    this.#events.head(status, reason, headers, this.keepAlive);
    if (mode === 'done') this.#finish(EMPTY);
  }

  #chunkSize(line: string): void {
    const semi = line.indexOf(';');
    const hex = (semi === -1 ? line : line.slice(0, semi)).trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw protocolError('bad chunk size');
    const size = Number.parseInt(hex, 16);
    if (size === 0) {
      this.#state = 'trailers';
      return;
    }
    this.#remaining = size;
    this.#state = 'chunk-data';
  }

  #trailer(line: string): void {
    if (line === '') {
      this.#finish(this.#trailers ?? EMPTY);
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw protocolError('bad trailer line');
    this.#trailers ??= {};
    const name = line.slice(0, colon).toLowerCase();
    if (!isToken(name)) throw protocolError('bad trailer name');
    const value = line.slice(colon + 1).trim();
    const prev = this.#trailers[name];
    this.#trailers[name] =
      prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }

  #finish(trailers: HeaderValues): void {
    this.#state = 'done';
    this.#events.end(trailers);
  }
}

function digit(text: string, i: number): number {
  const d = text.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : Number.NaN;
}

function protocolError(message: string): Error {
  return codedError(UPSTREAM_PROTOCOL_ERROR, `upstream protocol error: ${message}`);
}
