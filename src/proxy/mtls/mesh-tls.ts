/**
 * Mutual TLS between Weft proxies (DESIGN.md §4). The proxy's workload certificate (from the identity
 * client, or files) is the server certificate of its inbound side and the client certificate of its
 * outbound side; the trust bundle verifies peers. TLS 1.3 only.
 *
 * - Inbound: a tls.Server per inbound service (made by the listener) terminates connections whose
 *   ClientHello offers a `weft/…` protocol. Node checks the client's chain against the bundle; the socket
 *   is refused here, with a log line and a metric, when the chain does not verify (another trust domain,
 *   expired, unknown issuer), when there is no client certificate, or when it names no SPIFFE id of this
 *   trust domain. The peer's SPIFFE id rides on the socket for headers, metrics and (later) policy.
 * - Outbound: `dial` connects with the client certificate and accepts only a server certificate that
 *   chains to the bundle and names exactly the SPIFFE id the control plane expects for the endpoint.
 *
 * A new certificate (renewal) or bundle swaps the secure contexts: new connections use it, open ones keep
 * theirs, so rotation drops nothing.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type net from 'node:net';
import type tls from 'node:tls';
import { spiffeIdFromSubjectAltName } from '../../api/ca/spiffe.ts';
import type { Logger } from '../../core/index.ts';
import type { Counter, MetricsRegistry } from '../metrics/index.ts';
import { MESH_ALPN, MESH_ALPN_LIST, type MeshAlpn } from './client-hello.ts';

export interface MeshIdentity {
  spiffeId: string;
  key: KeyObject;
  /** PEM: leaf, then issuer. */
  chain: string;
  /** PEM of each trusted root. */
  bundle: string[];
}

/** What the inbound side knows about an authenticated peer; one per connection. */
export interface PeerInfo {
  spiffeId: string;
  /** The `x-forwarded-client-cert` value for requests on this connection (Envoy's format). */
  xfcc: string;
}

export const PEER = Symbol('weft.peer');
export type PeerSocket = net.Socket & { [PEER]?: PeerInfo };

/** Why a handshake was refused; the `reason` label of weft_mtls_handshake_failures_total. */
export type RefusalReason =
  | 'no_client_certificate'
  | 'untrusted_certificate'
  | 'expired_certificate'
  | 'not_yet_valid_certificate'
  | 'peer_identity_mismatch'
  | 'invalid_peer_identity'
  | 'handshake_error';

const HANDSHAKE_TIMEOUT_MS = 10_000;

/** node:tls, loaded on first use: a proxy that never holds a certificate does not pay for it (~0.7 MB). */
const tlsModule = (): typeof tls => process.getBuiltinModule('node:tls');

export class MeshTls {
  readonly #logger: Logger;
  readonly #metrics: MetricsRegistry;
  #identity: MeshIdentity | undefined;
  /** Roots from the config stream (fresher than the bundle that came with the certificate). */
  #configBundle: string[] | undefined;
  #client: tls.SecureContext | undefined;
  #serverOptions: tls.SecureContextOptions | undefined;
  #trustDomain = '';
  #ownId = '';
  readonly #servers = new Set<tls.Server>();
  readonly #failures = new Map<string, Counter>();
  readonly #established: Record<'inbound' | 'outbound', Counter>;

