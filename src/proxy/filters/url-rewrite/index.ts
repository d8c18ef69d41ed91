/**
 * URLRewrite (Gateway API): replace the host sent upstream and/or the path, either whole
 * (ReplaceFullPath) or the part that matched a PathPrefix (ReplacePrefixMatch), or (Envoy and Istio) the
 * matched string prefix as written (ReplacePrefix). The query string is kept.
 */
import type { FilterFactory, HttpFilter } from '../types.ts';

export interface PathModifierConfig {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch' | 'ReplacePrefix';
  value: string;
}

export interface UrlRewriteConfig {
  hostname?: string | undefined;
  path?: PathModifierConfig | undefined;
}

/** Applies a path modifier to a path (no query); `prefix` is the PathPrefix that matched. */
export function modifyPath(path: string, mod: PathModifierConfig, prefix: string | undefined): string {
  if (mod.type === 'ReplaceFullPath') return mod.value;
  if (prefix === undefined) return path;
  // Envoy's prefix_rewrite: the matched string, replaced as written.
  if (mod.type === 'ReplacePrefix') return mod.value + path.slice(prefix.length);
  const rest = prefix === '/' ? path : path.slice(prefix.length);
  let replacement = mod.value;
  if (replacement.endsWith('/') && rest.startsWith('/')) replacement = replacement.slice(0, -1);
  const joined =
    rest.length > 0 && !rest.startsWith('/') && !replacement.endsWith('/')
      ? `${replacement}/${rest}`
      : replacement + rest;
  return joined === '' ? '/' : joined;
}

export const urlRewrite = {
  type: 'URLRewrite',
  build(config): HttpFilter {
    const host = config.hostname;
    const pathMod = config.path;
    return {
      onRequest(req) {
        if (host !== undefined) {
          req.authority = host;
          req.headers.host = host;
        }
        if (pathMod) {
          const q = req.path.indexOf('?');
          const query = q === -1 ? '' : req.path.slice(q);
          req.path = modifyPath(req.matchedPath, pathMod, req.matchedPrefix) + query;
        }
      },
    };
  },
} satisfies FilterFactory<UrlRewriteConfig>;
