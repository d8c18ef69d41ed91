/**
 * The CA's certificates and keys as objects, and the checks that make a set of PEM files a usable CA: the
 * root is a self-signed CA certificate, the issuer is a CA certificate the root signed, each private key
 * belongs to its certificate, and the issuer key is ECDSA P-256 (the only algorithm Weft signs with). Files
 * supplied by an operator go through the same checks as generated ones, so a mismatched pair is reported
 * at startup, naming the file, rather than as handshake failures in every proxy.
 */
import { createPrivateKey, createPublicKey, KeyObject, type webcrypto, X509Certificate } from 'node:crypto';
import { CaError } from '../../api/ca/index.ts';
import { x509 } from './x509.ts';

export const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const EC_SIGNATURE = { name: 'ECDSA', hash: 'SHA-256' } as const;
const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';

/** A certificate in the three forms the CA needs: PEM for files and the wire, Node's for checks. */
export interface CertificateMaterial {
  /** Normalised PEM, ending with a newline. */
  pem: string;
  cert: X509Certificate;
}

/** A CA certificate with the private key that signs with it. */
export interface SigningMaterial extends CertificateMaterial {
  key: webcrypto.CryptoKey;
  /** PEM of the key as it is on disk (PKCS#8 when Weft generated it). */
  keyPem: string;
  /** The Subject Key Identifier (hex) certificates it signs name as their Authority Key Identifier. */
  keyId: string | undefined;
  /** The subject as parsed once, the issuer name of every certificate it signs. */
  subjectName: x509.Name;
}

/** A root and the issuer it signed: the unit that is generated, loaded, and rotated. */
export interface CaGeneration {
  root: CertificateMaterial;
  /** The root's key: present when Weft generated the root; an operator may keep theirs offline. */
  rootKeyPem: string | undefined;
  issuer: SigningMaterial;
}

/** A random, positive, 16-byte serial number in hex (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
export function randomSerialNumber(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

/** A time in whole seconds, as X.509 encodes it; certificates made from it compare exactly. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** Generates a root and an issuer under it, valid from `now` (less clock skew) for the given lifetimes. */
export async function generateCaGeneration(options: {
  trustDomain: string;
  now: number;
  rootTtlMs: number;
  issuerTtlMs: number;
  skewMs: number;
}): Promise<CaGeneration> {
  const { trustDomain, now, skewMs } = options;
  // A random tag in both names: after a rotation two roots are trusted at once, and distinct subjects keep
  // path building from ever weighing one against the other.
  const tag = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(4))).toString('hex');
  const notBefore = wholeSeconds(now - skewMs);
  const rootKeys = await generateKeyPair();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: `CN=Weft trust anchor ${tag}, O=${trustDomain}`,
    notBefore,
    notAfter: wholeSeconds(now + options.rootTtlMs),
    keys: rootKeys,
    signingAlgorithm: EC_SIGNATURE,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const rootKeyId = subjectKeyId(root);
  const issuerKeys = await generateKeyPair();
  const issuerNotAfter = Math.min(now + options.issuerTtlMs, root.notAfter.getTime());
  const issuer = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: `CN=Weft issuer ${tag}, O=${trustDomain}`,
    issuer: root.subjectName,
    notBefore,
    notAfter: wholeSeconds(issuerNotAfter),
    publicKey: issuerKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: EC_SIGNATURE,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(issuerKeys.publicKey),
      ...(rootKeyId === undefined ? [] : [new x509.AuthorityKeyIdentifierExtension(rootKeyId)]),
    ],
  });
  const rootKeyPem = exportPrivateKey(rootKeys.privateKey);
  return {
    root: certificateFromDer(root.rawData),
    rootKeyPem,
    issuer: {
      ...certificateFromDer(issuer.rawData),
      key: issuerKeys.privateKey,
      keyPem: exportPrivateKey(issuerKeys.privateKey),
      keyId: subjectKeyId(issuer),
      subjectName: issuer.subjectName,
    },
  };
}

/** The PEM texts of one generation, as read from (or written to) a state directory. */
export interface CaGenerationFiles {
  rootCert: string;
  rootKey: string | undefined;
  issuerCert: string;
  issuerKey: string;
}

