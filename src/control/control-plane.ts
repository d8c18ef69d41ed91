/**
 * The control plane (`weft control`): sources → index → views → the distribution stream to every proxy,
 * and the API. One port (and one Unix socket, which proxies inside network namespaces can reach) serves
 * both: HTTP/2 connections (the config stream) and HTTP/1.1 (the API), told apart by the HTTP/2 preface.
 */
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { keyString, type ResourceKey } from '../api/resources/meta.ts';
import { validateResource } from '../api/resources/registry.ts';
import type { Logger } from '../core/index.ts';
import { createApiHandler } from './api/server.ts';
import type { CertificateAuthority } from './ca/authority.ts';
import { createDistributionServer, type DistributionServer } from './distribution/index.ts';
import { fmt, MeshIndex, type RouteTranslator } from './index/index.ts';
import { createVipAllocator } from './index/vips.ts';
import type { MtlsMode } from './model/types.ts';
import { appliedFileName, deleteApplied, readApplied, writeApplied } from './sources/applied/store.ts';
import { parseDocuments } from './sources/file/parse.ts';
import { createFileSource } from './sources/file/source.ts';
import { watchInstancesFile } from './sources/instances.ts';
import type { Source } from './sources/types.ts';
import { DEFAULT_ROOT_NAMESPACE } from './translate/istio/peer-authentication.ts';
import type { ImageResolver } from './translate/kubernetes/workloads.ts';
import { ROUTE_KINDS, translateRoutes } from './translate/routes.ts';
import { buildView } from './views/build.ts';
import { endpointsOf } from './views/endpoints.ts';

export interface ControlPlaneOptions {
  /** Resource files and directories, watched. */
  paths: string[];
  /** Where VIPs, applied resources and the runtime's instances file live. */
  stateDir: string;
  logger: Logger;
  images: ImageResolver;
  transparent: boolean;
  /** TCP address for the API and the config stream (port 0 picks one). */
  address?: string;
  port?: number;
  /** Unix socket for the same (proxies in network namespaces use it). */
  socketPath?: string | undefined;
  routeKinds?: readonly string[];
  translateRoutes?: RouteTranslator;
  /** The trust domain of the CA opened from `<stateDir>/ca` (default cluster.local). */
  trustDomain?: string;
  /** Lifetime of the workload certificates the CA signs (default 24 h); tests shorten it. */
  certificateTtlMs?: number;
  /**
   * Istio's root namespace (`meshConfig.rootNamespace`, default istio-system): a PeerAuthentication there
   * without selector is the mesh-wide policy.
   */
  rootNamespace?: string;
  /** The mutual TLS mode of workload ports no PeerAuthentication sets (default PERMISSIVE, as Istio). */
  defaultMtlsMode?: MtlsMode;
}

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

export interface ApplyOutcome {
  ok: boolean;
  resource?: string;
  action?: 'created' | 'configured' | 'unchanged' | 'deleted' | 'not found';
  error?: string;
  at?: string;
}

type AppliedChange = (key: ResourceKey, doc: unknown) => ApplyOutcome['action'];

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0');

export class ControlPlane {
  readonly logger: Logger;
  readonly index: MeshIndex;
  readonly distribution: DistributionServer;
  readonly #options: ControlPlaneOptions;
  readonly #sources: Source[] = [];
  readonly #servers: net.Server[] = [];
  /** Every accepted connection, so close() can end idle keep-alive ones (see close). */
  readonly #sockets = new Set<net.Socket>();
  readonly #h1: http.Server;
  readonly #h2: http2.Http2Server;
  readonly #stops: Array<() => void> = [];
  #views = new Map<string, unknown>();
  #viewsGeneration = -1;
  #port = 0;
  #ca: CertificateAuthority | undefined;
  #trust: { trustBundle: string[]; issuer: string } | undefined;
  readonly #caListeners = new Set<() => void>();
  #caGeneration = 0;

