/**
 * The certificate-signing exchange between a proxy and the control plane's CA (DESIGN.md §4,
 * docs/design/004). The proxy makes its ECDSA P-256 key itself (it never leaves the process) and sends a
 * PKCS#10 CSR with a bootstrap credential; the CA decides the identity from the credential, never from the
 * CSR, and answers with the certificate chain (leaf, then issuer), the trust bundle (every root currently
 * trusted: two during an anchor rotation) and the leaf's not-after. Both sides treat what they read as
 * untrusted and parse it into these types first.
 *
 * This module is loaded by the proxy, so it holds plain types and functions only (no schema or X.509
 * library); the CA itself lives in src/control/ca.
 */

/** The request path of the signing endpoint (JSON request and response bodies). */
export const CA_SIGN_PATH = '/weft.v1/ca/sign';
/** The largest CSR the CA reads; a P-256 CSR is well under 1 KB. */
export const MAX_CSR_BYTES = 16 * 1024;
/** The largest join token the CA reads. */
export const MAX_TOKEN_BYTES = 4 * 1024;

/**
 * What a proxy proves itself with. Only join tokens exist today (issued by `weft up` per workload
 * instance, or by an operator for a VM); Kubernetes service-account tokens will be another member.
 */
export type BootstrapCredential = { type: 'join-token'; token: string };

export interface SignRequest {
  /** A PKCS#10 certificate request, PEM ("CERTIFICATE REQUEST"). */
  csr: string;
  credential: BootstrapCredential;
}

export interface SignResponse {
  /** PEM: the leaf certificate, then the issuer (intermediate) that signed it. */
  certificateChain: string;
  /** PEM of each root currently trusted, one certificate per entry. */
  trustBundle: string[];
  /** The leaf's not-after, ISO 8601. */
  notAfter: string;
}

/**
 * The CA's refusals. Each code names who got it wrong (the request, the credential, the CA's own state);
 * `status` is the HTTP status the signing endpoint answers with.
 */
export const CaErrors = {
  CA_REQUEST_MALFORMED: {
    status: 400,
    description: 'The signing request is not the expected JSON document.',
  },
  CA_CSR_MALFORMED: { status: 400, description: 'The CSR is not a single PEM-encoded PKCS#10 request.' },
  CA_CSR_SIGNATURE: {
    status: 400,
    description: 'The CSR signature does not verify with its own public key.',
  },
  CA_CSR_KEY: { status: 400, description: 'The CSR key is not an ECDSA P-256 key.' },
  CA_CSR_IDENTITY: {
    status: 403,
    description: 'The CSR asks for names other than the identity its credential grants.',
  },
  CA_IDENTITY_INVALID: {
    status: 400,
    description: 'The identity to certify is not a valid SPIFFE identity.',
  },
  CA_TOKEN_MALFORMED: { status: 401, description: 'The join token is not a Weft join token.' },
  CA_TOKEN_SIGNATURE: {
    status: 401,
    description: 'The join token was not issued by this CA or was altered.',
  },
  CA_TOKEN_EXPIRED: { status: 401, description: 'The join token has expired.' },
  CA_ISSUER_EXPIRED: {
    status: 503,
    description: 'The CA issuer certificate has expired or is not yet valid.',
  },
  CA_STATE: {
    status: 500,
    description: 'The CA state directory is missing files or holds inconsistent ones.',
  },
  CA_ROTATION: {
    status: 409,
    description: 'The trust-anchor rotation step does not follow the current phase.',
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type CaErrorCode = keyof typeof CaErrors;

/** A refusal by the CA, with its code; the signing endpoint sends `{error: {code, message}}`. */
export class CaError extends Error {
  readonly code: CaErrorCode;
  constructor(code: CaErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? CaErrors[code].description, options);
    this.name = 'CaError';
    this.code = code;
  }
  get status(): number {
    return CaErrors[this.code].status;
  }
}

/** The body of a refused signing request. */
export interface SignErrorResponse {
  error: { code: CaErrorCode; message: string };
}

export type CaParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Checks a decoded JSON body as a SignRequest (the CA side). */
export function parseSignRequest(body: unknown): CaParseResult<SignRequest> {
  if (!isObject(body)) return fail('the request body must be a JSON object');
  if (typeof body.csr !== 'string' || body.csr === '') return fail('"csr" must be a non-empty string');
  if (body.csr.length > MAX_CSR_BYTES) return fail(`"csr" is longer than ${MAX_CSR_BYTES} bytes`);
  const credential = body.credential;
  if (!isObject(credential)) return fail('"credential" must be an object');
  if (credential.type !== 'join-token')
    return fail(
      `"credential.type" ${JSON.stringify(credential.type)} is not supported (expected "join-token")`,
    );
  if (typeof credential.token !== 'string' || credential.token === '')
    return fail('"credential.token" must be a non-empty string');
  if (credential.token.length > MAX_TOKEN_BYTES)
    return fail(`"credential.token" is longer than ${MAX_TOKEN_BYTES} bytes`);
  return { ok: true, value: { csr: body.csr, credential: { type: 'join-token', token: credential.token } } };
}

/** Checks a decoded JSON body as a SignResponse (the proxy side); certificates are parsed by the caller. */
export function parseSignResponse(body: unknown): CaParseResult<SignResponse> {
  if (!isObject(body)) return fail('the response body must be a JSON object');
  const { certificateChain, trustBundle, notAfter } = body;
  if (typeof certificateChain !== 'string') return fail('"certificateChain" must be a string');
  const chain = splitPemCertificates(certificateChain);
  if (chain.length < 2) return fail('"certificateChain" must hold the leaf and its issuer');
  if (!Array.isArray(trustBundle) || trustBundle.length === 0)
    return fail('"trustBundle" must be a non-empty array');
  for (const [i, root] of trustBundle.entries()) {
    if (typeof root !== 'string' || splitPemCertificates(root).length !== 1)
      return fail(`"trustBundle[${i}]" must be one PEM certificate`);
  }
  if (typeof notAfter !== 'string' || Number.isNaN(Date.parse(notAfter)))
    return fail('"notAfter" must be an ISO 8601 time');
  return { ok: true, value: { certificateChain, trustBundle: trustBundle as string[], notAfter } };
}

/** Checks a decoded JSON body as a SignErrorResponse; unknown codes are kept as the message. */
export function parseSignErrorResponse(body: unknown): CaParseResult<SignErrorResponse> {
  if (!isObject(body) || !isObject(body.error)) return fail('the error body must be {"error": {...}}');
  const { code, message } = body.error;
  if (typeof code !== 'string' || !Object.hasOwn(CaErrors, code))
    return fail(`unknown CA error code ${JSON.stringify(code)}`);
  if (typeof message !== 'string') return fail('"error.message" must be a string');
  return { ok: true, value: { error: { code: code as CaErrorCode, message } } };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g;

/** The PEM blocks of every certificate in `pem`, in order, each ending with a newline. */
export function splitPemCertificates(pem: string): string[] {
  return [...pem.matchAll(PEM_CERTIFICATE)].map((m) => `${m[0].replace(/\r\n/g, '\n')}\n`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail<T>(error: string): CaParseResult<T> {
  return { ok: false, error };
}
