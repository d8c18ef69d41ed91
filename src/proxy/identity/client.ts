/**
 * The proxy's workload identity (docs/design/004): an ECDSA P-256 key made here with node:crypto (it never
 * leaves the process), a CSR from `createCertificateRequest`, and the control plane's signing endpoint
 * (`POST /weft.v1/ca/sign`, HTTP/1.1, on the same `unix:` or `http://` target as the config stream) with
 * the join token. The certificate is renewed at `nextRenewalTime` (40–50 % of its life) with a fresh key;
 * a failed request is retried with backoff and full jitter, while the current certificate stays in use.
 * Listeners of `onChange` get each new identity (for the TLS context swap).
 */
import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import http from 'node:http';
import {
  CA_SIGN_PATH,
  createCertificateRequest,
  nextRenewalTime,
  parseSignErrorResponse,
  parseSignResponse,
  type SignRequest,
  spiffeIdFromSubjectAltName,
  splitPemCertificates,
} from '../../api/ca/index.ts';
import type { Logger } from '../../core/index.ts';
import { type BackoffSettings, backoffDelay } from '../control-client/backoff.ts';
import { parseControlTarget } from '../control-client/target.ts';

export interface IdentityClientOptions {
  /** The control plane: `unix:<path>` or `http://<host>:<port>`. */
  target: string;
  /** The join token that names this workload's identity. */
  token: string;
  logger: Logger;
  /** [0, 1), as Math.random: renewal jitter and retry backoff. */
  random?: () => number;
  /** The clock, epoch ms. */
  now?: () => number;
  /** Retry delays after a failed request (default 500 ms doubling up to 30 s, full jitter). */
  backoff?: BackoffSettings;
  /** A renewal is never scheduled sooner than this after the previous one (default 1 s). */
  minRenewalDelayMs?: number;
  /** How long one signing request may take (default 10 s). */
  requestTimeoutMs?: number;
}

/** The identity in use: its key, the chain (leaf, issuer) and the roots to trust. */
export interface WorkloadIdentity {
  spiffeId: string;
  key: KeyObject;
  /** PEM: leaf, then issuer. */
  chain: string;
  /** PEM of each trusted root. */
  bundle: string[];
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** When the next renewal is due. */
  renewAt: Date;
  /** SHA-256 fingerprint of the issuer that signed the leaf (as Node prints it). */
  issuerFingerprint: string;
}

export interface IdentityClient {
  current(): WorkloadIdentity | undefined;
  /** Calls `listener` with every new identity; returns the unsubscribe. */
  onChange(listener: (identity: WorkloadIdentity) => void): () => void;
  /** Resolves with the first identity. */
  readonly ready: Promise<WorkloadIdentity>;
  /**
   * The control plane says which issuer signs now: a certificate from another one (after a trust-anchor
   * switch) is renewed within `maxDelayMs` (jittered, so a thousand proxies do not ask at once). Once
   * per fingerprint.
   */
  renewUnlessIssuedBy(fingerprint: string, maxDelayMs?: number): void;
  /** What the admin port shows: names, serial and dates, never key material. */
  describe(): unknown;
  close(): void;
}

export const DEFAULT_IDENTITY_BACKOFF: BackoffSettings = { baseMs: 500, capMs: 30_000, stableMs: 0 };

