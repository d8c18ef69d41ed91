/**
 * The version of a view is a hash of its content, not a counter: a control plane that restarts computes
 * the same versions for the same state, so a proxy that reconnects with the version it runs is sent
 * nothing (docs/design/003). The hash is taken over a canonical JSON text (object keys sorted at every
 * level, otherwise JSON.stringify's output), so the order in which a view builder happened to insert keys
 * does not matter.
 */
import { createHash } from 'node:crypto';

/**
 * JSON.stringify's text with object keys sorted; throws a TypeError on cycles and BigInts, as it does.
 * With `memo`, the text of every object and array is remembered by identity and reused: views built from
 * shared parts (every proxy's view holds the same services) then cost one serialisation per part, not
 * one per view. Only for values that are never mutated afterwards.
 */
export function canonicalJson(value: unknown, memo?: WeakMap<object, string>): string {
  return encode(value, memo, 0) ?? 'null';
}

/** sha256 of the canonical JSON of `config`, as 16 hex characters (64 bits: ample for one mesh). */
export function contentVersion(config: unknown): string {
  return versionOfCanonical(canonicalJson(config));
}

/** The same hash, for a caller that already holds the canonical text (it is also what gets sent). */
export function versionOfCanonical(canonical: string): string {
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

// Characters JSON.stringify escapes (and lone surrogates, which it escapes too): most strings in a config
// have none, and quoting them by hand is several times faster.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const quote = (s: string) => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

/** Nesting deeper than any config: past it, the value is taken to be cyclic (cheaper than tracking). */
const MAX_DEPTH = 1000;

/** The value's JSON; undefined for what JSON.stringify omits (undefined, functions, symbols). */
function encode(
  value: unknown,
  memo: WeakMap<object, string> | undefined,
  depth: number,
): string | undefined {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    case 'bigint':
      throw new TypeError('canonicalJson: a BigInt has no JSON form');
    default:
      return undefined;
  }
  if (value === null) return 'null';
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
    return encode((value as { toJSON(): unknown }).toJSON(), memo, depth);
  const known = memo?.get(value);
  if (known !== undefined) return known;
  if (depth > MAX_DEPTH) throw new TypeError('canonicalJson: the value is cyclic or nested too deeply');
  // Plain concatenation measured faster here than collecting parts and joining them.
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += encode(value[i], memo, depth + 1) ?? 'null';
    }
    out += ']';
  } else {
    const keys = Object.keys(value);
    if (keys.length > 1) keys.sort();
    out = '{';
    let first = true;
    for (const key of keys) {
      const v = encode((value as Record<string, unknown>)[key], memo, depth + 1);
      if (v === undefined) continue;
      if (!first) out += ',';
      out += quote(key);
      out += ':';
      out += v;
      first = false;
    }
    out += '}';
  }
  memo?.set(value, out);
  return out;
}
