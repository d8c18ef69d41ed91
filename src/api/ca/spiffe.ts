/**
 * SPIFFE ids as Weft uses them: `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`, the only
 * identity a Weft certificate carries (docs/design/004). The parser is strict on purpose: it is applied to
 * names read from a peer's certificate, so anything the SPIFFE ID spec forbids (upper-case or port in the
 * trust domain, empty, `.` or `..` segments, percent-encoding, query, fragment) or any other path shape is
 * refused rather than normalised. Names also follow Kubernetes: a namespace is a DNS-1123 label and a
 * service account a DNS-1123 subdomain, so every id Weft mints can be parsed back to the same parts.
 */

/** Who a workload is: the parts of its SPIFFE id. */
export interface SpiffeIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export type SpiffeResult = { ok: true; identity: SpiffeIdentity } | { ok: false; error: string };

const SCHEME = 'spiffe://';
/** The SPIFFE ID spec caps the whole id at 2048 bytes and the trust domain at 255 characters. */
const MAX_ID_LENGTH = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
/** SPIFFE ID spec, "Trust Domain": lower-case letters, digits, dots, dashes and underscores. */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
/** Kubernetes namespace names: DNS-1123 labels. */
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Kubernetes service account names: DNS-1123 subdomains. */
const DNS_SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
const MAX_SUBDOMAIN_LENGTH = 253;

/** Why a trust domain is not valid, or undefined when it is. */
export function validateTrustDomain(trustDomain: string): string | undefined {
  if (trustDomain.length === 0) return 'trust domain is empty';
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH)
    return `trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`;
  if (!TRUST_DOMAIN.test(trustDomain))
    return `trust domain ${JSON.stringify(trustDomain)} may only contain a-z, 0-9, ".", "-" and "_"`;
  return undefined;
}

/** Why a namespace name is not valid, or undefined when it is. */
export function validateNamespace(namespace: string): string | undefined {
  if (!DNS_LABEL.test(namespace))
    return `namespace ${JSON.stringify(namespace)} is not a DNS-1123 label (a-z, 0-9 and "-", at most 63)`;
  return undefined;
}

/** Why a service account name is not valid, or undefined when it is. */
export function validateServiceAccount(serviceAccount: string): string | undefined {
  if (serviceAccount.length > MAX_SUBDOMAIN_LENGTH || !DNS_SUBDOMAIN.test(serviceAccount))
    return `service account ${JSON.stringify(serviceAccount)} is not a DNS-1123 subdomain`;
  return undefined;
}

/** Why an identity is not valid, or undefined when it is. */
export function validateIdentity(identity: SpiffeIdentity): string | undefined {
  return (
    validateTrustDomain(identity.trustDomain) ??
    validateNamespace(identity.namespace) ??
    validateServiceAccount(identity.serviceAccount)
  );
}

/** The SPIFFE id of a workload; throws a TypeError when a part is not a valid name. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  const error = validateIdentity({ trustDomain, namespace, serviceAccount });
  if (error !== undefined) throw new TypeError(`invalid SPIFFE identity: ${error}`);
  return `${SCHEME}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** The SPIFFE id of an identity (see spiffeId). */
export function formatSpiffeId(identity: SpiffeIdentity): string {
  return spiffeId(identity.trustDomain, identity.namespace, identity.serviceAccount);
}

/** Parses `spiffe://<td>/ns/<ns>/sa/<sa>` exactly; any other shape is an error. */
export function parseSpiffeId(id: string): SpiffeResult {
  if (id.length > MAX_ID_LENGTH) return fail(`SPIFFE id is longer than ${MAX_ID_LENGTH} bytes`);
  if (!id.startsWith(SCHEME)) return fail(`${JSON.stringify(id)} is not a spiffe:// URI`);
  const rest = id.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  if (slash === -1) return fail(`${JSON.stringify(id)} has no path (a trust domain id names no workload)`);
  const trustDomain = rest.slice(0, slash);
  const tdError = validateTrustDomain(trustDomain);
  if (tdError !== undefined) return fail(`${JSON.stringify(id)}: ${tdError}`);
  const segments = rest.slice(slash + 1).split('/');
  if (segments.length !== 4 || segments[0] !== 'ns' || segments[2] !== 'sa')
    return fail(`${JSON.stringify(id)} is not of the form spiffe://<trust-domain>/ns/<namespace>/sa/<name>`);
  const namespace = segments[1] as string;
  const serviceAccount = segments[3] as string;
  const nameError = validateNamespace(namespace) ?? validateServiceAccount(serviceAccount);
  if (nameError !== undefined) return fail(`${JSON.stringify(id)}: ${nameError}`);
  return { ok: true, identity: { trustDomain, namespace, serviceAccount } };
}

/**
 * The identity in a certificate's subject alternative names, as Node prints them
 * (`X509Certificate.subjectAltName`, or `subjectaltname` of a TLS peer certificate: "URI:…, DNS:…").
 * A Weft certificate carries exactly one URI name and it is a SPIFFE id; anything else is an error, so a
 * certificate with two identities is never read as either. Node quotes a value that contains a comma or a
 * quote; such a value cannot be a SPIFFE id and is refused as it stands.
 */
export function spiffeIdFromSubjectAltName(subjectAltName: string | undefined): SpiffeResult {
  if (subjectAltName === undefined || subjectAltName === '')
    return fail('the certificate has no subject alternative name');
  const uris = subjectAltName
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice('URI:'.length));
  if (uris.length === 0) return fail('the certificate has no URI subject alternative name');
  if (uris.length > 1) return fail(`the certificate has ${uris.length} URI subject alternative names`);
  return parseSpiffeId(uris[0] as string);
}

function fail(error: string): SpiffeResult {
  return { ok: false, error };
}
