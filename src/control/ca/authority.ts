/**
 * Weft's certificate authority (issue 4, docs/design/004): a trust anchor (root) and an issuer
 * (intermediate), ECDSA P-256, kept in a state directory, generated on first start or supplied as files.
 * It signs workload certificates whose only name is a SPIFFE id, issues and checks join tokens, publishes
 * the trust bundle, and walks a trust-anchor rotation through its three persisted steps:
 *
 *   idle ──beginRotation──▶ published ──switchIssuer──▶ switched ──retireOldRoot──▶ idle
 *   (old root)              (both roots, old signs)     (both roots, new signs)      (new root)
 *
 * The identity of a certificate comes from the caller (who read it from a verified credential), never
 * from the CSR: a CSR is only the proof that the requester holds the key, and one that asks for any other
 * name is refused rather than silently corrected, since it means the proxy and the CA disagree about who
 * the proxy is.
 */
import { createPublicKey, type X509Certificate } from 'node:crypto';
import {
  CaError,
  DEFAULT_CERTIFICATE_TTL_MS,
  spiffeId as formatSpiffeId,
  MAX_CSR_BYTES,
  type SignResponse,
  type SpiffeIdentity,
  validateIdentity,
  validateTrustDomain,
} from '../../api/ca/index.ts';
import {
  type IssueJoinTokenOptions,
  issueJoinToken,
  type JoinTokenClaims,
  verifyJoinToken,
} from './join-token.ts';
import {
  type CaGeneration,
  type CertificateMaterial,
  EC_SIGNATURE,
  generateCaGeneration,
  loadCaGeneration,
  loadTrustAnchor,
  randomSerialNumber,
  wholeSeconds,
} from './material.ts';
import {
  CA_FILES,
  commitSwitch,
  initStore,
  readOrCreateJoinTokenKey,
  readStore,
  removePreviousRoot,
  type StoredCa,
  writeNext,
} from './store.ts';
import { x509 } from './x509.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A generated trust anchor lives ten years: rotating it is an operator's planned act, not a routine. */
export const DEFAULT_ROOT_TTL_MS = 3650 * DAY_MS;
/** A generated issuer lives one year; `weft check` warns 60 days before. */
export const DEFAULT_ISSUER_TTL_MS = 365 * DAY_MS;
/** Certificates start this much before they are signed, so a peer whose clock is behind accepts them. */
export const CLOCK_SKEW_MS = 60_000;

const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const PEM_CSR =
  /^\s*-----BEGIN CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE REQUEST-----\s*$/;

export interface CertificateAuthorityOptions {
  /** The folder holding the CA's files (see store.ts); created when missing. */
  stateDir: string;
  /** The trust domain of every SPIFFE id this CA signs. */
  trustDomain: string;
  /** The clock, epoch ms; injected by tests. */
  now?: () => number;
  /** Lifetime of a generated root (first start and rotations). */
  rootTtlMs?: number;
  /** Lifetime of a generated issuer (first start and rotations). */
  issuerTtlMs?: number;
}

/** A signed workload certificate: the wire response, and what the CA knows about it. */
export interface SignedCertificate extends SignResponse {
  /** PEM of the leaf alone. */
  certificate: string;
  spiffeId: string;
  serialNumber: string;
  /** ISO 8601. */
  notBefore: string;
}

export type RotationPhase = 'idle' | 'published' | 'switched';

