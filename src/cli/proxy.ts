/**
 * `weft proxy --config <file>`: runs the data plane from a ProxyConfig file (YAML or JSON), reloading it
 * when the file changes. An invalid first config is fatal with a clear message; an invalid later one is
 * rejected and the last good config keeps serving. SIGTERM and SIGINT drain in-flight requests, then exit.
 *
 * `weft proxy --control-plane <target> --node <id>`: receives its configs from the control plane instead
 * (src/proxy/control-client/). It starts with no config and waits; a rejected config is nacked and the
 * proxy keeps waiting (or serving its last good one), and a lost control plane changes nothing until it is
 * back. With `--config` as well, the file is the config it starts with (not watched), and the control
 * plane's configs replace it.
 */

import { readFileSync, watch } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError, createLogger, type LogLevel } from '../core/index.ts';
import { type ControlClient, connectControlPlane } from '../proxy/control-client/index.ts';
import type { IdentityClient } from '../proxy/identity/index.ts';
import { type ParsedConfig, ProxyServer, readConfigFile, watchConfigFile } from '../proxy/index.ts';

export function registerProxy(program: Command): void {
  program
    .command('proxy')
    .description(
      'Run the Weft proxy (data plane) from a ProxyConfig file, which is watched and reloaded, or from the control plane.',
    )
    .option('-c, --config <file>', 'ProxyConfig file, YAML or JSON (see docs/reference/proxy-config.md)')
    .option(
      '--control-plane <target>',
      'receive configs from the control plane: unix:<socket path> or http://<host>:<port>',
    )
    .option(
      '--node <id>',
      "this proxy's node id, the view it asks the control plane for (with --control-plane)",
    )
    .option(
      '--join-token-file <path>',
      "file holding this workload's join token: the proxy asks the control plane's CA for its certificate (with --control-plane)",
    )
    .option(
      '--identity-dir <dir>',
      'mutual TLS from files instead of the CA: cert.pem (leaf + intermediates), key.pem, bundle.pem (roots); re-read when they change',
    )
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .option('--no-watch', 'do not reload the file when it changes')
    .option(
      '--drain-timeout <ms>',
      'override settings.drainTimeout: how long SIGTERM waits for in-flight requests',
    )
    .addHelpText(
      'after',
      '\nAdmin endpoints (settings in the file, default 127.0.0.1:15000): /live /ready /config /metrics\n' +
        'Example: weft proxy --config examples/proxy.yaml   (reference: docs/reference/proxy-config.md)\n' +
        '         weft proxy --control-plane unix:<run>/control.sock --node default/app-1',
    )
    .action((opts: ProxyOptions, command: Command) => {
      const problem = proxyOptionsProblem(opts);
      if (problem !== undefined) command.error(`error: ${problem}`);
      return runProxy(opts);
    });
}

export interface ProxyOptions {
  /** '' or undefined: no file (then `controlPlane` is required). */
  config?: string | undefined;
  logLevel: LogLevel;
  watch: boolean;
  drainTimeout?: string | undefined;
  controlPlane?: string | undefined;
  node?: string | undefined;
  joinTokenFile?: string | undefined;
  identityDir?: string | undefined;
}

/** Why a combination of options cannot run, or undefined when it can. */
export function proxyOptionsProblem(opts: ProxyOptions): string | undefined {
  if (!opts.config && !opts.controlPlane) return 'give --config <file> or --control-plane <target>';
  if (opts.controlPlane && !opts.node) return '--control-plane needs --node <id>';
  if (opts.node && !opts.controlPlane) return '--node is only used with --control-plane';
  if (opts.joinTokenFile && !opts.controlPlane) return '--join-token-file is only used with --control-plane';
  if (opts.joinTokenFile && opts.identityDir) return 'give --join-token-file or --identity-dir, not both';
  return undefined;
}

/**
 * The proxy's own argument parser, used by main.ts before commander is loaded: commander costs 2.3 MB
 * of memory in every proxy process. Returns undefined for anything it does not know (help, a typo), and
 * main.ts then lets commander parse the same arguments and explain.
 */
export function parseProxyArgs(args: readonly string[]): ProxyOptions | undefined {
  const opts: ProxyOptions = { config: '', logLevel: 'info', watch: true, drainTimeout: undefined };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq !== -1 ? arg.slice(0, eq) : arg;
    const value = () => (eq !== -1 && arg.startsWith('--') ? arg.slice(eq + 1) : args[++i]);
    switch (name) {
      case '-c':
      case '--config':
        opts.config = value() ?? '';
        break;
      case '--log-level': {
        const level = value();
        if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') return undefined;
        opts.logLevel = level;
        break;
      }
      case '--no-watch':
        opts.watch = false;
        break;
      case '--drain-timeout':
        opts.drainTimeout = value();
        break;
      case '--control-plane':
        opts.controlPlane = value();
        break;
      case '--node':
        opts.node = value();
        break;
      case '--join-token-file':
        opts.joinTokenFile = value();
        break;
      case '--identity-dir':
        opts.identityDir = value();
        break;
      default:
        return undefined;
    }
  }
  return proxyOptionsProblem(opts) === undefined ? opts : undefined;
}

