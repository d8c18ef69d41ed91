/**
 * Join tokens: the bootstrap credential `weft up` hands to each workload instance (and an operator to a
 * VM), which the CA exchanges for a certificate naming the identity the token carries. A token is
 * `wjt1.<claims>.<mac>`: the claims are base64url JSON (namespace, service account, expiry, a random id),
 * the MAC is HMAC-SHA256 over `wjt1.<claims>` with a 32-byte key kept in the CA's state directory. The
 * token is opaque to its holder; only the CA that issued it can check it. The MAC is checked before the
 * claims are parsed, so nothing an outsider writes is interpreted.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CaError, MAX_TOKEN_BYTES, validateNamespace, validateServiceAccount } from '../../api/ca/index.ts';

const PREFIX = 'wjt1';
/** HMAC-SHA256 keys as long as the hash, RFC 2104 §3. */
export const JOIN_TOKEN_KEY_BYTES = 32;
const MAC_BYTES = 32;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** What a join token grants. */
export interface JoinTokenClaims {
  namespace: string;
  serviceAccount: string;
  /** Epoch ms after which the token is refused. */
  expiresAt: number;
  /** A random id, unique per token (for logs, and revocation later). */
  id: string;
}

export interface IssueJoinTokenOptions {
  namespace: string;
  serviceAccount: string;
  ttlMs: number;
}

/** A fresh random key for join tokens. */
export function createJoinTokenKey(): Buffer {
  return randomBytes(JOIN_TOKEN_KEY_BYTES);
}

/** Issues a token for an identity, valid `ttlMs` from `now`. Throws CA_IDENTITY_INVALID on a bad name. */
export function issueJoinToken(key: Buffer, options: IssueJoinTokenOptions, now: number): string {
  const nameError = validateNamespace(options.namespace) ?? validateServiceAccount(options.serviceAccount);
  if (nameError !== undefined) throw new CaError('CA_IDENTITY_INVALID', nameError);
  if (!(Number.isFinite(options.ttlMs) && options.ttlMs > 0))
    throw new RangeError(`join token ttlMs must be a positive number, got ${options.ttlMs}`);
  const wire = {
    ns: options.namespace,
    sa: options.serviceAccount,
    exp: Math.floor(now + options.ttlMs),
    jti: randomBytes(12).toString('base64url'),
  };
  const claims = Buffer.from(JSON.stringify(wire)).toString('base64url');
  return `${PREFIX}.${claims}.${mac(key, claims).toString('base64url')}`;
}

/** Checks a token and returns what it grants; throws CaError CA_TOKEN_MALFORMED, _SIGNATURE or _EXPIRED. */
export function verifyJoinToken(key: Buffer, token: string, now: number): JoinTokenClaims {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_BYTES)
    throw new CaError('CA_TOKEN_MALFORMED', 'the join token is not a string of reasonable length');
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX)
    throw new CaError('CA_TOKEN_MALFORMED', `the join token is not of the form ${PREFIX}.<claims>.<mac>`);
  const [, claims, sent] = parts as [string, string, string];
  if (!BASE64URL.test(claims) || !BASE64URL.test(sent))
    throw new CaError('CA_TOKEN_MALFORMED', 'the join token is not base64url');
  const sentMac = Buffer.from(sent, 'base64url');
  // Base64url has several spellings of the same bytes (unused low bits in the last character); only the
  // canonical one is accepted, so a token has exactly one valid form.
  if (sentMac.length !== MAC_BYTES || sentMac.toString('base64url') !== sent)
    throw new CaError('CA_TOKEN_SIGNATURE', 'the join token was not issued by this CA or was altered');
  if (!timingSafeEqual(sentMac, mac(key, claims)))
    throw new CaError('CA_TOKEN_SIGNATURE', 'the join token was not issued by this CA or was altered');
  const parsed = parseClaims(claims);
  if (now >= parsed.expiresAt)
    throw new CaError(
      'CA_TOKEN_EXPIRED',
      `the join token for ${parsed.namespace}/${parsed.serviceAccount} expired at ${new Date(parsed.expiresAt).toISOString()}`,
    );
  return parsed;
}

function mac(key: Buffer, claims: string): Buffer {
  return createHmac('sha256', key).update(`${PREFIX}.${claims}`).digest();
}

/**
 * The claims of a token whose MAC verified. They were written by this CA, so a failure here means a key
 * shared with an incompatible writer; it is still reported, not trusted.
 */
function parseClaims(claims: string): JoinTokenClaims {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new CaError('CA_TOKEN_MALFORMED', 'the join token claims are not JSON', { cause });
  }
  if (typeof value !== 'object' || value === null)
    throw new CaError('CA_TOKEN_MALFORMED', 'the join token claims are not an object');
  const { ns, sa, exp, jti } = value as Record<string, unknown>;
  if (typeof ns !== 'string' || typeof sa !== 'string' || typeof jti !== 'string' || typeof exp !== 'number')
    throw new CaError('CA_TOKEN_MALFORMED', 'the join token claims lack ns, sa, exp or jti');
  const nameError = validateNamespace(ns) ?? validateServiceAccount(sa);
  if (nameError !== undefined) throw new CaError('CA_TOKEN_MALFORMED', `the join token names ${nameError}`);
  if (!Number.isFinite(exp)) throw new CaError('CA_TOKEN_MALFORMED', 'the join token expiry is not a number');
  return { namespace: ns, serviceAccount: sa, expiresAt: exp, id: jti };
}
