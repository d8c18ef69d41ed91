/**
 * nginx in the bench, in two roles: the static upstream every target forwards to (`return 200 "ok"` on an
 * HTTP/1.1 port and an h2c port, and a 1 KB body at `/1k` on the HTTP/1.1 port for the mesh section), and
 * a peer proxy under test. Each instance gets its own prefix folder in
 * the temp dir with its config, pid file, error log and temp paths, runs in the foreground (`daemon off`)
 * with one worker (a fair one-core comparison) and without an access log (Weft logs no requests by default).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findCommand } from '../../src/runtime/network/command.ts';
import {
  freePort,
  httpStatus,
  type Proc,
  readyOrStop,
  startProcess,
  stopProcess,
  tcpOpen,
  waitListening,
  waitUntil,
} from './procs.ts';
import {
  binaryTarget,
  ONE_KB_BODY,
  ONE_KB_PATH,
  type Section,
  type StartContext,
  type Target,
} from './types.ts';

export function nginxBinary(): string | undefined {
  return findCommand('nginx');
}

function prefixFor(tmpDir: string, name: string): string {
  const dir = join(tmpDir, name);
  mkdirSync(join(dir, 'temp'), { recursive: true });
  return dir;
}

/** The main config around `servers` (an http-block fragment). */
function mainConfig(dir: string, http: string): string {
  const t = join(dir, 'temp');
  return `# Written by bench/lib/nginx.ts for one bench run.
daemon off;
master_process on;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events {
  worker_connections 8192;
}
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path ${t}/client_body;
  proxy_temp_path ${t}/proxy;
  fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi;
  scgi_temp_path ${t}/scgi;
  keepalive_timeout 75s;
  # Long-lived keep-alive and h2 connections: never closed by nginx in the middle of a run.
  keepalive_requests 10000000;
${http}
}
`;
}

function startNginx(name: string, dir: string, config: string, core: number | undefined): Proc {
  const bin = nginxBinary();
  if (bin === undefined) throw new Error('nginx is not installed (scripts/install-bench-deps.sh)');
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, config);
  return startProcess(name, bin, ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', confPath], {
    core,
    logDir: dir,
  });
}

/**
 * The static upstream: HTTP/1.1 on `h1Port`, h2c on `h2Port`, both answering 200 "ok"; on HTTP/1.1 also
 * the 1 KB body at ONE_KB_PATH (an exact-match location, so "/" and everything else are unchanged).
 */
export async function startNginxUpstream(
  tmpDir: string,
  h1Port: number,
  h2Port: number,
  core: number | undefined,
): Promise<Proc> {
  const dir = prefixFor(tmpDir, 'nginx-upstream');
  const http = `  server {
    listen 127.0.0.1:${h1Port} backlog=4096;
    location / { return 200 "ok"; }
    location = ${ONE_KB_PATH} { return 200 "${ONE_KB_BODY}"; }
  }
  server {
    listen 127.0.0.1:${h2Port} http2 backlog=4096;
    http2_max_concurrent_streams 1000;
    location / { return 200 "ok"; }
  }`;
  const proc = startNginx('nginx-upstream', dir, mainConfig(dir, http), core);
  await waitUntil(
    proc,
    `upstream answers on ${h1Port}`,
    () => httpStatus(`http://127.0.0.1:${h1Port}/`),
    10_000,
  );
  await waitUntil(proc, `upstream listens on ${h2Port}`, () => tcpOpen(h2Port), 10_000);
  return proc;
}

function proxyServer(section: Section, port: number, ctx: StartContext): { http: string; note: string } {
  const up = ctx.upstreams;
  // An upstream keep-alive pool, as Weft keeps one: without it nginx opens a connection per request.
  const pool = (name: string, upPort: number) => `  upstream ${name} {
    server 127.0.0.1:${upPort};
    keepalive 64;
    keepalive_requests 10000000;
  }`;
  const h1Location = `location / {
      proxy_pass http://up_h1;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }`;
  if (section === 'h1') {
    return {
      http: `${pool('up_h1', up.h1)}
  server {
    listen 127.0.0.1:${port} backlog=4096;
    ${h1Location}
  }`,
      note: 'HTTP/1.1 -> HTTP/1.1 upstream pool',
    };
  }
  if (section === 'h2') {
    // nginx's proxy module speaks only HTTP/1.x to upstreams; h2 upstreams exist only for grpc_pass.
    return {
      http: `${pool('up_h1', up.h1)}
  server {
    listen 127.0.0.1:${port} http2 backlog=4096;
    http2_max_concurrent_streams 1000;
    ${h1Location}
  }`,
      note: 'h2c -> HTTP/1.1 upstream (nginx cannot proxy plain HTTP to an h2 upstream)',
    };
  }
  return {
    http: `${pool('up_grpc', up.grpc)}
  server {
    listen 127.0.0.1:${port} http2 backlog=4096;
    http2_max_concurrent_streams 1000;
    location / { grpc_pass grpc://up_grpc; }
  }`,
    note: 'h2c -> grpc_pass h2c upstream',
  };
}

export function createNginxTarget(): Target {
  return binaryTarget('nginx', nginxBinary, async (section, ctx) => {
    const port = await freePort();
    const dir = prefixFor(ctx.tmpDir, `nginx-proxy-${section}`);
    const { http, note } = proxyServer(section, port, ctx);
    const proc = startNginx(`nginx-proxy-${section}`, dir, mainConfig(dir, http), ctx.cores.proxy);
    await readyOrStop(proc, () => waitListening(proc, port));
    return { port, proc, note, stop: () => stopProcess(proc) };
  });
}
