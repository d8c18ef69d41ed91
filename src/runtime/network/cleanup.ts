/**
 * Finding and removing everything a run made: its network namespaces (`weft-<runId>-*`) and their
 * /etc/netns folders. Deleting a namespace deletes its interfaces (eth0 and so the veth's hub end, the
 * bridge). A namespace lives on, unnamed, while a process is still inside it, so deleteRun first kills
 * whatever still runs in the run's namespaces: they are the run's own processes (or left from a crashed
 * one) and nothing else can be in them. Idempotent: deleting a run that is gone does nothing.
 */
import { readdir, rm } from 'node:fs/promises';
import { runCommand } from './command.ts';
import { NETNS_ETC_DIR } from './hosts.ts';
import { runPrefix } from './names.ts';

/** The name prefix for `runIdOrPrefix`: a run id gives `weft-<runId>-`; a string starting `weft-` is used as is. */
function prefixOf(runIdOrPrefix: string): string {
  return runIdOrPrefix.startsWith('weft-') ? runIdOrPrefix : runPrefix(runIdOrPrefix);
}

/** Names of the network namespaces whose name starts with the run's prefix (see prefixOf). */
export async function listRunNetns(runIdOrPrefix: string): Promise<string[]> {
  const prefix = prefixOf(runIdOrPrefix);
  const out = await runCommand('ip', ['netns', 'list']);
  // Lines are `name` or `name (id: N)`.
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(prefix));
}

/** Process ids still running inside `netns` (`ip netns pids`). */
async function pidsIn(netns: string): Promise<number[]> {
  const out = await runCommand('ip', ['netns', 'pids', netns]);
  return out
    .split('\n')
    .map((s) => Number.parseInt(s, 10))
    .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
}

/** Deletes every namespace of the run (after killing what still runs in them) and their /etc/netns folders. */
export async function deleteRun(runId: string): Promise<void> {
  const prefix = runPrefix(runId);
  const errors: string[] = [];
  for (const ns of await listRunNetns(runId)) {
    try {
      for (const pid of await pidsIn(ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch (err) {
          // ESRCH: it exited meanwhile, which is what we want.
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
      await runCommand('ip', ['netns', 'delete', ns]);
    } catch (err) {
      errors.push(`${ns}: ${(err as Error).message}`);
    }
  }
  let folders: string[] = [];
  try {
    folders = (await readdir(NETNS_ETC_DIR)).filter((name) => name.startsWith(prefix));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      errors.push(`${NETNS_ETC_DIR}: ${(err as Error).message}`);
  }
  for (const name of folders) {
    await rm(`${NETNS_ETC_DIR}/${name}`, { recursive: true, force: true }).catch((err: Error) => {
      errors.push(`${NETNS_ETC_DIR}/${name}: ${err.message}`);
    });
  }
  if (errors.length > 0)
    throw new Error(`deleting run ${runId} left some of it behind:\n  ${errors.join('\n  ')}`);
}
