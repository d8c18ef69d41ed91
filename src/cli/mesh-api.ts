/**
 * What the operator commands (`weft identity`, `weft check`, `weft ca`) share: finding the control plane
 * (the socket of a `weft up` run, or `--control-plane` for one started alone with `weft control`), one
 * HTTP/1.1 exchange with it that also returns its Date header (for the clock check), a sidecar's admin
 * endpoint, and the instances a `<workload>` argument names.
 */
import http from 'node:http';
import type { Command } from 'commander';
import type { InstanceModel } from '../api/runtime/types.ts';
import { parseControlTarget } from '../proxy/control-client/target.ts';
import { findRun } from '../runtime/local/paths.ts';

export type HttpTarget = { socketPath: string } | { host: string; port: number };

export interface MeshApi {
  target: HttpTarget;
  /** How the control plane was found, for messages: `run abc123 (/run/weft/abc123/control.sock)`. */
  where: string;
  /** Set when the control plane is a `weft up` run's. */
  runId: string | undefined;
}

export interface MeshOptions {
  run?: string;
  controlPlane?: string;
}

/** Adds `--run` and `--control-plane`, the two ways to name the control plane. */
export function addMeshOptions(command: Command): Command {
  return command
    .option('--run <id>', 'which `weft up` run (default: the only live one)')
    .option(
      '--control-plane <target>',
      'a control plane started alone: unix:<socket> or http://127.0.0.1:<port> (instead of a run)',
    );
}

/** The control plane the options name; throws with what to do when there is none. */
export function resolveMesh(opts: MeshOptions): MeshApi {
  if (opts.controlPlane !== undefined) {
    const t = parseControlTarget(opts.controlPlane);
    return {
      target: t.kind === 'unix' ? { socketPath: t.path } : { host: t.host, port: t.port },
      where: opts.controlPlane,
      runId: undefined,
    };
  }
  const run = findRun(opts.run);
  return {
    target: { socketPath: run.controlSocket },
    where: `run ${run.runId} (${run.controlSocket})`,
    runId: run.runId,
  };
}

export interface HttpReply {
  status: number;
  text: string;
  /** The response's Date header, when it had one. */
  date: Date | undefined;
  /** The local clock when the request was sent and when the answer's headers came (epoch ms). */
  sentAt: number;
  receivedAt: number;
}

