/**
 * `weft control`: the control plane. Reads resources from files and directories (watched), computes each
 * proxy's config, streams it to the proxies, and serves the API. `weft up` runs it for you; run it alone to
 * serve proxies on VMs or to look at what a set of files turns into.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { ControlPlane, DEFAULT_TRUST_DOMAIN } from '../control/control-plane.ts';
import type { ImageEntry, ImageResolver } from '../control/translate/kubernetes/workloads.ts';
import { imageRepository } from '../control/translate/kubernetes/workloads.ts';
import { parseDuration } from '../core/duration.ts';
import { createLogger, type LogLevel } from '../core/index.ts';
import { sampleForImage } from '../samples/images.ts';

export function registerControl(program: Command): void {
  program
    .command('control')
    .description(
      'Run the control plane: resources from files → a config streamed to every proxy, and the API.',
    )
    .option('-f, --filename <path...>', 'resource files or directories (YAML, multi-document), watched', [])
    .option(
      '--state-dir <dir>',
      'where virtual IPs, applied resources and the runtime instances file live',
      '.weft/control',
    )
    .option('--address <ip>', 'address for the API and the config stream', '127.0.0.1')
    .option('--port <n>', 'port for the API and the config stream (0 picks one)', '15010')
    .option('--socket <path>', 'also serve on this Unix socket (proxies in network namespaces use it)')
    .option('--explicit', 'explicit mode: no virtual IPs; proxies are reached through local ports')
    .option(
      '--image-map <file>',
      'YAML mapping of container images to local programs (see docs/reference/local-runtime.md)',
    )
    .option(
      '--trust-domain <domain>',
      'trust domain of the workload identities (spiffe://<domain>/ns/<namespace>/sa/<account>)',
      DEFAULT_TRUST_DOMAIN,
    )
    .option(
      '--cert-ttl <duration>',
      'lifetime of the workload certificates the CA signs (renewed at half their life)',
      '24h',
    )
    .option(
      '--mtls <mode>',
      'mesh-wide default when no PeerAuthentication applies: PERMISSIVE (mTLS and plaintext), STRICT or DISABLE',
      'PERMISSIVE',
    )
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .action(async (opts: ControlOptions) => {
      await runControl(opts);
    });
}

interface ControlOptions {
  filename: string[];
  stateDir: string;
  address: string;
  port: string;
  socket?: string;
  explicit?: boolean;
  imageMap?: string;
  trustDomain: string;
  certTtl: string;
  mtls: string;
  logLevel: LogLevel;
}

async function runControl(opts: ControlOptions): Promise<void> {
  const logger = createLogger({
    level: opts.logLevel,
    base: { component: 'control' },
    write: (l) => process.stdout.write(l),
  });
  fs.mkdirSync(opts.stateDir, { recursive: true });
  let images: ImageResolver;
  try {
    images = createImageResolver(opts.imageMap);
  } catch (err) {
    process.stderr.write(`weft control: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const certificateTtlMs = parseDuration(opts.certTtl);
  if (certificateTtlMs === undefined || certificateTtlMs < 2000) {
    process.stderr.write(
      `weft control: --cert-ttl ${opts.certTtl} is not a duration of 2s or more (e.g. 24h)\n`,
    );
    process.exit(2);
  }
  const mtls = opts.mtls.toUpperCase();
  if (mtls !== 'PERMISSIVE' && mtls !== 'STRICT' && mtls !== 'DISABLE') {
    process.stderr.write(`weft control: --mtls must be PERMISSIVE, STRICT or DISABLE, not ${opts.mtls}\n`);
    process.exit(2);
  }
  const cp = new ControlPlane({
    paths: opts.filename,
    stateDir: opts.stateDir,
    logger,
    images,
    transparent: !opts.explicit,
    address: opts.address,
    port: Number(opts.port),
    socketPath: opts.socket,
    trustDomain: opts.trustDomain,
    certificateTtlMs,
    defaultMtlsMode: mtls,
  });
  try {
    await cp.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint =
      e.code === 'EADDRINUSE' ? ' (another control plane runs there? pick another with --port)' : '';
    process.stderr.write(`weft control: cannot start: ${e.message}${hint}\n`);
    process.exit(1);
  }
  logger.info('control plane started', { port: cp.port, socket: opts.socket ?? null, pid: process.pid });
  const stop = () => {
    cp.close()
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** The built-in stand-ins for sample images, then the user's mapping file (which wins). */
export function createImageResolver(mapFile: string | undefined): ImageResolver {
  const table = new Map<string, ImageEntry>();
  if (mapFile) {
    const text = fs.readFileSync(mapFile, 'utf8');
    const doc = parse(text) as { images?: Record<string, ImageEntry> } | null;
    if (!doc?.images || typeof doc.images !== 'object') {
      throw new Error(
        `${mapFile}: expected \`images:\` mapping image names to {command: [...]} or {program: ...}`,
      );
    }
    for (const [image, entry] of Object.entries(doc.images)) {
      if (entry.program) entry.program = path.resolve(path.dirname(mapFile), entry.program);
      table.set(imageRepository(image), entry);
    }
  }
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
  return {
    lookup: (image) => {
      const own = table.get(imageRepository(image));
      if (own) return own;
      const sample = sampleForImage(image);
      return sample
        ? { program: sample.program, useCommand: sample.useCommand, env: { ...sample.env } }
        : undefined;
    },
    root,
    node: process.execPath,
  };
}
