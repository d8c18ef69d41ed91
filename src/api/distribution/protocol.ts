/**
 * The config stream between the control plane and a proxy (docs/design/003, "Config distribution"): one
 * long-lived HTTP/2 stream per proxy, `POST /weft.v1/config` with a `weft-node` header, JSON lines both
 * ways. The proxy writes `hello`, then one `ack` or `nack` per config it received; the control plane
 * writes `config` messages. JSON lines rather than gRPC: no generated code, nothing extra loaded in the
 * proxy, and `weft proxy-config` can show exactly the JSON a proxy was sent.
 *
 * Both sides treat what they read as untrusted: a line that is not JSON, or not one of the messages
 * below, is a protocol error that ends the stream (and the proxy reconnects), never a crash.
 */

/** The request path of the config stream. */
export const CONFIG_PATH = '/weft.v1/config';
/** The request header naming the proxy (the view it wants); the hello repeats it. */
export const NODE_HEADER = 'weft-node';
/** The content type of both bodies: one JSON document per line. */
export const CONTENT_TYPE = 'application/jsonl';
/** The largest line either side accepts; a ProxyConfig for a big mesh is a few MB at most. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** The proxy's first line: who it is and the version it already runs ("" when it has none). */
export interface HelloMessage {
  type: 'hello';
  node: string;
  version: string;
}

/** The proxy applied this version and now runs it. */
export interface AckMessage {
  type: 'ack';
  version: string;
}

/** The proxy rejected this version and keeps running its last good one; `issues` says why. */
export interface NackMessage {
  type: 'nack';
  version: string;
  /** The proxy's ConfigIssues ({code, path, message}); kept as sent, since they come from the wire. */
  issues: unknown[];
}

export type ProxyMessage = HelloMessage | AckMessage | NackMessage;

/** One complete ProxyConfig for the proxy; `config.version` equals `version`. */
export interface ConfigMessage {
  type: 'config';
  version: string;
  config: unknown;
}

export type ControlMessage = ConfigMessage;

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string };

/** One line as written on the wire, newline included. */
export function encodeMessage(message: ProxyMessage | ControlMessage): string {
  return `${JSON.stringify(message)}\n`;
}

/** Parses one line the proxy sent. */
export function parseProxyMessage(line: string): ParseResult<ProxyMessage> {
  const value = parseJson(line);
  if (!value.ok) return value;
  const m = value.message;
  switch (m.type) {
    case 'hello':
      if (typeof m.node !== 'string' || m.node === '')
        return fail('hello: "node" must be a non-empty string');
      if (typeof m.version !== 'string') return fail('hello: "version" must be a string');
      return { ok: true, message: { type: 'hello', node: m.node, version: m.version } };
    case 'ack':
      if (typeof m.version !== 'string') return fail('ack: "version" must be a string');
      return { ok: true, message: { type: 'ack', version: m.version } };
    case 'nack':
      if (typeof m.version !== 'string') return fail('nack: "version" must be a string');
      if (!Array.isArray(m.issues)) return fail('nack: "issues" must be an array');
      return { ok: true, message: { type: 'nack', version: m.version, issues: m.issues } };
    default:
      return fail(`unknown message type ${JSON.stringify(m.type)}`);
  }
}

/** Parses one line the control plane sent. */
export function parseControlMessage(line: string): ParseResult<ControlMessage> {
  const value = parseJson(line);
  if (!value.ok) return value;
  const m = value.message;
  if (m.type !== 'config') return fail(`unknown message type ${JSON.stringify(m.type)}`);
  if (typeof m.version !== 'string' || m.version === '')
    return fail('config: "version" must be a non-empty string');
  if (!('config' in m)) return fail('config: "config" is missing');
  return { ok: true, message: { type: 'config', version: m.version, config: m.config } };
}

function parseJson(line: string): ParseResult<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return fail(`not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return fail('a message must be a JSON object');
  return { ok: true, message: value as Record<string, unknown> };
}

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}
