/** Kubernetes Services → the model's services, each with a virtual IP from the allocator. */
import type { Service } from '../../../api/resources/kubernetes/service.ts';
import type { ServiceModel } from '../../model/types.ts';
import { portProtocol } from './protocol.ts';

export function translateService(
  svc: Service,
  namespace: string,
  vip: (key: string) => string | undefined,
): ServiceModel {
  return {
    namespace,
    name: svc.metadata.name,
    vip: vip(`${namespace}/${svc.metadata.name}`),
    selector: svc.spec.selector,
    ports: svc.spec.ports
      .filter((p) => p.protocol === 'TCP')
      .map((p) => ({
        name: p.name ?? '',
        port: p.port,
        targetPort: p.targetPort ?? p.port,
        protocol: portProtocol(p.appProtocol, p.name),
      })),
  };
}
