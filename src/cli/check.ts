/**
 * `weft check`: the mesh's health as a list of checks, each pass, warn or fail with a hint on what to do:
 * the control plane answers, the host clock agrees with it, every proxy runs its current config, the CA's
 * trust anchors and issuer are valid and not about to expire, and every sidecar holds a valid certificate
 * for its own identity. Exits 1 when any check fails. The checks themselves are pure functions of what
 * the API and the sidecars answered, so they are tested without a mesh.
 */
import type { Command } from 'commander';
import type { ProxySyncState } from '../api/distribution/index.ts';
import type { InstanceModel } from '../api/runtime/types.ts';
import type { CaCertificateInfo, CaStatusResponse } from '../control/api/server.ts';
import { type InstanceIdentity, readIdentity } from './identity.ts';
import {
  addMeshOptions,
  callApi,
  getApi,
  type HttpReply,
  type MeshApi,
  type MeshOptions,
  resolveMesh,
} from './mesh-api.ts';
import { createStyle, formatName, formatRelative, formatSpan, formatTime } from './output.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  /** A stable id: control-plane, clock, proxies, ca-trust-anchors, ca-issuer, sidecar-certificates. */
  name: string;
  status: CheckStatus;
  message: string;
  /** One line per proxy, certificate or sidecar that is not well. */
  details?: string[];
  /** What to do about it. */
  hint?: string;
}

export interface CheckReport {
  ok: boolean;
  summary: Record<CheckStatus, number>;
  checks: CheckResult[];
}

const DAY_MS = 86_400_000;
/** `weft check` warns this long before a CA certificate expires (docs/design/004). */
export const CA_EXPIRY_WARNING_MS = 60 * DAY_MS;
/** The host clock may differ from the control plane's by this much before `weft check` warns. */
export const CLOCK_SKEW_WARNING_MS = 5000;

const TITLES: Record<string, string> = {
  'control-plane': 'control plane',
  clock: 'clock',
  proxies: 'proxies synced',
  'ca-trust-anchors': 'CA trust anchors',
  'ca-issuer': 'CA issuer',
  'sidecar-certificates': 'sidecar certificates',
};

