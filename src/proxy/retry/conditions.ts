/**
 * Envoy's retry conditions (`retry_on`, the values of x-envoy-retry-on and x-envoy-retry-grpc-on), compiled
 * once per route into a bit set, and the two questions the request path asks of them: does this response,
 * or this failure without a response, call for a retry, and under which condition (the `reason` label of
 * weft_retries_total). The order of the checks, and so the condition named when several match, is Envoy's
 * (source/common/router/retry_state_impl.cc: wouldRetryFromHeaders, wouldRetryFromReset).
 */
import type { RetryCondition } from '../../api/index.ts';

const ON_5XX = 1 << 0;
const ON_GATEWAY_ERROR = 1 << 1;
const ON_RESET = 1 << 2;
const ON_CONNECT_FAILURE = 1 << 3;
const ON_RETRIABLE_4XX = 1 << 4;
const ON_REFUSED_STREAM = 1 << 5;
const ON_RETRIABLE_STATUS_CODES = 1 << 6;
const ON_GRPC_CANCELLED = 1 << 7;
const ON_GRPC_DEADLINE_EXCEEDED = 1 << 8;
const ON_GRPC_INTERNAL = 1 << 9;
const ON_GRPC_RESOURCE_EXHAUSTED = 1 << 10;
const ON_GRPC_UNAVAILABLE = 1 << 11;
const ON_GRPC =
  ON_GRPC_CANCELLED |
  ON_GRPC_DEADLINE_EXCEEDED |
  ON_GRPC_INTERNAL |
  ON_GRPC_RESOURCE_EXHAUSTED |
  ON_GRPC_UNAVAILABLE;

const BITS: Record<RetryCondition, number> = {
  '5xx': ON_5XX,
  'gateway-error': ON_GATEWAY_ERROR,
  reset: ON_RESET,
  'connect-failure': ON_CONNECT_FAILURE,
  'retriable-4xx': ON_RETRIABLE_4XX,
  'refused-stream': ON_REFUSED_STREAM,
  'retriable-status-codes': ON_RETRIABLE_STATUS_CODES,
  cancelled: ON_GRPC_CANCELLED,
  'deadline-exceeded': ON_GRPC_DEADLINE_EXCEEDED,
  internal: ON_GRPC_INTERNAL,
  'resource-exhausted': ON_GRPC_RESOURCE_EXHAUSTED,
  unavailable: ON_GRPC_UNAVAILABLE,
};

export interface RetryConditions {
  readonly mask: number;
  /** The statuses `retriable-status-codes` retries. */
  readonly codes: readonly number[];
}

/**
 * How a try failed when no response came: `connect` the connection could not be opened (refused,
 * unreachable, timed out, TLS handshake); `refused` an HTTP/2 upstream refused the stream, so it did not
 * process the request; `reset` the connection or stream broke, or the response could not be parsed;
 * `timeout` the per-try timeout cancelled the try; `overflow` the backend's circuit breaker refused it
 * before it left the proxy.
 */
export type FailureKind = 'connect' | 'refused' | 'reset' | 'timeout' | 'overflow';

/**
 * Compiles `retryOn` and `retriableStatusCodes`. A bare status code (503 or "503", as Istio accepts it) is
 * added to the codes and turns `retriable-status-codes` on, as Istio's translation does.
 */
export function compileRetryOn(
  retryOn: ReadonlyArray<RetryCondition | number | string>,
  retriableStatusCodes: readonly number[] = [],
): RetryConditions {
  let mask = 0;
  const codes = new Set(retriableStatusCodes);
  for (const c of retryOn) {
    const bit = typeof c === 'string' ? BITS[c as RetryCondition] : undefined;
    if (bit !== undefined) {
      mask |= bit;
      continue;
    }
    const code = Number(c);
    if (!Number.isInteger(code) || code < 100 || code > 599) throw new Error(`unknown retry condition ${c}`);
    codes.add(code);
    mask |= ON_RETRIABLE_STATUS_CODES;
  }
  return { mask, codes: [...codes] };
}

/** Whether any gRPC condition is on (then a gRPC response's trailers may be checked too). */
export function hasGrpcConditions(c: RetryConditions): boolean {
  return (c.mask & ON_GRPC) !== 0;
}

/**
 * The condition under which a response with this status (and grpc-status header, if any) is retried, or
 * undefined. Envoy's wouldRetryFromHeaders, without envoy-ratelimited and retriable-headers.
 */
export function retryOnResponse(
  c: RetryConditions,
  status: number,
  grpcStatus: string | undefined,
): RetryCondition | undefined {
  const mask = c.mask;
  if (mask & ON_5XX && status >= 500 && status <= 599) return '5xx';
  if (mask & ON_GATEWAY_ERROR && (status === 502 || status === 503 || status === 504)) return 'gateway-error';
  if (mask & ON_RETRIABLE_4XX && status === 409) return 'retriable-4xx';
  if (mask & ON_RETRIABLE_STATUS_CODES && c.codes.includes(status)) return 'retriable-status-codes';
  if (grpcStatus !== undefined && mask & ON_GRPC) return retryOnGrpcStatus(c, grpcStatus);
  return undefined;
}

/** The gRPC condition under which a response with this grpc-status is retried, or undefined. */
export function retryOnGrpcStatus(c: RetryConditions, grpcStatus: string): RetryCondition | undefined {
  const mask = c.mask;
  switch (grpcStatus) {
    case '1':
      return mask & ON_GRPC_CANCELLED ? 'cancelled' : undefined;
    case '4':
      return mask & ON_GRPC_DEADLINE_EXCEEDED ? 'deadline-exceeded' : undefined;
    case '8':
      return mask & ON_GRPC_RESOURCE_EXHAUSTED ? 'resource-exhausted' : undefined;
    case '13':
      return mask & ON_GRPC_INTERNAL ? 'internal' : undefined;
    case '14':
      return mask & ON_GRPC_UNAVAILABLE ? 'unavailable' : undefined;
    default:
      return undefined;
  }
}

/**
 * The condition under which a try that failed without a response is retried, or undefined. Envoy's
 * wouldRetryFromReset: a connect failure is retried by connect-failure; any failure by reset, and by 5xx and
 * gateway-error ("we count an upstream reset as a 5xx, since it will result in one"); a refused stream by
 * refused-stream. A per-try timeout is a local reset: reset, 5xx and gateway-error retry it. An overflow
 * is never retried.
 */
export function retryOnFailure(c: RetryConditions, kind: FailureKind): RetryCondition | undefined {
  if (kind === 'overflow') return undefined;
  const mask = c.mask;
  if (kind === 'connect' && mask & ON_CONNECT_FAILURE) return 'connect-failure';
  if (mask & ON_RESET) return 'reset';
  if (mask & ON_5XX) return '5xx';
  if (mask & ON_GATEWAY_ERROR) return 'gateway-error';
  if (kind === 'refused' && mask & ON_REFUSED_STREAM) return 'refused-stream';
  return undefined;
}
