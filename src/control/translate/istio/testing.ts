/**
 * Test helpers for the Istio translators: resources read by a real index (schemas and every translator,
 * as the control plane runs them), with one ready instance per Deployment, each behind a transparent
 * sidecar, as the local runtime would report them.
 */

import { silentLogger } from '../../../core/index.ts';
import { MeshIndex } from '../../index/index.ts';
import { createVipAllocator } from '../../index/vips.ts';
import type { InstanceModel } from '../../model/types.ts';
import type { SourcedDocument } from '../../sources/types.ts';
import { fixedImages } from '../../testing.ts';
import type { ImageResolver } from '../kubernetes/workloads.ts';
import { ROUTE_KINDS, translateRoutes } from '../routes.ts';

export function istioMesh(
  docs: readonly SourcedDocument[],
  options: { images?: ImageResolver; addressOf?: (id: string, i: number) => string } = {},
): MeshIndex {
  const index = new MeshIndex({
    images: options.images ?? fixedImages,
    vips: createVipAllocator(),
    logger: silentLogger,
    transparent: true,
    routeKinds: ROUTE_KINDS,
    translateRoutes,
  });
  index.events('files').reset([...docs]);
  const instances: InstanceModel[] = index.model.workloads.map((w, i) => {
    const id = `${w.namespace}/${w.name}-0`;
    return {
      id,
      namespace: w.namespace,
      workload: w.name,
      labels: w.labels,
      serviceAccount: w.serviceAccount,
      address: options.addressOf?.(id, i) ?? `10.77.1.${i + 1}`,
      ports: w.ports.map((p) => ({ name: p.name, containerPort: p.port, port: p.port })),
      ready: true,
      sidecar: { mode: 'transparent', adminSocket: `/run/weft/${i}.sock` },
    };
  });
  index.setInstances(instances);
  return index;
}
