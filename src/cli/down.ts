/**
 * `weft down`: removes what a crashed `weft up` left behind (its processes, network namespaces, hosts
 * files and run folder). Live runs are left alone unless named or `--all` is given; with `--all`,
 * namespaces named `weft-*` with no run folder at all are removed too.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { isAlive, listRuns } from '../runtime/local/paths.ts';
import { deleteRun, findCommand, listRunNetns } from '../runtime/network/index.ts';

export function registerDown(program: Command): void {
  program
    .command('down')
    .description(
      'Remove the leftovers of crashed `weft up` runs (processes, namespaces, files); --all also stops live runs and removes orphaned namespaces.',
    )
    .option('--run <id>', 'only this run (stopped even if it is live)')
    .option('--all', 'also stop runs that are still live')
    .action(async (opts: { run?: string; all?: boolean }) => {
      const removed = await down(opts);
      process.stdout.write(removed.length > 0 ? `${removed.join('\n')}\n` : 'nothing to clean up\n');
    });
}

export async function down(opts: { run?: string; all?: boolean }): Promise<string[]> {
  const out: string[] = [];
  const runs = listRuns().filter((r) => (opts.run ? r.runId === opts.run : opts.all || !r.alive));
  for (const r of runs) {
    if (r.alive) {
      process.kill(r.pid, 'SIGTERM');
      for (let i = 0; i < 300 && isAlive(r.pid); i++) await new Promise((res) => setTimeout(res, 100));
    }
    const pids = [r.controlPid, ...r.instances.flatMap((i) => [i.pids.app, i.pids.proxy])];
    for (const pid of pids) {
      if (pid && isAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
    // SIGKILL is asynchronous: wait until they are gone (or zombies) before removing their namespaces.
    for (let i = 0; i < 100 && pids.some((p) => isAlive(p)); i++)
      await new Promise((res) => setTimeout(res, 50));
    if (findCommand('ip') && process.getuid?.() === 0) await deleteRun(r.runId);
    fs.rmSync(r.dir, { recursive: true, force: true });
    out.push(`removed run ${r.runId} (${r.mode}, started ${r.startedAt})`);
  }
  // With --all: namespaces of runs whose folder is gone entirely (a deleted folder, or a run started with
  // another WEFT_RUN_DIR). Not by default: a live run under another run folder looks the same from here.
  if (opts.all && !opts.run && findCommand('ip') && process.getuid?.() === 0) {
    const known = new Set(listRuns().map((r) => r.runId));
    const orphans = new Set<string>();
    for (const ns of await listRunNetns('weft-')) {
      const id = ns.split('-')[1];
      if (id && !known.has(id)) orphans.add(id);
    }
    for (const id of orphans) {
      await deleteRun(id);
      out.push(`removed the network namespaces of run ${id} (no run folder)`);
    }
  }
  return out;
}
