/**
 * One backend reference resolved against services to a service port (ServiceBackendRef), and recorded
 * on the rule context so the view includes that backend. Used by weighted backends and by mirrors.
 */
import type { BackendObjectReference } from '../../../api/resources/gateway-api/index.ts';
import { type ServiceBackendRef, serviceBackendName } from '../../model/types.ts';
import { type RuleContext, serviceKey } from './types.ts';

export interface ResolvedBackend {
  ref: ServiceBackendRef;
  /** Why the ref does not resolve to a service port; undefined when it does. */
  problem: { path: string; message: string } | undefined;
}

function isCoreService(group: string, kind: string): boolean {
  return (group === '' || group === 'core') && kind === 'Service';
}

/**
 * Resolves one reference. The port, when absent: the parent's port if the ref names the parent, else the
 * Service's only port. Returns undefined when that needs the parent port and it is not known yet (the
 * caller retries once per parent port).
 */
export function resolveBackendRef(
  ref: BackendObjectReference,
  path: string,
  ctx: RuleContext,
): ResolvedBackend | undefined {
  const namespace = ref.namespace ?? ctx.route.namespace;
  if (!isCoreService(ref.group, ref.kind)) {
    // A name no Service can have (it holds "/"), so the view can never give it endpoints.
    const name = `${ref.group || 'core'}/${ref.kind}/${ref.name}`;
    return {
      ref: { namespace, name, port: ref.port ?? 0 },
      problem: { path: `${path}.kind`, message: `backend kind ${ref.kind} is not supported (only Service)` },
    };
  }
  const service = ctx.services.get(serviceKey(namespace, ref.name));
  const id = `Service ${namespace}/${ref.name}`;
  if (service === undefined) {
    return {
      ref: { namespace, name: ref.name, port: ref.port ?? 0 },
      problem: { path: `${path}.name`, message: `${id} does not exist` },
    };
  }
  let port = ref.port;
  const isParent = namespace === ctx.parent.namespace && ref.name === ctx.parent.name;
  if (port === undefined && isParent) {
    if (ctx.parentPort === undefined && service.ports.length > 1) {
      ctx.needsParentPort = true;
      return undefined;
    }
    port = ctx.parentPort;
  }
  if (port === undefined && service.ports.length === 1) port = service.ports[0]?.port;
  if (port === undefined) {
    const ports = service.ports.map((p) => p.port).join(', ');
    return {
      ref: { namespace, name: ref.name, port: 0 },
      problem: { path: `${path}.port`, message: `${id} has several ports (${ports}): set port` },
    };
  }
  if (!service.ports.some((p) => p.port === port)) {
    return {
      ref: { namespace, name: ref.name, port },
      problem: { path: `${path}.port`, message: `${id} has no port ${port}` },
    };
  }
  return { ref: { namespace, name: ref.name, port }, problem: undefined };
}

export function useBackend(ctx: RuleContext, ref: ServiceBackendRef): string {
  const name = serviceBackendName(ref);
  if (!ctx.backendRefs.has(name)) ctx.backendRefs.set(name, ref);
  return name;
}
