/** Builders for the operator commands' tests: a CA as `GET /api/v1/ca` shows it, a sidecar's identity. */
import type { CaStatusResponse } from '../control/api/server.ts';
import type { InstanceIdentity, SidecarIdentity } from './identity.ts';

export const NOW = Date.parse('2030-06-01T12:00:00Z');
export const DAY = 86_400_000;
export const iso = (t: number) => new Date(t).toISOString();
export const ROOT = 'CN=Weft trust anchor 1a2b3c4d\nO=cluster.local';
export const ISSUER = 'CN=Weft issuer 1a2b3c4d\nO=cluster.local';

export function caStatus(overrides: Partial<CaStatusResponse> = {}): CaStatusResponse {
  return {
    trustDomain: 'cluster.local',
    rotation: { phase: 'idle', nextStep: 'begin', generation: 0, lastStep: null },
    certificateTtlSeconds: 86_400,
    trustAnchors: [
      {
        role: 'current',
        subject: ROOT,
        fingerprint256: 'AA:BB',
        notBefore: iso(NOW - DAY),
        notAfter: iso(NOW + 3650 * DAY),
      },
    ],
    issuer: {
      subject: ISSUER,
      fingerprint256: 'CC:DD',
      notBefore: iso(NOW - DAY),
      notAfter: iso(NOW + 365 * DAY),
    },
    nextIssuer: null,
    ...overrides,
  };
}

export function sidecar(
  instance: string,
  sa: string,
  overrides: Partial<SidecarIdentity> = {},
): InstanceIdentity {
  return {
    instance,
    namespace: 'default',
    workload: instance.split('/')[1]?.replace(/-\d+$/, '') ?? '',
    serviceAccount: sa,
    error: null,
    identity: {
      spiffeId: `spiffe://cluster.local/ns/default/sa/${sa}`,
      serialNumber: '01',
      notBefore: iso(NOW - 3_600_000),
      notAfter: iso(NOW + 23 * 3_600_000),
      nextRenewal: iso(NOW + 8 * 3_600_000),
      chain: [
        {
          subjectAltName: `URI:spiffe://cluster.local/ns/default/sa/${sa}`,
          issuer: ISSUER,
          serialNumber: '01',
          notBefore: '',
          notAfter: '',
          fingerprint256: 'EE',
        },
        {
          subject: ISSUER,
          subjectAltName: null,
          issuer: ROOT,
          serialNumber: '02',
          notBefore: '',
          notAfter: '',
          fingerprint256: 'CC:DD',
        },
      ],
      trustBundle: [{ subject: ROOT, notAfter: iso(NOW + 3650 * DAY) }],
      lastError: null,
      ...overrides,
    },
  };
}