export function registerCheck(program: Command): void {
  addMeshOptions(
    program
      .command('check')
      .description(
        "Check the mesh's health: control plane, clock, proxy sync, CA expiry, sidecar certificates (exit 1 on a failure).",
      ),
  )
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: MeshOptions & { output: string }) => {
      try {
        if (opts.output !== 'text' && opts.output !== 'json')
          throw new Error(`unknown output format "${opts.output}" (use text or json)`);
        const report = await runChecks(opts);
        process.stdout.write(
          opts.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report),
        );
        process.exitCode = report.ok ? 0 : 1;
      } catch (err) {
        process.stderr.write(`weft check: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}

export async function runChecks(opts: MeshOptions): Promise<CheckReport> {
  const checks: CheckResult[] = [];
  let mesh: MeshApi;
  let statusReply: HttpReply;
  try {
    mesh = resolveMesh(opts);
    statusReply = (await callApi<unknown>(mesh, 'GET', '/api/v1/status')).reply;
  } catch (err) {
    checks.push({
      name: 'control-plane',
      status: 'fail',
      message: (err as Error).message,
      hint: 'name a run with --run <id>, or a control plane started alone with --control-plane <target>',
    });
    return report(checks);
  }
  checks.push({ name: 'control-plane', status: 'pass', message: `answers at ${mesh.where}` });
  checks.push(checkClock(statusReply));
  const [ca, instances] = await Promise.all([
    getApi<CaStatusResponse>(mesh, '/api/v1/ca').catch((err: Error) => err),
    getApi<InstanceModel[]>(mesh, '/api/v1/instances'),
  ]);
  checks.push(checkProxies(await settledProxies(mesh), instances));
  if (ca instanceof Error) {
    checks.push({
      name: 'ca-issuer',
      status: 'fail',
      message: `the CA does not answer: ${ca.message}`,
      hint: 'see the control plane log',
    });
  } else checks.push(...checkCa(ca, Date.now()));
  const identities = await Promise.all(instances.map(readIdentity));
  checks.push(checkSidecars(identities, ca instanceof Error ? undefined : ca, Date.now()));
  return report(checks);
}

function report(checks: CheckResult[]): CheckReport {
  const summary = { pass: 0, warn: 0, fail: 0 };
  for (const c of checks) summary[c.status]++;
  return { ok: summary.fail === 0, summary, checks };
}

/**
 * The proxies' sync states, read again for up to 3 s while some are stale or waiting: right after a
 * change a proxy is stale for the few milliseconds until its ack.
 */
async function settledProxies(mesh: MeshApi): Promise<ProxySyncState[]> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const proxies = await getApi<ProxySyncState[]>(mesh, '/api/v1/proxies');
    const moving = proxies.some((p) => p.state === 'stale' || p.state === 'waiting');
    if (!moving || Date.now() >= deadline) return proxies;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The host clock against the control plane's Date header. The header is truncated to the second and was
 * made between sending and receiving, so only a difference beyond that window counts.
 */
export function checkClock(reply: Pick<HttpReply, 'date' | 'sentAt' | 'receivedAt'>): CheckResult {
  if (reply.date === undefined)
    return {
      name: 'clock',
      status: 'warn',
      message: 'the control plane sent no Date header to compare with',
    };
  const server = reply.date.getTime();
  const skew =
    server > reply.receivedAt ? server - reply.receivedAt : Math.min(0, server + 1000 - reply.sentAt);
  const ahead = skew > 0 ? 'ahead of' : 'behind';
  if (Math.abs(skew) > CLOCK_SKEW_WARNING_MS)
    return {
      name: 'clock',
      status: 'warn',
      message: `the control plane's clock is ${formatSpan(skew)} ${ahead} this host's`,
      hint: 'certificates start a minute early to absorb skew; beyond that, peers refuse them. Sync both clocks (NTP)',
    };
  return { name: 'clock', status: 'pass', message: 'this host and the control plane agree (within 1 s)' };
}

/** Every proxy of a running instance is connected and runs its current config. */
export function checkProxies(
  proxies: readonly ProxySyncState[],
  instances: readonly InstanceModel[],
): CheckResult {
  const ids = new Set(instances.map((i) => i.id));
  const seen = new Set(proxies.map((p) => p.node));
  const fail: string[] = [];
  const warn: string[] = [];
  let synced = 0;
  for (const p of proxies) {
    if (p.state === 'synced') synced++;
    else if (p.state === 'nacked')
      fail.push(
        `${p.node}: rejected config ${p.nack?.version ?? ''}: ${JSON.stringify(p.nack?.issues[0] ?? null)}`,
      );
    else if (p.state === 'stale')
      fail.push(
        `${p.node}: stale: runs ${p.ackedVersion ?? 'no config'}, has not acked ${p.currentVersion ?? '?'}`,
      );
    else if (p.state === 'waiting') warn.push(`${p.node}: connected, no config yet`);
    else if (ids.has(p.node))
      warn.push(
        `${p.node}: disconnected since ${p.disconnectedAt ? formatTime(p.disconnectedAt) : '?'} (serves its last config)`,
      );
  }
  for (const i of instances) if (!seen.has(i.id)) warn.push(`${i.id}: its sidecar never connected`);
  const counted = proxies.filter((p) => p.state !== 'disconnected' || ids.has(p.node)).length;
  if (fail.length > 0)
    return {
      name: 'proxies',
      status: 'fail',
      message: `${synced} of ${counted} proxies synced`,
      details: [...fail, ...warn],
      hint: 'a rejected config names the issue: `weft proxy-config <workload> --section sync`; a stale proxy may be stuck (see its log: `weft up --logs`)',
    };
  if (warn.length > 0)
    return {
      name: 'proxies',
      status: 'warn',
      message: `${synced} of ${counted} proxies synced`,
      details: warn,
      hint: 'a sidecar that is not connected is starting, restarting or gone: `weft status` shows them',
    };
  if (counted === 0)
    return {
      name: 'proxies',
      status: 'warn',
      message: 'no proxy is connected',
      hint: 'start workloads with `weft up -f <files>`, or point proxies at this control plane',
    };
  return { name: 'proxies', status: 'pass', message: `all ${synced} proxies synced` };
}

/** The CA's trust anchors and issuer(s): valid now (else fail) and for 60 more days (else warn). */
export function checkCa(ca: CaStatusResponse, now: number): CheckResult[] {
  const hint =
    'rotate before then: `weft ca rotate begin` (a new trust anchor and issuer), or supply a new CA in the control plane’s <state-dir>/ca';
  const anchors = ca.trustAnchors.map((a) => ({
    label: a.role === 'current' ? 'trust anchor' : `${a.role} trust anchor`,
    cert: a,
  }));
  const issuers = [
    { label: 'issuer', cert: ca.issuer },
    ...(ca.nextIssuer ? [{ label: 'next issuer', cert: ca.nextIssuer }] : []),
  ];
  return [expiryCheck('ca-trust-anchors', anchors, now, hint), expiryCheck('ca-issuer', issuers, now, hint)];
}

function expiryCheck(
  name: string,
  certs: ReadonlyArray<{ label: string; cert: CaCertificateInfo }>,
  now: number,
  hint: string,
): CheckResult {
  let status: CheckStatus = 'pass';
  const lines: string[] = [];
  const problems: string[] = [];
  for (const { label, cert } of certs) {
    const notBefore = Date.parse(cert.notBefore);
    const notAfter = Date.parse(cert.notAfter);
    const who = `${label} ${formatName(cert.subject)}`;
    if (now >= notAfter) {
      status = 'fail';
      problems.push(`${who} expired on ${formatTime(cert.notAfter)} (${formatRelative(cert.notAfter, now)})`);
    } else if (now < notBefore) {
      status = 'fail';
      problems.push(
        `${who} is not valid before ${formatTime(cert.notBefore)} (${formatRelative(cert.notBefore, now)})`,
      );
    } else if (notAfter - now < CA_EXPIRY_WARNING_MS) {
      if (status === 'pass') status = 'warn';
      problems.push(`${who} expires on ${formatTime(cert.notAfter)} (${formatRelative(cert.notAfter, now)})`);
    } else
      lines.push(`${who} valid until ${formatTime(cert.notAfter)} (${formatRelative(cert.notAfter, now)})`);
  }
  if (status === 'pass') return { name, status, message: lines.join('; ') };
  return {
    name,
    status,
    message: problems.join('; '),
    hint: status === 'fail' ? `workloads cannot get certificates that verify: ${hint}` : hint,
  };
}

/**
 * Every sidecar holds a certificate for its own identity that is valid now and chains to a trust anchor
 * of the CA; a failed renewal (lastError) or a trust bundle missing one of the CA's anchors is a warning.
 */
export function checkSidecars(
  identities: readonly InstanceIdentity[],
  ca: CaStatusResponse | undefined,
  now: number,
): CheckResult {
  const fail: string[] = [];
  const warn: string[] = [];
  let valid = 0;
  const anchors = ca?.trustAnchors.map((a) => a.subject) ?? [];
  for (const s of identities) {
    const id = s.identity;
    if (id === null) {
      warn.push(`${s.instance}: ${s.error ?? 'no answer'}`);
      continue;
    }
    const last = id.lastError ? `; last error ${formatTime(id.lastError.at)}: ${id.lastError.message}` : '';
    if (id.spiffeId === null || id.notAfter === null || id.notBefore === null) {
      fail.push(`${s.instance}: no certificate${last}`);
      continue;
    }
    const expected = ca ? `spiffe://${ca.trustDomain}/ns/${s.namespace}/sa/${s.serviceAccount}` : undefined;
    const top = id.chain.at(-1);
    if (Date.parse(id.notAfter) <= now)
      fail.push(`${s.instance}: its certificate expired ${formatRelative(id.notAfter, now)}${last}`);
    else if (Date.parse(id.notBefore) > now)
      fail.push(`${s.instance}: its certificate is not valid before ${formatTime(id.notBefore)}`);
    else if (expected !== undefined && id.spiffeId !== expected)
      fail.push(`${s.instance}: its certificate names ${id.spiffeId}, expected ${expected}`);
    else if (ca && top !== undefined && !anchors.includes(top.issuer))
      fail.push(`${s.instance}: its chain ends at ${formatName(top.issuer)}, which the CA no longer trusts`);
    else {
      valid++;
      if (id.lastError) warn.push(`${s.instance}: renewal failing${last}`);
      const missing = anchors.filter((a) => !id.trustBundle.some((r) => r.subject === a));
      if (missing.length > 0)
        warn.push(
          `${s.instance}: does not trust ${missing.map(formatName).join(' and ')} yet${id.nextRenewal ? ` (its certificate renews at ${formatTime(id.nextRenewal)})` : ''}`,
        );
    }
  }
  const total = identities.length;
  const message =
    total === 0
      ? 'no workload instances to check'
      : `${valid} of ${total} sidecars hold a valid certificate for their identity`;
  if (fail.length > 0)
    return {
      name: 'sidecar-certificates',
      status: 'fail',
      message,
      details: [...fail, ...warn],
      hint: 'a sidecar without a valid certificate keeps asking the CA: its last error says why (`weft identity <workload>`)',
    };
  if (warn.length > 0)
    return {
      name: 'sidecar-certificates',
      status: 'warn',
      message,
      details: warn,
      hint: '`weft identity <workload>` shows a sidecar’s certificate, trust anchors and last error',
    };
  return { name: 'sidecar-certificates', status: 'pass', message };
}

/** The text report: one line per check, details and hint below, and a summary. */
export function renderReport(r: CheckReport, style = createStyle()): string {
  const mark = { pass: style.green('PASS'), warn: style.yellow('WARN'), fail: style.red('FAIL') };
  const width = Math.max(...r.checks.map((c) => (TITLES[c.name] ?? c.name).length));
  const lines: string[] = [];
  for (const c of r.checks) {
    lines.push(`${mark[c.status]}  ${(TITLES[c.name] ?? c.name).padEnd(width)}  ${c.message}`);
    const indent = ' '.repeat(8);
    for (const d of c.details ?? []) lines.push(`${indent}${d}`);
    if (c.hint) lines.push(`${indent}${style.dim(`hint: ${c.hint}`)}`);
  }
  const { pass, warn, fail } = r.summary;
  const summary = `${pass} passed, ${warn} warning${warn === 1 ? '' : 's'}, ${fail} failed`;
  lines.push('', fail > 0 ? style.red(summary) : warn > 0 ? style.yellow(summary) : style.green(summary));
  return `${lines.join('\n')}\n`;
}
