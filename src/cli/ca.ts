/**
 * `weft ca status` and `weft ca rotate [begin|switch|retire]`: the control plane's certificate authority
 * for an operator. `rotate` takes one step of a trust-anchor rotation (docs/design/004) and says what the
 * step did, what to wait for before the next one and the exact command to run then; without a step it
 * shows the phase and how far the proxies are. The waits, from the design:
 *
 * - after `begin`, every proxy must hold the two-root bundle before `switch`, or a proxy that only trusts
 *   the old root refuses peers whose certificates the new issuer signed. A proxy holds it once it acked a
 *   config newer than the step (the bundle travels on the config stream) or once its sidecar shows the
 *   new root in its trust bundle (it renewed since);
 * - after `switch`, every certificate the old issuer signed must be gone before `retire`: one certificate
 *   lifetime after the switch, or sooner once every sidecar shows a certificate from the new issuer.
 */
import type { Command } from 'commander';
import type { ProxySyncState } from '../api/distribution/index.ts';
import type { InstanceModel } from '../api/runtime/types.ts';
import type {
  CaCertificateInfo,
  CaStatusResponse,
  RotationStep,
  RotationStepRecord,
  RotationStepResponse,
} from '../control/api/server.ts';
import { parseDuration } from '../core/index.ts';
import { readIdentity, type SidecarIdentity } from './identity.ts';
import {
  ApiError,
  addMeshOptions,
  callApi,
  getApi,
  type MeshApi,
  type MeshOptions,
  resolveMesh,
} from './mesh-api.ts';
import { formatName, formatRelative, formatSpan, formatTime, writeStructured } from './output.ts';

const STEPS: readonly RotationStep[] = ['begin', 'switch', 'retire'];

