/**
 * gRPC status codes by name (grpc/grpc doc/statuscodes.md), for config that names them (Istio's fault
 * `grpcStatus` takes names such as UNAVAILABLE), and the HTTP-to-gRPC mapping of gRPC's
 * doc/http-grpc-status-mapping.md, which Envoy applies to a local reply for a gRPC request when only an
 * HTTP status is known (Grpc::Utility::httpToGrpcStatus).
 */

export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcStatusName = keyof typeof GrpcStatus;

export const GRPC_STATUS_NAMES = Object.keys(GrpcStatus) as GrpcStatusName[];

/** A status given by name or number, as a number; undefined for an unknown name or a number out of range. */
export function grpcStatusCode(status: string | number): number | undefined {
  if (typeof status === 'number')
    return Number.isInteger(status) && status >= 0 && status <= 16 ? status : undefined;
  return Object.hasOwn(GrpcStatus, status) ? GrpcStatus[status as GrpcStatusName] : undefined;
}

/** gRPC's mapping of an HTTP status to the grpc-status a client should see. */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}
