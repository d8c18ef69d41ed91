/**
 * Endpoints of a service port: the ready instances its selector picks, at the port its targetPort names.
 * Transparent mode dials the instance's own address (its peer proxy intercepts); explicit mode dials the
 * instance's sidecar on 127.0.0.1 at the inbound port the runtime gave that application port.
 */
import type { InstanceModel, ServiceModel, ServicePortModel } from '../model/types.ts';

export interface EndpointInput {
  address: string;
  port: number;
  labels: Record<string, string>;
}

export function selects(
  selector: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

export function targetPortOf(inst: InstanceModel, sp: ServicePortModel): number | undefined {
  if (typeof sp.targetPort === 'number') return sp.targetPort;
  return inst.ports.find((p) => p.name === sp.targetPort)?.containerPort;
}

export function endpointsOf(
  svc: ServiceModel,
  sp: ServicePortModel,
  instances: readonly InstanceModel[],
): EndpointInput[] {
  const out: EndpointInput[] = [];
  for (const inst of instances) {
    if (!inst.ready || inst.namespace !== svc.namespace || !selects(svc.selector, inst.labels)) continue;
    const port = targetPortOf(inst, sp);
    if (port === undefined) continue;
    if (inst.sidecar.mode === 'transparent') {
      out.push({ address: inst.address, port, labels: inst.labels });
    } else {
      const inbound = inst.ports.find((p) => p.containerPort === port)?.inboundPort;
      if (inbound !== undefined) out.push({ address: '127.0.0.1', port: inbound, labels: inst.labels });
    }
  }
  // A stable order keeps the view's content hash stable when nothing changed.
  return out.sort((a, b) => (a.address === b.address ? a.port - b.port : a.address < b.address ? -1 : 1));
}
