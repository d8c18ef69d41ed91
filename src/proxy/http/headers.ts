/**
 * Header plumbing between downstream and upstream: drops hop-by-hop fields (RFC 9110 §7.6.1) and
 * HTTP/2 pseudo-headers, and carries :authority over to Host so HTTP/1 and HTTP/2 translate both ways.
 */
import type { HeaderMap } from '../filters/index.ts';

/** Fields that describe one connection and never cross the proxy. `te: trailers` is re-added for gRPC. */
function isHopByHop(name: string): boolean {
  switch (name) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'proxy-authorization':
    case 'transfer-encoding':
    case 'upgrade':
    case 'te':
    case 'trailer':
    case 'expect':
    case 'http2-settings':
    case 'host':
      return true;
    default:
      return false;
  }
}

/** Copies request headers for the upstream; the caller sets `host` from the authority. */
export function copyRequestHeaders(src: Record<string, string | string[] | undefined>): HeaderMap {
  const out: HeaderMap = {};
  for (const name in src) {
    if (name.charCodeAt(0) === 58 /* ':' */ || isHopByHop(name)) continue;
    out[name] = src[name];
  }
  dropConnectionOptions(src, out);
  if (src.te === 'trailers') out.te = 'trailers';
  return out;
}

/** Fields named in Connection are hop-by-hop too, in requests and responses alike (RFC 9110 §7.6.1). */
function dropConnectionOptions(src: Record<string, string | string[] | undefined>, out: HeaderMap): void {
  const connection = src.connection;
  if (typeof connection === 'string' && connection.includes(',')) {
    for (const token of connection.split(',')) delete out[token.trim().toLowerCase()];
  } else if (typeof connection === 'string' && connection !== 'keep-alive' && connection !== 'close') {
    delete out[connection.trim().toLowerCase()];
  }
}

/** Copies response headers for the downstream. */
export function copyResponseHeaders(src: Record<string, string | string[] | undefined>): HeaderMap {
  const out: HeaderMap = {};
  for (const name in src) {
    if (name.charCodeAt(0) === 58 || isHopByHop(name)) continue;
    out[name] = src[name];
  }
  dropConnectionOptions(src, out);
  return out;
}

/** The request's authority: :authority for HTTP/2, Host for HTTP/1. */
export function authorityOf(headers: Record<string, string | string[] | undefined>): string {
  const a = headers[':authority'] ?? headers.host;
  return typeof a === 'string' ? a : '';
}