/** One certificate's dates, for `weft check` and `weft identity`. */
export interface CertificateExpiry {
  subject: string;
  /** SHA-256 fingerprint, colon-separated hex, as Node and openssl print it. */
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CaExpiries {
  /** Every trusted root, in trust-bundle order. */
  anchors: CertificateExpiry[];
  /** The issuer that signs now. */
  issuer: CertificateExpiry;
  /** The issuer that will sign after `switchIssuer` (phase "published" only). */
  nextIssuer: CertificateExpiry | undefined;
}

interface CaState {
  /** The generation that signs. */
  current: CaGeneration;
  /** Phase "published": the generation that will sign next, already trusted. */
  next: CaGeneration | undefined;
  /** Phase "switched": the old root, still trusted. */
  previousRoot: CertificateMaterial | undefined;
}

/** Opens the CA in `options.stateDir`, generating a root and an issuer there on first start. */
export async function createCertificateAuthority(
  options: CertificateAuthorityOptions,
): Promise<CertificateAuthority> {
  const tdError = validateTrustDomain(options.trustDomain);
  if (tdError !== undefined) throw new CaError('CA_IDENTITY_INVALID', tdError);
  const settings: Settings = {
    dir: options.stateDir,
    trustDomain: options.trustDomain,
    now: options.now ?? Date.now,
    rootTtlMs: options.rootTtlMs ?? DEFAULT_ROOT_TTL_MS,
    issuerTtlMs: options.issuerTtlMs ?? DEFAULT_ISSUER_TTL_MS,
  };
  let stored = await readStore(settings.dir);
  let generated = false;
  if (stored === undefined) {
    await initStore(settings.dir, toFiles(await generate(settings)));
    generated = true;
    stored = await readStore(settings.dir);
    if (stored === undefined)
      throw new CaError('CA_STATE', `${settings.dir}: the generated CA was not found again`);
  }
  const joinTokenKey = await readOrCreateJoinTokenKey(settings.dir);
  return new CertificateAuthority(settings, stateFromStore(settings.dir, stored), joinTokenKey, {
    generated,
    warnings: stored.warnings,
  });
}

interface Settings {
  dir: string;
  trustDomain: string;
  now: () => number;
  rootTtlMs: number;
  issuerTtlMs: number;
}

export class CertificateAuthority {
  readonly trustDomain: string;
  /** True when this start generated the root and issuer (first start). */
  readonly generated: boolean;
  /** Problems to log that do not stop the CA (for example key files readable by others). */
  readonly warnings: readonly string[];
  #settings: Settings;
  #state: CaState;
  #joinTokenKey: Buffer;
  /** Rotation steps run one at a time; signing reads whichever state is current when it starts. */
  #steps: Promise<unknown> = Promise.resolve();

  /** Use createCertificateAuthority. */
  constructor(
    settings: Settings,
    state: CaState,
    joinTokenKey: Buffer,
    info: { generated: boolean; warnings: readonly string[] },
  ) {
    this.#settings = settings;
    this.#state = state;
    this.#joinTokenKey = joinTokenKey;
    this.trustDomain = settings.trustDomain;
    this.generated = info.generated;
    this.warnings = info.warnings;
  }

