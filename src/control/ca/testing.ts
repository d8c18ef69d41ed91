/**
 * Test helpers for the CA: workload keys and CSRs made the way a proxy will make them (node:crypto keys,
 * a PKCS#10 request), a chain check with Node's own X509Certificate (independent of the library the CA
 * signs with), and a TLS 1.3 client and server pair on 127.0.0.1 that report what each side saw.
 */
import { generateKeyPairSync, type KeyObject, type webcrypto, X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { type SpiffeIdentity, spiffeIdFromSubjectAltName, splitPemCertificates } from '../../api/ca/index.ts';
import type { CertificateAuthority } from './authority.ts';
import { x509 } from './x509.ts';

/** A fresh temporary folder and its removal. */
export async function createTempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'weft-ca-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface WorkloadKey {
  privateKey: KeyObject;
  /** PKCS#8 PEM, for node:tls. */
  keyPem: string;
  keys: webcrypto.CryptoKeyPair;
}

/** An ECDSA key made with node:crypto, as the proxy will make it. */
export function createWorkloadKey(options: { type?: 'ec' | 'rsa'; namedCurve?: string } = {}): WorkloadKey {
  const type = options.type ?? 'ec';
  const pair =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: options.namedCurve ?? 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const algorithm =
    type === 'ec'
      ? { name: 'ECDSA', namedCurve: options.namedCurve ?? 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return {
    privateKey: pair.privateKey,
    keyPem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    keys: {
      privateKey: pair.privateKey.toCryptoKey(algorithm, true, ['sign']),
      publicKey: pair.publicKey.toCryptoKey(algorithm, true, ['verify']),
    },
  };
}

/** A PEM CSR for `key`, optionally asking for subject alternative names. */
export async function createCsr(
  key: WorkloadKey,
  options: { names?: { type: 'url' | 'dns' | 'ip' | 'email'; value: string }[]; subject?: string } = {},
): Promise<string> {
  const rsa = key.keys.privateKey.algorithm.name !== 'ECDSA';
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: options.subject,
    keys: key.keys,
    signingAlgorithm: rsa
      ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
      : { name: 'ECDSA', hash: 'SHA-256' },
    extensions: options.names === undefined ? [] : [new x509.SubjectAlternativeNameExtension(options.names)],
  });
  return csr.toString('pem');
}

/** A workload's TLS material: its key and the chain the CA signed for it. */
export interface WorkloadCredentials {
  keyPem: string;
  chainPem: string;
  leaf: X509Certificate;
}

/** A key, a CSR without names, and the CA's certificate for `identity`. */
export async function issueWorkload(
  ca: CertificateAuthority,
  identity: Omit<SpiffeIdentity, 'trustDomain'>,
  ttlMs?: number,
): Promise<WorkloadCredentials> {
  const key = createWorkloadKey();
  const signed = await ca.sign(await createCsr(key), { trustDomain: ca.trustDomain, ...identity }, ttlMs);
  return {
    keyPem: key.keyPem,
    chainPem: signed.certificateChain,
    leaf: new X509Certificate(signed.certificate),
  };
}

/**
 * Whether a chain (leaf, then intermediates) leads to one of `bundle`'s roots, by signatures and issuer
 * names only (no dates, no extensions): the part a rotation can break.
 */
export function chainVerifies(chainPem: string, bundle: readonly string[]): boolean {
  const chain = splitPemCertificates(chainPem).map((pem) => new X509Certificate(pem));
  const roots = bundle.map((pem) => new X509Certificate(pem));
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i] as X509Certificate;
    const parent = chain[i + 1] as X509Certificate;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) return false;
  }
  const top = chain.at(-1);
  return top !== undefined && roots.some((root) => top.checkIssued(root) && top.verify(root.publicKey));
}

export interface TlsServer {
  port: number;
  /** The SPIFFE ids of clients the server accepted, in order. */
  peers: string[];
  /**
   * Why the server dropped a client: its certificate check (`authorizationError`, such as
   * UNABLE_TO_GET_ISSUER_CERT) when there is one, else the error. Node's server destroys the socket on a
   * failed check without a TLS alert, so this is the only place the reason shows.
   */
  clientErrors: string[];
  close: () => Promise<void>;
}

/** A TLS 1.3 echo server that requires a client certificate from `bundle`. */
export async function startTlsServer(
  credentials: WorkloadCredentials,
  bundle: readonly string[],
): Promise<TlsServer> {
  const peers: string[] = [];
  const clientErrors: string[] = [];
  const server = tls.createServer(
    {
      key: credentials.keyPem,
      cert: credentials.chainPem,
      ca: [...bundle],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    },
    (socket) => {
      const peer = socket.getPeerX509Certificate();
      const id = spiffeIdFromSubjectAltName(peer?.subjectAltName);
      peers.push(id.ok ? `${id.identity.namespace}/${id.identity.serviceAccount}` : `invalid: ${id.error}`);
      socket.on('error', () => socket.destroy());
      socket.pipe(socket);
    },
  );
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: tls.TLSSocket) =>
    clientErrors.push(String(socket.authorizationError ?? error.code ?? error.message)),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    peers,
    clientErrors,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type ExchangeResult =
  | { ok: true; echoed: string; server: string; protocol: string | null }
  | { ok: false; error: string };

/**
 * Connects with `credentials`, checks that the server is `expectServer` (namespace/serviceAccount of its
 * SPIFFE id), sends a line and waits for the echo. With TLS 1.3 the client finishes its handshake before
 * the server has checked the client's certificate, so a refusal only shows on this read.
 */
export function exchange(
  port: number,
  credentials: WorkloadCredentials,
  bundle: readonly string[],
  expectServer: string,
): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    let server = '';
    let received = '';
    const message = 'ping over mTLS\n';
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      key: credentials.keyPem,
      cert: credentials.chainPem,
      ca: [...bundle],
      minVersion: 'TLSv1.3',
      // A Weft leaf names no host: the server is checked by its SPIFFE id instead of by hostname.
      checkServerIdentity: (_host, cert) => {
        const id = spiffeIdFromSubjectAltName(cert.subjectaltname);
        if (!id.ok) return new Error(id.error);
        server = `${id.identity.namespace}/${id.identity.serviceAccount}`;
        return server === expectServer
          ? undefined
          : new Error(`server is ${server}, expected ${expectServer}`);
      },
    });
    const done = (result: ExchangeResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(5000, () => done({ ok: false, error: 'timeout' }));
    socket.on('secureConnect', () => socket.write(message));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received === message) done({ ok: true, echoed: received, server, protocol: socket.getProtocol() });
    });
    socket.on('error', (error: NodeJS.ErrnoException) =>
      done({ ok: false, error: error.code ?? error.message }),
    );
    socket.on('close', () => done({ ok: false, error: `closed after ${JSON.stringify(received)}` }));
  });
}
