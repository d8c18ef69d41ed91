/**
 * Istio's resource kinds: PeerAuthentication (security.istio.io) and the traffic kinds of
 * networking.istio.io, one schema per kind, with the table the registry reads them from.
 */
import { DestinationRule } from './destination-rule.ts';
import { ENVOY_FILTER_API_VERSIONS, EnvoyFilter } from './envoy-filter.ts';
import { ISTIO_NETWORKING_GROUP, NETWORKING_API_VERSIONS } from './networking.ts';
import { ServiceEntry } from './service-entry.ts';
import { VirtualService } from './virtual-service.ts';

export * from './destination-rule.ts';
export * from './envoy-filter.ts';
export * from './networking.ts';
export * from './peer-authentication.ts';
export * from './service-entry.ts';
export * from './virtual-service.ts';

/** The version part of each apiVersion ("networking.istio.io/v1" → "v1"). */
const versionsOf = (apiVersions: readonly string[]) => apiVersions.map((v) => v.slice(v.indexOf('/') + 1));

/** The networking.istio.io kinds Weft reads, with their schemas and versions (EnvoyFilter: v1alpha3 only). */
export const ISTIO_NETWORKING_KINDS = [
  { kind: 'VirtualService', schema: VirtualService, versions: versionsOf(NETWORKING_API_VERSIONS) },
  { kind: 'DestinationRule', schema: DestinationRule, versions: versionsOf(NETWORKING_API_VERSIONS) },
  { kind: 'ServiceEntry', schema: ServiceEntry, versions: versionsOf(NETWORKING_API_VERSIONS) },
  { kind: 'EnvoyFilter', schema: EnvoyFilter, versions: versionsOf(ENVOY_FILTER_API_VERSIONS) },
] as const;

/** True for a resource of one of the kinds above (by apiVersion group and kind). */
export function isIstioNetworkingKind(apiVersion: unknown, kind: unknown): boolean {
  return (
    typeof apiVersion === 'string' &&
    apiVersion.startsWith(`${ISTIO_NETWORKING_GROUP}/`) &&
    ISTIO_NETWORKING_KINDS.some((k) => k.kind === kind)
  );
}
