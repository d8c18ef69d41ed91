/**
 * Renders the reference page for ProxyConfig (docs/reference/proxy-config.md) from the schema itself, so
 * the documentation cannot drift from what the proxy accepts. `npm run docs` writes it; a test fails when
 * the committed page differs.
 */
import { z } from 'zod';
import { ProxyConfig } from './schema.ts';

type Json = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, Json>;
  required?: string[];
  items?: Json;
  anyOf?: Json[];
  oneOf?: Json[];
  enum?: unknown[];
  const?: unknown;
  additionalProperties?: Json | boolean;
  minimum?: number;
  maximum?: number;
};

const INTRO = `# ProxyConfig reference

The wire configuration of one \`weft proxy\`: what \`weft proxy --config <file>\` reads (YAML or JSON) and,
later, what the control plane streams. Every field, its type, its default and its meaning, generated from
the schema in \`src/api/proxy-config/schema.ts\` (\`npm run docs\`). Durations are strings such as
\`"250ms"\`, \`"1.5s"\`, \`"2m"\`, or numbers of milliseconds.

An invalid file is refused with the path of each bad field and a code (see [errors.md](errors.md)); when the
proxy is already running, it keeps serving on the last good config and \`/config\` on the admin port shows
the rejected version and why.

## Example

\`\`\`yaml
admin: { port: 15000 }
outbound:
  - name: reviews
    hosts: [reviews, reviews.default.svc.cluster.local]
    port: 9080
    listen: { port: 19080 }          # explicit mode: the app calls 127.0.0.1:19080
    protocol: http1
    routes:
      - name: jason-to-v2
        matches: [{ headers: [{ name: end-user, value: jason }] }]
        backends: [{ backend: reviews-v2 }]
      - name: default
        backends: [{ backend: reviews-v1, weight: 90 }, { backend: reviews-v2, weight: 10 }]
        filters:                     # also send 5 % of requests to v3; its responses are discarded
          - type: RequestMirror
            requestMirror: { backend: reviews-v3, percent: 5 }
        timeout: 2s
backends:
  - name: reviews-v1
    endpoints: [{ address: 127.0.0.1, port: 9081 }]
  - name: reviews-v2
    endpoints: [{ address: 127.0.0.1, port: 9082 }]
    loadBalancer: { type: round-robin }
  - name: reviews-v3
    endpoints: [{ address: 127.0.0.1, port: 9083 }]
\`\`\`

## Fields

| Field | Type | Default | Description |
|---|---|---|---|
`;

/** The schema as JSON Schema (input side: what users write), for the proxy's zod-free validator. */
export function exportJsonSchema(): object {
  const json = z.toJSONSchema(ProxyConfig, { io: 'input', unrepresentable: 'any' }) as Json;
  addDefaults(ProxyConfig, json);
  return json;
}

/**
 * zod leaves out `default` where the schema below it has a transform (our durations), since the default
 * is an output value; here the output is what the validator must produce, so the defaults are copied in.
 */
function addDefaults(schema: z.ZodType, json: Json | undefined): void {
  if (!json) return;
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  switch (def.type) {
    case 'default':
      json.default ??= JSON.parse(JSON.stringify(def.defaultValue));
      addDefaults(def.innerType as z.ZodType, json);
      return;
    case 'optional':
    case 'nullable':
      addDefaults(def.innerType as z.ZodType, json);
      return;
    case 'pipe':
      addDefaults(def.in as z.ZodType, json);
      return;
    case 'object':
      for (const [key, child] of Object.entries(def.shape as Record<string, z.ZodType>))
        addDefaults(child, json.properties?.[key]);
      return;
    case 'array':
      addDefaults(def.element as z.ZodType, json.items);
      return;
    case 'union': {
      const variants = json.anyOf ?? json.oneOf ?? [];
      (def.options as z.ZodType[]).forEach((o, i) => {
        addDefaults(o, variants[i]);
      });
      return;
    }
  }
}

export function renderReference(): string {
  const schema = exportJsonSchema() as Json;
  const rows: string[] = [];
  walk(schema, '', rows);
  return `${INTRO}${rows.join('\n')}\n`;
}

function walk(node: Json, path: string, rows: string[]): void {
  const variants = node.oneOf ?? node.anyOf;
  if (node.properties) {
    for (const [key, child] of Object.entries(node.properties)) {
      const p = path ? `${path}.${key}` : key;
      const required = node.required?.includes(key) && child.default === undefined;
      rows.push(row(p, child, required ?? false));
      walkChildren(child, p, rows);
    }
  } else if (variants) {
    for (const v of variants) walk(v, path, rows);
  }
}

function walkChildren(node: Json, path: string, rows: string[]): void {
  if (node.items) walkChildren(node.items, `${path}[]`, rows);
  if (node.properties) walk(node, path, rows);
  const variants = node.oneOf ?? node.anyOf;
  if (variants) {
    for (const v of variants) {
      const tag = v.properties?.type?.const;
      if (tag !== undefined) rows.push(`| _when \`${path}.type\` is \`${String(tag)}\`_ | | | |`);
      walk(v, path, rows);
    }
  }
}

function typeOf(node: Json): string {
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((e) => `\`${String(e)}\``).join(', ');
  const variants = node.oneOf ?? node.anyOf;
  if (variants) return [...new Set(variants.map(typeOf))].join(' or ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'any'}`;
  if (node.type === 'object' && !node.properties && node.additionalProperties) return 'map of string';
  if (node.type === 'integer' && node.minimum !== undefined && node.maximum !== undefined)
    return `integer ${node.minimum}–${node.maximum}`;
  return Array.isArray(node.type) ? node.type.join(' or ') : (node.type ?? 'any');
}

function row(path: string, node: Json, required: boolean): string {
  const def =
    node.default === undefined ? (required ? '**required**' : '') : `\`${JSON.stringify(node.default)}\``;
  const desc = (node.description ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return `| \`${path}\` | ${typeOf(node).replace(/\|/g, '\\|')} | ${def.replace(/\|/g, '\\|')} | ${desc} |`;
}
