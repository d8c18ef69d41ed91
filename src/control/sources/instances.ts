/**
 * The runtime's instances file (`<state>/instances.json`), written by `weft up` as the kubelet reports
 * pods: which workload instances run, where, and whether they are ready. Watched like any source; a
 * restarted control plane reads it first, so it has every endpoint before proxies reconnect.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../core/index.ts';
import type { InstanceModel } from '../model/types.ts';

export function readInstancesFile(file: string): InstanceModel[] {
  try {
    const data = JSON.parse(fs.readFileSync(file, 'utf8')) as { instances?: InstanceModel[] };
    return Array.isArray(data.instances) ? data.instances : [];
  } catch {
    return [];
  }
}

/** Atomic write (rename), so a reader never sees half a file. */
export function writeInstancesFile(file: string, instances: readonly InstanceModel[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ instances }, null, 1));
  fs.renameSync(tmp, file);
}

export function watchInstancesFile(
  file: string,
  onChange: (instances: InstanceModel[]) => void,
  logger: Logger,
): () => void {
  let last = '';
  const check = () => {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {}
    if (text === last) return;
    last = text;
    onChange(readInstancesFile(file));
  };
  let watcher: fs.FSWatcher | undefined;
  try {
    watcher = fs.watch(path.dirname(file), (_e, name) => {
      if (name === path.basename(file)) check();
    });
  } catch (err) {
    logger.warn('cannot watch the instances file; polling it', { error: (err as Error).message });
  }
  const poll = setInterval(check, 500);
  poll.unref();
  check();
  return () => {
    watcher?.close();
    clearInterval(poll);
  };
}