export function createIdentityClient(options: IdentityClientOptions): IdentityClient {
  const target = parseControlTarget(options.target);
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const backoff = options.backoff ?? DEFAULT_IDENTITY_BACKOFF;
  const minDelay = options.minRenewalDelayMs ?? 1000;
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const logger = options.logger.child({ component: 'identity' });
  const listeners = new Set<(identity: WorkloadIdentity) => void>();
  let current: WorkloadIdentity | undefined;
  let lastError: { at: string; message: string } | undefined;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let inFlight = false;
  let reissuedFor: string | undefined;
  /** An issuer hint that arrived while a request was in flight, checked when it completes. */
  let pendingIssuer: string | undefined;
  let closed = false;
  let resolveReady: (identity: WorkloadIdentity) => void = () => {};
  const ready = new Promise<WorkloadIdentity>((resolve) => {
    resolveReady = resolve;
  });

  const schedule = (delayMs: number) => {
    if (closed) return;
    timer = setTimeout(() => void attempt(), delayMs);
    timer.unref();
  };

  const attempt = async () => {
    inFlight = true;
    try {
      const identity = await requestIdentity();
      if (closed) return;
      current = identity;
      inFlight = false;
      failures = 0;
      lastError = undefined;
      logger.info('certificate received', {
        identity: identity.spiffeId,
        serial: identity.serialNumber,
        notAfter: identity.notAfter.toISOString(),
        renewAt: identity.renewAt.toISOString(),
      });
      resolveReady(identity);
      for (const listener of listeners) {
        try {
          listener(identity);
        } catch (error) {
          logger.error('identity listener failed', { error: error as Error });
        }
      }
      schedule(Math.max(minDelay, identity.renewAt.getTime() - now()));
      const pending = pendingIssuer;
      pendingIssuer = undefined;
      if (pending !== undefined) client.renewUnlessIssuedBy(pending);
    } catch (error) {
      inFlight = false;
      if (closed) return;
      // As the certificate nears its end, retry sooner: never wait more than a quarter of what is left.
      const left = current ? current.notAfter.getTime() - now() : Number.POSITIVE_INFINITY;
      const delay = Math.max(
        backoff.baseMs / 2,
        Math.min(backoffDelay(failures, random, backoff), Math.max(0, left / 4)),
      );
      failures++;
      lastError = { at: new Date(now()).toISOString(), message: (error as Error).message };
      const log = current === undefined || now() >= current.notAfter.getTime() ? logger.error : logger.warn;
      log('certificate request failed; retrying', {
        error: (error as Error).message,
        attempt: failures,
        retryInMs: delay,
        ...(current ? { currentNotAfter: current.notAfter.toISOString() } : {}),
      });
      schedule(delay);
    }
  };

  const requestIdentity = async (): Promise<WorkloadIdentity> => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const request: SignRequest = {
      csr: createCertificateRequest(privateKey),
      credential: { type: 'join-token', token: options.token },
    };
    const reply = await post(JSON.stringify(request));
    let body: unknown;
    try {
      body = JSON.parse(reply.text);
    } catch {
      throw new Error(`the CA answered ${reply.status} with something that is not JSON`);
    }
    if (reply.status !== 200) {
      const refusal = parseSignErrorResponse(body);
      throw new Error(
        refusal.ok
          ? `the CA refused (${reply.status} ${refusal.value.error.code}): ${refusal.value.error.message}`
          : `the CA answered ${reply.status}: ${reply.text.slice(0, 200)}`,
      );
    }
    const parsed = parseSignResponse(body);
    if (!parsed.ok) throw new Error(`the CA's response is invalid: ${parsed.error}`);
    const chain = splitPemCertificates(parsed.value.certificateChain);
    const certs = chain.map((pem) => new X509Certificate(pem));
    const roots = parsed.value.trustBundle.map((pem) => new X509Certificate(pem));
    const leaf = certs[0] as X509Certificate;
    if (!leaf.checkPrivateKey(privateKey)) throw new Error('the certificate is not for this key');
    for (let i = 0; i + 1 < certs.length; i++) {
      const parent = certs[i + 1] as X509Certificate;
      if (!(certs[i] as X509Certificate).verify(parent.publicKey))
        throw new Error('the certificate chain does not verify');
    }
    const top = certs.at(-1) as X509Certificate;
    if (!roots.some((root) => top.checkIssued(root) && top.verify(root.publicKey)))
      throw new Error('the certificate chain does not lead to the trust bundle');
    const id = spiffeIdFromSubjectAltName(leaf.subjectAltName);
    if (!id.ok) throw new Error(`the certificate names no valid SPIFFE id: ${id.error}`);
    const issuerFingerprint = (certs[1] ?? leaf).fingerprint256;
    const notBefore = leaf.validFromDate;
    const notAfter = leaf.validToDate;
    return {
      spiffeId: `spiffe://${id.identity.trustDomain}/ns/${id.identity.namespace}/sa/${id.identity.serviceAccount}`,
      key: privateKey,
      chain: chain.join(''),
      bundle: parsed.value.trustBundle,
      serialNumber: leaf.serialNumber,
      notBefore,
      notAfter,
      // From when it arrived, not from notBefore: the CA backdates leaves a minute for clock skew, which
      // would pull every renewal of a short-lived certificate half a minute early.
      renewAt: new Date(nextRenewalTime(new Date(Math.max(notBefore.getTime(), now())), notAfter, random)),
      issuerFingerprint,
    };
  };

  const post = (body: string): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      // A control plane that accepts but does not answer (stopped, overloaded) must not hold a renewal
      // for a large part of what the certificate has left: at most a tenth of it.
      const left = current ? current.notAfter.getTime() - now() : Number.POSITIVE_INFINITY;
      const timeout = Math.max(500, Math.min(timeoutMs, left / 10));
      const req = http.request(
        {
          ...(target.kind === 'unix'
            ? { socketPath: target.path }
            : { host: target.host, port: target.port }),
          method: 'POST',
          path: CA_SIGN_PATH,
          agent: false,
          timeout,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`no answer from the CA within ${Math.round(timeout)} ms`)),
      );
      req.on('error', reject);
      req.end(body);
    });

  void attempt();

  const client: IdentityClient = {
    current: () => current,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    ready,
    renewUnlessIssuedBy(fingerprint, maxDelayMs = 5000) {
      if (closed || reissuedFor === fingerprint) return;
      if (inFlight || current === undefined) {
        pendingIssuer = fingerprint;
        return;
      }
      if (current.issuerFingerprint === fingerprint) return;
      reissuedFor = fingerprint;
      if (timer !== undefined) clearTimeout(timer);
      const delay = Math.floor(random() * maxDelayMs);
      logger.info('the issuer changed; renewing the certificate', { issuer: fingerprint, inMs: delay });
      schedule(delay);
    },
    describe() {
      const c = current;
      return {
        spiffeId: c?.spiffeId ?? null,
        serialNumber: c?.serialNumber ?? null,
        notBefore: c?.notBefore.toISOString() ?? null,
        notAfter: c?.notAfter.toISOString() ?? null,
        nextRenewal: c?.renewAt.toISOString() ?? null,
        // Certificates are public: the chain as presented to peers (leaf, then issuer), without keys.
        chain: splitPemCertificates(c?.chain ?? '').map((pem) => {
          const cert = new X509Certificate(pem);
          return {
            subject: cert.subject,
            subjectAltName: cert.subjectAltName ?? null,
            issuer: cert.issuer,
            serialNumber: cert.serialNumber,
            notBefore: cert.validFromDate.toISOString(),
            notAfter: cert.validToDate.toISOString(),
            fingerprint256: cert.fingerprint256,
          };
        }),
        trustBundle: (c?.bundle ?? []).map((pem) => {
          const root = new X509Certificate(pem);
          return { subject: root.subject, notAfter: root.validToDate.toISOString() };
        }),
        lastError: lastError ?? null,
      };
    },
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      listeners.clear();
    },
  };
  return client;
}
