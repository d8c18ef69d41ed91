/**
 * `weft exec <workload> -- <command>`: runs a command as if inside a workload of the running mesh, as
 * `kubectl exec` is used in every Istio and Linkerd task: in its network namespace (transparent mode, so
 * its traffic is intercepted like the application's), or with its sidecar as HTTP proxy (explicit mode).
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { findRun, type RunInstanceInfo } from '../runtime/local/paths.ts';

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description(
      'Run a command inside a workload of the running mesh (its network namespace, or via its sidecar).',
    )
    .argument(
      '<workload>',
      'a workload name (deployment/workload), an instance id (ns/name-0), or name.namespace',
    )
    .argument('<command...>', 'the command and its arguments, after --')
    .option('--run <id>', 'which `weft up` run (default: the only live one)')
    .addHelpText('after', '\nExample: weft exec curl -- curl -s http://productpage:9080/productpage')
    .action(async (workload: string, command: string[], opts: { run?: string }) => {
      process.exitCode = await execIn(workload, command, opts.run);
    });
}

export function findInstance(
  instances: readonly RunInstanceInfo[],
  name: string,
): RunInstanceInfo | undefined {
  const [wl, ns] = name.includes('/')
    ? [undefined, undefined]
    : (name.split('.') as [string, string | undefined]);
  return (
    instances.find((i) => i.id === name) ??
    instances.find((i) => i.workload === wl && (ns === undefined || i.namespace === ns) && i.pids.app) ??
    // A Deployment's instances are `<deployment>-<n>`; `curl` also finds the deployment `curl`'s pods.
    instances.find((i) => i.id.split('/')[1]?.startsWith(`${name}-`))
  );
}

export async function execIn(name: string, command: string[], runId: string | undefined): Promise<number> {
  let inst: RunInstanceInfo | undefined;
  let mode: string;
  try {
    const run = findRun(runId);
    mode = run.mode;
    inst = findInstance(run.instances, name);
    if (!inst)
      throw new Error(
        `no workload "${name}" in run ${run.runId} (workloads: ${[...new Set(run.instances.map((i) => i.workload))].join(', ')})`,
      );
  } catch (err) {
    process.stderr.write(`weft exec: ${(err as Error).message}\n`);
    return 1;
  }
  const [cmd, ...args] = command as [string, ...string[]];
  const child =
    mode === 'transparent' && inst.netns
      ? spawn('ip', ['netns', 'exec', inst.netns, cmd, ...args], { stdio: 'inherit' })
      : spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, ...inst.env, PORT: undefined } });
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`weft exec: ${err.message}\n`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