  constructor(options: ControlPlaneOptions) {
    this.#options = options;
    this.logger = options.logger;
    fs.mkdirSync(this.appliedDir, { recursive: true });
    this.index = new MeshIndex({
      images: options.images,
      vips: createVipAllocator(path.join(options.stateDir, 'vips.json')),
      logger: options.logger,
      transparent: options.transparent,
      routeKinds: options.routeKinds ?? ROUTE_KINDS,
      translateRoutes: options.translateRoutes ?? translateRoutes,
      rootNamespace: options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE,
    });
    this.distribution = createDistributionServer({
      logger: options.logger.child({ component: 'distribution' }),
      views: {
        view: (node) => this.viewOf(node),
        onChange: (l) => {
          const off = this.index.onChange(l);
          this.#caListeners.add(l);
          return () => {
            off();
            this.#caListeners.delete(l);
          };
        },
      },
    });
    this.#h1 = http.createServer(createApiHandler(this));
    this.#h2 = http2.createServer();
    this.#stops.push(this.distribution.attach(this.#h2));
  }

  get appliedDir(): string {
    return path.join(this.#options.stateDir, 'applied');
  }

  get instancesFile(): string {
    return path.join(this.#options.stateDir, 'instances.json');
  }

  get port(): number {
    return this.#port;
  }

  get caDir(): string {
    return path.join(this.#options.stateDir, 'ca');
  }

  /** The certificate authority, once start() opened it. */
  get ca(): CertificateAuthority | undefined {
    return this.#ca;
  }

  get certificateTtlMs(): number | undefined {
    return this.#options.certificateTtlMs;
  }

  /** How many times the CA's trust bundle or issuer changed since this control plane started. */
  get caGeneration(): number {
    return this.#caGeneration;
  }

  /**
   * Called after each trust-anchor rotation step (the API's `POST /api/v1/ca/rotation`): the trust bundle
   * or the issuer changed, and every proxy gets a new view with them (ProxyConfig.identity).
   */
  caChanged(reason: string): void {
    this.#caGeneration++;
    // Every view carries the bundle and the issuer: recompute them all and stream them to the proxies.
    this.#trust = undefined;
    this.#viewsGeneration = -1;
    for (const l of this.#caListeners) l();
    this.logger.info('certificate authority changed', {
      reason,
      generation: this.#caGeneration,
      phase: this.#ca?.rotationPhase ?? null,
    });
  }

  /** Reads every source, then listens. Views are complete before the first proxy can connect. */
  async start(): Promise<void> {
    // Loaded here, not at the top: the X.509 library is only needed once a control plane runs.
    const { createCertificateAuthority } = await import('./ca/authority.ts');
    this.#ca = await createCertificateAuthority({
      stateDir: this.caDir,
      trustDomain: this.#options.trustDomain ?? DEFAULT_TRUST_DOMAIN,
    });
    for (const warning of this.#ca.warnings) this.logger.warn('certificate authority', { warning });
    this.logger.info(
      this.#ca.generated ? 'certificate authority generated' : 'certificate authority opened',
      {
        dir: this.caDir,
        trustDomain: this.#ca.trustDomain,
      },
    );
    this.#stops.push(
      watchInstancesFile(this.instancesFile, (list) => this.index.setInstances(list), this.logger),
    );
    const files = createFileSource({ paths: this.#options.paths, logger: this.logger, name: 'files' });
    const applied = createFileSource({ paths: [this.appliedDir], logger: this.logger, name: 'applied' });
    for (const s of [applied, files]) {
      await s.start(this.index.events(s.name));
      this.#sources.push(s);
    }
    this.#logStatuses();
    this.index.onChange(() => this.#logStatuses());
    const serve = (socket: net.Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      this.#sniff(socket);
    };
    const tcp = net.createServer(serve);
    await listen(tcp, (cb) => tcp.listen(this.#options.port ?? 0, this.#options.address ?? '127.0.0.1', cb));
    this.#port = (tcp.address() as net.AddressInfo).port;
    this.#servers.push(tcp);
    const sock = this.#options.socketPath;
    if (sock) {
      try {
        fs.unlinkSync(sock);
      } catch {}
      const unix = net.createServer(serve);
      await listen(unix, (cb) => unix.listen(sock, cb));
      // Proxies run as another user (uid 1337) in transparent mode.
      fs.chmodSync(sock, 0o666);
      this.#servers.push(unix);
    }
  }

  #sniff(socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      const n = Math.min(chunk.length, H2_PREFACE.length);
      const h2 = chunk.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      // HTTP/2 reads from the handle itself (after the unshifted bytes), so that socket stays paused; the
      // HTTP/1 server only listens for 'data', which an explicitly paused socket does not emit.
      if (h2) this.#h2.emit('connection', socket);
      else {
        this.#h1.emit('connection', socket);
        socket.resume();
      }
    });
  }

  #lastLogged = new Map<string, string>();
  /** Logs each resource's errors once, when they appear or change. */
  #logStatuses(): void {
    const now = new Map<string, string>();
    for (const r of this.index.resources()) {
      if (r.state === 'accepted' && r.issues.length === 0) continue;
      const id = r.key ? keyString(r.key) : r.id;
      const text = r.issues.map((i) => `${fmt(i.at)} ${i.code} ${i.message}`).join('; ');
      now.set(id, text);
      if (this.#lastLogged.get(id) !== text) {
        const log =
          r.state === 'accepted' || r.state === 'unsupported' ? this.logger.warn : this.logger.error;
        log(`resource ${r.state}`, {
          resource: id,
          issues: r.issues.map((i) => `${fmt(i.at)} ${i.code} ${i.path ? `${i.path}: ` : ''}${i.message}`),
        });
      }
    }
    this.#lastLogged = now;
  }

  /** The roots to trust and the issuer that signs now, the same in every view (computed once per change). */
  #trustSection(): { trustBundle: string[]; issuer: string } | undefined {
    const ca = this.#ca;
    if (!ca) return undefined;
    this.#trust ??= { trustBundle: ca.trustBundle(), issuer: ca.expiries().issuer.fingerprint256 };
    return this.#trust;
  }

  /** The computed view of a proxy (cached per model generation: the same object while nothing changed). */
  viewOf(node: string): unknown {
    const model = this.index.model;
    if (model.generation !== this.#viewsGeneration) {
      this.#views = new Map();
      this.#viewsGeneration = model.generation;
    }
    if (!this.#views.has(node)) {
      const view = buildView(model, node, {
        // The CA's own trust domain: the one the certificates proxies hold name.
        trustDomain: this.#ca?.trustDomain ?? this.#options.trustDomain ?? DEFAULT_TRUST_DOMAIN,
        rootNamespace: this.#options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE,
        defaultMtlsMode: this.#options.defaultMtlsMode,
      });
      if (view) view.identity = this.#trustSection();
      this.#views.set(node, view);
    }
    return this.#views.get(node);
  }

  status(): unknown {
    const resources = this.index.resources();
    const count = (s: string) => resources.filter((r) => r.state === s).length;
    const proxies = this.distribution.proxies();
    return {
      generation: this.index.model.generation,
      port: this.#port,
      socket: this.#options.socketPath ?? null,
      mode: this.#options.transparent ? 'transparent' : 'explicit',
      resources: {
        accepted: count('accepted'),
        invalid: count('invalid'),
        unsupported: count('unsupported'),
        conflict: count('conflict'),
      },
      proxies: {
        total: proxies.length,
        synced: proxies.filter((p) => p.state === 'synced').length,
      },
    };
  }

  resourceList(): unknown {
    return this.index.resources().map((r) => ({
      kind: r.key?.kind ?? (r.value as { kind?: string } | undefined)?.kind ?? null,
      namespace: r.key?.namespace ?? null,
      name: r.key?.name ?? null,
      apiVersion: r.apiVersion ?? null,
      source: r.source,
      at: fmt(r.origin),
      state: r.state,
      issues: r.issues.map((i) => ({ code: i.code, path: i.path, message: i.message, at: fmt(i.at) })),
      notes: (r.notes ?? []).map((n) => ({ path: n.path, message: n.message, at: fmt(n.at) })),
    }));
  }

  services(): unknown {
    const model = this.index.model;
    return model.services.map((s) => ({
      namespace: s.namespace,
      name: s.name,
      vip: s.vip ?? null,
      ports: s.ports.map((p) => ({
        ...p,
        endpoints: endpointsOf(s, p, model.instances).map((e) => `${e.address}:${e.port}`),
      })),
    }));
  }

  /** `weft apply`: valid documents are stored (and picked up by the applied source); invalid ones are reported. */
  apply(text: string, file: string): ApplyOutcome[] {
    return this.#changeApplied(text, file, (key, doc) => {
      const file = path.join(this.appliedDir, appliedFileName(key));
      const before = fs.existsSync(file) ? readApplied(file) : undefined;
      if (before !== undefined && JSON.stringify(before) === JSON.stringify(doc)) return 'unchanged';
      writeApplied(this.appliedDir, key, doc);
      return before !== undefined ? 'configured' : 'created';
    });
  }

