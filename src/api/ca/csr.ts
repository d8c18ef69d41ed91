/**
 * The proxy's certificate request, made with node:crypto alone so the proxy needs no X.509 library: a
 * PKCS#10 request (RFC 2986) with an empty subject, no attributes and no requested names (the CA decides
 * the identity from the credential), signed ECDSA with SHA-256 by the workload's P-256 key. The request
 * only proves that the sender holds the key; the DER is written by hand because its shape is fixed.
 */
import { createPublicKey, type KeyObject, sign } from 'node:crypto';

/** ecdsa-with-SHA256, 1.2.840.10045.4.3.2 (RFC 5758 §3.2: parameters absent). */
const ECDSA_WITH_SHA256 = Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);

/** A PEM PKCS#10 request for an ECDSA P-256 private key; throws a TypeError for any other key. */
export function createCertificateRequest(privateKey: KeyObject): string {
  if (
    privateKey.type !== 'private' ||
    privateKey.asymmetricKeyType !== 'ec' ||
    privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1'
  )
    throw new TypeError('createCertificateRequest needs an ECDSA P-256 private key');
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const info = der(0x30, [
    Buffer.from([0x02, 0x01, 0x00]), // version v1 (0)
    der(0x30, []), // subject: the empty name
    spki,
    Buffer.from([0xa0, 0x00]), // attributes [0]: none
  ]);
  const signature = sign('sha256', info, privateKey); // DER ECDSA-Sig-Value, node's default encoding
  const request = der(0x30, [
    info,
    der(0x30, [ECDSA_WITH_SHA256]),
    der(0x03, [Buffer.from([0x00]), signature]), // BIT STRING, no unused bits
  ]);
  const base64 = request.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${base64}-----END CERTIFICATE REQUEST-----\n`;
}

/** One DER TLV with a definite length (X.690 §8.1.3). */
function der(tag: number, content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
