/** What `weft up` shows: a table of instances, sidecars and sync state, and, on request, their logs. */
import { readFrom } from '../runtime/local/processes.ts';
import type { LocalRuntime } from '../runtime/local/supervisor.ts';

const color = (on: boolean, code: number, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

export function renderTable(rt: LocalRuntime, tty: boolean): string {
  const proxies = new Map(rt.proxies().map((p) => [p.node, p.state]));
  const rows = rt
    .instances()
    .map((r) => {
      const phase =
        r.phase === 'ready'
          ? color(tty, 32, 'ready')
          : r.phase === 'failed'
            ? color(tty, 31, 'failed')
            : r.phase;
      return [
        r.id,
        r.model?.address ?? r.address,
        phase,
        proxies.get(r.id) ?? '-',
        r.error?.split('\n')[0] ?? '',
      ];
    })
    .sort((a, b) => (a[0] as string).localeCompare(b[0] as string));
  const head = ['INSTANCE', 'ADDRESS', 'STATUS', 'SIDECAR SYNC', ''];
  const all = [head, ...rows];
  const width = head.map((_, i) => Math.max(...all.map((r) => strip(r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((c, i) => c + ' '.repeat(Math.max(0, (width[i] ?? 0) - strip(c).length)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

/** Follows every instance's application and sidecar logs, prefixing each line with where it came from. */
export function streamLogs(rt: LocalRuntime): void {
  const offsets = new Map<string, number>();
  setInterval(() => {
    for (const r of rt.instances()) {
      for (const [what, file] of Object.entries(r.logs)) {
        const from = offsets.get(file) ?? 0;
        const text = readFrom(file, from);
        if (text === '') continue;
        offsets.set(file, from + Buffer.byteLength(text));
        for (const line of text.split('\n')) if (line) process.stdout.write(`[${r.id} ${what}] ${line}\n`);
      }
    }
  }, 300).unref();
}
