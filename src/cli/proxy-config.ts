/**
 * `weft proxy-config <workload>`: the config a proxy holds, from the control plane: what it computed for
 * that proxy and, when the proxy is connected, exactly what was sent and the proxy's sync state (acked,
 * nacked with the reason, stale).
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { getJson } from '../runtime/local/api-client.ts';
import { findRun } from '../runtime/local/paths.ts';
import { findInstance } from './exec.ts';

export function registerProxyConfig(program: Command): void {
  program
    .command('proxy-config')
    .description("Show the config of a workload's sidecar as the control plane computed and sent it.")
    .argument('<workload>', 'a workload name, an instance id (ns/name-0), or name.namespace')
    .option('--run <id>', 'which `weft up` run (default: the only live one)')
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .option(
      '--section <name>',
      "only one part: outbound, inbound, backends, or sync (the proxy's sync state)",
    )
    .action(async (workload: string, opts: { run?: string; output: string; section?: string }) => {
      try {
        const run = findRun(opts.run);
        const inst = findInstance(run.instances, workload);
        if (!inst) throw new Error(`no workload "${workload}" in run ${run.runId}`);
        const body = await getJson<{ computed: Record<string, unknown>; sent: unknown; sync: unknown }>(
          { socketPath: run.controlSocket },
          `/api/v1/proxies/${encodeURIComponent(inst.id)}/config`,
        );
        const out: unknown = opts.section
          ? opts.section === 'sync'
            ? body.sync
            : body.computed[opts.section]
          : body;
        process.stdout.write(opts.output === 'json' ? `${JSON.stringify(out, null, 2)}\n` : stringify(out));
      } catch (err) {
        process.stderr.write(`weft proxy-config: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
