/**
 * Support for the control plane's tests (imported by *.test.ts only): the golden mesh in
 * test/fixtures/control/golden, and the built-in image table with fixed paths, so the expected workloads
 * and views do not depend on the machine.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleForImage } from '../samples/images.ts';
import type { ImageResolver } from './translate/kubernetes/workloads.ts';

export const GOLDEN = fileURLToPath(new URL('../../test/fixtures/control/golden/', import.meta.url));
/** The golden mesh's resource files; the instances files beside them are per mode. */
export const GOLDEN_RESOURCES = ['services.yaml', 'workloads.yaml', 'routes.yaml'].map((f) =>
  path.join(GOLDEN, f),
);

export const fixedImages: ImageResolver = {
  lookup(image) {
    const s = sampleForImage(image);
    return s && { program: s.program, useCommand: s.useCommand, env: { ...s.env } };
  },
  root: '/opt/weft',
  node: '/opt/node/bin/node',
};
