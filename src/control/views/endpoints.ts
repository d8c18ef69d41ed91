/**
 * Endpoints of a service port: the ready instances its selector picks, at the port its targetPort names.
 * Transparent mode dials the instance's own address (its peer proxy intercepts); explicit mode dials the
 * instance's sidecar on 127.0.0.1 at the inbound port the runtime gave that application port. Either way
 * a Weft sidecar answers, so an endpoint can name the identity that sidecar must prove (auto-mTLS); the
 * caller's `identityOf` decides, per instance and port, whether it does.
 */
import type { InstanceModel, ServiceModel, ServicePortModel } from '../model/types.ts';

export interface EndpointInput {
  address: string;
  port: number;
  labels: Record<string, string>;
  /** The SPIFFE id of the proxy in front of the endpoint; absent: plaintext. */
  identity?: string;
}

/** The identity a client verifies for an instance's port (containerPort), or undefined for plaintext. */
export type IdentityOf = (inst: InstanceModel, containerPort: number) => string | undefined;

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
  identityOf: IdentityOf = () => undefined,
): EndpointInput[] {
  const out: EndpointInput[] = [];
  for (const inst of instances) {
    if (!inst.ready || inst.namespace !== svc.namespace || !selects(svc.selector, inst.labels)) continue;
    const port = targetPortOf(inst, sp);
    if (port === undefined) continue;
    const identity = identityOf(inst, port);
    const ep = (address: string, p: number): EndpointInput =>
      identity === undefined
        ? { address, port: p, labels: inst.labels }
        : { address, port: p, labels: inst.labels, identity };
    if (inst.sidecar.mode === 'transparent') {
      out.push(ep(inst.address, port));
    } else {
      const inbound = inst.ports.find((p) => p.containerPort === port)?.inboundPort;
      if (inbound !== undefined) out.push(ep('127.0.0.1', inbound));
    }
  }
  // A stable order keeps the view's content hash stable when nothing changed.
  return out.sort((a, b) => (a.address === b.address ? a.port - b.port : a.address < b.address ? -1 : 1));
}
