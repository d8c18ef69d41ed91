/**
 * `weft proxy --config <file>`: runs the data plane from a ProxyConfig file (YAML or JSON), reloading it
 * when the file changes. An invalid first config is fatal with a clear message; an invalid later one is
 * rejected and the last good config keeps serving. SIGTERM and SIGINT drain in-flight requests, then exit.
 */
import type { Command } from 'commander';
import { ConfigError, createLogger, type LogLevel } from '../core/index.ts';
import { type ParsedConfig, ProxyServer, readConfigFile, watchConfigFile } from '../proxy/index.ts';

export function registerProxy(program: Command): void {
  program
    .command('proxy')
    .description('Run the Weft proxy (data plane) from a ProxyConfig file; the file is watched and reloaded.')
    .requiredOption(
      '-c, --config <file>',
      'ProxyConfig file, YAML or JSON (see docs/reference/proxy-config.md)',
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
        'Example: weft proxy --config examples/proxy.yaml   (reference: docs/reference/proxy-config.md)',
    )
    .action(runProxy);
}

export interface ProxyOptions {
  config: string;
  logLevel: LogLevel;
  watch: boolean;
  drainTimeout?: string | undefined;
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
      default:
        return undefined;
    }
  }
  return opts.config ? opts : undefined;
}

export async function runProxy(opts: ProxyOptions): Promise<void> {
  const logger = createLogger({ level: opts.logLevel, base: { component: 'proxy' } });
  const proxy = new ProxyServer({ logger });
  let parsed: ParsedConfig | undefined;
  try {
    parsed = readConfigFile(opts.config);
    await proxy.apply(parsed.data, opts.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`weft proxy: the config in ${opts.config} is invalid:\n`);
      for (const i of err.issues) {
        const where = parsed ? `${parsed.locate(i.path)} ` : '';
        process.stderr.write(`  ${where}${i.code} ${i.path || '<root>'}: ${i.message}\n`);
      }
      process.stderr.write('Fix the file and run again; docs/reference/proxy-config.md lists every field.\n');
    } else {
      process.stderr.write(`weft proxy: cannot start: ${(err as Error).message}\n`);
    }
    process.exit(1);
  }
  logger.info('proxy started', {
    admin: proxy.adminPort(),
    listeners: proxy.listeners(),
    pid: process.pid,
  });
  const reload = () => {
    let next: ParsedConfig;
    try {
      next = readConfigFile(opts.config);
    } catch (err) {
      const issues = err instanceof ConfigError ? err.issues : [];
      logger.warn('config file unreadable; keeping the current config', { error: err as Error, issues });
      return;
    }
    proxy
      .apply(next.data, opts.config)
      .then((r) => {
        if (!r.ok) {
          const at = r.issues.map((i) => `${next.locate(i.path)} ${i.code} ${i.path}: ${i.message}`);
          logger.warn('config rejected; keeping the last good version', { at });
        }
      })
      .catch((err: unknown) => logger.error('reload failed', { error: err as Error }));
  };
  const stopWatch = opts.watch ? watchConfigFile(opts.config, reload) : () => {};
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    stopWatch();
    const drainMs = opts.drainTimeout !== undefined ? Number(opts.drainTimeout) : undefined;
    proxy
      .shutdown(drainMs)
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error('shutdown failed', { error: err as Error });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
