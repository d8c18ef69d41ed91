/**
 * The Gateway API front door of the control plane (GAMMA: routes attached to Services). Pure: valid
 * HTTPRoute, GRPCRoute and TCPRoute resources plus the mesh's services in, one RouteAttachment per (route,
 * parent Service) and a status per route out. A problem in one rule or one reference is reported on the
 * route's status and the rest of the route still ships (STYLE.md, Configuration).
 */
import type { GatewayRoute } from '../../../api/resources/gateway-api/index.ts';
import { keyString } from '../../../api/resources/meta.ts';
import type { RouteAttachment, RouteInput, ServiceModel, WeightedBackendInput } from '../../model/types.ts';
import { translateGRPCRoute } from './grpc-route.ts';
import { translateHTTPRoute } from './http-route.ts';
import { type ResolvedParent, resolveParent } from './parents.ts';
import { translateTCPRoute } from './tcp-route.ts';
import {
  createReport,
  type ParsedRoute,
  type Report,
  type RouteStatus,
  type RuleContext,
  type ServiceIndex,
  serviceKey,
} from './types.ts';

export type { ParsedRoute, RouteNote, RouteStatus } from './types.ts';

export interface GatewayTranslation {
  /** Ordered by `order` (oldest route first, then namespace/name), then by parentRef. */
  attachments: RouteAttachment[];
  /** By route key, "HTTPRoute/<ns>/<name>". */
  statuses: Map<string, RouteStatus>;
}

/** A parsed resource as the translator reads it; the namespace defaults as on a cluster. */
export function parsedRoute(resource: GatewayRoute, defaultNamespace = 'default'): ParsedRoute {
  const identity = {
    namespace: resource.metadata.namespace ?? defaultNamespace,
    name: resource.metadata.name,
    created: resource.metadata.creationTimestamp ?? '',
  };
  switch (resource.kind) {
    case 'HTTPRoute':
      return { ...identity, kind: resource.kind, spec: resource.spec };
    case 'GRPCRoute':
      return { ...identity, kind: resource.kind, spec: resource.spec };
    case 'TCPRoute':
      return { ...identity, kind: resource.kind, spec: resource.spec };
  }
}

export function translateGatewayRoutes(
  routes: readonly ParsedRoute[],
  services: readonly ServiceModel[],
): GatewayTranslation {
  const index: ServiceIndex = new Map(services.map((s) => [serviceKey(s.namespace, s.name), s]));
  const attachments: RouteAttachment[] = [];
  const statuses = new Map<string, RouteStatus>();
  for (const route of routes) {
    const report = createReport();
    const attached = attachRoute(route, index, report);
    attachments.push(...attached);
    statuses.set(keyString(route), {
      accepted: attached.length > 0,
      issues: report.issues,
      notes: report.notes,
    });
  }
  // A stable sort: attachments of one route keep their parentRef order.
  attachments.sort((a, b) => compare(a.order.created, b.order.created) || compare(a.order.key, b.order.key));
  return { attachments, statuses };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function attachRoute(route: ParsedRoute, services: ServiceIndex, report: Report): RouteAttachment[] {
  const spec = route.spec;
  if (spec.parentRefs.length === 0)
    report.note('spec.parentRefs', 'no parentRefs: the route attaches to nothing');
  if (route.kind !== 'TCPRoute' && route.spec.hostnames.length > 0) {
    report.note(
      'spec.hostnames',
      'not used for routes attached to Services: the Service already selects the traffic',
    );
  }
  const out: RouteAttachment[] = [];
  spec.parentRefs.forEach((ref, i) => {
    const parent = resolveParent(route, ref, `spec.parentRefs.${i}`, services, report);
    if (parent === undefined) return;
    const only = parent.service.ports.length === 1 ? parent.service.ports[0]?.port : undefined;
    const first = translateFor(route, parent, parent.port ?? only, services);
    if (!first.ctx.needsParentPort) {
      report.merge(first.ctx.report);
      out.push(attachment(route, parent, parent.port, first));
      return;
    }
    // The rules send to "the parent's port" and the route covers several: one attachment per port.
    for (const { port } of parent.service.ports) {
      const perPort = translateFor(route, parent, port, services);
      report.merge(perPort.ctx.report);
      out.push(attachment(route, parent, port, perPort));
    }
  });
  return out;
}

interface Translated {
  ctx: RuleContext;
  routes: RouteInput[];
  tcpBackends: WeightedBackendInput[];
}

function translateFor(
  route: ParsedRoute,
  parent: ResolvedParent,
  parentPort: number | undefined,
  services: ServiceIndex,
): Translated {
  // A report of its own: a pass that turns out to need the parent port is discarded with its findings.
  const ctx: RuleContext = {
    route,
    parent: parent.service,
    parentPort,
    services,
    report: createReport(),
    needsParentPort: false,
    backendRefs: new Map(),
  };
  switch (route.kind) {
    case 'HTTPRoute':
      return { ctx, routes: translateHTTPRoute(route.spec, ctx), tcpBackends: [] };
    case 'GRPCRoute':
      return { ctx, routes: translateGRPCRoute(route.spec, ctx), tcpBackends: [] };
    case 'TCPRoute':
      return { ctx, routes: [], tcpBackends: translateTCPRoute(route.spec, ctx) };
  }
}

function attachment(
  route: ParsedRoute,
  parent: ResolvedParent,
  port: number | undefined,
  t: Translated,
): RouteAttachment {
  return {
    route: keyString(route),
    kind: route.kind,
    namespace: route.namespace,
    service: { namespace: parent.service.namespace, name: parent.service.name },
    port,
    order: { created: route.created, key: `${route.namespace}/${route.name}` },
    routes: t.routes,
    tcpBackends: t.tcpBackends,
    backendRefs: [...t.ctx.backendRefs.values()],
  };
}