  /** Where the CA is in a trust-anchor rotation. */
  get rotationPhase(): RotationPhase {
    if (this.#state.next !== undefined) return 'published';
    if (this.#state.previousRoot !== undefined) return 'switched';
    return 'idle';
  }

  /** PEM of every root a workload must trust now. */
  trustBundle(): string[] {
    const s = this.#state;
    return [
      s.current.root.pem,
      ...(s.next === undefined ? [] : [s.next.root.pem]),
      ...(s.previousRoot === undefined ? [] : [s.previousRoot.pem]),
    ];
  }

  /**
   * Signs `csrPem` for `identity`, valid `ttlMs` (capped at the issuer's not-after). Throws CaError:
   * CA_CSR_MALFORMED, CA_CSR_KEY, CA_CSR_SIGNATURE, CA_CSR_IDENTITY, CA_IDENTITY_INVALID, CA_ISSUER_EXPIRED.
   */
  async sign(
    csrPem: string,
    identity: SpiffeIdentity,
    ttlMs = DEFAULT_CERTIFICATE_TTL_MS,
  ): Promise<SignedCertificate> {
    const state = this.#state;
    const issuer = state.current.issuer;
    const idError = validateIdentity(identity);
    if (idError !== undefined) throw new CaError('CA_IDENTITY_INVALID', idError);
    if (identity.trustDomain !== this.trustDomain)
      throw new CaError(
        'CA_IDENTITY_INVALID',
        `this CA signs for trust domain ${this.trustDomain}, not ${identity.trustDomain}`,
      );
    if (!(Number.isFinite(ttlMs) && ttlMs > 0))
      throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
    const id = formatSpiffeId(identity.trustDomain, identity.namespace, identity.serviceAccount);
    const csr = await parseCsr(csrPem);
    checkRequestedNames(csr, id);

    const now = this.#settings.now();
    const issuerNotBefore = issuer.cert.validFromDate.getTime();
    const issuerNotAfter = issuer.cert.validToDate.getTime();
    if (now < issuerNotBefore || now >= issuerNotAfter)
      throw new CaError(
        'CA_ISSUER_EXPIRED',
        `the issuer is valid from ${issuer.cert.validFromDate.toISOString()} to ${issuer.cert.validToDate.toISOString()}`,
      );
    const notBefore = wholeSeconds(Math.max(now - CLOCK_SKEW_MS, issuerNotBefore));
    const notAfter = wholeSeconds(Math.min(now + ttlMs, issuerNotAfter));
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialNumber(),
      // An empty subject: the SPIFFE id is the only name (X509-SVID §2), so the SAN must be critical
      // (RFC 5280 §4.2.1.6).
      subject: '',
      issuer: issuer.subjectName,
      notBefore,
      notAfter,
      publicKey: csr.publicKey,
      signingKey: issuer.key,
      signingAlgorithm: EC_SIGNATURE,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        // X509-SVID §4.3: digitalSignature only; keyEncipherment has no use for an EC key.
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.serverAuth,
          x509.ExtendedKeyUsage.clientAuth,
        ]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: id }], true),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
        ...(issuer.keyId === undefined ? [] : [new x509.AuthorityKeyIdentifierExtension(issuer.keyId)]),
      ],
    });
    const certificate = `${leaf.toString('pem').trim()}\n`;
    return {
      certificate,
      certificateChain: certificate + issuer.pem,
      trustBundle: this.trustBundle(),
      notBefore: leaf.notBefore.toISOString(),
      notAfter: leaf.notAfter.toISOString(),
      spiffeId: id,
      serialNumber: leaf.serialNumber,
    };
  }

  /** A join token for a workload identity in this trust domain, valid `ttlMs`. */
  issueJoinToken(options: IssueJoinTokenOptions): string {
    return issueJoinToken(this.#joinTokenKey, options, this.#settings.now());
  }

  /** The claims of a join token; throws CaError CA_TOKEN_MALFORMED, CA_TOKEN_SIGNATURE or CA_TOKEN_EXPIRED. */
  verifyJoinToken(token: string): JoinTokenClaims {
    return verifyJoinToken(this.#joinTokenKey, token, this.#settings.now());
  }

  /** The identity a join token grants, in this CA's trust domain. */
  identityFromJoinToken(token: string): SpiffeIdentity {
    const claims = this.verifyJoinToken(token);
    return {
      trustDomain: this.trustDomain,
      namespace: claims.namespace,
      serviceAccount: claims.serviceAccount,
    };
  }

  /**
   * Rotation step 1: generates a new root and issuer and publishes both roots in the bundle; the old
   * issuer keeps signing until every workload has the new bundle (one renewal period at least).
   */
  beginRotation(): Promise<void> {
    return this.#step(async () => {
      this.#expectPhase('idle', 'beginRotation');
      const next = await generate(this.#settings);
      await writeNext(this.#settings.dir, toFiles(next));
      this.#state = { ...this.#state, next };
    });
  }

  /** Rotation step 2: the new issuer signs; the old root stays trusted for certificates it signed. */
  switchIssuer(): Promise<void> {
    return this.#step(async () => {
      this.#expectPhase('published', 'switchIssuer');
      const { current, next } = this.#state;
      await commitSwitch(this.#settings.dir, current.root.pem);
      this.#state = { current: next as CaGeneration, next: undefined, previousRoot: current.root };
    });
  }

  /** Rotation step 3: drops the old root from the bundle, once no certificate it signed is in use. */
  retireOldRoot(): Promise<void> {
    return this.#step(async () => {
      this.#expectPhase('switched', 'retireOldRoot');
      await removePreviousRoot(this.#settings.dir);
      this.#state = { ...this.#state, previousRoot: undefined };
    });
  }

  /** The dates of the trusted roots and of the issuer(s), for `weft check` (warns 60 days ahead). */
  expiries(): CaExpiries {
    const s = this.#state;
    return {
      anchors: this.#anchors().map((a) => expiryOf(a.cert)),
      issuer: expiryOf(s.current.issuer.cert),
      nextIssuer: s.next === undefined ? undefined : expiryOf(s.next.issuer.cert),
    };
  }

  #anchors(): CertificateMaterial[] {
    const s = this.#state;
    return [
      s.current.root,
      ...(s.next === undefined ? [] : [s.next.root]),
      ...(s.previousRoot === undefined ? [] : [s.previousRoot]),
    ];
  }

  #expectPhase(phase: RotationPhase, step: string): void {
    if (this.rotationPhase !== phase)
      throw new CaError(
        'CA_ROTATION',
        `${step} needs rotation phase "${phase}", the CA is in "${this.rotationPhase}"`,
      );
  }

  #step(run: () => Promise<void>): Promise<void> {
    const result = this.#steps.then(run);
    this.#steps = result.catch(() => undefined);
    return result;
  }
}

