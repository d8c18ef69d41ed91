/**
 * RequestHeaderModifier and ResponseHeaderModifier (Gateway API): set replaces, add appends, remove
 * deletes. Names are lower-cased once at build time, because node:http and http2 hand us lower-case keys.
 */
import type { FilterFactory, HeaderMap, HttpFilter } from '../types.ts';

export interface HeaderModifierConfig {
  set: Record<string, string>;
  add: Record<string, string>;
  remove: string[];
}

export function compileHeaderModifier(config: HeaderModifierConfig): (headers: HeaderMap) => void {
  const set = Object.entries(config.set).map(([k, v]) => [k.toLowerCase(), v] as const);
  const add = Object.entries(config.add).map(([k, v]) => [k.toLowerCase(), v] as const);
  const remove = config.remove.map((k) => k.toLowerCase());
  return (headers) => {
    for (const [k, v] of set) headers[k] = v;
    for (const [k, v] of add) {
      const prev = headers[k];
      headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    for (const k of remove) delete headers[k];
  };
}

export const requestHeaderModifier = {
  type: 'RequestHeaderModifier',
  build(config): HttpFilter {
    const apply = compileHeaderModifier(config);
    return { onRequest: (req) => apply(req.headers) };
  },
} satisfies FilterFactory<HeaderModifierConfig>;

export const responseHeaderModifier = {
  type: 'ResponseHeaderModifier',
  build(config): HttpFilter {
    const apply = compileHeaderModifier(config);
    return { onResponse: (_status, headers) => apply(headers) };
  },
} satisfies FilterFactory<HeaderModifierConfig>;
