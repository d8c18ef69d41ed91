/**
 * Support for the networking.istio.io schema tests (imported by *.test.ts only): a resource of a kind with
 * a given spec goes through the registry as a document from a file would, and its issues come back as
 * "path: message" lines.
 */
import assert from 'node:assert/strict';
import { validateResource } from '../registry.ts';

export type NetworkingKind = 'VirtualService' | 'DestinationRule' | 'ServiceEntry' | 'EnvoyFilter';

export function verdict(kind: NetworkingKind, spec: unknown, version?: string) {
  const apiVersion = `networking.istio.io/${version ?? (kind === 'EnvoyFilter' ? 'v1alpha3' : 'v1')}`;
  return validateResource({ apiVersion, kind, metadata: { name: 'r', namespace: 'default' }, spec });
}

/** Asserts the spec is valid and returns the parsed resource. */
export function accepted(kind: NetworkingKind, spec: unknown, version?: string): unknown {
  const v = verdict(kind, spec, version);
  assert.equal(
    v.state,
    'valid',
    v.state === 'valid' ? '' : v.issues.map((i) => `${i.path}: ${i.message}`).join('\n'),
  );
  return v.state === 'valid' ? v.value : undefined;
}

/** Asserts the spec is refused and returns its issues as "path: message". */
export function refused(kind: NetworkingKind, spec: unknown, version?: string): string[] {
  const v = verdict(kind, spec, version);
  assert.notEqual(v.state, 'valid', `expected ${kind} to be refused: ${JSON.stringify(spec)}`);
  return v.state === 'valid' ? [] : v.issues.map((i) => `${i.path}: ${i.message}`);
}
