/**
 * `weft up -f <files>`: the local runtime. Starts a control plane and every workload instance with its
 * sidecar on this machine, in network namespaces with transparent interception as root on Linux, else in
 * explicit mode. Shows a live table; Ctrl-C removes everything it made.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { createLogger } from '../core/index.ts';
import { originalDstAvailable } from '../proxy/listener/original-dst.ts';
import { getJson } from '../runtime/local/api-client.ts';
import { LocalRuntime } from '../runtime/local/supervisor.ts';
import { findCommand } from '../runtime/network/index.ts';
import { describeProblems, type ResourceStatus } from './status.ts';
import { renderTable, streamLogs } from './up-view.ts';

export interface UpOptions {
  filename: string[];
  explicit?: boolean;
  imageMap?: string;
  expose: string[];
  logs?: boolean;
  table?: boolean;
  certTtl?: string;
  mtls?: string;
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description(
      'Run workloads from Kubernetes/Weft/Gateway API files on this machine, meshed (Ctrl-C stops and cleans up).',
    )
    .requiredOption(
      '-f, --filename <path...>',
      'resource files or directories (Service, Deployment, Workload, HTTPRoute, …)',
    )
    .option('--explicit', 'explicit mode even as root: no network namespaces; apps get HTTP_PROXY and PORT')
    .option(
      '--image-map <file>',
      'YAML mapping container images to local programs (images: {name: {command: [...]}})',
    )
    .option('--expose <service...>', 'reach a service from the host: <name>[.<ns>]:<port>[=<hostPort>]', [])
    .option(
      '--mtls <mode>',
      'mesh-wide default for mutual TLS between sidecars when no PeerAuthentication says otherwise: PERMISSIVE, STRICT or DISABLE',
      'PERMISSIVE',
    )
    .option(
      '--cert-ttl <duration>',
      'lifetime of workload certificates (renewed at half), e.g. 24h, 20s',
      '24h',
    )
    .option('--logs', 'stream every application and sidecar log to the terminal')
    .option('--no-table', 'do not draw the live status table')
    .addHelpText(
      'after',
      '\nExamples:\n  weft up -f bookinfo.yaml -f curl.yaml\n  weft up -f manifests/ --expose productpage:9080=9080\n' +
        'Then: weft exec curl -- curl -s http://productpage:9080/productpage   (weft apply -f, weft down)',
    )
    .action(async (opts: UpOptions) => {
      await runUp(opts, {});
    });
}

/** Transparent mode needs root on Linux, iptables, setpriv and the SO_ORIGINAL_DST addon. */
export function transparentBlockers(): string[] {
  const out: string[] = [];
  if (process.platform !== 'linux') out.push('transparent interception needs Linux');
  if (process.getuid?.() !== 0)
    out.push('transparent interception needs root (network namespaces and iptables)');
  for (const c of ['ip', 'iptables-restore', 'setpriv'])
    if (!findCommand(c)) out.push(`\`${c}\` is missing (run \`npm run setup\`)`);
  const addon = originalDstAvailable();
  if (!addon.ok) out.push(addon.reason);
  return out;
}

export async function runUp(
  opts: UpOptions,
  extra: { banner?: (rt: LocalRuntime) => string },
): Promise<void> {
  const logger = createLogger({ base: { component: 'up' }, level: opts.logs ? 'info' : 'warn' });
  for (const f of opts.filename) {
    if (!fs.existsSync(f)) {
      process.stderr.write(`weft up: no such file or directory: ${f}\n`);
      process.exit(1);
    }
  }
  let transparent = !opts.explicit;
  if (transparent) {
    const blockers = transparentBlockers();
    if (blockers.length > 0) {
      transparent = false;
      process.stderr.write(
        `weft up: explicit mode (no interception), because:\n  ${blockers.join('\n  ')}\n`,
      );
    }
  }
  const expose = opts.expose.map(parseExpose);
  const controlArgs = [
    ...(opts.certTtl ? ['--cert-ttl', opts.certTtl] : []),
    ...(opts.mtls ? ['--mtls', opts.mtls] : []),
  ];
  const rt = new LocalRuntime({
    files: opts.filename,
    transparent,
    imageMap: opts.imageMap,
    controlArgs,
    logger,
    expose,
  });
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(
      '\nweft up: stopping workloads, sidecars and the control plane, removing namespaces…\n',
    );
    await rt.stop();
    process.stderr.write('weft up: everything removed.\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  process.stderr.write(
    `weft up: run ${rt.runId} in ${transparent ? 'transparent' : 'explicit'} mode; starting the control plane…\n`,
  );
  try {
    await rt.start();
  } catch (err) {
    process.stderr.write(`weft up: ${(err as Error).message}\n`);
    await stop(1);
    return;
  }
  process.stderr.write('weft up: starting workloads (each sidecar first, then its application)…\n');
  await rt.waitSettled();
  const problems = describeProblems(
    await getJson<ResourceStatus[]>({ socketPath: rt.controlSocket }, '/api/v1/resources'),
  );
  if (problems) process.stderr.write(`weft up: some resources are not used:\n${problems}\n`);
  const failed = rt.instances().filter((r) => r.phase === 'failed');
  for (const f of failed) process.stderr.write(`weft up: ${f.id} failed: ${f.error}\n`);
  process.stdout.write(`${renderTable(rt, false)}\n`);
  if (extra.banner) process.stdout.write(`${extra.banner(rt)}\n`);
  else for (const e of rt.edges) process.stdout.write(`${e.service} is at ${e.url}\n`);
  process.stdout.write(
    `weft up: ready (run ${rt.runId}). Ctrl-C to stop; \`weft exec <workload> -- <cmd>\` runs a command inside the mesh.\n`,
  );
  if (opts.logs) streamLogs(rt);
  else if (opts.table !== false && process.stdout.isTTY) {
    let last = '';
    setInterval(() => {
      const text = renderTable(rt, true);
      if (text !== last) {
        last = text;
        process.stdout.write(`\x1b[s\x1b[J${text}\x1b[u`);
      }
    }, 1000).unref();
  }
  // Keep running until a signal (a pending promise alone does not keep Node alive).
  setInterval(() => {}, 1 << 30);
}

/** `productpage:9080`, `productpage.bookinfo:9080=8080` → service key, port and host port. */
export function parseExpose(text: string): { service: string; port: number; hostPort: number } {
  const m = /^([a-z0-9-]+)(?:\.([a-z0-9-]+))?:(\d+)(?:=(\d+))?$/.exec(text);
  if (!m) throw new Error(`--expose ${text}: use <name>[.<namespace>]:<port>[=<hostPort>]`);
  return { service: `${m[2] ?? 'default'}/${m[1]}`, port: Number(m[3]), hostPort: Number(m[4] ?? 0) };
}
