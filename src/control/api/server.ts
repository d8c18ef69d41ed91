/**
 * The control plane's HTTP API, for the CLI, the runtime and (later) the dashboard: JSON over HTTP/1.1.
 * Read endpoints show the index (resources with their status, services, workloads, instances), the
 * proxies' sync state, the config computed for a proxy and the CA (its certificates and rotation phase);
 * `apply` and `delete` change resources, `ca/rotation` walks a trust-anchor rotation one step.
 */
import type http from 'node:http';
import {
  CA_SIGN_PATH,
  CaError,
  type CaErrorCode,
  DEFAULT_CERTIFICATE_TTL_MS,
  parseSignRequest,
  type SignResponse,
} from '../../api/ca/index.ts';
import type { CertificateAuthority, CertificateExpiry, RotationPhase } from '../ca/authority.ts';
import type { ControlPlane } from '../control-plane.ts';

export type ApiHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const MAX_BODY = 8 * 1024 * 1024;

export function createApiHandler(cp: ControlPlane): ApiHandler {
  const rotation: RotationRecord = { lastStep: undefined };
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    const p = url.pathname;
    const send = (status: number, body: unknown) => {
      const text = `${JSON.stringify(body, null, 1)}\n`;
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    const fail = (status: number, code: string, message: string) =>
      send(status, { error: { code, message } });
    try {
      if (req.method === 'GET') {
        if (p === '/live' || p === '/ready') return send(200, { ok: true });
        if (p === '/api/v1/status') return send(200, cp.status());
        if (p === '/api/v1/resources') return send(200, cp.resourceList());
        if (p === '/api/v1/services') return send(200, cp.services());
        if (p === '/api/v1/workloads') return send(200, cp.index.model.workloads);
        if (p === '/api/v1/instances') return send(200, cp.index.model.instances);
        if (p === '/api/v1/proxies') return send(200, cp.distribution.proxies());
        if (p === '/api/v1/ca') {
          const ca = cp.ca;
          if (ca === undefined) return fail(503, 'CA_STATE', 'the certificate authority is not open yet');
          return send(200, caStatus(cp, ca, rotation));
        }
        const m = /^\/api\/v1\/proxies\/(.+)\/config$/.exec(p);
        if (m) {
          const node = decodeURIComponent(m[1] as string);
          const computed = cp.viewOf(node);
          if (!computed) return fail(404, 'NOT_FOUND', `no proxy "${node}" in the mesh`);
          return send(200, {
            node,
            computed,
            sent: cp.distribution.sent(node) ?? null,
            sync: cp.distribution.proxy(node) ?? null,
          });
        }
        return fail(404, 'NOT_FOUND', `no such endpoint: ${p}`);
      }
      if (req.method === 'POST' && p === CA_SIGN_PATH) return handleSign(cp, req, send);
      if (req.method === 'POST' && p === '/api/v1/join-tokens') {
        if (!isLocal(req))
          return fail(403, 'FORBIDDEN', 'join tokens are issued on the Unix socket and 127.0.0.1 only');
        return handleJoinToken(cp, req, send, fail);
      }
      if (req.method === 'POST' && p === '/api/v1/ca/rotation') {
        if (!isLocal(req))
          return fail(403, 'FORBIDDEN', 'rotation steps are taken on the Unix socket and 127.0.0.1 only');
        return handleRotation(cp, req, rotation, send, fail);
      }
      if (req.method === 'POST' && (p === '/api/v1/apply' || p === '/api/v1/delete')) {
        readBody(req, (err, body) => {
          if (err) return fail(413, 'TOO_LARGE', err.message);
          const file = url.searchParams.get('file') ?? 'request';
          const result = p === '/api/v1/apply' ? cp.apply(body, file) : cp.delete(body, file);
          send(result.every((r) => r.ok) ? 200 : 422, { results: result });
        });
        return;
      }
      fail(405, 'METHOD_NOT_ALLOWED', `${req.method} ${p}`);
    } catch (err) {
      cp.logger.error('api request failed', { path: p, error: err as Error });
      fail(500, 'INTERNAL', (err as Error).message);
    }
  };
}

type Send = (status: number, body: unknown) => void;
type Fail = (status: number, code: string, message: string) => void;

/** The largest JSON body of the CA endpoints (a CSR and a token are a few KB). */
const MAX_CA_BODY = 64 * 1024;
/** The longest join token the API issues: a year. */
const MAX_JOIN_TOKEN_TTL_S = 365 * 24 * 3600;

/** Unix socket connections have no remote address; TCP ones must come from the loopback. */
function isLocal(req: http.IncomingMessage): boolean {
  const a = req.socket.remoteAddress;
  return a === undefined || a === '127.0.0.1' || a === '::1' || a === '::ffff:127.0.0.1';
}

/**
 * `POST /weft.v1/ca/sign`: the join token names the identity, the CSR only proves the key; answers a
 * SignResponse, or `{error: {code, message}}` with the status of the CaErrors code.
 */
