/**
 * The hosts file of one network namespace: `/etc/netns/<netns>/hosts`, which `ip netns exec` bind-mounts
 * over /etc/hosts for every process it starts there. This is how service names resolve to virtual IPs in
 * local mode, without a DNS server.
 *
 * A bind mount pins the inode, not the path: writing a new file and renaming it over the old one (the
 * usual atomic update) would leave running processes reading the old file forever. So an existing file is
 * rewritten in place: the new content is written from offset 0, then the file is truncated to its length.
 * A reader racing the update may briefly see the new lines followed by a tail of old ones, never an empty
 * file; since the first matching line wins, the new entries are the ones found.
 */
import { mkdir, open } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

export interface HostsEntry {
  ip: string;
  names: string[];
}

/** Where `ip netns exec` looks for per-namespace files (iproute2's NETNS_ETC_DIR). */
export const NETNS_ETC_DIR = '/etc/netns';

const NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/** The text of a hosts file for `entries`, after the localhost lines. */
export function renderHostsFile(entries: readonly HostsEntry[]): string {
  const lines = [
    '# Written by Weft for this network namespace; rewritten in place on every change.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
  ];
  for (const { ip, names } of entries) {
    if (!isIP(ip)) throw new Error(`hosts entry: invalid IP address ${JSON.stringify(ip)}`);
    if (names.length === 0) throw new Error(`hosts entry ${ip}: no names`);
    for (const name of names) {
      if (!NAME.test(name)) throw new Error(`hosts entry ${ip}: invalid host name ${JSON.stringify(name)}`);
    }
    lines.push(`${ip}\t${names.join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes (or rewrites in place) the hosts file of `netnsName`; returns its path. */
export async function writeHostsFile(netnsName: string, entries: readonly HostsEntry[]): Promise<string> {
  if (!/^[A-Za-z0-9_.-]+$/.test(netnsName) || netnsName.startsWith('.')) {
    throw new Error(`invalid network namespace name ${JSON.stringify(netnsName)}`);
  }
  const dir = join(NETNS_ETC_DIR, netnsName);
  const path = join(dir, 'hosts');
  const data = Buffer.from(renderHostsFile(entries));
  try {
    await mkdir(dir, { recursive: true });
    // Open without O_TRUNC, so the inode stays and the file is never empty; create it only when missing.
    const file = await open(path, 'r+').catch(async (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return open(path, 'w');
      throw err;
    });
    try {
      await file.write(data, 0, data.length, 0);
      await file.truncate(data.length);
    } finally {
      await file.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'EACCES' || code === 'EPERM' ? ' (run as root)' : '';
    throw new Error(`writing ${path} failed: ${(err as Error).message}${hint}`, { cause: err });
  }
  return path;
}
