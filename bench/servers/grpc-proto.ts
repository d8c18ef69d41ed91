/**
 * Loads bench.proto for the gRPC bench server and load client, so both build the same service definition.
 */
import { join } from 'node:path';
import { type GrpcObject, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

export const PROTO_PATH = join(import.meta.dirname, 'bench.proto');

export function loadBenchService(): ServiceClientConstructor {
  const def = loadSync(PROTO_PATH, { keepCase: true });
  const pkg = loadPackageDefinition(def) as GrpcObject;
  const ns = (pkg.weft as GrpcObject).bench as GrpcObject;
  return ns.Bench as ServiceClientConstructor;
}
