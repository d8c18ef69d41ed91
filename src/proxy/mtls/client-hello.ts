/**
 * Telling a Weft proxy's mutual-TLS connection from anything else on an inbound port, before any byte is
 * consumed: the first TLS record of a Weft client is a ClientHello offering one of the `weft/…` ALPN
 * protocols (RFC 7301). An application's own TLS (offering h2, http/1.1 or nothing) and plaintext are
 * left to the application, as Istio's inbound filter chains do with their `istio-*` ALPN values.
 */

/** ALPN protocol ids between Weft proxies: what the connection carries inside the tunnel. */
export const MESH_ALPN = { http1: 'weft/http1', http2: 'weft/h2', tcp: 'weft/tcp' } as const;
export type MeshAlpn = (typeof MESH_ALPN)[keyof typeof MESH_ALPN];
export const MESH_ALPN_LIST: readonly string[] = [MESH_ALPN.http2, MESH_ALPN.http1, MESH_ALPN.tcp];

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_ALPN = 0x0010;
/** A TLS record carries at most 2^14 bytes of plaintext (a ClientHello is never encrypted). */
const MAX_RECORD = 5 + 16384 + 256;

/**
 * The ALPN protocols a ClientHello offers: 'more' until the whole first record is buffered, undefined
 * when the bytes are not a TLS handshake record holding a ClientHello (or it is malformed), [] when it
 * offers no ALPN.
 */
export function clientHelloAlpn(buf: Buffer): string[] | 'more' | undefined {
  if (buf.length === 0) return 'more';
  if (buf[0] !== HANDSHAKE) return undefined;
  if (buf.length >= 2 && buf[1] !== 0x03) return undefined;
  if (buf.length < 5) return 'more';
  const recordLength = buf.readUInt16BE(3);
  if (recordLength > MAX_RECORD - 5) return undefined;
  if (buf.length < 5 + recordLength) return 'more';
  const body = buf.subarray(5, 5 + recordLength);
  if (body.length < 4 || body[0] !== CLIENT_HELLO) return undefined;
  // A ClientHello split over several records (very large ones) is read from the first record only; the
  // extensions Weft needs come early enough in practice, and a cut-off ALPN list reads as none.
  const end = Math.min(body.length, 4 + body.readUIntBE(1, 3));
  let p = 4 + 2 + 32; // version, random
  if (p + 1 > end) return undefined;
  p += 1 + (body[p] as number); // session id
  if (p + 2 > end) return undefined;
  p += 2 + body.readUInt16BE(p); // cipher suites
  if (p + 1 > end) return undefined;
  p += 1 + (body[p] as number); // compression methods
  if (p + 2 > end) return [];
  const extEnd = Math.min(end, p + 2 + body.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = body.readUInt16BE(p);
    const len = body.readUInt16BE(p + 2);
    p += 4;
    if (p + len > extEnd) return undefined;
    if (type === EXT_ALPN) {
      const out: string[] = [];
      if (len < 2) return undefined;
      const listEnd = Math.min(p + 2 + body.readUInt16BE(p), p + len);
      let q = p + 2;
      while (q < listEnd) {
        const n = body[q] as number;
        if (n === 0 || q + 1 + n > listEnd) return undefined;
        out.push(body.toString('latin1', q + 1, q + 1 + n));
        q += 1 + n;
      }
      return out;
    }
    p += len;
  }
  return [];
}

export type Sniffed = 'mesh' | 'other';

/** Whether a connection's first bytes are a Weft proxy starting mutual TLS ('more' until it can tell). */
export function meshTlsStart(buf: Buffer): Sniffed | 'more' {
  const alpn = clientHelloAlpn(buf);
  if (alpn === 'more') return 'more';
  return alpn?.some((p) => p.startsWith('weft/')) ? 'mesh' : 'other';
}
