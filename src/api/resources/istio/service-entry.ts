/**
 * Istio's `ServiceEntry` (networking.istio.io v1, v1beta1, v1alpha3): a service added to the mesh's
 * registry, usually one outside it (MESH_EXTERNAL): its hosts, optional virtual addresses, ports with
 * protocols, and how its endpoints are found: NONE (connect to the address the client asked for), STATIC
 * (the listed endpoints, or the workloads a selector picks), DNS / DNS_ROUND_ROBIN (resolve the hosts, or
 * the endpoints' addresses), DYNAMIC_DNS (resolve each requested wildcard name).
 *
 * Field names follow istio/api networking/v1alpha3/service_entry.proto and workload_entry.proto; the CRD's
 * limits and CEL rules and istiod's ValidateServiceEntry are refinements. Port protocols are Istio's names,
 * in any case ("tcp" and "TCP" alike), or empty (detected).
 */
import { z } from 'zod';
import {
  AlphaWorkloadSelector,
  exportTo,
  fqdnError,
  ipSubnetError,
  isDns1123Label,
  isIPAddress,
  issue,
  Labels,
  NETWORKING_API_VERSIONS,
  networkingResource,
  PortNumber,
  UInt32,
  wildcardDomainError,
} from './networking.ts';

/** Istio's protocol names (pkg/config/protocol Parse, case-insensitive). */
export const ISTIO_PROTOCOLS = [
  'TCP',
  'UDP',
  'GRPC',
  'GRPC-WEB',
  'HTTP',
  'HTTP_PROXY',
  'HTTP2',
  'HTTPS',
  'TLS',
  'MONGO',
  'REDIS',
  'MYSQL',
] as const;

const HTTP_PROTOCOLS = ['HTTP', 'HTTP2', 'HTTP_PROXY', 'GRPC', 'GRPC-WEB'];
const TLS_PROTOCOLS = ['HTTPS', 'TLS'];

export const ServicePort = z.strictObject({
  number: PortNumber,
  protocol: z
    .string()
    .max(256)
    .refine((p) => p === '' || (ISTIO_PROTOCOLS as readonly string[]).includes(p.toUpperCase()), {
      error: (i) => `unsupported protocol: ${String(i.input)} (Istio reads ${ISTIO_PROTOCOLS.join(', ')})`,
    })
    .optional(),
  name: z
    .string()
    .max(256)
    .refine((n) => isDns1123Label(n), { error: (i) => `invalid port name: ${String(i.input)}` }),
  targetPort: PortNumber.optional(),
});
export type ServicePort = z.output<typeof ServicePort>;

const UNIX = 'unix://';

/** An endpoint of a ServiceEntry (istio.networking.v1alpha3.WorkloadEntry). */
export const WorkloadEntry = z
  .strictObject({
    address: z.string().max(256).optional(),
    /** Service port name → the endpoint's port for it. */
    ports: z
      .record(
        z
          .string()
          .regex(/^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/, 'port name must be valid')
          .max(62, 'port name must be valid'),
        PortNumber,
      )
      .optional(),
    labels: Labels.optional(),
    network: z.string().max(2048).optional(),
    locality: z.string().max(2048).optional(),
    weight: UInt32.optional(),
    serviceAccount: z.string().max(253).optional(),
  })
  .superRefine((e, ctx) => {
    if (!e.address && !e.network) return issue(ctx, ['address'], 'Address is required');
    if (!e.address?.startsWith(UNIX)) return;
    const socket = e.address.slice(UNIX.length);
    if (!socket.startsWith('/') && !socket.startsWith('@')) {
      issue(ctx, ['address'], 'UDS must be an absolute path or abstract socket');
    } else if (socket.endsWith('/')) issue(ctx, ['address'], 'UDS may not be a dir');
    if (e.ports) issue(ctx, ['ports'], 'UDS may not include ports');
  });
export type WorkloadEntry = z.output<typeof WorkloadEntry>;

