/**
 * One workload instance's network namespace `weft-<runId>-<index>`: `eth0` with the instance's address,
 * cabled by a veth pair to the run's hub bridge. Both ends of the pair are created directly inside their
 * namespaces (`ip -n <hub> link add … peer … netns <instance>`), so no interface ever appears in the host's
 * namespace, not even for a moment, and names only need to be unique inside the hub (`v<index>`).
 *
 * No default route is added: the only routable destinations are the run's subnet (instances and service
 * virtual IPs), which is all transparent interception needs, since a REDIRECT in the nat OUTPUT chain
 * happens after the routing decision, so a destination must be routable to be redirected at all.
 * route_localnet is not needed either: REDIRECT in OUTPUT rewrites to 127.0.0.1 for locally generated
 * packets, which stay on `lo`, and REDIRECT in PREROUTING rewrites to eth0's own address.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { runCommand } from './command.ts';
import { HUB_BRIDGE, hubNetnsName, instanceNetnsName } from './names.ts';

export interface InstanceNetns {
  /** The namespace's name, for `ip netns exec` and execInNetns(). */
  netns: string;
  address: string;
  prefixLen: number;
  /** The optional IPv6 address on eth0. */
  address6?: string;
  /** The interface inside the instance namespace. */
  interface: 'eth0';
  /** The veth's other end, inside the hub namespace, attached to wbr0. */
  hubInterface: string;
}

/**
 * Creates the namespace for instance `index` of run `runId` with `address/prefixLen` on eth0 (loopback up),
 * and optionally `address6/prefixLen6` (default /64), cabled to the hub created by createHub(). Removes the
 * namespace again on failure.
 */
export async function createInstanceNetns(
  runId: string,
  index: number,
  address: string,
  prefixLen = 16,
  options: { address6?: string; prefixLen6?: number } = {},
): Promise<InstanceNetns> {
  const ns = instanceNetnsName(runId, index);
  const hub = hubNetnsName(runId);
  if (!isIPv4(address))
    throw new Error(`invalid instance address ${JSON.stringify(address)}: use an IPv4 address`);
  if (!Number.isInteger(prefixLen) || prefixLen < 1 || prefixLen > 30) {
    throw new Error(`invalid prefix length ${prefixLen}: use 1–30`);
  }
  const { address6, prefixLen6 = 64 } = options;
  if (
    address6 !== undefined &&
    (!isIPv6(address6) || !Number.isInteger(prefixLen6) || prefixLen6 < 1 || prefixLen6 > 128)
  ) {
    throw new Error(`invalid instance IPv6 address ${JSON.stringify(`${address6}/${prefixLen6}`)}`);
  }
  const hubInterface = `v${index}`;
  await runCommand('ip', ['netns', 'add', ns]);
  try {
    await runCommand('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // The veth is born in the hub with its peer born in the instance namespace, already named eth0.
    await runCommand('ip', [
      '-n',
      hub,
      'link',
      'add',
      hubInterface,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      ns,
    ]);
    await runCommand('ip', ['-n', hub, 'link', 'set', hubInterface, 'master', HUB_BRIDGE, 'up']);
    await runCommand('ip', ['-n', ns, 'addr', 'add', `${address}/${prefixLen}`, 'dev', 'eth0']);
    if (address6 !== undefined) {
      // nodad: the address is usable at once instead of after duplicate address detection (about 1 s);
      // addresses are allocated by the runtime, so there is nothing to detect.
      await runCommand('ip', ['-n', ns, 'addr', 'add', `${address6}/${prefixLen6}`, 'dev', 'eth0', 'nodad']);
    }
    await runCommand('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  } catch (err) {
    // Deleting the namespace deletes eth0 and with it the veth's hub end.
    await runCommand('ip', ['netns', 'delete', ns]).catch(() => {
      // Already gone or never made; the original error is the one to report.
    });
    throw new Error(`creating the instance namespace ${ns} (${address}) failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    netns: ns,
    address,
    prefixLen,
    ...(address6 ? { address6 } : {}),
    interface: 'eth0',
    hubInterface,
  };
}
