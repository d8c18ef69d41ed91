/**
 * Applies the interception rules (rules.ts) inside a network namespace, reads them back, and removes them.
 * Everything runs through `ip netns exec <ns> iptables-restore/-save`, so the host's own tables are never
 * touched.
 *
 * Backend: plain `iptables-restore` is whatever the machine's alternatives select. On Debian bookworm
 * that is iptables-nft (nf_tables), and both it and iptables-legacy were checked here to accept these rules
 * (nat REDIRECT, owner and multiport matches) in a fresh namespace; nft is the one kept by current
 * kernels, and SO_ORIGINAL_DST reads conntrack, which both backends' NAT records. `npm run setup` checks
 * the selected backend works in a namespace.
 *
 * Applying is idempotent: rules already present are removed first, so the jumps from PREROUTING and
 * OUTPUT are never doubled (`--noflush` keeps the rest of the table, and declaring our chains flushes them).
 */
import { runCommand } from '../network/command.ts';
import { type InterceptionOptions, renderInterceptionRules, WEFT_CHAINS } from './rules.ts';

export type IpFamily = 4 | 6;

function tool(family: IpFamily, what: 'restore' | 'save'): string {
  return `${family === 4 ? 'iptables' : 'ip6tables'}-${what}`;
}

function mentionsWeft(line: string): boolean {
  return WEFT_CHAINS.some((chain) => line.includes(chain));
}

/**
 * The Weft lines of the nat table in `netns`, as iptables-save prints them: chain declarations without
 * their counters (`:WEFT_OUTPUT - [0:0]`) and every `-A` rule that is in, or jumps to, a Weft chain.
 */
export async function readInterceptionRules(netns: string, family: IpFamily = 4): Promise<string[]> {
  const out = await runCommand('ip', ['netns', 'exec', netns, tool(family, 'save'), '-t', 'nat']);
  return out
    .split('\n')
    .filter((line) => (line.startsWith(':') || line.startsWith('-A ')) && mentionsWeft(line))
    .map((line) => (line.startsWith(':') ? line.replace(/\[\d+:\d+\]$/, '[0:0]') : line));
}

/** The rule lines (declarations and -A) of a rendered file, in the same form as readInterceptionRules. */
export function ruleLines(rendered: string): string[] {
  return rendered.split('\n').filter((line) => line.startsWith(':') || line.startsWith('-A '));
}

/** Removes Weft's jumps and chains from the nat table of `netns`; does nothing when there are none. */
export async function removeInterceptionRules(netns: string, family: IpFamily = 4): Promise<void> {
  const present = await readInterceptionRules(netns, family);
  if (present.length === 0) return;
  const chains = present.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0] ?? '');
  // Jumps from built-in chains must go before the chains they target can be deleted.
  const jumps = present
    .filter((l) => l.startsWith('-A ') && !chains.includes(l.split(' ')[1] ?? ''))
    .map((l) => `-D ${l.slice(3)}`);
  const input = [
    '*nat',
    ...jumps,
    ...chains.map((c) => `-F ${c}`),
    ...chains.map((c) => `-X ${c}`),
    'COMMIT',
    '',
  ];
  await runCommand('ip', ['netns', 'exec', netns, tool(family, 'restore'), '--noflush'], {
    input: input.join('\n'),
  });
}

/**
 * Installs the interception rules in `netns` (IPv4, and IPv6 when `families` includes 6), replacing any
 * earlier Weft rules there, then reads them back and fails unless they are exactly what was rendered.
 */
export async function applyInterceptionRules(
  netns: string,
  options: InterceptionOptions,
  families: readonly IpFamily[] = [4],
): Promise<void> {
  for (const family of families) {
    const rendered = renderInterceptionRules(options, family);
    try {
      await removeInterceptionRules(netns, family);
      await runCommand('ip', ['netns', 'exec', netns, tool(family, 'restore'), '--noflush'], {
        input: rendered,
      });
    } catch (err) {
      throw new Error(
        `applying the IPv${family} interception rules in ${netns} failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const expected = ruleLines(rendered);
    const actual = await readInterceptionRules(netns, family);
    const missing = expected.filter((line) => !actual.includes(line));
    const extra = actual.filter((line) => !expected.includes(line));
    if (missing.length > 0 || extra.length > 0) {
      throw new Error(
        `the IPv${family} interception rules in ${netns} differ from the rendered ones after applying them:` +
          `${missing.map((l) => `\n  missing: ${l}`).join('')}${extra.map((l) => `\n  unexpected: ${l}`).join('')}`,
      );
    }
  }
}
