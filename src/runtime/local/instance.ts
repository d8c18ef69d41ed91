/**
 * One workload instance and its sidecar, with the lifecycle Istio and Linkerd users asked for: the
 * sidecar starts first and the application only once the sidecar has its config; on shutdown the
 * application stops first and the sidecar drains after it. Transparent mode puts both in the instance's
 * own network namespace with interception rules; explicit mode runs them on 127.0.0.1 with an HTTP proxy
 * variable and a port of the application's own.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { InstanceModel, WorkloadModel } from '../../api/runtime/types.ts';
import type { Logger } from '../../core/index.ts';
import { applyInterceptionRules, DEFAULT_INTERCEPTION } from '../interception/index.ts';
import { createInstanceNetns, execInNetns, runCommand } from '../network/index.ts';
import { adminGet, requestControl } from './api-client.ts';
import {
  fileSize,
  openLog,
  readFrom,
  type Supervised,
  sleep,
  stopProcess,
  supervise,
  tail,
  WEFT_BIN,
} from './processes.ts';

export const PROXY_UID = DEFAULT_INTERCEPTION.proxyUid;
/**
 * How long a sidecar's join token is valid. The sidecar renews its certificate with the same token, so
 * the token must outlive the run (renewal by the current certificate over mTLS comes later).
 */
export const JOIN_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

export interface InstanceContext {
  runId: string;
  runDir: string;
  transparent: boolean;
  controlSocket: string;
  logger: Logger;
  /** Allocates a free TCP port on 127.0.0.1 (explicit mode). */
  freePort(): Promise<number>;
  /** The mesh's services when the instance starts (explicit mode gives each a local port). */
  services(): ReadonlyArray<{
    namespace: string;
    name: string;
    ports: ReadonlyArray<{ name?: string; port: number }>;
  }>;
}

export type InstancePhase =
  | 'starting'
  | 'sidecar'
  | 'app'
  | 'ready'
  | 'restarting'
  | 'failed'
  | 'stopping'
  | 'stopped';

export class InstanceRunner {
  readonly id: string;
  readonly workload: WorkloadModel;
  readonly index: number;
  readonly address: string;
  readonly #ctx: InstanceContext;
  phase: InstancePhase = 'starting';
  error: string | undefined;
  /** Times the application was restarted since it last ran a minute. */
  restarts = 0;
  netns: string | undefined;
  model: InstanceModel | undefined;
  env: Record<string, string> = {};
  /** Explicit mode: the local ports of the mesh's services on this instance's sidecar. */
  expose: NonNullable<InstanceModel['expose']> = [];
  #proxy: Supervised | undefined;
  #app: Supervised | undefined;
  #stopping = false;
  readonly logs: { app: string; proxy: string };

  constructor(
    ctx: InstanceContext,
    workload: WorkloadModel,
    replica: number,
    index: number,
    address: string,
  ) {
    this.#ctx = ctx;
    this.workload = workload;
    this.index = index;
    this.address = address;
    this.id = `${workload.namespace}/${workload.name}-${replica}`;
    const base = path.join(ctx.runDir, 'logs', `${workload.namespace}.${workload.name}-${replica}`);
    this.logs = { app: `${base}.app.log`, proxy: `${base}.proxy.log` };
  }