export const ServiceEntrySpec = z
  .strictObject({
    hosts: z.array(z.string()).min(1, 'service entry must have at least one host').max(256),
    addresses: z.array(z.string().max(64)).max(256).optional(),
    ports: z.array(ServicePort).max(256).optional(),
    location: z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL']).optional(),
    resolution: z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']).optional(),
    endpoints: z.array(WorkloadEntry).max(4096).optional(),
    workloadSelector: AlphaWorkloadSelector.optional(),
    exportTo: exportTo(true).optional(),
    subjectAltNames: z.array(z.string()).optional(),
  })
  .superRefine((se, ctx) => {
    const resolution = se.resolution ?? 'NONE';
    const endpoints = se.endpoints ?? [];
    const ports = se.ports ?? [];
    if (se.workloadSelector && se.endpoints) {
      issue(
        ctx,
        ['workloadSelector'],
        'only one of WorkloadSelector or Endpoints is allowed in Service Entry',
      );
    }
    se.hosts.forEach((h, i) => {
      const e = h === '*' ? 'hostname cannot be wildcard' : wildcardDomainError(h);
      if (e) issue(ctx, ['hosts', i], e);
    });
    let cidr = false;
    se.addresses?.forEach((a, i) => {
      cidr ||= a.includes('/');
      const e = ipSubnetError(a);
      if (e) issue(ctx, ['addresses', i], e);
    });
    if (cidr && resolution !== 'NONE' && resolution !== 'STATIC') {
      issue(ctx, ['addresses'], 'CIDR addresses are allowed only for NONE/STATIC resolution types');
    }
    const names = new Set<string>();
    const numbers = new Set<number>();
    ports.forEach((p, i) => {
      if (names.has(p.name))
        issue(ctx, ['ports', i, 'name'], `service entry port name "${p.name}" already defined`);
      if (numbers.has(p.number))
        issue(ctx, ['ports', i, 'number'], `service entry port ${p.number} already defined`);
      names.add(p.name);
      numbers.add(p.number);
    });
    if (resolution === 'NONE' && endpoints.length > 0) {
      issue(ctx, ['endpoints'], 'no endpoints should be provided for resolution type none');
    }
    if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
      issue(ctx, ['endpoints'], 'there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN');
    }
    if ((resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && endpoints.length === 0) {
      // The hosts themselves are resolved: a wildcard cannot be.
      se.hosts.forEach((h, i) => {
        if (h.startsWith('*') && h !== '*') {
          issue(
            ctx,
            ['hosts', i],
            `hosts must be FQDN if no endpoints are provided for resolution mode ${resolution}`,
          );
        }
      });
    }
    endpoints.forEach((e, i) => {
      const address = e.address ?? '';
      if (resolution === 'STATIC' && address && !address.startsWith(UNIX) && !isIPAddress(address)) {
        issue(ctx, ['endpoints', i, 'address'], `endpoint address "${address}" is not a valid IP address`);
      }
      if (
        (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') &&
        address &&
        !isIPAddress(address) &&
        fqdnError(address)
      ) {
        issue(
          ctx,
          ['endpoints', i, 'address'],
          `endpoint address "${address}" is not a valid FQDN or an IP address`,
        );
      }
      if (resolution === 'STATIC' || resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') {
        for (const name of Object.keys(e.ports ?? {})) {
          if (!names.has(name))
            issue(
              ctx,
              ['endpoints', i, 'ports', name],
              `endpoint port ${name} is not defined by the service entry`,
            );
        }
      }
    });
    // For plain TCP nothing tells the hosts apart, unless the proxy does not resolve them (NONE).
    if (resolution !== 'NONE' && se.hosts.length > 1) {
      const i = ports.findIndex((p) => {
        const proto = (p.protocol ?? '').toUpperCase();
        return !HTTP_PROTOCOLS.includes(proto) && !TLS_PROTOCOLS.includes(proto);
      });
      if (i !== -1)
        issue(ctx, ['ports', i, 'protocol'], 'multiple hosts provided with non-HTTP, non-TLS ports');
    }
  });
export type ServiceEntrySpec = z.output<typeof ServiceEntrySpec>;

export const ServiceEntry = networkingResource('ServiceEntry', NETWORKING_API_VERSIONS, ServiceEntrySpec);
export type ServiceEntry = z.output<typeof ServiceEntry>;
