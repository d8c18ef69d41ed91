/**
 * Runs the system tools the runtime drives (`ip`, `iptables-restore`, `setpriv`) and turns their failures
 * into errors that say what ran, what it printed on stderr, and what to do: a missing tool names the
 * Debian package to install, a permission error says to run as root. Everything under src/runtime that
 * touches the network goes through here, so no caller ever sees a bare "Command failed".
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Which Debian package provides each tool we call (for "install X" advice). */
const PACKAGE_OF: Record<string, string> = {
  ip: 'iproute2',
  iptables: 'iptables',
  'iptables-restore': 'iptables',
  'iptables-save': 'iptables',
  ip6tables: 'iptables',
  'ip6tables-restore': 'iptables',
  'ip6tables-save': 'iptables',
  setpriv: 'util-linux',
  nsenter: 'util-linux',
};

export class CommandError extends Error {
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(message: string, command: string, exitCode: number | null, stderr: string) {
    super(message);
    this.name = 'CommandError';
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** Advice for a failure, from what the tool printed. */
function advice(stderr: string): string {
  if (/Operation not permitted|Permission denied|must be root|you must be root/i.test(stderr)) {
    return ' (network namespaces and iptables need root: run as root)';
  }
  return '';
}

export function installHint(file: string): string {
  const pkg = PACKAGE_OF[file];
  return pkg
    ? `install it with \`apt-get install ${pkg}\` (or \`npm run setup\`)`
    : 'install it or put it on PATH';
}

/**
 * Runs `file args…`, optionally writing `input` to its stdin, and resolves with its stdout. Rejects with a
 * CommandError that quotes the command line and its stderr.
 */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  const line = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = execFile(
      findCommand(file) ?? file,
      args,
      { timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) {
          resolve(stdout);
          return;
        }
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          reject(new CommandError(`\`${file}\` not found: ${installHint(file)}`, line, null, ''));
          return;
        }
        const text = stderr.trim();
        const exitCode = typeof code === 'number' ? code : null;
        const status = err.killed
          ? `timed out (${options.timeoutMs ?? 30_000} ms)`
          : exitCode !== null
            ? `exited with ${exitCode}`
            : `was killed by ${err.signal ?? 'a signal'}`;
        reject(
          new CommandError(
            `\`${line}\` ${status}${text ? `: ${text}` : ''}${advice(text)}`,
            line,
            exitCode,
            text,
          ),
        );
      },
    );
    // A tool that fails early closes its stdin before reading it all: its exit status and stderr say why,
    // so the EPIPE of our write adds nothing.
    child.stdin?.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE')
        reject(new CommandError(`writing to \`${line}\` failed: ${err.message}`, line, null, ''));
    });
    // Close stdin even without input, so a tool that reads it never waits.
    if (options.input === undefined) child.stdin?.end();
    else child.stdin?.end(options.input);
  });
}

/**
 * The absolute path of `name` on PATH, plus the system folders a non-login or non-root shell's PATH may
 * lack (the sbin ones above all). The bench finds its tools (nginx, haproxy, wrk, taskset) with it too.
 */
export function findCommand(name: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/sbin',
    '/sbin',
    '/usr/bin',
    '/bin',
    '/usr/local/sbin',
  ];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not in this folder: keep looking.
    }
  }
  return undefined;
}