  delete(text: string, file: string): ApplyOutcome[] {
    return this.#changeApplied(text, file, (key) => {
      if (deleteApplied(this.appliedDir, key)) return 'deleted';
      const fromFiles = this.index
        .resources()
        .find((r) => r.key && keyString(r.key) === keyString(key) && r.source === 'files');
      if (fromFiles)
        throw new Error(`${keyString(key)} comes from ${fmt(fromFiles.origin)}: remove it from that file`);
      return 'not found';
    });
  }

  /** Runs a change on the applied store, then has its source read it at once (watchers can miss a delete). */
  #changeApplied(text: string, file: string, act: AppliedChange): ApplyOutcome[] {
    const out = this.#eachDocument(text, file, act);
    this.#sources.find((s) => s.name === 'applied')?.refresh?.();
    return out;
  }

  #eachDocument(text: string, file: string, act: AppliedChange): ApplyOutcome[] {
    const out: ApplyOutcome[] = [];
    for (const d of parseDocuments(text, file)) {
      if (d.doc === undefined) {
        out.push({
          ok: false,
          error: d.parseIssues.map((i) => `${i.code} ${i.message}`).join('; '),
          at: fmt(d.origin),
        });
        continue;
      }
      const v = validateResource(d.doc);
      if (v.state !== 'valid') {
        const first = v.issues[0];
        out.push({
          ok: false,
          resource: v.key ? keyString(v.key) : undefined,
          error: v.issues.map((i) => `${i.code} ${i.path ? `${i.path}: ` : ''}${i.message}`).join('; '),
          at: fmt(d.locate(first?.path ?? '')),
        });
        continue;
      }
      try {
        out.push({ ok: true, resource: keyString(v.key), action: act(v.key, d.doc) });
      } catch (err) {
        out.push({ ok: false, resource: keyString(v.key), error: (err as Error).message, at: fmt(d.origin) });
      }
    }
    return out;
  }

  async close(): Promise<void> {
    for (const s of this.#sources) s.stop();
    for (const stop of this.#stops) stop();
    await this.distribution.close();
    const closed = Promise.all(this.#servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    // The HTTP/1 server never listens itself (connections are handed to it), so it tracks none and its
    // closeAllConnections() ends nothing: an idle keep-alive API connection would hold close() open until
    // it timed out (about 5 s). The listeners are closed now; end what is still connected.
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}

function listen(server: net.Server, start: (cb: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    start(() => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}
