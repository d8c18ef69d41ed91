/**
 * haproxy as a peer proxy under test: a config file in the temp dir, run in the foreground (`-db`) with one
 * thread (`nbthread 1`, the one-core comparison), no logging, and server-side connection reuse (haproxy's
 * default `http-reuse safe`). HTTP/2 and gRPC use h2c on both sides (`proto h2`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findCommand } from '../../src/runtime/network/command.ts';
import { freePort, readyOrStop, startProcess, stopProcess, waitListening } from './procs.ts';
import { binaryTarget, type Section, type StartContext, type Target } from './types.ts';

export function haproxyBinary(): string | undefined {
  return findCommand('haproxy');
}

function config(section: Section, port: number, ctx: StartContext, dir: string): string {
  const h2 = section === 'h1' ? '' : ' proto h2';
  return `# Written by bench/lib/haproxy.ts for one bench run.
global
  nbthread 1
  maxconn 4096
  pidfile ${join(dir, 'haproxy.pid')}

defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s

frontend bench
  bind 127.0.0.1:${port}${h2}
  default_backend up

backend up
  server up1 127.0.0.1:${ctx.upstreams[section]}${h2}
`;
}

export function createHaproxyTarget(): Target {
  return binaryTarget('haproxy', haproxyBinary, async (section, ctx) => {
    const bin = haproxyBinary();
    if (bin === undefined) throw new Error('haproxy is not installed');
    const port = await freePort();
    const dir = join(ctx.tmpDir, `haproxy-${section}`);
    mkdirSync(dir, { recursive: true });
    const cfgPath = join(dir, 'haproxy.cfg');
    writeFileSync(cfgPath, config(section, port, ctx, dir));
    const proc = startProcess(`haproxy-${section}`, bin, ['-db', '-f', cfgPath], {
      core: ctx.cores.proxy,
      logDir: dir,
    });
    await readyOrStop(proc, () => waitListening(proc, port));
    const note = section === 'h1' ? 'HTTP/1.1 -> HTTP/1.1 (http-reuse safe)' : 'h2c -> h2c upstream';
    return { port, proc, note, stop: () => stopProcess(proc) };
  });
}
