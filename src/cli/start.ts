/**
 * `weft start`: the smallest demo of the data plane alone: the bundled sample app (two versions of
 * "echo") and one Weft proxy in front of it, no control plane, then how to call it. The proxy runs as its
 * own process, exactly as `weft proxy` would. (`npm start` runs `weft demo`, the meshed application.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { ProxyConfigInput } from '../api/index.ts';
import { startEchoServer } from '../samples/echo/server.ts';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description(
      'Run one proxy (no control plane) in front of the sample "echo" app (v1 and v2), and print how to call it.',
    )
    .option('--port <port>', 'local port the proxy listens on for the app', '15001')
    .option('--admin-port <port>', 'proxy admin port (/metrics, /config)', '15000')
    .action(async (opts: { port: string; adminPort: string }) => {
      process.stdout.write('Starting the sample app and a Weft proxy…\n');
      const v1 = await startEchoServer({ service: 'echo', version: 'v1' });
      const v2 = await startEchoServer({ service: 'echo', version: 'v2' });
      const port = await freePort(Number(opts.port));
      const adminPort = await freePort(Number(opts.adminPort), port);
      const config: ProxyConfigInput = {
        admin: { address: '127.0.0.1', port: adminPort },
        outbound: [
          {
            name: 'echo',
            hosts: ['echo'],
            port: 80,
            protocol: 'detect',
            listen: { address: '127.0.0.1', port },
            routes: [
              {
                name: 'v2-by-header',
                matches: [{ headers: [{ name: 'x-version', value: 'v2' }] }],
                backends: [{ backend: 'echo-v2' }],
              },
              {
                name: 'hello',
                matches: [{ path: { type: 'Exact', value: '/hello' } }],
                directResponse: { status: 200, body: 'hello from the weft proxy\n' },
              },
              {
                name: 'split',
                backends: [
                  { backend: 'echo-v1', weight: 90 },
                  { backend: 'echo-v2', weight: 10 },
                ],
                filters: [
                  { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: { 'x-mesh': 'weft' } } },
                ],
              },
            ],
          },
        ],
        backends: [
          { name: 'echo-v1', endpoints: [{ address: '127.0.0.1', port: v1.port }] },
          { name: 'echo-v2', endpoints: [{ address: '127.0.0.1', port: v2.port }] },
        ],
      };
      const dir = mkdtempSync(join(tmpdir(), 'weft-start-'));
      const file = join(dir, 'proxy.yaml');
      writeFileSync(file, stringify(config, { version: '1.1' }));
      const bin = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
      const proxy: ChildProcess = spawn(
        process.execPath,
        [bin, 'proxy', '--config', file, '--log-level', 'warn'],
        {
          stdio: ['ignore', 'inherit', 'inherit'],
        },
      );
      const ready = await waitReady(adminPort, 10_000);
      if (!ready) {
        process.stderr.write(`The proxy did not become ready; its config is in ${file}.\n`);
        proxy.kill('SIGTERM');
        process.exit(1);
      }
      const base = `http://127.0.0.1:${port}`;
      process.stdout.write(
        [
          '',
          'Weft is running: a proxy in front of the sample app "echo" (v1 and v2).',
          '',
          `  curl ${base}/                       # split 90/10 between echo v1 and v2`,
          `  curl -H 'x-version: v2' ${base}/    # header match: always v2`,
          `  curl ${base}/hello                  # a direct response from the proxy`,
          `  curl http://127.0.0.1:${adminPort}/metrics     # golden metrics (Prometheus)`,
          `  curl http://127.0.0.1:${adminPort}/config      # the config the proxy runs`,
          '',
          `Edit ${file} and the proxy reloads it. Press Ctrl-C to stop.`,
          '',
        ].join('\n'),
      );
      const stop = () => {
        proxy.kill('SIGTERM');
        proxy.once('exit', () => {
          void Promise.all([v1.close(), v2.close()]).then(() => process.exit(0));
        });
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      proxy.once('exit', (code) => {
        if (code !== 0 && code !== null) {
          process.stderr.write(`The proxy exited with code ${code}.\n`);
          process.exit(1);
        }
      });
    });
}

/** The preferred port if it is free, else any free port. */
async function freePort(preferred: number, avoid?: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(undefined));
      s.listen(port, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
  if (preferred !== avoid) {
    const p = await tryListen(preferred);
    if (p !== undefined) return p;
  }
  for (;;) {
    const p = await tryListen(0);
    if (p !== undefined && p !== avoid) return p;
  }
}

async function waitReady(adminPort: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/ready`);
      if (res.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
