/**
 * The index: every document from every source, validated, with a status each, and the mesh model built
 * from the valid ones. Level-based (STYLE.md): any event recomputes the model from current state; nothing
 * is replayed. A bad resource is kept with its errors and takes no part in the model; the rest still ship.
 */
import path from 'node:path';
import { isIstioNetworkingKind } from '../../api/resources/istio/index.ts';
import type { PeerAuthentication } from '../../api/resources/istio/peer-authentication.ts';
import type { Deployment } from '../../api/resources/kubernetes/deployment.ts';
import type { Service } from '../../api/resources/kubernetes/service.ts';
import { keyString, type Origin, type ResourceKey } from '../../api/resources/meta.ts';
import { validateResource } from '../../api/resources/registry.ts';
import type { Workload } from '../../api/resources/weft/workload.ts';
import type { ConfigIssue, Logger } from '../../core/index.ts';
import type {
  DestinationPolicyModel,
  EnvoyFilterModel,
  InstanceModel,
  PeerAuthenticationModel,
  RouteAttachment,
  ServiceModel,
  WorkloadModel,
} from '../model/types.ts';
import type { SourcedDocument, SourceEvents } from '../sources/types.ts';
import {
  DEFAULT_ROOT_NAMESPACE,
  ignoredInRootNamespace,
  translatePeerAuthentication,
} from '../translate/istio/peer-authentication.ts';
import { translateService } from '../translate/kubernetes/services.ts';
import {
  type ImageResolver,
  translateDeployment,
  translateWorkload,
} from '../translate/kubernetes/workloads.ts';
import type { VipAllocator } from './vips.ts';

/**
 * The note on an accepted ServiceEntry (VirtualService and DestinationRule are applied; the route
 * translator says of each EnvoyFilter what it applies and what it does not support).
 */
export const ISTIO_NETWORKING_NOTE =
  'not applied yet: Weft does not route to ServiceEntry hosts yet (external services come with issue 5)';
const APPLIED_ISTIO_KINDS = new Set(['VirtualService', 'DestinationRule', 'EnvoyFilter']);

export type ResourceState = 'accepted' | 'invalid' | 'unsupported' | 'conflict';

export interface ResourceIssue extends ConfigIssue {
  at: Origin;
}

export interface IndexedResource {
  /** Source document id ("file.yaml#2"). */
  id: string;
  source: string;
  origin: Origin;
  apiVersion: string | undefined;
  key: ResourceKey | undefined;
  state: ResourceState;
  issues: ResourceIssue[];
  /** Explanations that are not errors. */
  notes?: Array<{ path: string; message: string; at: Origin }>;
  value: unknown;
}

export interface MeshModel {
  generation: number;
  services: ServiceModel[];
  workloads: WorkloadModel[];
  instances: InstanceModel[];
  attachments: RouteAttachment[];
  /** Every valid Istio PeerAuthentication; the view builder resolves the mode of each workload port. */
  peerAuthentications: PeerAuthenticationModel[];
  /** Istio DestinationRules by service: subsets and traffic policies for the view's backends. */
  destinationPolicies: DestinationPolicyModel[];
  /** Istio EnvoyFilters Weft applies (local rate limits on inbound ports), in istiod's order. */
  envoyFilters: EnvoyFilterModel[];
}

/** A valid route resource handed to a route translator (Gateway API today, Istio and Linkerd later). */
export interface RouteInput {
  kind: string;
  namespace: string;
  name: string;
  created: string;
  spec: unknown;
  value: unknown;
}

export type RouteTranslator = (
  routes: RouteInput[],
  services: ServiceModel[],
) => {
  attachments: RouteAttachment[];
  /** Istio DestinationRules, resolved to services. */
  policies?: DestinationPolicyModel[];
  /** Istio EnvoyFilters, reduced to what Weft applies. */
  envoyFilters?: EnvoyFilterModel[];
  statuses: Map<
    string,
    {
      accepted: boolean;
      issues: Array<{ code: string; path: string; message: string }>;
      notes?: Array<{ path: string; message: string }>;
    }
  >;
};

export interface IndexOptions {
  images: ImageResolver;
  vips: VipAllocator;
  logger: Logger;
  /** Transparent mode gives services virtual IPs; explicit mode does not need them. */
  transparent: boolean;
  routeKinds?: readonly string[];
  translateRoutes?: RouteTranslator;
  /** Istio's root namespace (default istio-system), only to note policies istiod would ignore there. */
  rootNamespace?: string;
}

