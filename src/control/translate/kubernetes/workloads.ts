/**
 * Deployments and Weft Workloads → the model's workloads: what the local runtime runs. A container image
 * becomes a local program through the image map (built-in stand-ins for the sample images, extended by a
 * mapping file) or the `weft.dev/command` annotation; an image with neither is an error that says how to
 * map it.
 */
import path from 'node:path';
import type { Container, Deployment, Probe } from '../../../api/resources/kubernetes/deployment.ts';
import type { Workload } from '../../../api/resources/weft/workload.ts';
import type { ConfigIssue } from '../../../core/index.ts';
import type { WorkloadModel } from '../../model/types.ts';

/** How an image runs locally: a program of the repository (run with this Node), or a command. */
export interface ImageEntry {
  /** A TypeScript/JavaScript program, relative to the Weft checkout (`src/samples/...`). */
  program?: string | undefined;
  /** A command line to run instead. */
  command?: string[] | undefined;
  /** Run the container's own command and args as they are (curl, sleep). */
  useCommand?: boolean | undefined;
  env?: Record<string, string> | undefined;
}

export interface ImageResolver {
  /** The entry for an image reference (registry/repo:tag), matched without its tag or digest. */
  lookup(image: string): ImageEntry | undefined;
  /** The Weft checkout that `program` paths are relative to. */
  root: string;
  /** The Node binary programs run with. */
  node: string;
}

export const COMMAND_ANNOTATION = 'weft.dev/command';

/** "registry.istio.io/release/examples-bookinfo-reviews-v2:1.20.3" → without tag and digest. */
export function imageRepository(image: string): string {
  const noDigest = image.split('@')[0] ?? image;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > lastSlash ? noDigest.slice(0, colon) : noDigest;
}

type Result = { ok: true; workload: WorkloadModel } | { ok: false; issues: ConfigIssue[] };

export function translateDeployment(dep: Deployment, namespace: string, images: ImageResolver): Result {
  const tpl = dep.spec.template;
  const container = tpl.spec.containers[0] as Container;
  const annotation =
    tpl.metadata.annotations[COMMAND_ANNOTATION] ?? dep.metadata.annotations[COMMAND_ANNOTATION];
  const resolved = resolveCommand(container, annotation, images);
  if (!resolved.ok) return resolved;
  const env: Record<string, string> = { ...resolved.env };
  for (const e of container.env) if (e.value !== undefined) env[e.name] = e.value;
  const ports = container.ports
    .filter((p) => p.protocol === 'TCP')
    .map((p) => ({ name: p.name, port: p.containerPort, protocol: undefined }));
  const namedPort = (p: number | string) =>
    typeof p === 'number' ? p : (container.ports.find((cp) => cp.name === p)?.containerPort ?? 0);
  return {
    ok: true,
    workload: {
      resource: `Deployment/${namespace}/${dep.metadata.name}`,
      namespace,
      name: dep.metadata.name,
      replicas: dep.spec.replicas,
      labels: tpl.metadata.labels,
      serviceAccount: tpl.spec.serviceAccountName ?? 'default',
      command: resolved.command,
      env,
      workingDir: container.workingDir,
      ports,
      readiness: container.readinessProbe ? readiness(container.readinessProbe, namedPort) : undefined,
    },
  };
}

