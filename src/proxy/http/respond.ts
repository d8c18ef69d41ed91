/**
 * The one responder for proxy-generated errors (after linkerd2-proxy's errors/respond.rs): maps a
 * ProxyErrorCode to an HTTP status, or for gRPC requests to a trailers-only response with the matching
 * grpc-status, and always names the cause in the `weft-error` header.
 */
import { STATUS_CODES } from 'node:http';
import { type ProxyErrorCode, ProxyErrors } from '../../core/index.ts';

/**
 * What the request path uses of a response: the common surface of node:http's ServerResponse and the
 * http2 compatibility API's Http2ServerResponse.
 */
export interface DownstreamResponse {
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  writeHead(status: number, headers?: Record<string, string | string[] | number>): unknown;
  /**
   * Sets a header before the head is written (filters' response headers, http/admit.ts). Headers later
   * given to writeHead are merged in and take precedence, as node:http does it. Every writer on the
   * request path has it; it is optional only so that test doubles need not.
   */
  setHeader?(name: string, value: string): unknown;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer | string): unknown;
  addTrailers(headers: Record<string, string | string[]>): void;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  destroy(error?: Error): unknown;
}

const GRPC_STATUS: Partial<Record<number, number>> = {
  400: 13, // INTERNAL
  404: 12, // UNIMPLEMENTED
  429: 8, // RESOURCE_EXHAUSTED
  431: 13,
  500: 13,
  502: 14, // UNAVAILABLE
  503: 14,
  504: 4, // DEADLINE_EXCEEDED
};

/** Writes an error response if nothing was sent yet; otherwise resets the stream. Returns the status. */
export function respondError(
  res: DownstreamResponse,
  code: ProxyErrorCode,
  grpc: boolean,
  message: string = ProxyErrors[code].description,
  close = false,
): number {
  const status = ProxyErrors[code].status;
  if (res.headersSent) {
    // Mid-response failure: the only honest signal left is to abort the stream.
    res.destroy();
    return status;
  }
  if (grpc) {
    // Both HTTP/2 and the fast path hold the head until end(), so this leaves as one HEADERS frame
    // with END_STREAM: a gRPC Trailers-Only response, as gRPC clients expect it.
    res.writeHead(200, {
      'content-type': 'application/grpc',
      'grpc-status': String(GRPC_STATUS[status] ?? 2),
      'grpc-message': encodeURIComponent(message),
      'weft-error': code,
    });
    res.end();
    return status;
  }
  const body = `${message}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'weft-error': code,
  };
  if (close && 'shouldKeepAlive' in res) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
  return status;
}

/** A raw HTTP/1.1 error for sockets node:http could not parse (clientError): no response object exists. */
export function rawErrorResponse(code: ProxyErrorCode): string {
  const status = ProxyErrors[code].status;
  const body = `${ProxyErrors[code].description}\n`;
  const reason = STATUS_CODES[status] ?? 'Error';
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nweft-error: ${code}\r\nconnection: close\r\n\r\n${body}`;
}
