/**
 * Support for the Gateway API translator's tests (imported by *.test.ts only): manifests from YAML through
 * the real schemas into ParsedRoutes, services built by hand as the view builder would model them, and a
 * check that attachments make a ProxyConfig the proxy's own validator accepts.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { validateProxyConfig } from '../../../api/index.ts';
import {
  GRPCRoute,
  HTTPRoute,
  isGatewayApiVersion,
  TCPRoute,
} from '../../../api/resources/gateway-api/index.ts';
import type { ConfigIssue } from '../../../core/errors.ts';
import { type RouteAttachment, type ServiceModel, serviceBackendName } from '../../model/types.ts';
import { type ParsedRoute, parsedRoute, translateGatewayRoutes } from './index.ts';

export const COMPAT_SAMPLES =
  process.env.WEFT_COMPAT_SAMPLES ??
  new URL('../../../../test/fixtures/compat/samples', import.meta.url).pathname;
/** For `{ skip }`: the samples live outside the repository. */
export const noCompatSamples = existsSync(COMPAT_SAMPLES)
  ? false
  : `compat samples not found at ${COMPAT_SAMPLES}`;

export function readSample(path: string): string {
  return readFileSync(join(COMPAT_SAMPLES, path), 'utf8');
}

/** Every Gateway API route in a YAML stream, parsed by its schema; anything else is skipped. */
export function routesFromYaml(text: string, created = ''): ParsedRoute[] {
  const out: ParsedRoute[] = [];
  for (const doc of parseAllDocuments(text)) {
    const obj = doc.toJS() as { apiVersion?: unknown; kind?: unknown } | null;
    if (obj === null || !isGatewayApiVersion(obj.apiVersion)) continue;
    const resource =
      obj.kind === 'HTTPRoute'
        ? HTTPRoute.parse(obj)
        : obj.kind === 'GRPCRoute'
          ? GRPCRoute.parse(obj)
          : obj.kind === 'TCPRoute'
            ? TCPRoute.parse(obj)
            : undefined;
    if (resource === undefined) continue;
    out.push({ ...parsedRoute(resource), created: resource.metadata.creationTimestamp ?? created });
  }
  return out;
}

/** A Service with the given ports: a number (named "http"), or [name, port]. */
export function service(
  namespace: string,
  name: string,
  ports: ReadonlyArray<number | readonly [string, number]> = [9080],
): ServiceModel {
  return {
    namespace,
    name,
    vip: undefined,
    ports: ports.map((p) => {
      const [portName, port] = typeof p === 'number' ? ['http', p] : p;
      return {
        name: portName,
        port,
        targetPort: port,
        protocol: portName.startsWith('grpc') ? 'grpc' : 'http1',
      };
    }),
    selector: { app: name },
  };
}

/** Bookinfo (platform/kube/bookinfo.yaml and bookinfo-versions.yaml): every Service on port 9080. */
export const BOOKINFO_SERVICES: ServiceModel[] = [
  'productpage',
  'reviews',
  'ratings',
  'details',
  'productpage-v1',
  'reviews-v1',
  'reviews-v2',
  'reviews-v3',
  'ratings-v1',
  'details-v1',
].map((name) => service('default', name));

/**
 * Puts each attachment in an outbound entry and each referenced backend, empty, in `backends`, and
 * returns what the proxy's validator says. An empty list: the proxy would accept the routes.
 */
export function proxyIssues(attachments: readonly RouteAttachment[]): ConfigIssue[] {
  const backends = new Map<string, { name: string; endpoints: [] }>();
  for (const a of attachments) {
    for (const ref of a.backendRefs)
      backends.set(serviceBackendName(ref), { name: serviceBackendName(ref), endpoints: [] });
  }
  const result = validateProxyConfig({
    outbound: attachments.map((a, i) => ({
      name: `${a.route}#${i}`,
      port: 10000 + i,
      protocol: a.kind === 'TCPRoute' ? 'tcp' : 'http1',
      routes: a.routes,
      tcpBackends: a.tcpBackends,
    })),
    backends: [...backends.values()],
  });
  return result.ok ? [] : result.issues;
}

/** Translates the routes in `yaml` against `services`, after asserting that the proxy accepts the result. */
export function translateYaml(yaml: string, services: readonly ServiceModel[]) {
  const result = translateGatewayRoutes(routesFromYaml(yaml), services);
  assert.deepEqual(proxyIssues(result.attachments), [], 'the proxy would refuse these routes');
  return result;
}