  constructor(logger: Logger, metrics: MetricsRegistry) {
    this.#logger = logger.child({ component: 'mtls' });
    this.#metrics = metrics;
    this.#established = {
      inbound: metrics.counter('weft_mtls_connections_total', 'Mutual TLS connections established.', {
        direction: 'inbound',
      }),
      outbound: metrics.counter('weft_mtls_connections_total', 'Mutual TLS connections established.', {
        direction: 'outbound',
      }),
    };
  }

  /** The certificate in use, once there is one. */
  get identity(): MeshIdentity | undefined {
    return this.#identity;
  }

  get trustDomain(): string {
    return this.#trustDomain;
  }

  /** Installs a new certificate (first issue or renewal). */
  setIdentity(identity: MeshIdentity): void {
    this.#identity = identity;
    this.#ownId = identity.spiffeId;
    this.#trustDomain = identity.spiffeId.slice('spiffe://'.length).split('/', 1)[0] ?? '';
    this.#rebuild();
  }

  /** Roots pushed by the control plane; undefined falls back to the bundle issued with the certificate. */
  setTrustBundle(bundle: readonly string[] | undefined): void {
    const next = bundle && bundle.length > 0 ? [...bundle] : undefined;
    if (sameList(next, this.#configBundle)) return;
    this.#configBundle = next;
    if (this.#identity) this.#rebuild();
  }

  /** The roots in use. */
  get trustBundle(): readonly string[] {
    return this.#configBundle ?? this.#identity?.bundle ?? [];
  }

  #rebuild(): void {
    const id = this.#identity;
    if (!id) return;
    const options: tls.SecureContextOptions = {
      // PEM in memory only, once per certificate: node:tls takes no KeyObject.
      key: id.key.export({ type: 'pkcs8', format: 'pem' }),
      cert: id.chain,
      ca: [...this.trustBundle],
      minVersion: 'TLSv1.3',
    };
    this.#serverOptions = options;
    this.#client = tlsModule().createSecureContext(options);
    for (const server of this.#servers) server.setSecureContext(options);
    this.#logger.debug('secure contexts updated', { identity: id.spiffeId, roots: this.trustBundle.length });
  }

  /**
   * A TLS server for one inbound service: feed it sockets with `emit('connection', socket)`. `onSecure`
   * gets each authenticated connection, with the peer on `socket[PEER]`. Undefined without a certificate.
   */
  createServer(
    service: string,
    onSecure: (socket: tls.TLSSocket & PeerSocket) => void,
  ): { server: tls.Server; close(): void } | undefined {
    const options = this.#serverOptions;
    if (!options) return undefined;
    const server = tlsModule().createServer({
      ...options,
      requestCert: true,
      // Checked below instead: a refusal then has a reason to log and count (Node would drop the socket
      // silently), and TLS 1.3 clients learn it on their first read either way.
      rejectUnauthorized: false,
      ALPNProtocols: [...MESH_ALPN_LIST],
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    server.on('secureConnection', (socket: tls.TLSSocket & PeerSocket) => {
      const refusal = this.#checkClient(socket);
      if (refusal) {
        this.#refuse('inbound', refusal.reason, refusal.detail, service, socket.remoteAddress);
        socket.destroy();
        return;
      }
      this.#established.inbound.inc();
      onSecure(socket);
    });
    server.on('tlsClientError', (err, socket) => {
      const reason = /certificate/i.test(err.message) ? 'no_client_certificate' : 'handshake_error';
      this.#refuse('inbound', reason, err.message, service, socket.remoteAddress);
      socket.destroy();
    });
    this.#servers.add(server);
    return { server, close: () => this.#servers.delete(server) };
  }

  #checkClient(socket: tls.TLSSocket): { reason: RefusalReason; detail: string } | undefined {
    if (!socket.authorized) {
      const cert = socket.getPeerX509Certificate();
      if (!cert) return { reason: 'no_client_certificate', detail: 'the client sent no certificate' };
      const code = String(socket.authorizationError ?? 'UNKNOWN');
      return {
        reason: reasonOf(code),
        detail: `${code} (certificate ${cert.subjectAltName ?? cert.subject}, valid ${cert.validFrom} to ${cert.validTo})`,
      };
    }
    const cert = socket.getPeerX509Certificate();
    const id = spiffeIdFromSubjectAltName(cert?.subjectAltName);
    if (!id.ok) return { reason: 'invalid_peer_identity', detail: id.error };
    if (id.identity.trustDomain !== this.#trustDomain)
      return {
        reason: 'invalid_peer_identity',
        detail: `trust domain ${id.identity.trustDomain} is not ${this.#trustDomain}`,
      };
    const peerId = `spiffe://${id.identity.trustDomain}/ns/${id.identity.namespace}/sa/${id.identity.serviceAccount}`;
    const hash = cert ? createHash('sha256').update(cert.raw).digest('hex') : '';
    (socket as PeerSocket)[PEER] = {
      spiffeId: peerId,
      xfcc: `By=${this.#ownId};Hash=${hash};Subject="";URI=${peerId}`,
    };
    return undefined;
  }

  /**
   * Connects to a Weft proxy with mutual TLS, accepting only `expectedId`; undefined when this proxy has
   * no certificate yet (the caller connects in plaintext). Usable once 'secureConnect' fires.
   */
  dial(
    address: string,
    port: number,
    expectedId: string,
    protocol: 'http1' | 'http2' | 'tcp',
  ): tls.TLSSocket | undefined {
    const context = this.#client;
    if (!context) return undefined;
    const alpn: MeshAlpn =
      protocol === 'http2' ? MESH_ALPN.http2 : protocol === 'tcp' ? MESH_ALPN.tcp : MESH_ALPN.http1;
    const socket = tlsModule().connect({
      host: address,
      port,
      secureContext: context,
      ALPNProtocols: [alpn],
      rejectUnauthorized: true,
      // A Weft certificate names no host: the check is its SPIFFE id against the one expected.
      checkServerIdentity: (_host, cert) => {
        const id = spiffeIdFromSubjectAltName(cert.subjectaltname);
        if (!id.ok) return identityError('invalid_peer_identity', id.error);
        const got = `spiffe://${id.identity.trustDomain}/ns/${id.identity.namespace}/sa/${id.identity.serviceAccount}`;
        if (got !== expectedId)
          return identityError('peer_identity_mismatch', `the server is ${got}, expected ${expectedId}`);
        return undefined;
      },
    });
    socket.setNoDelay(true);
    let secure = false;
    socket.once('secureConnect', () => {
      secure = true;
      this.#established.outbound.inc();
    });
    socket.on('error', (err: Error & { code?: string; reason?: RefusalReason }) => {
      if (secure) return;
      const code = err.code ?? '';
      // Refusals by this side (chain or identity) and handshake failures; plain connection errors
      // (refused, reset before TLS) are the pool's business.
      if (err.reason !== undefined || /^(CERT_|UNABLE_|SELF_SIGNED|ERR_SSL|ERR_TLS|DEPTH_)/.test(code))
        this.#refuse('outbound', err.reason ?? reasonOf(code), err.message, expectedId, `${address}:${port}`);
    });
    return socket;
  }

  #refuse(
    direction: 'inbound' | 'outbound',
    reason: RefusalReason,
    detail: string,
    subject: string,
    peer: string | undefined,
  ): void {
    const key = `${direction}|${reason}`;
    let c = this.#failures.get(key);
    if (!c) {
      c = this.#metrics.counter(
        'weft_mtls_handshake_failures_total',
        'Mutual TLS handshakes refused, by side and reason.',
        { direction, reason },
      );
      this.#failures.set(key, c);
    }
    c.inc();
    this.#logger.warn(
      direction === 'inbound' ? 'mTLS: refused an inbound connection' : 'mTLS: refused the server',
      direction === 'inbound'
        ? { reason, detail, service: subject, peer }
        : { reason, detail, expected: subject, endpoint: peer },
    );
  }

  describe(): unknown {
    return {
      identity: this.#identity?.spiffeId ?? null,
      trustDomain: this.#trustDomain || null,
      roots: this.trustBundle.length,
      rootsFrom: this.#configBundle ? 'config' : this.#identity ? 'certificate' : null,
    };
  }
}

function identityError(reason: RefusalReason, message: string): Error {
  const err = new Error(message) as Error & { reason: RefusalReason; code: string };
  err.reason = reason;
  err.code = 'ERR_WEFT_PEER_IDENTITY';
  return err;
}

function reasonOf(code: string): RefusalReason {
  if (code === 'CERT_HAS_EXPIRED') return 'expired_certificate';
  if (code === 'CERT_NOT_YET_VALID') return 'not_yet_valid_certificate';
  if (/CERT|ISSUER|SIGNATURE|SELF_SIGNED|DEPTH/.test(code)) return 'untrusted_certificate';
  return 'handshake_error';
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  return a.every((v, i) => v === b[i]);
}
