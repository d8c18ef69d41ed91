/**
 * Support for the control plane's tests (imported by *.test.ts only): the golden mesh in
 * test/fixtures/control/golden, and the built-in image table with fixed paths, so the expected workloads
 * and views do not depend on the machine.
 */

import http from 'node:http';
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

export type Target = { socketPath: string } | { port: number };
export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON replies, checked field by field.
  json: any;
}

/** One request to the control plane's API over its Unix socket or TCP port; the reply parsed as JSON. */
export function request(
  target: Target,
  method: string,
  p: string,
  body?: string,
  agent?: http.Agent,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const where =
      'socketPath' in target ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port };
    const req = http.request({ ...where, method, path: p, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
