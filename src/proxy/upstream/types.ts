/**
 * The contract between the request path and an endpoint's connection pool, shaped like undici's
 * dispatcher API (dispatch(options, handler)) and implemented by Weft's HTTP/1.1 client (http1/) and
 * HTTP/2 client (http2/). One handler object per request receives the response events.
 */
import type net from 'node:net';
import type { Readable } from 'node:stream';

export type HeaderValues = Record<string, string | string[] | undefined>;

export interface DispatchOptions {
  path: string;
  method: string;
  headers: HeaderValues;
  body: Buffer | Readable | null;
  /** Skip idle connections: the retry after a stale one must not pick another that may be stale too. */
  fresh?: boolean;
}

export interface DispatchController {
  pause(): void;
  resume(): void;
  abort(reason: Error): void;
}

export interface DispatchHandler {
  onRequestStart?(controller: DispatchController, context: unknown): void;
  onResponseStart?(
    controller: DispatchController,
    statusCode: number,
    headers: HeaderValues,
    statusMessage?: string,
  ): void;
  onResponseData?(controller: DispatchController, chunk: Buffer): void;
  onResponseEnd?(controller: DispatchController, trailers: HeaderValues): void;
  onResponseError?(controller: DispatchController, error: Error): void;
}

export interface UpstreamPool {
  dispatch(options: DispatchOptions, handler: DispatchHandler): unknown;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/** Error codes the HTTP/1.1 client raises, beside the socket's own (ECONNREFUSED, ECONNRESET, …). */
export const STALE_CONNECTION = 'WEFT_STALE_CONNECTION';
export const CONNECT_TIMEOUT = 'WEFT_CONNECT_TIMEOUT';
export const UPSTREAM_PROTOCOL_ERROR = 'WEFT_UPSTREAM_PROTOCOL';
/** The backend's circuit breaker refused the request (weft-error OVERFLOW): it never left the proxy. */
export const OVERFLOW = 'WEFT_OVERFLOW';

/**
 * How one try at an endpoint ended, for outlier detection: the status of the response head, or a failure
 * before one (a connect failure, a reset or close by the upstream, a timeout).
 */
export type TryOutcome = number | 'connect-failure' | 'reset' | 'timeout';

/**
 * Whether a failed request may be sent once more on a fresh connection (`fresh`): the pooled connection it
 * went out on turned out to be dead before any response byte (the upstream closed it while idle, the race
 * behind Istio's 503 "UC"), and its body can be sent again (none, or one read whole). The handler checks
 * the rest itself: no response has started, it has not retried yet, and it did not end the request itself.
 * UND_ERR_SOCKET is undici's code for the same failure.
 */
export function canRetryOnFreshConnection(opts: DispatchOptions, err: Error): boolean {
  if (opts.body != null && !Buffer.isBuffer(opts.body)) return false;
  const code = (err as { code?: string }).code;
  return code === STALE_CONNECTION || code === 'UND_ERR_SOCKET';
}

export function codedError(code: string, message: string): Error {
  const err = new Error(message) as Error & { code: string };
  err.code = code;
  return err;
}

/** Opens a connection to one endpoint: plaintext, or mutual TLS when the endpoint runs a Weft proxy. */
export type Dial = () => net.Socket;

/** The event after which a socket from a Dial carries application bytes. */
export function readyEvent(socket: net.Socket): 'connect' | 'secureConnect' {
  // TLSSocket sets `encrypted`; checked by property so that a proxy without mutual TLS never loads node:tls.
  return (socket as { encrypted?: boolean }).encrypted === true ? 'secureConnect' : 'connect';
}
