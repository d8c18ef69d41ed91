/**
 * Helpers for Istio's task pages in the local runtime: files applied one at a time as the pages do, and
 * multi-document task files split into their steps.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Mesh } from './mesh.ts';

/**
 * `weft apply -f file` (one request to the control plane), then waits until every sidecar acked its view.
 * A change that leaves a sidecar's view as it was sends it nothing, so this waits out the control plane's
 * distribution debounce (20 ms) and then for every sidecar to be synced, rather than for new versions.
 * Exit status 0 is required unless `expectOk` is false.
 */
export async function applySettled(
  mesh: Mesh,
  file: string,
  expectOk = true,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await mesh.weft(['apply', '--run', mesh.runId, '-f', file]);
  if (expectOk) assert.equal(r.code, 0, `${file}: ${r.stderr}`);
  await new Promise((res) => setTimeout(res, 200));
  await mesh.waitSynced();
  return r;
}

/** The documents of a multi-document YAML file, each written to a file of its own under `dir`, in order. */
export function splitDocuments(file: string, dir: string): string[] {
  const docs = fs
    .readFileSync(file, 'utf8')
    .split(/^---[ \t]*$/m)
    .filter((d) => /^kind:/m.test(d));
  return docs.map((doc, i) => {
    const out = path.join(dir, `${path.basename(file, '.yaml')}-${i + 1}.yaml`);
    fs.writeFileSync(out, doc);
    return out;
  });
}
