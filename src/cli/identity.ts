/**
 * `weft identity <workload>`: the certificate each instance of a workload holds, as its sidecar shows it
 * on the admin endpoint (`GET /identity`): the SPIFFE id, the chain from the leaf through the issuer to
 * the trust anchor, the dates, when it renews next, and the trust anchors it accepts peers from.
 */
import type { Command } from 'commander';
import type { InstanceModel } from '../api/runtime/types.ts';
import {
  addMeshOptions,
  adminRequest,
  getApi,
  type MeshOptions,
  matchInstances,
  resolveMesh,
} from './mesh-api.ts';
import { formatName, formatRelative, formatTime, writeStructured } from './output.ts';

/** What a sidecar's `GET /identity` answers (src/proxy/identity/client.ts, `describe`). */
export interface SidecarIdentity {
  spiffeId: string | null;
  serialNumber: string | null;
  notBefore: string | null;
  notAfter: string | null;
  nextRenewal: string | null;
  /** Leaf, then issuer. */
  chain: Array<{
    /** Absent for a leaf: its subject is empty, the SPIFFE id is its only name. */
    subject?: string;
    subjectAltName: string | null;
    issuer: string;
    serialNumber: string;
    notBefore: string;
    notAfter: string;
    fingerprint256: string;
  }>;
  trustBundle: Array<{ subject: string; notAfter: string }>;
  lastError: { at: string; message: string } | null;
}

/** One instance and what its sidecar said, or why it said nothing. */
export interface InstanceIdentity {
  instance: string;
  namespace: string;
  workload: string;
  serviceAccount: string;
  identity: SidecarIdentity | null;
  error: string | null;
}

export function registerIdentity(program: Command): void {
  addMeshOptions(
    program
      .command('identity')
      .description(
        'Show the certificate of each instance of a workload: SPIFFE id, chain to the trust anchor, validity, next renewal, trust anchors.',
      )
      .argument(
        '<workload>',
        'a workload (name, namespace/name, name.namespace, deployment/name) or an instance id (ns/name-0)',
      ),
  )
    .option('-o, --output <format>', 'text, json or yaml', 'text')
    .addHelpText(
      'after',
      '\nExamples:\n  weft identity productpage-v1\n  weft identity default/reviews -o json',
    )
    .action(async (workload: string, opts: MeshOptions & { output: string }) => {
      try {
        const mesh = resolveMesh(opts);
        const instances = matchInstances(await getApi<InstanceModel[]>(mesh, '/api/v1/instances'), workload);
        const shown = await Promise.all(instances.map(readIdentity));
        if (opts.output === 'text') {
          const now = Date.now();
          process.stdout.write(`${shown.map((s) => renderIdentity(s, now)).join('\n')}`);
        } else writeStructured(opts.output, shown);
        if (shown.some((s) => s.identity?.spiffeId == null)) process.exitCode = 1;
      } catch (err) {
        process.stderr.write(`weft identity: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}

/** Asks an instance's sidecar for its identity. */
export async function readIdentity(instance: InstanceModel): Promise<InstanceIdentity> {
  const base = {
    instance: instance.id,
    namespace: instance.namespace,
    workload: instance.workload,
    serviceAccount: instance.serviceAccount,
  };
  const r = await adminRequest(instance, '/identity');
  if (!r.ok) return { ...base, identity: null, error: r.error };
  if (r.status === 404)
    return { ...base, identity: null, error: 'its sidecar runs without a workload identity (no join token)' };
  if (r.status !== 200)
    return { ...base, identity: null, error: `its sidecar answered ${r.status}: ${r.body.slice(0, 200)}` };
  try {
    return { ...base, identity: JSON.parse(r.body) as SidecarIdentity, error: null };
  } catch {
    return {
      ...base,
      identity: null,
      error: 'its sidecar answered /identity with something that is not JSON',
    };
  }
}

/** The text `weft identity` prints for one instance. */
export function renderIdentity(s: InstanceIdentity, now: number): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(14)}${value}`.trimEnd());
  const id = s.identity;
  lines.push(`${s.instance}  ${id?.spiffeId ?? '(no certificate)'}`);
  if (id === null) {
    row('error', s.error ?? 'unknown');
    return `${lines.join('\n')}\n`;
  }
  if (id.spiffeId === null) {
    row('status', 'no certificate yet: the sidecar is still asking the control plane for one');
  } else {
    row('serial', id.serialNumber ?? '-');
    if (id.notBefore) row('not before', formatTime(id.notBefore));
    if (id.notAfter) {
      const expired = Date.parse(id.notAfter) <= now;
      row(
        'not after',
        `${formatTime(id.notAfter)} (${expired ? 'EXPIRED ' : 'expires '}${formatRelative(id.notAfter, now)})`,
      );
    }
    if (id.nextRenewal)
      row('next renewal', `${formatTime(id.nextRenewal)} (${formatRelative(id.nextRenewal, now)})`);
    row('chain', '');
    id.chain.forEach((c, i) => {
      const role = i === 0 ? 'leaf' : 'issuer';
      const name = i === 0 && !c.subject ? (c.subjectAltName ?? '(empty)') : formatName(c.subject);
      lines.push(`    ${i === 0 ? '' : '↳ '}${role.padEnd(i === 0 ? 9 : 7)}${name}`);
      lines.push(`             until ${formatTime(c.notAfter)}  sha256 ${c.fingerprint256}`);
    });
    const top = id.chain.at(-1);
    if (top !== undefined) {
      const anchor = id.trustBundle.find((r) => r.subject === top.issuer);
      lines.push(
        `    ↳ root   ${formatName(top.issuer)}${anchor ? `  (trust anchor, until ${formatTime(anchor.notAfter)})` : '  (NOT in this sidecar’s trust bundle)'}`,
      );
    }
  }
  row('trust anchors', id.trustBundle.length === 0 ? 'none' : '');
  for (const r of id.trustBundle)
    lines.push(`    ${formatName(r.subject)}  (until ${formatTime(r.notAfter)})`);
  row(
    'last error',
    id.lastError
      ? `${id.lastError.message} (${formatTime(id.lastError.at)}, ${formatRelative(id.lastError.at, now)})`
      : 'none',
  );
  return `${lines.join('\n')}\n`;
}