function resolveCommand(
  container: Container,
  annotation: string | undefined,
  images: ImageResolver,
): { ok: true; command: string[]; env: Record<string, string> } | { ok: false; issues: ConfigIssue[] } {
  if (annotation) {
    const command = parseCommandAnnotation(annotation);
    if (!command) {
      return {
        ok: false,
        issues: [
          {
            code: 'CONFIG_SCHEMA',
            path: `spec.template.metadata.annotations.${COMMAND_ANNOTATION}`,
            message: `${COMMAND_ANNOTATION} must be a JSON array of strings or a command line`,
          },
        ],
      };
    }
    return { ok: true, command: [...command, ...(container.args ?? [])], env: {} };
  }
  const entry = images.lookup(container.image);
  if (!entry) {
    return {
      ok: false,
      issues: [
        {
          code: 'CONFIG_REFERENCE',
          path: 'spec.template.spec.containers.0.image',
          message:
            `no local program for image "${imageRepository(container.image)}": add the annotation ` +
            `${COMMAND_ANNOTATION}: '["/path/to/program", "arg"]' to the pod template, or map the image ` +
            'in a file given to `weft up --image-map <file>` (see docs/reference/local-runtime.md)',
        },
      ],
    };
  }
  const own = [...(container.command ?? []), ...(container.args ?? [])];
  if (entry.useCommand) {
    if (own.length === 0) {
      return {
        ok: false,
        issues: [
          {
            code: 'CONFIG_SCHEMA',
            path: 'spec.template.spec.containers.0.command',
            message: `image "${imageRepository(container.image)}" runs the container's command, and there is none`,
          },
        ],
      };
    }
    return { ok: true, command: own, env: entry.env ?? {} };
  }
  if (entry.program) {
    const program = path.resolve(images.root, entry.program);
    return {
      ok: true,
      command: [images.node, '--disable-warning=ExperimentalWarning', program, ...(container.args ?? [])],
      env: entry.env ?? {},
    };
  }
  return { ok: true, command: [...(entry.command ?? []), ...(container.args ?? [])], env: entry.env ?? {} };
}

export function parseCommandAnnotation(text: string): string[] | undefined {
  const t = text.trim();
  if (t.startsWith('[')) {
    try {
      const v: unknown = JSON.parse(t);
      if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {}
    return undefined;
  }
  const parts = t.split(/\s+/).filter(Boolean);
  return parts.length > 0 ? parts : undefined;
}

function readiness(
  p: Probe | NonNullable<Workload['spec']['readinessProbe']>,
  namedPort: (p: number | string) => number,
): WorkloadModel['readiness'] {
  return {
    httpGet: p.httpGet ? { path: p.httpGet.path, port: namedPort(p.httpGet.port) } : undefined,
    tcpSocket: p.tcpSocket ? { port: namedPort(p.tcpSocket.port) } : undefined,
    periodMs: p.periodSeconds * 1000,
    timeoutMs: p.timeoutSeconds * 1000,
    initialDelayMs: p.initialDelaySeconds * 1000,
  };
}

/** A Weft Workload; relative paths in its command resolve against the directory of the file it came from. */
export function translateWorkload(w: Workload, namespace: string, baseDir: string, node: string): Result {
  const argv = typeof w.spec.command === 'string' ? [w.spec.command] : [...w.spec.command];
  // Relative paths (the program or, after `node`, its script) resolve against the file's folder; `node`
  // runs with Weft's own Node 24, which strips TypeScript types.
  const resolveArg = (i: number) => {
    const a = argv[i];
    if (a !== undefined && (a.startsWith('./') || a.startsWith('../'))) argv[i] = path.resolve(baseDir, a);
  };
  resolveArg(0);
  if (argv[0] === 'node') {
    argv.splice(0, 1, node, '--disable-warning=ExperimentalWarning');
    resolveArg(2);
  }
  const namedPort = (p: number | string) =>
    typeof p === 'number' ? p : (w.spec.ports.find((wp) => wp.name === p)?.port ?? 0);
  return {
    ok: true,
    workload: {
      resource: `Workload/${namespace}/${w.metadata.name}`,
      namespace,
      name: w.metadata.name,
      replicas: w.spec.replicas,
      labels: w.spec.labels ?? { app: w.metadata.name },
      serviceAccount: w.spec.serviceAccount ?? w.metadata.name,
      command: [...argv, ...w.spec.args],
      env: w.spec.env,
      workingDir: w.spec.workingDir ? path.resolve(baseDir, w.spec.workingDir) : undefined,
      ports: w.spec.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
      readiness: w.spec.readinessProbe ? readiness(w.spec.readinessProbe, namedPort) : undefined,
    },
  };
}
