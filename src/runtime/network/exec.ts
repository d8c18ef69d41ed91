/**
 * Starts a process inside a network namespace: `ip netns exec <ns> …`, which also bind-mounts the files of
 * /etc/netns/<ns>/ (our hosts file) over /etc. With a uid, the command runs through
 * `setpriv --reuid --regid --clear-groups`, so the proxy can run as its own user (1337) and the owner match
 * of the interception rules can tell its traffic from the application's. Dropping from root to another uid
 * clears every capability; nothing else of root's survives.
 */
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { findCommand, installHint } from './command.ts';

export interface ExecInNetnsOptions {
  /** Run as this user id (via setpriv); default: as the caller (root). */
  uid?: number;
  /** Run with this group id; default: the uid. */
  gid?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stdio?: StdioOptions;
}

/** Spawns `command args…` inside `netnsName`. Throws at once when `ip` or `setpriv` is missing. */
export function execInNetns(
  netnsName: string,
  command: string,
  args: readonly string[],
  options: ExecInNetnsOptions = {},
): ChildProcess {
  const ip = findCommand('ip');
  if (!ip) throw new Error(`\`ip\` not found: ${installHint('ip')}`);
  const argv = ['netns', 'exec', netnsName];
  if (options.uid !== undefined) {
    const gid = options.gid ?? options.uid;
    for (const [what, id] of [
      ['uid', options.uid],
      ['gid', gid],
    ] as const) {
      if (!Number.isInteger(id) || id < 0) throw new Error(`execInNetns: invalid ${what} ${id}`);
    }
    const setpriv = findCommand('setpriv');
    if (!setpriv)
      throw new Error(
        `\`setpriv\` not found (needed to run as uid ${options.uid}): ${installHint('setpriv')}`,
      );
    argv.push(setpriv, `--reuid=${options.uid}`, `--regid=${gid}`, '--clear-groups', '--');
  }
  argv.push(command, ...args);
  return spawn(ip, argv, { env: options.env, cwd: options.cwd, stdio: options.stdio ?? 'pipe' });
}