function handleSign(cp: ControlPlane, req: http.IncomingMessage, send: Send): void {
  const refuse = (code: CaErrorCode, message: string) =>
    send(new CaError(code).status, { error: { code, message } });
  readBody(
    req,
    (err, text) => {
      if (err) return refuse('CA_REQUEST_MALFORMED', err.message);
      const ca = cp.ca;
      if (ca === undefined) return refuse('CA_STATE', 'the certificate authority is not open yet');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return refuse('CA_REQUEST_MALFORMED', 'the request body is not JSON');
      }
      const parsed = parseSignRequest(body);
      if (!parsed.ok) return refuse('CA_REQUEST_MALFORMED', parsed.error);
      const log = cp.logger.child({ component: 'ca' });
      (async () => {
        const identity = ca.identityFromJoinToken(parsed.value.credential.token);
        const signed = await ca.sign(parsed.value.csr, identity, cp.certificateTtlMs);
        log.info('certificate issued', {
          identity: signed.spiffeId,
          serial: signed.serialNumber,
          notAfter: signed.notAfter,
        });
        const response: SignResponse = {
          certificateChain: signed.certificateChain,
          trustBundle: signed.trustBundle,
          notAfter: signed.notAfter,
        };
        send(200, response);
      })().catch((error: unknown) => {
        if (error instanceof CaError) {
          log.warn('signing refused', { code: error.code, reason: error.message });
          return refuse(error.code, error.message);
        }
        log.error('signing failed', { error: error as Error });
        send(500, { error: { code: 'INTERNAL', message: (error as Error).message } });
      });
    },
    MAX_CA_BODY,
  );
}

/** A trust-anchor rotation step, as `POST /api/v1/ca/rotation` names it. */
export type RotationStep = 'begin' | 'switch' | 'retire';

/** The step that follows each phase. */
export const NEXT_ROTATION_STEP = {
  idle: 'begin',
  published: 'switch',
  switched: 'retire',
} as const satisfies Record<RotationPhase, RotationStep>;

/** One certificate of the CA as the API shows it: dates in ISO 8601, subject as Node prints it. */
export interface CaCertificateInfo {
  /** Node's X509Certificate.subject: one `KEY=value` per line. */
  subject: string;
  /** SHA-256, colon-separated hex. */
  fingerprint256: string;
  notBefore: string;
  notAfter: string;
}

/** The last rotation step this control plane process took. */
export interface RotationStepRecord {
  step: RotationStep;
  /** ISO 8601. */
  at: string;
  /** The CA generation after the step (ControlPlane.caGeneration). */
  generation: number;
  /**
   * Each known proxy's config version just before the step (null: none yet). A proxy that has since
   * acked another version received its config after the step.
   */
  proxyVersions: Record<string, string | null>;
}

/** `GET /api/v1/ca`. */
export interface CaStatusResponse {
  trustDomain: string;
  rotation: {
    phase: RotationPhase;
    nextStep: RotationStep;
    generation: number;
    /** Null when this control plane process has taken no step (it does not survive a restart). */
    lastStep: RotationStepRecord | null;
  };
  /** Lifetime of the workload certificates the CA signs. */
  certificateTtlSeconds: number;
  /**
   * Every trusted root in trust-bundle order: the current one, then the next one (phase "published") or
   * the previous one (phase "switched").
   */
  trustAnchors: Array<CaCertificateInfo & { role: 'current' | 'next' | 'previous' }>;
  /** The issuer that signs now. */
  issuer: CaCertificateInfo;
  /** Phase "published": the issuer that signs after `switch`. */
  nextIssuer: CaCertificateInfo | null;
}

/** `POST /api/v1/ca/rotation` {step} → the step taken and the CA after it. */
export interface RotationStepResponse extends RotationStepRecord {
  phase: RotationPhase;
  ca: CaStatusResponse;
}

interface RotationRecord {
  lastStep: RotationStepRecord | undefined;
}

function caStatus(cp: ControlPlane, ca: CertificateAuthority, rotation: RotationRecord): CaStatusResponse {
  const phase = ca.rotationPhase;
  const expiries = ca.expiries();
  const info = (e: CertificateExpiry): CaCertificateInfo => ({
    subject: e.subject,
    fingerprint256: e.fingerprint256,
    notBefore: e.notBefore.toISOString(),
    notAfter: e.notAfter.toISOString(),
  });
  const secondRole = phase === 'published' ? 'next' : 'previous';
  return {
    trustDomain: ca.trustDomain,
    rotation: {
      phase,
      nextStep: NEXT_ROTATION_STEP[phase],
      generation: cp.caGeneration,
      lastStep: rotation.lastStep ?? null,
    },
    certificateTtlSeconds: Math.round((cp.certificateTtlMs ?? DEFAULT_CERTIFICATE_TTL_MS) / 1000),
    trustAnchors: expiries.anchors.map((a, i) => ({ ...info(a), role: i === 0 ? 'current' : secondRole })),
    issuer: info(expiries.issuer),
    nextIssuer: expiries.nextIssuer === undefined ? null : info(expiries.nextIssuer),
  };
}

