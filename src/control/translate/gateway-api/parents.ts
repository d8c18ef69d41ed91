/**
 * parentRefs resolved for the mesh (GAMMA): a parentRef to a core Service attaches the route to that
 * Service, to one port when it names one (by `port`, or by port name in `sectionName`). Other parents
 * (Gateways) concern a gateway, which Weft does not run: they are noted and ignored, not errors.
 */
import type { ParentReference } from '../../../api/resources/gateway-api/index.ts';
import type { ServiceModel } from '../../model/types.ts';
import { type ParsedRoute, type Report, type ServiceIndex, serviceKey } from './types.ts';

export interface ResolvedParent {
  service: ServiceModel;
  /** The parent port the route is narrowed to; undefined for every port of the Service. */
  port: number | undefined;
}

export function resolveParent(
  route: ParsedRoute,
  ref: ParentReference,
  path: string,
  services: ServiceIndex,
  report: Report,
): ResolvedParent | undefined {
  if (ref.kind !== 'Service' || (ref.group !== '' && ref.group !== 'core')) {
    const group = ref.group === '' ? 'core' : ref.group;
    report.note(path, `${group}/${ref.kind} ${ref.name} is not a Service: ignored by the mesh`);
    return undefined;
  }
  const namespace = ref.namespace ?? route.namespace;
  const id = `Service ${namespace}/${ref.name}`;
  const service = services.get(serviceKey(namespace, ref.name));
  if (service === undefined) {
    report.issue('CONFIG_REFERENCE', `${path}.name`, `${id} does not exist`);
    return undefined;
  }
  if (service.ports.length === 0) {
    report.issue('CONFIG_REFERENCE', path, `${id} has no ports`);
    return undefined;
  }
  const ports = service.ports.map((p) => (p.name ? `${p.name} ${p.port}` : `${p.port}`)).join(', ');
  let port = ref.port;
  if (ref.sectionName !== undefined) {
    const named = service.ports.find((p) => p.name === ref.sectionName);
    if (named === undefined) {
      report.issue(
        'CONFIG_REFERENCE',
        `${path}.sectionName`,
        `${id} has no port named ${ref.sectionName} (${ports})`,
      );
      return undefined;
    }
    if (port !== undefined && port !== named.port) {
      report.issue(
        'CONFIG_REFERENCE',
        `${path}.port`,
        `port ${port} is not the port named ${ref.sectionName} (${named.port})`,
      );
      return undefined;
    }
    port = named.port;
  } else if (port !== undefined && !service.ports.some((p) => p.port === port)) {
    report.issue('CONFIG_REFERENCE', `${path}.port`, `${id} has no port ${port} (${ports})`);
    return undefined;
  }
  return { service, port };
}
