/**
 * When a proxy renews its certificate (DESIGN.md §4, docs/design/004): at half of the certificate's
 * lifetime, a little earlier by a random amount so that proxies started together (a `weft up`, a rollout)
 * do not all ask the CA in the same second. Renewing at half its life leaves the other half to ride out a
 * control plane that is down. The random source is injected so tests can replay it.
 */

/** Certificates live 24 hours unless the operator configures otherwise. */
export const DEFAULT_CERTIFICATE_TTL_MS = 24 * 60 * 60 * 1000;
/** The fraction of the lifetime after which a certificate is renewed, at the latest. */
export const RENEW_AT_FRACTION = 0.5;
/** Renewal happens up to this fraction of the lifetime before RENEW_AT_FRACTION. */
export const RENEWAL_JITTER_FRACTION = 0.1;

/**
 * The time (epoch ms) at which to renew a certificate valid from `notBefore` to `notAfter`: in
 * [40 %, 50 %] of its lifetime, placed by `random` (a function returning [0, 1), as Math.random).
 */
export function nextRenewalTime(
  notBefore: Date | number,
  notAfter: Date | number,
  random: () => number,
): number {
  const from = +notBefore;
  const to = +notAfter;
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from)
    throw new RangeError('nextRenewalTime: notAfter must be a valid time after notBefore');
  const r = random();
  if (!(r >= 0 && r < 1)) throw new RangeError(`nextRenewalTime: random() returned ${r}, not in [0, 1)`);
  const fraction = RENEW_AT_FRACTION - RENEWAL_JITTER_FRACTION * r;
  return Math.floor(from + (to - from) * fraction);
}

/** The delay (ms, never negative) from `now` until `nextRenewalTime`; 0 means renew now. */
export function renewalDelay(
  now: number,
  notBefore: Date | number,
  notAfter: Date | number,
  random: () => number,
): number {
  return Math.max(0, nextRenewalTime(notBefore, notAfter, random) - now);
}