export function registerCa(program: Command): void {
  const ca = program
    .command('ca')
    .description("Inspect the mesh's certificate authority and rotate its trust anchor (status, rotate).");

  addMeshOptions(
    ca
      .command('status')
      .description(
        'Show the CA: trust domain, rotation phase, trust anchors and issuer with fingerprints and validity.',
      ),
  )
    .option('-o, --output <format>', 'text, json or yaml', 'text')
    .action(async (opts: MeshOptions & { output: string }) => {
      try {
        const mesh = resolveMesh(opts);
        const status = await getApi<CaStatusResponse>(mesh, '/api/v1/ca');
        if (opts.output === 'text') process.stdout.write(renderCaStatus(status, Date.now(), opts));
        else writeStructured(opts.output, status);
      } catch (err) {
        process.stderr.write(`weft ca status: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });

  addMeshOptions(
    ca
      .command('rotate')
      .description(
        'Rotate the trust anchor, one step at a time: begin, then switch, then retire. Without a step: the phase and what the next step waits for.',
      )
      .argument('[step]', 'begin, switch or retire'),
  )
    .option('--wait', 'begin only: wait until every proxy holds the new trust bundle')
    .option('--timeout <duration>', 'how long --wait waits (60s, 5m; a bare number is seconds)', '60s')
    .addHelpText(
      'after',
      '\nSteps (docs/design/004-identity-and-ca.md):\n' +
        '  begin   publish a new trust anchor next to the old one; the old issuer still signs\n' +
        '          wait: every proxy holds the new trust bundle (`weft ca rotate` shows it)\n' +
        '  switch  the new issuer signs; the old trust anchor stays trusted\n' +
        '          wait: every sidecar renewed its certificate (at most one certificate lifetime)\n' +
        '  retire  the old trust anchor is no longer trusted; the rotation is complete',
    )
    .action(async (step: string | undefined, opts: MeshOptions & { wait?: boolean; timeout: string }) => {
      try {
        const mesh = resolveMesh(opts);
        if (step === undefined) {
          if (opts.wait) throw new Error('--wait needs a step: weft ca rotate begin --wait');
          const status = await getApi<CaStatusResponse>(mesh, '/api/v1/ca');
          const progress = assessRotation(status, await collectFacts(mesh), Date.now());
          process.stdout.write(renderProgress(status, progress, Date.now(), opts));
          return;
        }
        if (!(STEPS as readonly string[]).includes(step))
          throw new Error(`unknown step "${step}": use begin, switch or retire`);
        if (opts.wait && step !== 'begin')
          throw new Error(
            `--wait applies to begin only (after ${step}, run \`weft ca rotate\` to see progress)`,
          );
        const timeoutMs = parseTimeout(opts.timeout);
        process.exitCode = await rotate(mesh, step as RotationStep, opts, opts.wait ? timeoutMs : undefined);
      } catch (err) {
        process.stderr.write(`weft ca rotate: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}

/** `60s`, `5m`, or a bare number of seconds. */
export function parseTimeout(text: string): number {
  const ms = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) * 1000 : parseDuration(text);
  if (ms === undefined || ms <= 0) throw new Error(`--timeout ${text}: use a duration such as 60s or 5m`);
  return ms;
}

/** The exact command for a step, with the options that named this control plane. */
export function rotateCommand(step: RotationStep | undefined, opts: MeshOptions): string {
  return [
    'weft ca rotate',
    step,
    opts.run === undefined ? undefined : `--run ${opts.run}`,
    opts.controlPlane === undefined ? undefined : `--control-plane ${opts.controlPlane}`,
  ]
    .filter(Boolean)
    .join(' ');
}

async function rotate(
  mesh: MeshApi,
  step: RotationStep,
  opts: MeshOptions,
  waitMs: number | undefined,
): Promise<number> {
  if (step !== 'begin') await warnIfEarly(mesh, step);
  let result: RotationStepResponse;
  try {
    result = (await callApi<RotationStepResponse>(mesh, 'POST', '/api/v1/ca/rotation', { step })).json;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    let hint = '';
    if (err.code === 'CA_ROTATION') {
      const status = await getApi<CaStatusResponse>(mesh, '/api/v1/ca').catch(() => undefined);
      if (status)
        hint = `\n  the CA is in phase "${status.rotation.phase}": the next step is \`${rotateCommand(status.rotation.nextStep, opts)}\``;
    }
    process.stderr.write(`weft ca rotate ${step}: refused (${err.code}): ${err.message}${hint}\n`);
    return 1;
  }
  process.stdout.write(renderStep(result, Date.now(), opts));
  if (waitMs === undefined) return 0;
  return waitForBundle(mesh, result, waitMs, opts);
}

/**
 * Before `switch` or `retire`: says which proxies are not where the step needs them. The step is still
 * taken (the CA does not know the proxies; the operator decides), but never silently.
 */
async function warnIfEarly(mesh: MeshApi, step: RotationStep): Promise<void> {
  let status: CaStatusResponse;
  let progress: RotationProgress;
  try {
    status = await getApi<CaStatusResponse>(mesh, '/api/v1/ca');
    if (status.rotation.nextStep !== step) return;
    progress = assessRotation(status, await collectFacts(mesh), Date.now());
  } catch {
    return;
  }
  if (progress.ready || progress.waitingFor === undefined) return;
  const shown = progress.pending.slice(0, 5).map((p) => `  ${p.node}: ${p.why}\n`);
  const more =
    progress.pending.length > shown.length ? `  …and ${progress.pending.length - shown.length} more\n` : '';
  const risk =
    step === 'switch'
      ? 'a proxy that only trusts the old trust anchor refuses peers whose certificates the new issuer signs'
      : 'a proxy whose certificate the old issuer signed is refused by peers once the old trust anchor is gone';
  process.stderr.write(
    `warning: taking "${step}" before ${progress.waitingFor}: ${risk}.\n${shown.join('')}${more}`,
  );
}

/** What a step did, what to wait for, and the next command. */
export function renderStep(r: RotationStepResponse, now: number, opts: MeshOptions): string {
  const ca = r.ca;
  const ttl = formatSpan(ca.certificateTtlSeconds * 1000);
  const halfTtl = formatSpan((ca.certificateTtlSeconds * 1000) / 2);
  const anchor = (role: string) => ca.trustAnchors.find((a) => a.role === role);
  const lines: string[] = [];
  if (r.step === 'begin') {
    const next = anchor('next');
    lines.push(
      `Rotation begun (phase "${r.phase}"): a new trust anchor and issuer are published next to the old ones.`,
      `  new trust anchor  ${describeCert(next)}`,
      `  new issuer        ${describeCert(ca.nextIssuer ?? undefined)}`,
      `  still signing     ${describeCert(ca.issuer)}`,
      '',
      'Before the next step, wait until every proxy holds the new trust bundle: proxies get it with their',
      `config, or at their next certificate renewal at the latest (within ${halfTtl}, half a certificate lifetime).`,
      `\`${rotateCommand(undefined, opts)}\` shows how many do.`,
      'Then run:',
      `  ${rotateCommand('switch', opts)}`,
    );
  } else if (r.step === 'switch') {
    const until = new Date(Date.parse(r.at) + ca.certificateTtlSeconds * 1000);
    lines.push(
      `Issuer switched (phase "${r.phase}"): the new issuer signs every certificate from now on; the old trust anchor stays trusted for the certificates it signed.`,
      `  signing now       ${describeCert(ca.issuer)}`,
      `  old trust anchor  ${describeCert(anchor('previous'))}`,
      '',
      `Before the next step, wait until every sidecar has renewed its certificate: one certificate lifetime (${ttl}),`,
      `until ${formatTime(until)} (${formatRelative(until, now)}), or sooner once \`${rotateCommand(undefined, opts)}\` shows every sidecar renewed.`,
      'Then run:',
      `  ${rotateCommand('retire', opts)}`,
    );
  } else {
    lines.push(
      `Old trust anchor retired (phase "${r.phase}"): the rotation is complete; proxies trust the new anchor only.`,
      `  trust anchor      ${describeCert(anchor('current'))}`,
      `  issuer            ${describeCert(ca.issuer)}`,
      '',
      `Nothing to wait for. \`weft check\` confirms the mesh is healthy; the next rotation starts with \`${rotateCommand('begin', opts)}\`.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function describeCert(c: CaCertificateInfo | undefined): string {
  if (c === undefined) return '-';
  return `${formatName(c.subject)} (sha256 ${c.fingerprint256.slice(0, 23)}…, until ${formatTime(c.notAfter)})`;
}

/** What is known about one proxy during a rotation: its sync state and what its sidecar shows. */
export interface ProxyFacts {
  node: string;
  /** Absent: the control plane has no stream from it. */
  sync: Pick<ProxySyncState, 'state' | 'ackedVersion'> | undefined;
  /** Whether an instance of the mesh runs it (a disconnected proxy without one is gone). */
  instance: boolean;
  /** Its sidecar's `/identity`; undefined when it could not be read. */
  identity: SidecarIdentity | undefined;
}

export interface RotationProgress {
  /** What the next step waits for; undefined in phase idle (nothing). */
  waitingFor: string | undefined;
  /** Every proxy is where the next step needs it. */
  ready: boolean;
  done: string[];
  pending: Array<{ node: string; why: string }>;
  /** Phase "switched": when the last certificate of the old issuer expires at the latest. */
  oldCertificatesGoneAt: string | undefined;
}

/** Whether the proxies are where the next step needs them (pure: the facts are collected elsewhere). */
export function assessRotation(
  ca: CaStatusResponse,
  facts: readonly ProxyFacts[],
  now: number,
): RotationProgress {
  const phase = ca.rotation.phase;
  const last = ca.rotation.lastStep;
  const relevant = facts.filter(
    (f) => f.instance || (f.sync !== undefined && f.sync.state !== 'disconnected'),
  );
  const done: string[] = [];
  const pending: Array<{ node: string; why: string }> = [];
  if (phase === 'idle')
    return { waitingFor: undefined, ready: true, done, pending, oldCertificatesGoneAt: undefined };
  if (phase === 'published') {
    const anchors = ca.trustAnchors.map((a) => a.subject);
    for (const f of relevant) {
      const verdict = bundleVerdict(f, anchors, last?.step === 'begin' ? last : undefined);
      if (verdict === undefined) done.push(f.node);
      else pending.push({ node: f.node, why: verdict });
    }
    return {
      waitingFor: 'every proxy holds the new trust bundle',
      ready: pending.length === 0,
      done,
      pending,
      oldCertificatesGoneAt: undefined,
    };
  }
  const goneAt =
    last?.step === 'switch'
      ? new Date(Date.parse(last.at) + ca.certificateTtlSeconds * 1000).toISOString()
      : undefined;
  for (const f of relevant) {
    const issuer = f.identity?.chain[1];
    if (issuer?.fingerprint256 === ca.issuer.fingerprint256) done.push(f.node);
    else if (f.identity === undefined)
      pending.push({ node: f.node, why: 'its sidecar does not show its certificate' });
    else if (issuer === undefined) pending.push({ node: f.node, why: 'its sidecar holds no certificate' });
    else
      pending.push({
        node: f.node,
        why: `its certificate is from the old issuer; it renews ${f.identity.nextRenewal ? `at ${formatTime(f.identity.nextRenewal)} (${formatRelative(f.identity.nextRenewal, now)})` : 'later'}`,
      });
  }
  const timeIsUp = goneAt !== undefined && Date.parse(goneAt) <= now;
  return {
    waitingFor:
      'every sidecar renewed its certificate with the new issuer (or one certificate lifetime passed)',
    ready: pending.length === 0 || timeIsUp,
    done,
    pending,
    oldCertificatesGoneAt: goneAt,
  };
}

/** Undefined when the proxy holds the bundle of phase "published"; else why not. */
function bundleVerdict(
  f: ProxyFacts,
  anchors: readonly string[],
  begin: RotationStepRecord | undefined,
): string | undefined {
  const subjects = new Set(f.identity?.trustBundle.map((r) => r.subject) ?? []);
  if (anchors.every((a) => subjects.has(a))) return undefined;
  const sync = f.sync;
  if (sync === undefined || sync.state === 'disconnected') return 'not connected to the control plane';
  if (sync.state !== 'synced') return `its config is ${sync.state}`;
  if (begin !== undefined) {
    const before = begin.proxyVersions[f.node];
    if (before === undefined || before === null || sync.ackedVersion !== before) return undefined;
  }
  const renews = f.identity?.nextRenewal;
  return `synced only on a config from before the step${renews ? `; its certificate renews at ${formatTime(renews)}` : ''}`;
}

/** The sync state of every proxy and the identity of every instance's sidecar. */
export async function collectFacts(mesh: MeshApi): Promise<ProxyFacts[]> {
  const [proxies, instances] = await Promise.all([
    getApi<ProxySyncState[]>(mesh, '/api/v1/proxies'),
    getApi<InstanceModel[]>(mesh, '/api/v1/instances'),
  ]);
  const identities = await Promise.all(instances.map(readIdentity));
  const facts = new Map<string, ProxyFacts>();
  for (const p of proxies) facts.set(p.node, { node: p.node, sync: p, instance: false, identity: undefined });
  instances.forEach((inst, i) => {
    const f = facts.get(inst.id) ?? { node: inst.id, sync: undefined, instance: true, identity: undefined };
    f.instance = true;
    f.identity = identities[i]?.identity ?? undefined;
    facts.set(inst.id, f);
  });
  return [...facts.values()].sort((a, b) => a.node.localeCompare(b.node, 'en', { numeric: true }));
}

/** Polls until every proxy holds the new bundle, with a progress line on a terminal. 0 when they all do. */
async function waitForBundle(
  mesh: MeshApi,
  step: RotationStepResponse,
  timeoutMs: number,
  opts: MeshOptions,
): Promise<number> {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  const deadline = started + timeoutMs;
  if (!tty)
    process.stderr.write(
      `waiting up to ${formatSpan(timeoutMs)} for every proxy to hold the new trust bundle…\n`,
    );
  for (;;) {
    const status = await getApi<CaStatusResponse>(mesh, '/api/v1/ca');
    if (status.rotation.phase !== 'published') {
      if (tty) process.stderr.write('\n');
      process.stderr.write(
        `weft ca rotate begin: stopped waiting: the CA is now in phase "${status.rotation.phase}" (another step was taken)\n`,
      );
      return 1;
    }
    const { step: taken, at, generation, proxyVersions } = step;
    const progress = assessRotation(
      {
        ...status,
        rotation: { ...status.rotation, lastStep: { step: taken, at, generation, proxyVersions } },
      },
      await collectFacts(mesh),
      Date.now(),
    );
    const total = progress.done.length + progress.pending.length;
    if (tty)
      process.stderr.write(
        `\r\x1b[Kwaiting for the new trust bundle: ${progress.done.length}/${total} proxies (${formatSpan(Date.now() - started)})`,
      );
    if (progress.ready) {
      if (tty) process.stderr.write('\r\x1b[K');
      process.stdout.write(
        `Every proxy holds the new trust bundle (${total}). Next:\n  ${rotateCommand('switch', opts)}\n`,
      );
      return 0;
    }
    if (Date.now() >= deadline) {
      if (tty) process.stderr.write('\n');
      process.stderr.write(
        `weft ca rotate begin: the step was taken, but after ${formatSpan(timeoutMs)} ${progress.pending.length} of ${total} proxies do not hold the new trust bundle yet:\n` +
          progress.pending.map((p) => `  ${p.node}: ${p.why}\n`).join('') +
          `Run \`${rotateCommand(undefined, opts)}\` later to see them; do not switch before they all do.\n`,
      );
      return 1;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** `weft ca rotate` without a step. */
export function renderProgress(
  ca: CaStatusResponse,
  p: RotationProgress,
  now: number,
  opts: MeshOptions,
): string {
  const lines = [`Rotation phase: ${ca.rotation.phase}${phaseNote(ca)}`];
  const last = ca.rotation.lastStep;
  if (last) lines.push(`Last step: ${last.step} at ${formatTime(last.at)} (${formatRelative(last.at, now)})`);
  const next = rotateCommand(ca.rotation.nextStep, opts);
  if (p.waitingFor === undefined) {
    lines.push(
      'No rotation in progress. To start one (a new trust anchor and issuer, published first):',
      `  ${next}`,
    );
    return `${lines.join('\n')}\n`;
  }
  const total = p.done.length + p.pending.length;
  lines.push(`Before \`${ca.rotation.nextStep}\`: ${p.waitingFor}.`);
  if (p.oldCertificatesGoneAt)
    lines.push(
      `  one certificate lifetime after the switch: ${formatTime(p.oldCertificatesGoneAt)} (${formatRelative(p.oldCertificatesGoneAt, now)})`,
    );
  lines.push(`  ${p.done.length}/${total} proxies are there.`);
  for (const x of p.pending) lines.push(`  not yet: ${x.node}: ${x.why}`);
  lines.push(p.ready ? 'Ready. Next:' : 'Not ready yet. When it is, run:', `  ${next}`);
  return `${lines.join('\n')}\n`;
}

function phaseNote(ca: CaStatusResponse): string {
  if (ca.rotation.phase === 'published') return ' (both trust anchors published; the old issuer signs)';
  if (ca.rotation.phase === 'switched')
    return ' (the new issuer signs; the old trust anchor is still trusted)';
  return '';
}

/** `weft ca status` as text. */
export function renderCaStatus(ca: CaStatusResponse, now: number, opts: MeshOptions): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`${label.padEnd(15)}${value}`.trimEnd());
  const cert = (c: CaCertificateInfo, note = '') => {
    lines.push(`  ${formatName(c.subject)}${note}`);
    lines.push(`    sha256      ${c.fingerprint256}`);
    const expired = Date.parse(c.notAfter) <= now;
    lines.push(
      `    valid       ${formatTime(c.notBefore)} → ${formatTime(c.notAfter)} (${expired ? 'EXPIRED ' : 'expires '}${formatRelative(c.notAfter, now)})`,
    );
  };
  row('trust domain', ca.trustDomain);
  row('rotation', `${ca.rotation.phase}${phaseNote(ca)}`);
  row('next step', rotateCommand(ca.rotation.nextStep, opts));
  row('trust anchors', '');
  for (const a of ca.trustAnchors) cert(a, a.role === 'current' ? '' : `  (${a.role})`);
  row('issuer', '');
  cert(ca.issuer);
  if (ca.nextIssuer) {
    row('next issuer', '');
    cert(ca.nextIssuer);
  }
  row('certificates', `workload certificates live ${formatSpan(ca.certificateTtlSeconds * 1000)}`);
  return `${lines.join('\n')}\n`;
}