/**
 * Parses and checks one generation's files. `where` names the folder for error messages. Throws CaError
 * CA_STATE, naming the file, when anything does not hold.
 */
export function loadCaGeneration(files: CaGenerationFiles, where: string): CaGeneration {
  const root = parseCertificate(files.rootCert, `${where}/root.crt`);
  checkSelfSignedCa(root.cert, `${where}/root.crt`);
  const issuerCert = parseCertificate(files.issuerCert, `${where}/issuer.crt`);
  if (!issuerCert.cert.ca) throw stateError(`${where}/issuer.crt is not a CA certificate (basicConstraints)`);
  if (!issuerCert.cert.checkIssued(root.cert) || !issuerCert.cert.verify(root.cert.publicKey))
    throw stateError(`${where}/issuer.crt was not signed by ${where}/root.crt`);
  if (files.rootKey !== undefined) {
    const rootKey = parsePrivateKey(files.rootKey, `${where}/root.key`);
    checkKeyPair(rootKey, root.cert, `${where}/root.key`, `${where}/root.crt`);
  }
  const issuerKey = parsePrivateKey(files.issuerKey, `${where}/issuer.key`);
  checkKeyPair(issuerKey, issuerCert.cert, `${where}/issuer.key`, `${where}/issuer.crt`);
  const details = issuerKey.asymmetricKeyDetails;
  if (issuerKey.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1')
    throw stateError(`${where}/issuer.key is not an ECDSA P-256 key`);
  const peculiar = new x509.X509Certificate(issuerCert.cert.raw);
  return {
    root,
    rootKeyPem: files.rootKey,
    issuer: {
      ...issuerCert,
      key: issuerKey.toCryptoKey(EC_KEY, false, ['sign']),
      keyPem: files.issuerKey,
      keyId: subjectKeyId(peculiar),
      subjectName: peculiar.subjectName,
    },
  };
}

/** Parses a root certificate kept for trust only (the previous anchor during a rotation). */
export function loadTrustAnchor(pem: string, file: string): CertificateMaterial {
  const anchor = parseCertificate(pem, file);
  checkSelfSignedCa(anchor.cert, file);
  return anchor;
}

/** The Subject Key Identifier of a certificate in hex, if it has one. */
export function subjectKeyId(cert: x509.X509Certificate): string | undefined {
  const ext = cert.getExtension(OID_SUBJECT_KEY_IDENTIFIER);
  return ext === null ? undefined : new x509.SubjectKeyIdentifierExtension(ext.rawData).keyId;
}

export function certificateFromDer(der: ArrayBuffer | Buffer): CertificateMaterial {
  const cert = new X509Certificate(Buffer.from(der as ArrayBuffer));
  return { pem: cert.toString(), cert };
}

async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await globalThis.crypto.subtle.generateKey(EC_KEY, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
}

function exportPrivateKey(key: webcrypto.CryptoKey): string {
  return exportKeyObject(KeyObject.from(key));
}

function exportKeyObject(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

function parseCertificate(pem: string, file: string): CertificateMaterial {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (blocks !== 1) throw stateError(`${file} must hold exactly one PEM certificate, found ${blocks}`);
  try {
    const cert = new X509Certificate(pem);
    return { pem: cert.toString(), cert };
  } catch (cause) {
    throw stateError(`${file} is not a valid PEM certificate`, cause);
  }
}

function parsePrivateKey(pem: string, file: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw stateError(`${file} is not an unencrypted PEM private key`, cause);
  }
}

function checkSelfSignedCa(cert: X509Certificate, file: string): void {
  if (!cert.ca) throw stateError(`${file} is not a CA certificate (basicConstraints)`);
  if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey))
    throw stateError(`${file} is not self-signed, so it cannot be a trust anchor`);
}

function checkKeyPair(key: KeyObject, cert: X509Certificate, keyFile: string, certFile: string): void {
  const fromKey = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const fromCert = cert.publicKey.export({ format: 'der', type: 'spki' });
  if (!fromKey.equals(fromCert)) throw stateError(`${keyFile} is not the private key of ${certFile}`);
}

function stateError(message: string, cause?: unknown): CaError {
  return new CaError('CA_STATE', message, cause === undefined ? undefined : { cause });
}
