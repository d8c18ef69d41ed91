/**
 * `weft status`: the running mesh at a glance, from its control plane's API: every resource that is not
 * cleanly accepted with its errors (file:line:column, code), and every proxy with its sync state.
 */
import type { Command } from 'commander';
import { getJson } from '../runtime/local/api-client.ts';
import { findRun } from '../runtime/local/paths.ts';

export interface ResourceStatus {
  kind: string | null;
  namespace: string | null;
  name: string | null;
  at: string;
  state: string;
  issues: Array<{ code: string; path: string; message: string; at: string }>;
}

interface ProxyStatus {
  node: string;
  state: string;
  ackedVersion?: string;
  nack?: { version: string; issues: unknown[] };
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('Show the running mesh: resources with errors, and each proxy with its config sync state.')
    .option('--run <id>', 'which `weft up` run (default: the only live one)')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: { run?: string; output: string }) => {
      let run: ReturnType<typeof findRun>;
      try {
        run = findRun(opts.run);
      } catch (err) {
        process.stderr.write(`weft status: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const target = { socketPath: run.controlSocket };
      const [resources, proxies] = await Promise.all([
        getJson<ResourceStatus[]>(target, '/api/v1/resources'),
        getJson<ProxyStatus[]>(target, '/api/v1/proxies'),
      ]);
      if (opts.output === 'json') {
        process.stdout.write(
          `${JSON.stringify({ run: run.runId, mode: run.mode, resources, proxies }, null, 2)}\n`,
        );
        return;
      }
      const accepted = resources.filter((r) => r.state === 'accepted').length;
      process.stdout.write(
        `run ${run.runId} (${run.mode} mode): ${accepted}/${resources.length} resources accepted\n`,
      );
      const problems = describeProblems(resources);
      if (problems) process.stdout.write(`${problems}\n`);
      process.stdout.write('\nPROXY  SYNC\n');
      for (const p of proxies) {
        const why = p.nack ? `  (rejected ${p.nack.version}: ${JSON.stringify(p.nack.issues[0])})` : '';
        process.stdout.write(`${p.node}  ${p.state}${why}\n`);
      }
    });
}

/** One line per problem: where, which resource, the code and the message. Empty when all is well. */
export function describeProblems(resources: readonly ResourceStatus[]): string {
  const lines: string[] = [];
  for (const r of resources) {
    if (r.state === 'accepted' && r.issues.length === 0) continue;
    const name = r.kind ? `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name ?? ''}` : 'document';
    for (const i of r.issues.length > 0 ? r.issues : [{ at: r.at, code: '', path: '', message: r.state }]) {
      lines.push(`${i.at}: ${name} ${r.state}: ${i.code} ${i.path ? `${i.path}: ` : ''}${i.message}`);
    }
  }
  return lines.join('\n');
}