export class MeshIndex {
  readonly #options: IndexOptions;
  readonly #sources = new Map<string, Map<string, SourcedDocument>>();
  readonly #listeners = new Set<() => void>();
  #instances: InstanceModel[] = [];
  #resources: IndexedResource[] = [];
  #model: MeshModel = {
    generation: 0,
    services: [],
    workloads: [],
    instances: [],
    attachments: [],
    peerAuthentications: [],
    destinationPolicies: [],
    envoyFilters: [],
  };

  constructor(options: IndexOptions) {
    this.#options = options;
  }

  get model(): MeshModel {
    return this.#model;
  }

  resources(): readonly IndexedResource[] {
    return this.#resources;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The event sink for one source. */
  events(source: string): SourceEvents {
    const docs = () => {
      let m = this.#sources.get(source);
      if (!m) this.#sources.set(source, (m = new Map()));
      return m;
    };
    return {
      apply: (doc) => {
        docs().set(doc.id, doc);
        this.#rebuild();
      },
      delete: (id) => {
        docs().delete(id);
        this.#rebuild();
      },
      reset: (list) => {
        this.#sources.set(source, new Map(list.map((d) => [d.id, d])));
        this.#rebuild();
      },
    };
  }

  /** The runtime's instances (read from its instances file by the control plane). */
  setInstances(instances: InstanceModel[]): void {
    this.#instances = instances;
    this.#rebuild();
  }

  #rebuild(): void {
    const resources: IndexedResource[] = [];
    const seen = new Map<string, IndexedResource>();
    // Resources applied through the API replace a copy of the same resource in the start-up files.
    const sources = [...this.#sources].sort((a, b) => (a[0] === 'applied' ? -1 : b[0] === 'applied' ? 1 : 0));
    for (const [source, docs] of sources) {
      for (const d of docs.values()) {
        const r = this.#validate(source, d);
        const k = r.key ? keyString(r.key) : undefined;
        if (k && r.state === 'accepted') {
          const first = seen.get(k);
          if (first) {
            r.state = 'conflict';
            r.issues.push({
              code: 'CONFIG_CONFLICT',
              path: 'metadata.name',
              message:
                first.source === 'applied' && source !== 'applied'
                  ? `${k} was replaced by \`weft apply\`; this copy is not used`
                  : `${k} is already defined at ${fmt(first.origin)}; this copy is ignored`,
              at: d.locate('metadata.name'),
            });
          } else {
            seen.set(k, r);
          }
        }
        resources.push(r);
      }
    }
    const accepted = (kind: string) =>
      resources.filter((r) => r.state === 'accepted' && r.key?.kind === kind);
    const services: ServiceModel[] = [];
    for (const r of accepted('Service')) {
      const ns = (r.key as ResourceKey).namespace;
      services.push(
        translateService(r.value as Service, ns, (k) =>
          this.#options.transparent ? this.#options.vips.get(k) : undefined,
        ),
      );
    }
    const workloads: WorkloadModel[] = [];
    for (const r of [...accepted('Deployment'), ...accepted('Workload')]) {
      const ns = (r.key as ResourceKey).namespace;
      const t =
        r.key?.kind === 'Deployment'
          ? translateDeployment(r.value as Deployment, ns, this.#options.images)
          : translateWorkload(
              r.value as Workload,
              ns,
              path.dirname(r.origin.file),
              this.#options.images.node,
            );
      if (t.ok) workloads.push(t.workload);
      else this.#fail(r, t.issues);
    }
    const peerAuthentications: PeerAuthenticationModel[] = [];
    const rootNamespace = this.#options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
    for (const r of accepted('PeerAuthentication')) {
      const policy = translatePeerAuthentication(
        r.value as PeerAuthentication,
        (r.key as ResourceKey).namespace,
      );
      peerAuthentications.push(policy);
      if (ignoredInRootNamespace(policy, rootNamespace)) {
        const note = `a PeerAuthentication with a selector in the root namespace (${rootNamespace}) applies to no workload, as in Istio; put it in the namespace of the workloads it selects`;
        r.notes = [{ path: 'spec.selector', message: note, at: this.#at(r, 'spec.selector') }];
      }
    }
    // Istio's traffic kinds are read and validated, but not translated yet: say so rather than stay silent.
    for (const r of resources) {
      if (
        r.state === 'accepted' &&
        isIstioNetworkingKind(r.apiVersion, r.key?.kind) &&
        !APPLIED_ISTIO_KINDS.has(r.key?.kind ?? '')
      ) {
        r.notes = [{ path: 'kind', message: ISTIO_NETWORKING_NOTE, at: this.#at(r, 'kind') }];
      }
    }
    let attachments: RouteAttachment[] = [];
    let destinationPolicies: DestinationPolicyModel[] = [];
    let envoyFilters: EnvoyFilterModel[] = [];
    const routeKinds = this.#options.routeKinds ?? [];
    if (this.#options.translateRoutes && routeKinds.length > 0) {
      const routes = resources
        .filter((r) => r.state === 'accepted' && r.key && routeKinds.includes(r.key.kind))
        .map((r) => {
          const v = r.value as { metadata: { creationTimestamp?: string }; spec: unknown };
          const k = r.key as ResourceKey;
          return {
            kind: k.kind,
            namespace: k.namespace,
            name: k.name,
            created: v.metadata.creationTimestamp ?? '',
            spec: v.spec,
            value: r.value,
          };
        });
      const out = this.#options.translateRoutes(routes, services);
      attachments = out.attachments;
      destinationPolicies = out.policies ?? [];
      envoyFilters = out.envoyFilters ?? [];
      for (const r of resources) {
        const st = r.key ? out.statuses.get(keyString(r.key)) : undefined;
        if (!st) continue;
        const issues = st.issues.map((i) => ({ ...i, code: i.code as ConfigIssue['code'] }));
        if (!st.accepted && issues.length === 0) {
          // Nothing wrong, but nothing for the mesh either (only Gateway parents): say why, as a note.
          r.state = 'unsupported';
          for (const n of st.notes ?? []) {
            r.issues.push({
              code: 'CONFIG_UNSUPPORTED',
              path: n.path,
              message: n.message,
              at: this.#at(r, n.path),
            });
          }
        } else if (!st.accepted) this.#fail(r, issues);
        else r.issues.push(...issues.map((i) => ({ ...i, at: this.#at(r, i.path) })));
        // Choices the translator made that are not errors (ignored hostnames, a timeout it mapped).
        if (r.state !== 'unsupported')
          r.notes = (st.notes ?? []).map((n) => ({ ...n, at: this.#at(r, n.path) }));
      }
    }
    this.#resources = resources;
    this.#model = {
      generation: this.#model.generation + 1,
      services,
      workloads,
      instances: this.#instances,
      attachments,
      peerAuthentications,
      destinationPolicies,
      envoyFilters,
    };
    for (const l of this.#listeners) l();
  }

  readonly #docs = new WeakMap<IndexedResource, SourcedDocument>();

  #at(r: IndexedResource, p: string): Origin {
    return this.#docs.get(r)?.locate(p) ?? r.origin;
  }

  #fail(r: IndexedResource, issues: ConfigIssue[]): void {
    r.state = 'invalid';
    r.issues.push(...issues.map((i) => ({ ...i, at: this.#at(r, i.path) })));
  }

  #validate(source: string, d: SourcedDocument): IndexedResource {
    const base = { id: d.id, source, origin: d.origin };
    if (d.doc === undefined) {
      return {
        ...base,
        apiVersion: undefined,
        key: undefined,
        state: 'invalid',
        issues: d.parseIssues.map((i) => ({ ...i, at: d.origin })),
        value: undefined,
      };
    }
    const v = validateResource(d.doc);
    const apiVersion = (d.doc as { apiVersion?: string }).apiVersion;
    const r: IndexedResource =
      v.state === 'valid'
        ? { ...base, apiVersion, key: v.key, state: 'accepted', issues: [], value: v.value }
        : {
            ...base,
            apiVersion,
            key: v.key,
            state: v.state,
            issues: v.issues.map((i) => ({ ...i, at: d.locate(i.path) })),
            value: undefined,
          };
    this.#docs.set(r, d);
    return r;
  }
}

export function fmt(o: Origin): string {
  return `${o.file}:${o.line}:${o.column}`;
}