function generate(settings: Settings): Promise<CaGeneration> {
  return generateCaGeneration({
    trustDomain: settings.trustDomain,
    now: settings.now(),
    rootTtlMs: settings.rootTtlMs,
    issuerTtlMs: settings.issuerTtlMs,
    skewMs: CLOCK_SKEW_MS,
  });
}

function toFiles(g: CaGeneration) {
  return {
    rootCert: g.root.pem,
    rootKey: g.rootKeyPem,
    issuerCert: g.issuer.pem,
    issuerKey: g.issuer.keyPem,
  };
}

function stateFromStore(dir: string, stored: StoredCa): CaState {
  return {
    current: loadCaGeneration(stored.current, dir),
    next: stored.next === undefined ? undefined : loadCaGeneration(stored.next, `${dir}/${CA_FILES.nextDir}`),
    previousRoot:
      stored.previousRoot === undefined
        ? undefined
        : loadTrustAnchor(stored.previousRoot, `${dir}/${CA_FILES.previousRoot}`),
  };
}

function expiryOf(cert: X509Certificate): CertificateExpiry {
  return {
    subject: cert.subject,
    fingerprint256: cert.fingerprint256,
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
  };
}

/** Parses and verifies a PEM CSR: one block, an ECDSA P-256 key, a signature made with that key. */
async function parseCsr(pem: string): Promise<x509.Pkcs10CertificateRequest> {
  if (typeof pem !== 'string' || pem.length > MAX_CSR_BYTES)
    throw new CaError('CA_CSR_MALFORMED', `the CSR must be a PEM string of at most ${MAX_CSR_BYTES} bytes`);
  const match = PEM_CSR.exec(pem);
  if (match === null)
    throw new CaError('CA_CSR_MALFORMED', 'the CSR is not one PEM block "CERTIFICATE REQUEST" (PKCS#10)');
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(Buffer.from((match[1] as string).replace(/\s+/g, ''), 'base64'));
  } catch (cause) {
    throw new CaError('CA_CSR_MALFORMED', 'the CSR is not a valid PKCS#10 structure', { cause });
  }
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new CaError('CA_CSR_KEY', 'the CSR public key cannot be read', { cause });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new CaError('CA_CSR_KEY', `the CSR key is ${describeKey(key)}, not ECDSA P-256`);
  let valid: boolean;
  try {
    valid = await csr.verify();
  } catch (cause) {
    throw new CaError('CA_CSR_SIGNATURE', 'the CSR signature cannot be checked', { cause });
  }
  if (!valid) throw new CaError('CA_CSR_SIGNATURE');
  return csr;
}

function describeKey(key: ReturnType<typeof createPublicKey>): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === undefined ? `${key.asymmetricKeyType}` : `${key.asymmetricKeyType} ${curve}`;
}

/**
 * A CSR may ask for no names (the CA supplies them) or for exactly the SPIFFE id being granted; any other
 * request is refused.
 */
function checkRequestedNames(csr: x509.Pkcs10CertificateRequest, id: string): void {
  let requested: string[];
  try {
    requested = csr
      .getExtensions(OID_SUBJECT_ALT_NAME)
      .flatMap((ext) => new x509.SubjectAlternativeNameExtension(ext.rawData).names.items)
      .map((name) => `${name.type}:${name.value}`);
  } catch (cause) {
    throw new CaError('CA_CSR_IDENTITY', 'the CSR subject alternative names cannot be read', { cause });
  }
  if (requested.length === 0) return;
  if (requested.length === 1 && requested[0] === `url:${id}`) return;
  throw new CaError(
    'CA_CSR_IDENTITY',
    `the CSR asks for ${requested.join(', ')}; the credential grants only url:${id}`,
  );
}