export async function runProxy(opts: ProxyOptions): Promise<void> {
  const logger = createLogger({ level: opts.logLevel, base: { component: 'proxy' } });
  const proxy = new ProxyServer({ logger });
  const file = opts.config || undefined;
  let stopIdentityWatch = () => {};
  if (opts.identityDir) {
    // Loaded only when used: a proxy without mutual TLS keeps the certificate code out of its memory.
    const { readIdentityDir } = await import('../proxy/mtls/identity-files.ts');
    const dir = opts.identityDir;
    try {
      proxy.tls.setIdentity(readIdentityDir(dir));
    } catch (err) {
      process.stderr.write(`weft proxy: ${(err as Error).message}\n`);
      process.exit(2);
    }
    stopIdentityWatch = watchIdentityDir(dir, () => {
      try {
        proxy.tls.setIdentity(readIdentityDir(dir));
        logger.info('identity files reloaded', { dir, identity: proxy.tls.identity?.spiffeId });
      } catch (err) {
        logger.warn('identity files unreadable; keeping the current certificate', {
          error: (err as Error).message,
        });
      }
    });
  }
  /** The version the proxy runs, for the control plane's hello. */
  let running: string | undefined;
  const started = () =>
    logger.info('proxy started', {
      admin: proxy.adminPort(),
      listeners: proxy.listeners(),
      pid: process.pid,
    });
  if (file !== undefined) {
    let parsed: ParsedConfig | undefined;
    try {
      parsed = readConfigFile(file);
      const r = await proxy.apply(parsed.data, file);
      if (r.ok) running = r.version;
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`weft proxy: the config in ${file} is invalid:\n`);
        for (const i of err.issues) {
          const where = parsed ? `${parsed.locate(i.path)} ` : '';
          process.stderr.write(`  ${where}${i.code} ${i.path || '<root>'}: ${i.message}\n`);
        }
        process.stderr.write(
          'Fix the file and run again; docs/reference/proxy-config.md lists every field.\n',
        );
      } else {
        process.stderr.write(`weft proxy: cannot start: ${(err as Error).message}\n`);
      }
      process.exit(1);
    }
    started();
  }
  let control: ControlClient | undefined;
  if (opts.controlPlane !== undefined && opts.node !== undefined) {
    const target = opts.controlPlane;
    try {
      control = connectControlPlane({
        target,
        node: opts.node,
        logger,
        currentVersion: () => running,
        apply: async (config) => {
          const r = await proxy.apply(config, `control plane ${target}`);
          if (r.ok) running = r.version;
          return r;
        },
      });
    } catch (err) {
      process.stderr.write(`weft proxy: ${(err as Error).message}\n`);
      process.exit(2);
    }
    // Without a file the proxy has nothing to serve until the control plane's first valid config.
    if (file === undefined) control.onFirstConfig.then(started, () => {});
  }
  let identity: IdentityClient | undefined;
  if (opts.controlPlane !== undefined && opts.joinTokenFile) {
    let token: string;
    try {
      token = readFileSync(opts.joinTokenFile, 'utf8').trim();
    } catch (err) {
      process.stderr.write(`weft proxy: cannot read the join token: ${(err as Error).message}\n`);
      process.exit(2);
    }
    if (token === '') {
      process.stderr.write(`weft proxy: ${opts.joinTokenFile} holds no join token\n`);
      process.exit(2);
    }
    const { createIdentityClient } = await import('../proxy/identity/index.ts');
    identity = createIdentityClient({ target: opts.controlPlane, token, logger });
    const client = identity;
    proxy.identity = () => client.describe();
    // Not ready (and not serving mutual TLS) before the first certificate; every renewal swaps it in.
    proxy.identityRequired = true;
    client.onChange((id) => proxy.tls.setIdentity(id));
    proxy.onIssuer = (fingerprint) => {
      if (fingerprint !== undefined) client.renewUnlessIssuedBy(fingerprint);
    };
  }
  const reload = (path: string) => {
    let next: ParsedConfig;
    try {
      next = readConfigFile(path);
    } catch (err) {
      const issues = err instanceof ConfigError ? err.issues : [];
      logger.warn('config file unreadable; keeping the current config', { error: err as Error, issues });
      return;
    }
    proxy
      .apply(next.data, path)
      .then((r) => {
        if (r.ok) running = r.version;
        else {
          const at = r.issues.map((i) => `${next.locate(i.path)} ${i.code} ${i.path}: ${i.message}`);
          logger.warn('config rejected; keeping the last good version', { at });
        }
      })
      .catch((err: unknown) => logger.error('reload failed', { error: err as Error }));
  };
  // With a control plane the file is only the starting config: watching it too would fight the stream.
  const stopWatch =
    file !== undefined && opts.watch && control === undefined
      ? watchConfigFile(file, () => reload(file))
      : () => {};
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    stopWatch();
    stopIdentityWatch();
    identity?.close();
    const drainMs = opts.drainTimeout !== undefined ? Number(opts.drainTimeout) : undefined;
    Promise.resolve(control?.close())
      .then(() => proxy.shutdown(drainMs))
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error('shutdown failed', { error: err as Error });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Calls `onChange` (debounced) when a file in the identity folder changes. */
function watchIdentityDir(dir: string, onChange: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(dir, () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, 200);
  });
  watcher.on('error', () => {});
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
