/**
 * The local runtime behind `weft up`: starts the control plane, then keeps the running instances equal to
 * the workloads the control plane reports (level-based, polled), writes the instances file the control
 * plane reads (as the kubelet reports pods), keeps each namespace's hosts file in step with the services,
 * and on stop removes every process, namespace and file it made.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { InstanceModel, WorkloadModel } from '../../api/runtime/types.ts';
import type { Logger } from '../../core/index.ts';
import {
  createAddressPlan,
  createHub,
  createRunId,
  deleteRun,
  type HostsEntry,
  writeHostsFile,
} from '../network/index.ts';
import { getJson } from './api-client.ts';
import { ControlProcess } from './control-process.ts';
import { EdgeForwarder } from './edge.ts';
import { freePort, InstanceRunner, PROXY_UID } from './instance.ts';
import { type RunInfo, runsBaseDir, writeRunInfo } from './paths.ts';
import { sleep, WEFT_BIN } from './processes.ts';

export interface RuntimeOptions {
  files: string[];
  transparent: boolean;
  imageMap?: string | undefined;
  /** More `weft control` flags (--cert-ttl, --mtls). */
  controlArgs?: string[] | undefined;
  logger: Logger;
  /** Services to reach from the host: `<ns>/<name>:<port>` → a port on 127.0.0.1 (0 picks one). */
  expose?: Array<{ service: string; port: number; hostPort: number }>;
  /** How often the workloads are reconciled. */
  pollMs?: number;
}

interface ServiceInfo {
  namespace: string;
  name: string;
  vip: string | null;
  ports: Array<{ name?: string; port: number; endpoints: string[] }>;
}

interface ProxyInfo {
  node: string;
  state: string;
}

export const EDGE_NAMESPACE = 'weft-system';

export class LocalRuntime {
  readonly runId = createRunId();
  readonly dir: string;
  readonly #o: RuntimeOptions;
  readonly #plan = createAddressPlan();
  readonly #runners = new Map<string, { runner: InstanceRunner; spec: string }>();
  readonly #edges: EdgeForwarder[] = [];
  #control: ControlProcess | undefined;
  #nextIndex = 0;
  #hostsText = '';
  #services: ServiceInfo[] = [];
  #proxies: ProxyInfo[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #reconciling: Promise<void> | undefined;
  #lastInstancesText = '';
  /** Instances whose workload changed or vanished at the last reconcile (see #reconcile). */
  readonly #doubt = new Map<string, number>();
  /** Ports handed out to instances of this run (explicit mode). */
  readonly #ports = new Set<number>();

  constructor(options: RuntimeOptions) {
    this.#o = options;
    this.dir = path.join(runsBaseDir(), this.runId);
  }

  get controlSocket(): string {
    return path.join(this.dir, 'control.sock');
  }

  get controlPort(): number {
    return this.#control?.port ?? 0;
  }

  get controlPid(): number | undefined {
    return this.#control?.pid;
  }

  get stateDir(): string {
    return path.join(this.dir, 'control');
  }

  get edges(): ReadonlyArray<{ url: string; service: string }> {
    return this.#edges.map((e) => ({ url: e.url, service: e.service }));
  }