/**
 * `POST /api/v1/ca/rotation` {step: "begin" | "switch" | "retire"}: one step of the trust-anchor
 * rotation; a step out of order is the CA's CA_ROTATION refusal (409). After a step the control plane's
 * `caChanged` hook runs.
 */
function handleRotation(
  cp: ControlPlane,
  req: http.IncomingMessage,
  rotation: RotationRecord,
  send: Send,
  fail: Fail,
): void {
  readCaJson(
    cp,
    req,
    fail,
    (ca, body) => {
      const step = (body as { step?: unknown } | null)?.step;
      if (step !== 'begin' && step !== 'switch' && step !== 'retire')
        return fail(400, 'BAD_REQUEST', '"step" must be "begin", "switch" or "retire"');
      const log = cp.logger.child({ component: 'ca' });
      // Taken before the step: the hook may already recompute the views that carry the bundle.
      const proxyVersions = Object.fromEntries(
        cp.distribution.proxies().map((p) => [p.node, p.currentVersion ?? null]),
      );
      const run =
        step === 'begin'
          ? () => ca.beginRotation()
          : step === 'switch'
            ? () => ca.switchIssuer()
            : () => ca.retireOldRoot();
      run()
        .then(() => {
          cp.caChanged(`rotation ${step}`);
          const record: RotationStepRecord = {
            step,
            at: new Date().toISOString(),
            generation: cp.caGeneration,
            proxyVersions,
          };
          rotation.lastStep = record;
          log.info('trust-anchor rotation step taken', { step, phase: ca.rotationPhase });
          const response: RotationStepResponse = {
            ...record,
            phase: ca.rotationPhase,
            ca: caStatus(cp, ca, rotation),
          };
          send(200, response);
        })
        .catch((error: unknown) => {
          if (error instanceof CaError) {
            log.warn('rotation step refused', { step, code: error.code, reason: error.message });
            return fail(error.status, error.code, error.message);
          }
          log.error('rotation step failed', { step, error: error as Error });
          fail(500, 'INTERNAL', (error as Error).message);
        });
    },
    MAX_CA_BODY,
  );
}

/** `POST /api/v1/join-tokens` {namespace, serviceAccount, ttlSeconds} → {token}: for the runtime. */
function handleJoinToken(cp: ControlPlane, req: http.IncomingMessage, send: Send, fail: Fail): void {
  readCaJson(
    cp,
    req,
    fail,
    (ca, body) => {
      const { namespace, serviceAccount, ttlSeconds } = (body ?? {}) as Record<string, unknown>;
      if (typeof namespace !== 'string' || typeof serviceAccount !== 'string')
        return fail(400, 'BAD_REQUEST', '"namespace" and "serviceAccount" must be strings');
      if (
        typeof ttlSeconds !== 'number' ||
        !Number.isFinite(ttlSeconds) ||
        ttlSeconds <= 0 ||
        ttlSeconds > MAX_JOIN_TOKEN_TTL_S
      )
        return fail(400, 'BAD_REQUEST', `"ttlSeconds" must be a number in (0, ${MAX_JOIN_TOKEN_TTL_S}]`);
      try {
        const token = ca.issueJoinToken({ namespace, serviceAccount, ttlMs: ttlSeconds * 1000 });
        cp.logger
          .child({ component: 'ca' })
          .debug('join token issued', { namespace, serviceAccount, ttlSeconds });
        send(200, { token });
      } catch (error) {
        if (error instanceof CaError) return fail(error.status, error.code, error.message);
        throw error;
      }
    },
    MAX_CA_BODY,
  );
}

/** Reads a small JSON body for a CA endpoint; answers 413, 503 (CA not open) or 400 itself. */
function readCaJson(
  cp: ControlPlane,
  req: http.IncomingMessage,
  fail: Fail,
  then: (ca: CertificateAuthority, body: unknown) => void,
  max = MAX_CA_BODY,
): void {
  readBody(
    req,
    (err, text) => {
      if (err) return fail(413, 'TOO_LARGE', err.message);
      const ca = cp.ca;
      if (ca === undefined) return fail(503, 'CA_STATE', 'the certificate authority is not open yet');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return fail(400, 'BAD_REQUEST', 'the request body is not JSON');
      }
      then(ca, body);
    },
    max,
  );
}

function readBody(
  req: http.IncomingMessage,
  done: (err: Error | undefined, body: string) => void,
  max = MAX_BODY,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  req.on('data', (c: Buffer) => {
    if (over) return;
    size += c.length;
    if (size > max) {
      over = true;
      // Answer first, then stop reading: destroying the request would also destroy the response.
      req.resume();
      done(new Error(`request body over ${max} bytes`), '');
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (!over) done(undefined, Buffer.concat(chunks).toString('utf8'));
  });
  req.on('error', (e) => done(e, ''));
}
