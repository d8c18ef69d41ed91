/**
 * Protocol detection on ports whose protocol is not declared, as Linkerd does: read the first bytes and
 * decide. HTTP/2 prior knowledge starts with the 24-byte connection preface; HTTP/1 with a method token
 * and a space; TLS with a handshake record (0x16 0x03). Anything else, or silence until the detection
 * timeout (server-speaks-first protocols such as MySQL or SMTP), is opaque TCP.
 */
import type net from 'node:net';

export type Detected = 'http1' | 'http2' | 'tls' | 'tcp';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const MAX_METHOD = 24;

/** Classifies a byte prefix; 'more' when it cannot tell yet. */
export function classify(buf: Buffer): Detected | 'more' {
  if (buf.length === 0) return 'more';
  const first = buf[0] as number;
  if (first === 0x16) {
    if (buf.length < 2) return 'more';
    return buf[1] === 0x03 ? 'tls' : 'tcp';
  }
  if (first === 0x50 /* 'P' */) {
    const n = Math.min(buf.length, H2_PREFACE.length);
    if (buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n)))
      return n === H2_PREFACE.length ? 'http2' : 'more';
  }
  // HTTP/1: a token of upper-case letters (and '-') followed by a space.
  for (let i = 0; i < buf.length && i <= MAX_METHOD; i++) {
    const c = buf[i] as number;
    if (c === 0x20) return i > 0 ? 'http1' : 'tcp';
    if (!((c >= 0x41 && c <= 0x5a) || c === 0x2d)) return 'tcp';
  }
  return buf.length > MAX_METHOD ? 'tcp' : 'more';
}

/**
 * Reads from the socket until the protocol is known, puts the bytes back (unshift) and reports. The
 * socket is left paused with its data intact for whichever server takes it.
 */
export function detect(socket: net.Socket, timeoutMs: number, done: (p: Detected) => void): void {
  peek(socket, timeoutMs, classify, 'tcp', done);
}

/**
 * Reads the first bytes of a connection until `decide` can tell (it returns 'more' until then), puts
 * them back (unshift) and reports, leaving the socket paused with its data intact. An early end, or
 * silence until `timeoutMs` (server-first protocols), reports `fallback`.
 */
export function peek<T>(
  socket: net.Socket,
  timeoutMs: number,
  decide: (buf: Buffer) => T | 'more',
  fallback: T,
  done: (result: T) => void,
): void {
  let buf: Buffer = Buffer.alloc(0);
  let finished = false;
  const finish = (result: T) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.pause();
    if (buf.length > 0) socket.unshift(buf);
    done(result);
  };
  const onData = (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const r = decide(buf);
    if (r !== 'more') finish(r);
  };
  const onEnd = () => finish(fallback);
  const timer = setTimeout(() => finish(fallback), timeoutMs);
  socket.on('data', onData);
  socket.once('end', onEnd);
  // A socket paused by an earlier peek (mutual TLS) stays paused when a 'data' listener is added.
  socket.resume();
}