  instances(): InstanceRunner[] {
    return [...this.#runners.values()].map((r) => r.runner);
  }

  services(): readonly ServiceInfo[] {
    return this.#services;
  }

  proxies(): readonly ProxyInfo[] {
    return this.#proxies;
  }

  async start(): Promise<void> {
    const o = this.#o;
    fs.mkdirSync(this.stateDir, { recursive: true });
    this.#writeRunInfo();
    if (o.transparent) {
      await createHub(this.runId);
      // Sidecars run as uid 1337 and cannot write the type-stripped code cache (bin/strip-cache.js):
      // fill it now, as root, so they start from it.
      spawnSync(process.execPath, [WEFT_BIN, 'proxy', '--help'], { stdio: 'ignore' });
      assertTraversable(this.dir);
      // Sidecars (uid 1337) create their admin and edge sockets here.
      const sidecars = path.join(this.dir, 'sidecars');
      fs.mkdirSync(sidecars, { recursive: true });
      fs.chownSync(sidecars, PROXY_UID, PROXY_UID);
    }
    this.#control = new ControlProcess({
      files: o.files,
      stateDir: this.stateDir,
      socketPath: this.controlSocket,
      logFile: path.join(this.dir, 'logs', 'control.log'),
      transparent: o.transparent,
      imageMap: o.imageMap,
      extraArgs: o.controlArgs ?? [],
      logger: o.logger,
    });
    await this.#control.start();
    this.#writeRunInfo();
    for (const e of o.expose ?? []) {
      const edge = new EdgeForwarder({
        runDir: this.dir,
        service: e.service,
        port: e.port,
        hostPort: e.hostPort,
        transparent: o.transparent,
      });
      await edge.listen();
      this.#edges.push(edge);
    }
    await this.reconcile();
    const loop = () => {
      this.#timer = setTimeout(() => {
        this.reconcile()
          .catch((err: unknown) => o.logger.debug('reconcile failed', { error: (err as Error).message }))
          .finally(() => {
            if (!this.#stopped) loop();
          });
      }, o.pollMs ?? 500);
    };
    loop();
  }

  /** Resolves once every instance is ready or failed, or after `timeoutMs`. */
  async waitSettled(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const all = this.instances();
      if (
        all.length > 0 &&
        all.every((r) => r.phase === 'ready' || r.phase === 'failed' || r.phase === 'restarting')
      )
        return;
      await sleep(100);
    }
  }

  reconcile(): Promise<void> {
    this.#reconciling ??= this.#reconcile().finally(() => {
      this.#reconciling = undefined;
    });
    return this.#reconciling;
  }

  async #reconcile(): Promise<void> {
    if (this.#stopped) return;
    const target = { socketPath: this.controlSocket };
    const [workloads, services, proxies] = await Promise.all([
      getJson<WorkloadModel[]>(target, '/api/v1/workloads'),
      getJson<ServiceInfo[]>(target, '/api/v1/services'),
      getJson<ProxyInfo[]>(target, '/api/v1/proxies'),
    ]);
    this.#services = services;
    this.#proxies = proxies;
    const wanted = new Map<string, { w: WorkloadModel; replica: number; spec: string }>();
    for (const w of [...workloads, ...this.#edgeWorkloads()]) {
      const spec = JSON.stringify(w);
      for (let i = 0; i < w.replicas; i++)
        wanted.set(`${w.namespace}/${w.name}-${i}`, { w, replica: i, spec });
    }
    const stops: Promise<void>[] = [];
    for (const [id, r] of this.#runners) {
      const want = wanted.get(id);
      if (want && want.spec === r.spec) {
        this.#doubt.delete(id);
        continue;
      }
      // A change must be seen twice in a row: a file caught half-saved by an editor must not restart
      // or remove workloads.
      const seen = (this.#doubt.get(id) ?? 0) + 1;
      this.#doubt.set(id, seen);
      if (seen < 2) continue;
      this.#doubt.delete(id);
      this.#o.logger.warn(
        want ? 'workload changed; restarting its instance' : 'workload removed; stopping its instance',
        {
          instance: id,
        },
      );
      this.#runners.delete(id);
      stops.push(r.runner.stop().then(() => this.#publish()));
    }
    await this.#writeHosts();
    for (const [id, want] of wanted) {
      if (this.#runners.has(id)) continue;
      const index = this.#nextIndex++;
      const runner = new InstanceRunner(
        {
          runId: this.runId,
          runDir: this.dir,
          transparent: this.#o.transparent,
          controlSocket: this.controlSocket,
          logger: this.#o.logger,
          freePort: () => this.#freePort(),
          services: () => this.#services,
        },
        want.w,
        want.replica,
        index,
        this.#plan.instanceAddress(index),
      );
      this.#runners.set(id, { runner, spec: want.spec });
      void runner.start(() => {
        this.#publish();
        if (runner.netns) void this.#writeHostsFor(runner.netns);
      });
    }
    await Promise.all(stops);
    this.#publish();
  }

  /**
   * A free port on 127.0.0.1 that this run has not handed out yet: the OS may return a port it just gave
   * for another bind(0) once that socket closed, and explicit mode asks for many ports at once.
   */
  async #freePort(): Promise<number> {
    for (;;) {
      const port = await freePort();
      if (!this.#ports.has(port)) {
        this.#ports.add(port);
        return port;
      }
    }
  }

  /** The edge: a sidecar without an application that serves exposed services on a Unix socket or port. */
  #edgeWorkloads(): WorkloadModel[] {
    if (this.#edges.length === 0) return [];
    return [
      {
        resource: 'Edge/weft-system/edge',
        namespace: EDGE_NAMESPACE,
        name: 'edge',
        replicas: 1,
        labels: { app: 'weft-edge' },
        serviceAccount: 'weft-edge',
        command: ['sleep', 'infinity'],
        env: {},
        workingDir: undefined,
        ports: [],
        readiness: undefined,
      },
    ];
  }

  /** Writes the instances file for the control plane, when it changed. */
  #publish(): void {
    const models: InstanceModel[] = [];
    for (const { runner } of this.#runners.values()) {
      if (!runner.model) continue;
      const m: InstanceModel = runner.phase === 'ready' ? runner.model : { ...runner.model, ready: false };
      if (runner.workload.namespace === EDGE_NAMESPACE) {
        m.expose = [
          ...(m.expose ?? []),
          ...this.#edges.map((e) => ({ service: e.serviceKey, port: e.port, listen: e.proxyListen })),
        ];
      }
      models.push(m);
    }
    models.sort((a, b) => a.id.localeCompare(b.id));
    const text = JSON.stringify({ instances: models }, null, 1);
    if (text !== this.#lastInstancesText) {
      this.#lastInstancesText = text;
      const file = path.join(this.stateDir, 'instances.json');
      fs.writeFileSync(`${file}.tmp`, text);
      fs.renameSync(`${file}.tmp`, file);
    }
    this.#writeRunInfo();
  }

  #hostsEntries(): HostsEntry[] {
    const entries: HostsEntry[] = [];
    for (const s of this.#services) {
      if (!s.vip) continue;
      entries.push({
        ip: s.vip,
        names: [
          `${s.name}.${s.namespace}.svc.cluster.local`,
          `${s.name}.${s.namespace}.svc`,
          `${s.name}.${s.namespace}`,
        ],
      });
    }
    return entries;
  }

  /** Short names resolve in the instance's own namespace, as a Kubernetes search path makes them. */
  async #writeHostsFor(netns: string): Promise<void> {
    const runner = this.instances().find((r) => r.netns === netns);
    if (!runner) return;
    const ns = runner.workload.namespace;
    const entries = this.#hostsEntries().map((e) => {
      const short = this.#services.find((s) => s.vip === e.ip && s.namespace === ns);
      return short ? { ip: e.ip, names: [short.name, ...e.names] } : e;
    });
    await writeHostsFile(netns, entries);
  }

  async #writeHosts(): Promise<void> {
    if (!this.#o.transparent) return;
    const text = JSON.stringify(this.#hostsEntries());
    if (text === this.#hostsText) return;
    this.#hostsText = text;
    await Promise.all(
      this.instances()
        .filter((r) => r.netns)
        .map((r) => this.#writeHostsFor(r.netns as string)),
    );
  }

  #writeRunInfo(): void {
    const info: RunInfo = {
      runId: this.runId,
      pid: process.pid,
      mode: this.#o.transparent ? 'transparent' : 'explicit',
      dir: this.dir,
      controlSocket: this.controlSocket,
      controlPort: this.controlPort,
      controlPid: this.controlPid,
      startedAt: this.#startedAt,
      edge: [...this.edges],
      instances: this.instances().map((r) => ({
        id: r.id,
        namespace: r.workload.namespace,
        workload: r.workload.name,
        netns: r.netns,
        address: r.model?.address ?? r.address,
        env: r.env,
        pids: r.pids,
        logs: r.logs,
      })),
    };
    writeRunInfo(info);
  }

  readonly #startedAt = new Date().toISOString();

  /** Stops everything this run made: edges, instances (apps first, then sidecars), control plane, namespaces. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#reconciling?.catch(() => {});
    for (const e of this.#edges) e.close();
    await Promise.all(this.instances().map((r) => r.stop()));
    await this.#control?.stop();
    if (this.#o.transparent)
      await deleteRun(this.runId).catch((err: unknown) =>
        this.#o.logger.error('cleanup failed', { error: (err as Error).message }),
      );
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Sidecars run as uid 1337: every folder above the run's must let others through (o+x). */
function assertTraversable(dir: string): void {
  for (let d = path.dirname(dir); d !== path.dirname(d); d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) {
      throw new Error(
        `the sidecars (uid ${PROXY_UID}) cannot reach ${dir}: ${d} is not searchable by others; ` +
          `run \`chmod o+x ${d}\` or choose another folder with WEFT_RUN_DIR`,
      );
    }
  }
}
