/**
 * `weft apply -f` and `weft delete -f`: change the resources of a running mesh through its control plane,
 * as `kubectl apply` does on a cluster. Each document is reported on its own line; an invalid one is
 * reported with its file, line and code, and the others still apply.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { requestControl } from '../runtime/local/api-client.ts';
import { findRun } from '../runtime/local/paths.ts';

interface Outcome {
  ok: boolean;
  resource?: string;
  action?: string;
  error?: string;
  at?: string;
}

export function registerApply(program: Command): void {
  for (const verb of ['apply', 'delete'] as const) {
    program
      .command(verb)
      .description(
        verb === 'apply'
          ? 'Create or update resources in the running mesh.'
          : 'Delete resources from the running mesh.',
      )
      .requiredOption('-f, --filename <path...>', 'resource files or directories')
      .option('--run <id>', 'which `weft up` run (default: the only live one)')
      .action(async (opts: { filename: string[]; run?: string }) => {
        process.exitCode = await applyFiles(verb, opts.filename, opts.run);
      });
  }
}

export async function applyFiles(
  verb: 'apply' | 'delete',
  files: string[],
  runId: string | undefined,
): Promise<number> {
  let run: ReturnType<typeof findRun>;
  try {
    run = findRun(runId);
  } catch (err) {
    process.stderr.write(`weft ${verb}: ${(err as Error).message}\n`);
    return 1;
  }
  let failed = false;
  for (const file of expand(files)) {
    const text = fs.readFileSync(file, 'utf8');
    const r = await requestControl(
      { socketPath: run.controlSocket },
      'POST',
      `/api/v1/${verb}?file=${encodeURIComponent(file)}`,
      text,
    );
    const results = ((r.json as { results?: Outcome[] } | undefined)?.results ?? []) as Outcome[];
    for (const o of results) {
      if (o.ok) process.stdout.write(`${(o.resource ?? '').toLowerCase()} ${o.action}\n`);
      else {
        failed = true;
        process.stderr.write(`${o.at ?? file}: ${o.resource ? `${o.resource}: ` : ''}${o.error}\n`);
      }
    }
  }
  return failed ? 1 : 0;
}

function expand(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (fs.statSync(p).isDirectory()) {
      for (const f of fs.readdirSync(p).sort()) if (/\.(ya?ml|json)$/.test(f)) out.push(path.join(p, f));
    } else out.push(p);
  }
  return out;
}
