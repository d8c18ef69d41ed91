/**
 * A workload identity from files, for proxies whose certificate comes from elsewhere than Weft's CA
 * (a VM with certificates from the operator's PKI, the benchmark, tests): `<dir>/cert.pem` (leaf, then
 * intermediates), `<dir>/key.pem` (its private key) and `<dir>/bundle.pem` (the trusted roots). The same
 * checks as a certificate from the CA: the key matches, the leaf names exactly one SPIFFE id.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spiffeIdFromSubjectAltName, splitPemCertificates } from '../../api/ca/index.ts';
import type { MeshIdentity } from './mesh-tls.ts';

export function readIdentityDir(dir: string): MeshIdentity {
  const read = (name: string) => {
    try {
      return fs.readFileSync(path.join(dir, name), 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${path.join(dir, name)}: ${(err as Error).message}`);
    }
  };
  const chain = read('cert.pem');
  const key = createPrivateKey(read('key.pem'));
  const bundle = splitPemCertificates(read('bundle.pem'));
  const first = splitPemCertificates(chain)[0];
  if (!first) throw new Error(`${path.join(dir, 'cert.pem')} holds no certificate`);
  const leaf = new X509Certificate(first);
  if (!leaf.checkPrivateKey(key)) throw new Error(`${path.join(dir, 'key.pem')} is not the key of cert.pem`);
  if (bundle.length === 0) throw new Error(`${path.join(dir, 'bundle.pem')} holds no certificate`);
  const id = spiffeIdFromSubjectAltName(leaf.subjectAltName);
  if (!id.ok) throw new Error(`${path.join(dir, 'cert.pem')}: ${id.error}`);
  const { trustDomain, namespace, serviceAccount } = id.identity;
  return { spiffeId: `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`, key, chain, bundle };
}
