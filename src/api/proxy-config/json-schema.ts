/**
 * A validator for the subset of JSON Schema that `z.toJSONSchema` produces for ProxyConfig: object
 * properties (closed), required, defaults, enum and const, anyOf (including tagged unions), arrays, string
 * length and pattern, integer ranges, and Weft's `format: "duration"` (a string like "250ms" or a number,
 * turned into milliseconds). It returns the same value zod's parse would: defaults filled in, durations
 * converted. Issues carry the dotted path zod would report.
 */
import { parseDuration } from '../../core/duration.ts';

export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
  format?: string;
  propertyNames?: Schema;
}

export interface SchemaIssue {
  path: string;
  message: string;
}

type Result = { ok: true; value: unknown } | { ok: false };

export function validateAgainst(schema: Schema, input: unknown): { value: unknown; issues: SchemaIssue[] } {
  const issues: SchemaIssue[] = [];
  const r = check(schema, input, [], issues);
  return { value: r.ok ? r.value : undefined, issues };
}

function check(s: Schema, v: unknown, path: Array<string | number>, issues: SchemaIssue[]): Result {
  const fail = (message: string): Result => {
    issues.push({ path: path.join('.'), message });
    return { ok: false };
  };
  if (s.format === 'duration') {
    if (typeof v !== 'string' && typeof v !== 'number')
      return fail(`expected a duration, received ${kind(v)}`);
    const ms = parseDuration(v);
    if (ms === undefined) return fail(`not a duration: ${JSON.stringify(v)} (use e.g. "250ms", "5s")`);
    return { ok: true, value: ms };
  }
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return checkUnion(variants, v, path, issues, fail);
  if (s.const !== undefined)
    return v === s.const ? { ok: true, value: v } : fail(`expected ${JSON.stringify(s.const)}`);
  if (s.enum) {
    return s.enum.includes(v)
      ? { ok: true, value: v }
      : fail(
          `expected one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}, received ${JSON.stringify(v)}`,
        );
  }
  switch (s.type) {
    case 'string':
      if (typeof v !== 'string') return fail(`expected string, received ${kind(v)}`);
      if (s.minLength !== undefined && v.length < s.minLength) return fail(`must not be empty`);
      if (s.pattern !== undefined && !new RegExp(s.pattern).test(v))
        return fail(`${JSON.stringify(v)} does not match ${s.pattern}`);
      return { ok: true, value: v };
    case 'integer':
    case 'number':
      if (typeof v !== 'number' || Number.isNaN(v)) return fail(`expected number, received ${kind(v)}`);
      if (s.type === 'integer' && !Number.isInteger(v)) return fail('expected an integer');
      if (s.minimum !== undefined && v < s.minimum) return fail(`must be >= ${s.minimum}`);
      if (s.maximum !== undefined && v > s.maximum) return fail(`must be <= ${s.maximum}`);
      return { ok: true, value: v };
    case 'boolean':
      return typeof v === 'boolean' ? { ok: true, value: v } : fail(`expected boolean, received ${kind(v)}`);
    case 'array': {
      if (!Array.isArray(v)) return fail(`expected array, received ${kind(v)}`);
      const out: unknown[] = [];
      let ok = true;
      v.forEach((item, i) => {
        const r = s.items ? check(s.items, item, [...path, i], issues) : { ok: true as const, value: item };
        if (r.ok) out.push(r.value);
        else ok = false;
      });
      return ok ? { ok: true, value: out } : { ok: false };
    }
    case 'object':
      return checkObject(s, v, path, issues, fail);
    default:
      return { ok: true, value: v };
  }
}

function checkObject(
  s: Schema,
  v: unknown,
  path: Array<string | number>,
  issues: SchemaIssue[],
  fail: (m: string) => Result,
): Result {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return fail(`expected object, received ${kind(v)}`);
  const input = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  let ok = true;
  if (s.properties) {
    for (const key in input) {
      if (!(key in s.properties) && s.additionalProperties === false) {
        issues.push({ path: path.join('.'), message: `Unrecognized key: "${key}"` });
        ok = false;
      }
    }
    for (const [key, child] of Object.entries(s.properties)) {
      const value = input[key];
      if (value === undefined) {
        if (child.default !== undefined) out[key] = structuredClone(child.default);
        else if (s.required?.includes(key)) {
          issues.push({ path: [...path, key].join('.'), message: 'required' });
          ok = false;
        }
        continue;
      }
      const r = check(child, value, [...path, key], issues);
      if (r.ok) out[key] = r.value;
      else ok = false;
    }
    return ok ? { ok: true, value: out } : { ok: false };
  }
  // A map (record): every value against additionalProperties.
  const valueSchema = typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
  for (const [key, value] of Object.entries(input)) {
    const r = valueSchema ? check(valueSchema, value, [...path, key], issues) : { ok: true as const, value };
    if (r.ok) out[key] = r.value;
    else ok = false;
  }
  return ok ? { ok: true, value: out } : { ok: false };
}

function checkUnion(
  variants: Schema[],
  v: unknown,
  path: Array<string | number>,
  issues: SchemaIssue[],
  fail: (m: string) => Result,
): Result {
  // Tagged union: the variant whose `type` const matches decides, so its issues are the ones reported.
  const tag = (v as { type?: unknown } | null)?.type;
  const tagged = variants.filter((x) => x.properties?.type?.const !== undefined);
  if (tagged.length === variants.length && typeof v === 'object' && v !== null) {
    const chosen = tagged.find((x) => x.properties?.type?.const === tag);
    if (!chosen) {
      const tags = tagged.map((x) => JSON.stringify(x.properties?.type?.const)).join(', ');
      issues.push({ path: [...path, 'type'].join('.'), message: `expected one of ${tags}` });
      return { ok: false };
    }
    return check(chosen, v, path, issues);
  }
  for (const variant of variants) {
    const scratch: SchemaIssue[] = [];
    const r = check(variant, v, path, scratch);
    if (r.ok) return r;
  }
  return fail(`invalid value ${JSON.stringify(v)?.slice(0, 60)}`);
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}
