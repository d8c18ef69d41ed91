/**
 * The hub of a run: a network namespace `weft-<runId>-hub` holding the bridge `wbr0` that connects every
 * instance namespace's veth, like the switch of a small LAN. Nothing is added to the host's own network
 * namespace: the bridge lives in the hub, and instances reach each other only through it.
 */
import { runCommand } from './command.ts';
import { HUB_BRIDGE, hubNetnsName } from './names.ts';

/** Creates the hub namespace with loopback and the bridge up; returns its name. Removes it again on failure. */
export async function createHub(runId: string): Promise<string> {
  const ns = hubNetnsName(runId);
  await runCommand('ip', ['netns', 'add', ns]);
  try {
    await runCommand('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await runCommand('ip', ['-n', ns, 'link', 'add', HUB_BRIDGE, 'type', 'bridge']);
    await runCommand('ip', ['-n', ns, 'link', 'set', HUB_BRIDGE, 'up']);
  } catch (err) {
    await runCommand('ip', ['netns', 'delete', ns]).catch(() => {
      // The namespace may not exist any more; the original error is the one to report.
    });
    throw new Error(`creating the hub namespace ${ns} failed: ${(err as Error).message}`, { cause: err });
  }
  return ns;
}