  get adminSocket(): string {
    return path.join(this.#ctx.runDir, 'sidecars', `${this.index}.admin.sock`);
  }

  /** The sidecar's join token (0600, readable by the sidecar's user only). */
  get tokenFile(): string {
    return path.join(this.#ctx.runDir, 'sidecars', `${this.index}.token`);
  }

  get pids(): { app: number | undefined; proxy: number | undefined } {
    return { app: this.#app?.child.pid, proxy: this.#proxy?.child.pid };
  }

  /** Starts the sidecar, then the application; `report` publishes the instance (ready or not). */
  async start(report: () => void): Promise<void> {
    // Explicit mode picks its ports by bind(0) and lets them go before the sidecar binds them; another
    // program can take one meanwhile. Then the sidecar cannot listen: start again with fresh ports.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#start(report);
        return;
      } catch (err) {
        this.error = (err as Error).message;
        const retry = !this.#ctx.transparent && this.phase === 'sidecar' && attempt < 3 && !this.#stopping;
        this.#ctx.logger.debug('instance failed to start', { instance: this.id, error: this.error, retry });
        if (!retry) {
          this.phase = 'failed';
          report();
          return;
        }
        await stopProcess(this.#proxy, 5000);
        this.env = {};
        this.expose = [];
      }
    }
  }

  async #start(report: () => void): Promise<void> {
    const ctx = this.#ctx;
    const w = this.workload;
    fs.mkdirSync(path.dirname(this.adminSocket), { recursive: true });
    const ports: InstanceModel['ports'] = [];
    let sidecar: InstanceModel['sidecar'];
    if (ctx.transparent) {
      const n = await createInstanceNetns(ctx.runId, this.index, this.address);
      this.netns = n.netns;
      await applyInterceptionRules(n.netns, { ...DEFAULT_INTERCEPTION });
      for (const p of w.ports) ports.push({ name: p.name, containerPort: p.port, port: p.port });
      sidecar = { mode: 'transparent', adminSocket: this.adminSocket };
    } else {
      // Explicit mode: the application gets a port of its own (PORT) for its first declared port; more
      // ports keep their numbers, so only one replica of a multi-port workload fits on 127.0.0.1.
      for (const [i, p] of w.ports.entries()) {
        ports.push({
          name: p.name,
          containerPort: p.port,
          port: i === 0 ? await ctx.freePort() : p.port,
          inboundPort: await ctx.freePort(),
        });
      }
      const httpProxyPort = await ctx.freePort();
      sidecar = { mode: 'explicit', adminPort: 0, httpProxyPort, adminSocket: this.adminSocket };
      const proxyUrl = `http://127.0.0.1:${httpProxyPort}`;
      const local = 'localhost,127.0.0.1';
      this.env = {
        HTTP_PROXY: proxyUrl,
        http_proxy: proxyUrl,
        NODE_USE_ENV_PROXY: '1',
        NO_PROXY: local,
        no_proxy: local,
      };
      if (ports[0]) this.env.PORT = String(ports[0].port);
      this.expose = await this.#serviceListeners();
    }
    this.model = {
      id: this.id,
      namespace: w.namespace,
      workload: w.name,
      labels: w.labels,
      serviceAccount: w.serviceAccount,
      address: ctx.transparent ? this.address : '127.0.0.1',
      ports,
      ready: false,
      sidecar,
      ...(this.expose.length > 0 ? { expose: this.expose } : {}),
    };
    report();
    if (this.#stopping) return;

    this.phase = 'sidecar';
    await this.#writeJoinToken();
    if (this.#stopping) return;
    const logFrom = fileSize(this.logs.proxy);
    this.#proxy = this.#spawnProxy();
    await this.#waitFor(
      async () => {
        if ((await adminGet(this.adminSocket, '/ready')).status === 200) return true;
        // A port taken since it was picked: the sidecar nacks its config and waits; do not wait with it.
        if (!ctx.transparent && readFrom(this.logs.proxy, logFrom).includes('EADDRINUSE')) {
          throw new Error('the sidecar could not listen: a port it was given is taken');
        }
        return false;
      },
      this.#proxy,
      'the sidecar did not get its config',
      30_000,
    );
    if (this.#stopping) return;

    this.phase = 'app';
    this.#app = this.#spawnApp();
    await this.#waitReady();
    if (this.#stopping) return;
    this.phase = 'ready';
    this.model = { ...this.model, ready: true };
    report();
    void this.#restartOnExit(report);
  }

  /**
   * Kubernetes' restartPolicy Always: an application that exits is taken out of the endpoints at once and
   * started again after a back-off that doubles up to 30 s (CrashLoopBackOff), reset after 60 s of running.
   */
  async #restartOnExit(report: () => void): Promise<void> {
    for (;;) {
      const app = this.#app as Supervised;
      const startedAt = Date.now();
      const { code, signal } = await app.exited;
      if (this.#stopping) return;
      if (Date.now() - startedAt > 60_000) this.restarts = 0;
      const delay = Math.min(1000 * 2 ** this.restarts, 30_000);
      this.restarts++;
      this.phase = 'restarting';
      this.error = `the application exited (${signal ?? code}); restarting in ${delay / 1000} s`;
      this.model = this.model ? { ...this.model, ready: false } : undefined;
      this.#ctx.logger.warn('application exited; restarting it', {
        instance: this.id,
        code,
        signal,
        restartInMs: delay,
        log: tail(this.logs.app, 3),
      });
      report();
      await sleep(delay);
      if (this.#stopping) return;
      this.#app = this.#spawnApp();
      try {
        await this.#waitReady();
      } catch (err) {
        this.error = (err as Error).message;
        continue;
      }
      if (this.#stopping) return;
      this.phase = 'ready';
      this.error = undefined;
      this.model = this.model ? { ...this.model, ready: true } : undefined;
      report();
    }
  }

  /**
   * Explicit mode: every service port of the instance's namespace gets a local port on its sidecar, given
   * to the application the way Kubernetes does (`<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT`,
   * `<NAME>_SERVICE_PORT_<PORTNAME>`), so TCP services are reachable too, not only HTTP by HTTP_PROXY.
   */
  async #serviceListeners(): Promise<NonNullable<InstanceModel['expose']>> {
    const out: NonNullable<InstanceModel['expose']> = [];
    for (const svc of this.#ctx.services()) {
      if (svc.namespace !== this.workload.namespace) continue;
      const env = svc.name.toUpperCase().replace(/-/g, '_');
      for (const [i, p] of svc.ports.entries()) {
        const local = await this.#ctx.freePort();
        out.push({ service: `${svc.namespace}/${svc.name}`, port: p.port, listen: { port: local } });
        if (i === 0) {
          this.env[`${env}_SERVICE_HOST`] = '127.0.0.1';
          this.env[`${env}_SERVICE_PORT`] = String(local);
        }
        if (p.name)
          this.env[`${env}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(local);
      }
    }
    return out;
  }

  /** Asks the control plane for a join token naming this instance's identity and writes it for the sidecar. */
  async #writeJoinToken(): Promise<void> {
    const w = this.workload;
    const r = await requestControl(
      { socketPath: this.#ctx.controlSocket },
      'POST',
      '/api/v1/join-tokens',
      JSON.stringify({
        namespace: w.namespace,
        serviceAccount: w.serviceAccount,
        ttlSeconds: JOIN_TOKEN_TTL_SECONDS,
      }),
    );
    const token = (r.json as { token?: unknown } | undefined)?.token;
    if (r.status !== 200 || typeof token !== 'string')
      throw new Error(`the control plane issued no join token: ${r.status} ${JSON.stringify(r.json)}`);
    const file = this.tokenFile;
    fs.rmSync(file, { force: true });
    fs.writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
    // The sidecar runs as its own user in transparent mode; nobody else may read the token.
    if (this.#ctx.transparent) fs.chownSync(file, PROXY_UID, PROXY_UID);
  }

  #spawnProxy(): Supervised {
    const args = [
      WEFT_BIN,
      'proxy',
      '--control-plane',
      `unix:${this.#ctx.controlSocket}`,
      '--node',
      this.id,
      '--join-token-file',
      this.tokenFile,
    ];
    const fd = openLog(this.logs.proxy);
    const opts = {
      stdio: ['ignore', fd, fd] as ['ignore', number, number],
      env: { ...process.env, WEFT_NO_COLOR: '1' },
    };
    const child = this.netns
      ? execInNetns(this.netns, process.execPath, args, { ...opts, uid: PROXY_UID })
      : spawn(process.execPath, args, opts);
    fs.closeSync(fd);
    return supervise(child, this.logs.proxy);
  }

  #spawnApp(): Supervised {
    const w = this.workload;
    const [cmd, ...args] = w.command as [string, ...string[]];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LANG: process.env.LANG,
      TERM: process.env.TERM,
      HOSTNAME: `${w.name}-${this.id.split('-').pop()}`,
      POD_NAME: this.id.split('/')[1],
      POD_NAMESPACE: w.namespace,
      SERVICE_ACCOUNT: w.serviceAccount,
      INSTANCE_IP: this.address,
      ...w.env,
      ...this.env,
    };
    const fd = openLog(this.logs.app);
    const opts = { stdio: ['ignore', fd, fd] as ['ignore', number, number], env, cwd: w.workingDir };
    const child = this.netns ? execInNetns(this.netns, cmd, args, opts) : spawn(cmd, args, opts);
    fs.closeSync(fd);
    return supervise(child, this.logs.app);
  }

  /** The workload's readiness probe, else a TCP connect to each declared port, run by the sidecar. */
  async #waitReady(): Promise<void> {
    const r = this.workload.readiness;
    const probe = (): Promise<boolean> => {
      const port = (p: number) => this.model?.ports.find((x) => x.containerPort === p)?.port ?? p;
      if (r?.httpGet) {
        return adminGet(
          this.adminSocket,
          `/probe/http?port=${port(r.httpGet.port)}&path=${encodeURIComponent(r.httpGet.path)}&timeoutMs=${r.timeoutMs}`,
        ).then((x) => x.status === 200);
      }
      const tcp = r?.tcpSocket ? [port(r.tcpSocket.port)] : (this.model?.ports ?? []).map((p) => p.port);
      return Promise.all(tcp.map((p) => adminGet(this.adminSocket, `/probe/tcp?port=${p}`))).then((all) =>
        all.every((x) => x.status === 200),
      );
    };
    if (r?.initialDelayMs) await sleep(r.initialDelayMs);
    await this.#waitFor(probe, this.#app, 'the application did not become ready', 60_000, r?.periodMs ?? 100);
  }

  async #waitFor(
    check: () => Promise<boolean>,
    proc: Supervised | undefined,
    what: string,
    timeoutMs: number,
    everyMs = 100,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void proc?.exited.then(() => {
      exited = true;
    });
    while (!this.#stopping) {
      if (await check()) return;
      if (exited) throw new Error(`${what}: it exited\n${tail(proc?.log ?? '')}`);
      if (Date.now() > deadline)
        throw new Error(`${what} within ${timeoutMs / 1000} s; see ${proc?.log}\n${tail(proc?.log ?? '')}`);
      await sleep(Math.min(everyMs, 1000));
    }
  }

  /** Application first, then the sidecar (which drains), then the namespace. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.phase = 'stopping';
    await stopProcess(this.#app, 10_000);
    await stopProcess(this.#proxy, 15_000);
    if (this.netns) await runCommand('ip', ['netns', 'delete', this.netns]).catch(() => {});
    this.phase = 'stopped';
  }
}

/** A free port on 127.0.0.1, by binding port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