/** One HTTP/1.1 exchange (no keep-alive). Rejects on a connection error or after `timeoutMs`. */
export function httpExchange(
  target: HttpTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: string,
  timeoutMs = 5000,
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const sentAt = Date.now();
    const req = http.request(
      {
        ...target,
        method,
        path,
        agent: false,
        timeout: timeoutMs,
        headers:
          body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const receivedAt = Date.now();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const header = res.headers.date;
          const date = header === undefined ? undefined : new Date(header);
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            date: date === undefined || Number.isNaN(date.getTime()) ? undefined : date,
            sentAt,
            receivedAt,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A refusal from the control plane's API (`{error: {code, message}}`), or a reply that was not JSON. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** Calls the control plane's API; resolves with the JSON of a 2xx answer, else throws ApiError. */
export async function callApi<T>(
  mesh: MeshApi,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ json: T; reply: HttpReply }> {
  let reply: HttpReply;
  try {
    reply = await httpExchange(
      mesh.target,
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
    );
  } catch (err) {
    throw new Error(
      `cannot reach the control plane of ${mesh.where}: ${(err as Error).message}${hintFor(mesh)}`,
    );
  }
  let json: unknown;
  try {
    json = reply.text === '' ? undefined : JSON.parse(reply.text);
  } catch {
    throw new ApiError(
      reply.status,
      'NOT_JSON',
      `${method} ${path}: ${reply.status} ${reply.text.slice(0, 200)}`,
    );
  }
  if (reply.status < 200 || reply.status >= 300) {
    const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    throw new ApiError(
      reply.status,
      typeof error?.code === 'string' ? error.code : `HTTP_${reply.status}`,
      typeof error?.message === 'string' ? error.message : `${method} ${path}: ${reply.status}`,
    );
  }
  return { json: json as T, reply };
}

export async function getApi<T>(mesh: MeshApi, path: string): Promise<T> {
  return (await callApi<T>(mesh, 'GET', path)).json;
}

function hintFor(mesh: MeshApi): string {
  return mesh.runId === undefined
    ? ' (is `weft control` running there?)'
    : ' (is its `weft up` still running? `weft down` removes a crashed run)';
}

/** Where a sidecar's admin endpoint is, from the instance the control plane knows. */
export function adminTarget(instance: InstanceModel): HttpTarget | undefined {
  const s = instance.sidecar;
  if (s.adminSocket) return { socketPath: s.adminSocket };
  if (s.mode === 'explicit' && s.adminPort > 0) return { host: '127.0.0.1', port: s.adminPort };
  return undefined;
}

/** GET on an instance's sidecar admin endpoint: `{status, body}`, or an error saying why it is not there. */
export async function adminRequest(
  instance: InstanceModel,
  path: string,
  timeoutMs = 2000,
): Promise<{ ok: true; status: number; body: string } | { ok: false; error: string }> {
  const target = adminTarget(instance);
  if (target === undefined)
    return { ok: false, error: 'its sidecar has no admin endpoint the control plane knows' };
  try {
    const r = await httpExchange(target, 'GET', path, undefined, timeoutMs);
    return { ok: true, status: r.status, body: r.text };
  } catch (err) {
    const where = 'socketPath' in target ? target.socketPath : `127.0.0.1:${target.port}`;
    return {
      ok: false,
      error: `its sidecar's admin endpoint (${where}) does not answer: ${(err as Error).message}`,
    };
  }
}

/** Resource kinds a workload argument may be prefixed with, as `kubectl` spells them. */
const WORKLOAD_KINDS = new Set(['deployment', 'deployments', 'deploy', 'workload', 'workloads']);

/**
 * The instances a `<workload>` argument names: an instance id (`default/web-0`), `<namespace>/<name>`,
 * `<name>.<namespace>`, `deployment/<name>` (or `workload/<name>`), or a plain name in any namespace;
 * failing those, the workloads whose name starts with `<name>-` (`reviews` → reviews-v1, reviews-v2), as
 * `weft exec` does, and last an instance by its name alone (`web-1`). Throws when the name is unknown or is a workload in several namespaces.
 */
export function matchInstances(instances: readonly InstanceModel[], spec: string): InstanceModel[] {
  const byId = instances.filter((i) => i.id === spec);
  if (byId.length > 0) return byId;
  // Each reading of the argument, most specific first; the first that names any instance wins.
  const readings: Array<{ namespace: string | undefined; name: string }> = [];
  const parts = spec.split('/');
  const isKind = (s: string) => WORKLOAD_KINDS.has(s.toLowerCase());
  if (parts.length === 2) {
    readings.push({ namespace: parts[0], name: parts[1] as string });
    if (isKind(parts[0] as string)) readings.push({ namespace: undefined, name: parts[1] as string });
  } else if (parts.length === 3 && isKind(parts[0] as string)) {
    // deployment/<namespace>/<name>, as the control plane names a workload's resource.
    readings.push({ namespace: parts[1], name: parts[2] as string });
  } else if (parts.length === 1) {
    const dot = spec.lastIndexOf('.');
    if (dot > 0) readings.push({ namespace: spec.slice(dot + 1), name: spec.slice(0, dot) });
    readings.push({ namespace: undefined, name: spec });
  }
  let found: InstanceModel[] = [];
  let name = spec;
  for (const r of readings) {
    const inNs = (i: InstanceModel) => r.namespace === undefined || i.namespace === r.namespace;
    found = instances.filter((i) => inNs(i) && i.workload === r.name);
    if (found.length === 0) found = instances.filter((i) => inNs(i) && i.workload.startsWith(`${r.name}-`));
    name = r.name;
    if (found.length > 0) break;
  }
  // An instance by its name alone (`web-1`), in whichever namespace holds it.
  if (found.length === 0 && parts.length === 1) found = instances.filter((i) => i.id.split('/')[1] === spec);
  if (found.length === 0) {
    const known = [...new Set(instances.map((i) => `${i.namespace}/${i.workload}`))].sort();
    throw new Error(
      `no workload "${spec}" in the mesh (${known.length > 0 ? `workloads: ${known.join(', ')}` : 'it runs no workload yet'})`,
    );
  }
  const namespaces = [...new Set(found.map((i) => i.namespace))];
  if (namespaces.length > 1)
    throw new Error(
      `"${spec}" is a workload in several namespaces (${namespaces.sort().join(', ')}): name one, as <namespace>/${name}`,
    );
  return [...found].sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}
