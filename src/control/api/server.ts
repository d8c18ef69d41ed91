/**
 * The control plane's HTTP API, for the CLI, the runtime and (later) the dashboard: JSON over HTTP/1.1.
 * Read endpoints show the index (resources with their status, services, workloads, instances), the
 * proxies' sync state and the config computed for a proxy; `apply` and `delete` change resources.
 */
import type http from 'node:http';
import {
  CA_SIGN_PATH,
  CaError,
  type CaErrorCode,
  parseSignRequest,
  type SignResponse,
} from '../../api/ca/index.ts';
import type { ControlPlane } from '../control-plane.ts';

export type ApiHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const MAX_BODY = 8 * 1024 * 1024;

export function createApiHandler(cp: ControlPlane): ApiHandler {
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

/** `POST /api/v1/join-tokens` {namespace, serviceAccount, ttlSeconds} → {token}: for the runtime. */
function handleJoinToken(cp: ControlPlane, req: http.IncomingMessage, send: Send, fail: Fail): void {
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
