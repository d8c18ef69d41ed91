/**
 * The upstreams every target forwards to, and the floor target that sends load to them directly. HTTP/1.1
 * and h2c come from nginx (`return 200 "ok"`) when it is installed, else from a small Node server; gRPC
 * comes from a grpc-js server. All run on the load core beside the load generator, so the proxy alone has
 * core 0.
 */
import { join } from 'node:path';
import { startNginxUpstream } from './nginx.ts';
import { freePort, type Proc, startProcess, tcpOpen, waitUntil } from './procs.ts';
import type { Cores, Target, Upstreams } from './types.ts';

const SERVERS = join(import.meta.dirname, '..', 'servers');

export interface StartedUpstreams {
  ports: Upstreams;
  kind: 'nginx' | 'node';
  procs: Proc[];
  /** Why the gRPC server is missing, when it is. */
  grpcError: string | undefined;
}

export async function startUpstreams(
  tmpDir: string,
  cores: Cores,
  useNginx: boolean,
  withGrpc: boolean,
): Promise<StartedUpstreams> {
  const [h1, h2] = [await freePort(), await freePort()];
  const procs: Proc[] = [];
  let kind: 'nginx' | 'node';
  if (useNginx) {
    procs.push(await startNginxUpstream(tmpDir, h1, h2, cores.load));
    kind = 'nginx';
  } else {
    const proc = startProcess(
      'node-upstream',
      process.execPath,
      [join(SERVERS, 'static-upstream.ts'), `${h1}`, `${h2}`],
      {
        core: cores.load,
        logDir: tmpDir,
      },
    );
    procs.push(proc);
    await waitUntil(
      proc,
      `upstream listens on ${h1} and ${h2}`,
      async () => (await tcpOpen(h1)) && tcpOpen(h2),
      10_000,
    );
    kind = 'node';
  }
  let grpc = 0;
  let grpcError: string | undefined;
  if (withGrpc) {
    const port = await freePort();
    const proc = startProcess(
      'grpc-upstream',
      process.execPath,
      [join(SERVERS, 'grpc-server.ts'), `${port}`],
      {
        core: cores.load,
        logDir: tmpDir,
      },
    );
    procs.push(proc);
    try {
      await waitUntil(proc, `gRPC server listens on ${port}`, () => tcpOpen(port), 15_000);
      grpc = port;
    } catch (err) {
      grpcError = err instanceof Error ? err.message : String(err);
    }
  }
  return { ports: { h1, h2, grpc }, kind, procs, grpcError };
}

/** No proxy: the load generator talks to the upstream itself. Added latency is measured against this. */
export function createFloorTarget(): Target {
  return {
    name: 'floor',
    unavailable: () => undefined,
    unsupported: () => undefined,
    async start(section, ctx) {
      const port = ctx.upstreams[section];
      if (port === 0) throw new Error('no upstream for this section');
      return { port, proc: undefined, note: 'direct to the upstream', stop: async () => {} };
    },
  };
}
