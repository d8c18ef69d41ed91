/**
 * Istio's `PeerAuthentication` (security.istio.io v1 and v1beta1, the same schema): how a workload's
 * sidecar treats peers, mutual TLS required (STRICT), accepted with plaintext (PERMISSIVE) or not
 * terminated (DISABLE), with UNSET inheriting from the namespace or mesh policy. A policy without a
 * selector applies to its whole namespace (the whole mesh in the root namespace); `portLevelMtls` narrows a
 * workload policy to one workload (container) port.
 *
 * Field names follow istio/api security/v1beta1/peer_authentication.proto. The CRD's CEL rules (and
 * istiod's validation webhook) are refinements here, so a manifest the API server would refuse is refused
 * here too: portLevelMtls needs a workload selector, port keys are 1–65535, label keys and values of the
 * selector carry no wildcard. Unknown fields are ignored, as a cluster prunes them.
 */
import { z } from 'zod';
import { ObjectMeta } from '../meta.ts';

export const ISTIO_SECURITY_GROUP = 'security.istio.io';
export const PEER_AUTHENTICATION_VERSIONS = ['security.istio.io/v1', 'security.istio.io/v1beta1'] as const;

export const PeerAuthenticationMode = z
  .enum(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'])
  .describe('UNSET inherits the mode of the parent policy (namespace, then mesh, then the default).');
export type PeerAuthenticationMode = z.output<typeof PeerAuthenticationMode>;

function issue(ctx: z.RefinementCtx, path: readonly PropertyKey[], message: string): void {
  // The path is copied: Zod prefixes an issue's path in place as it bubbles up to the parent objects.
  ctx.addIssue({ code: 'custom', path: [...path], message });
}

/** Mutual TLS settings; an absent mode is UNSET (the proto's zero value). */
export const MutualTLS = z.object({ mode: PeerAuthenticationMode.default('UNSET') });
export type MutualTLS = z.output<typeof MutualTLS>;

/** istio/api type/v1beta1/selector.proto WorkloadSelector, with the CRD's rules on matchLabels. */
export const WorkloadSelector = z.object({
  matchLabels: z
    .record(z.string(), z.string().max(63))
    .optional()
    .superRefine((labels, ctx) => {
      if (labels === undefined) return;
      const keys = Object.keys(labels);
      if (keys.length > 4096) issue(ctx, [], 'at most 4096 labels');
      for (const k of keys) {
        if (k.length === 0) issue(ctx, [k], 'key must not be empty');
        else if (k.includes('*')) issue(ctx, [k], 'wildcard not allowed in label key match');
        if (labels[k]?.includes('*')) issue(ctx, [k], 'wildcard not allowed in label value match');
      }
    }),
});
export type WorkloadSelector = z.output<typeof WorkloadSelector>;

/** Port keys as YAML and JSON give them: decimal strings ("8080"). */
const PortLevelMtls = z.record(z.string(), MutualTLS).superRefine((ports, ctx) => {
  const keys = Object.keys(ports);
  // istiod's webhook: "port level mTLS, if defined, must have at least one element".
  if (keys.length === 0) issue(ctx, [], 'portLevelMtls, if defined, must have at least one port');
  for (const k of keys) {
    const n = /^[0-9]{1,5}$/.test(k) ? Number(k) : Number.NaN;
    if (!(n >= 1 && n <= 65535)) issue(ctx, [k], 'port must be between 1-65535');
  }
});

export const PeerAuthenticationSpec = z
  .object({
    selector: WorkloadSelector.optional().describe(
      'The workloads of the policy namespace it applies to; without one (or with no labels), every workload of ' +
        'the namespace (of the mesh, in the root namespace).',
    ),
    mtls: MutualTLS.optional(),
    portLevelMtls: PortLevelMtls.optional().describe(
      'Modes by workload (container) port, over the workload-level mode; needs a selector.',
    ),
  })
  .superRefine((spec, ctx) => {
    // The CRD's rule: (has(selector) && has(selector.matchLabels) && size() > 0) || !has(portLevelMtls).
    if (spec.portLevelMtls !== undefined && Object.keys(spec.selector?.matchLabels ?? {}).length === 0) {
      issue(
        ctx,
        ['portLevelMtls'],
        'portLevelMtls requires selector: only a workload policy (spec.selector.matchLabels) may set port-level ' +
          'modes, not a namespace-wide or mesh-wide one',
      );
    }
  });
export type PeerAuthenticationSpec = z.output<typeof PeerAuthenticationSpec>;

export const PeerAuthentication = z.object({
  apiVersion: z.enum(PEER_AUTHENTICATION_VERSIONS),
  kind: z.literal('PeerAuthentication'),
  metadata: ObjectMeta,
  /** An empty spec is valid: a policy whose mode is UNSET everywhere (it changes nothing). */
  spec: PeerAuthenticationSpec.prefault({}),
});
export type PeerAuthentication = z.output<typeof PeerAuthentication>;
