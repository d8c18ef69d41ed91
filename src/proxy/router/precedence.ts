/**
 * Gateway API route precedence: when several rules match, the winner is the one with an Exact path,
 * then the longest PathPrefix, then a method match, then the most header matches, then the most
 * query-parameter matches; ties keep the declared order (which the control plane derives from creation
 * time and name). RegularExpression paths are implementation-specific in the spec; Weft ranks them
 * after Exact and before any PathPrefix, as Istio does, so a specific regex is not shadowed by "/".
 */
import type { CompiledMatch } from './match.ts';

export function comparePrecedence(a: CompiledMatch['rank'], b: CompiledMatch['rank']): number {
  if (a.exact !== b.exact) return a.exact ? -1 : 1;
  if (a.regex !== b.regex) return a.regex ? -1 : 1;
  if (a.prefixLength !== b.prefixLength) return b.prefixLength - a.prefixLength;
  if (a.method !== b.method) return a.method ? -1 : 1;
  if (a.headers !== b.headers) return b.headers - a.headers;
  return b.query - a.query;
}
