/**
 * Resources changed through the API (`weft apply -f`, `weft delete -f`), kept as one file per resource in
 * the control plane's state directory and read by a file source like any other: a restart keeps them.
 * They take precedence over a copy of the same resource in the files given at start, as `kubectl apply`
 * replaces what was there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { keyString, type ResourceKey } from '../../../api/resources/meta.ts';

export function appliedFileName(key: ResourceKey): string {
  return `${key.kind}.${key.namespace || '_'}.${key.name}.yaml`.replace(/[^A-Za-z0-9._-]/g, '_');
}

export function writeApplied(dir: string, key: ResourceKey, doc: unknown): void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, appliedFileName(key));
  const tmp = `${file}.tmp`;
  // YAML 1.1 output so `on`/`yes` strings are quoted and read back as strings by Kubernetes tools too.
  fs.writeFileSync(
    tmp,
    `# ${keyString(key)}, applied ${new Date().toISOString()}\n${stringify(doc, { version: '1.1' })}`,
  );
  fs.renameSync(tmp, file);
}

export function deleteApplied(dir: string, key: ResourceKey): boolean {
  try {
    fs.unlinkSync(path.join(dir, appliedFileName(key)));
    return true;
  } catch {
    return false;
  }
}

/** The document stored for a resource, as applied (undefined when unreadable). */
export function readApplied(file: string): unknown {
  try {
    return parse(fs.readFileSync(file, 'utf8'), { version: '1.1' });
  } catch {
    return undefined;
  }
}
