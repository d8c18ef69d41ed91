/**
 * haproxy as a peer proxy under test: a config file in the temp dir, run in the foreground (`-db`) with one
 * thread (`nbthread 1`, the one-core comparison), no logging, and server-side connection reuse (haproxy's
 * default `http-reuse safe`). HTTP/2 and gRPC use h2c on both sides (`proto h2`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary, freePort, startProcess, stopProcess, tcpOpen, waitUntil } from './procs.ts';
import type { RunningTarget, Section, StartContext, Target } from './types.ts';

export function haproxyBinary(): string | undefined {
  return findBinary('haproxy');
}

function config(section: Section, port: number, ctx: StartContext, dir: string): string {
  const h2 = section === 'h1' ? '' : ' proto h2';
  const upPort =
    section === 'h1' ? ctx.upstreams.h1 : section === 'h2' ? ctx.upstreams.h2 : ctx.upstreams.grpc;
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
  server up1 127.0.0.1:${upPort}${h2}
`;
}

export function createHaproxyTarget(): Target {
  return {
    name: 'haproxy',
    unavailable: () => (haproxyBinary() === undefined ? 'haproxy not installed' : undefined),
    unsupported: () => undefined,
    async start(section, ctx): Promise<RunningTarget> {
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
      try {
        await waitUntil(proc, `listening on ${port}`, () => tcpOpen(port), 10_000);
      } catch (err) {
        await stopProcess(proc);
        throw err;
      }
      const note = section === 'h1' ? 'HTTP/1.1 -> HTTP/1.1 (http-reuse safe)' : 'h2c -> h2c upstream';
      return { port, proc, note, stop: () => stopProcess(proc) };
    },
  };
}
