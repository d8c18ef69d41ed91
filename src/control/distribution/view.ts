/**
 * A view as the distribution server holds it: its content version and the exact line that carries it.
 * The canonical JSON that is hashed for the version is also what is sent, with `version` spliced in as
 * the first key, so a change costs one serialisation per view. The line is dropped once written (a
 * control plane with 1000 proxies would otherwise hold 1000 serialised views) and rendered again from
 * the input in the rare case it is needed later.
 */
import { canonicalJson, versionOfCanonical } from '../../api/distribution/index.ts';

/** Where views come from (the index, in the control plane; a map, in tests and the bench). */
export interface ViewSource {
  /**
   * The ProxyConfig input for a node, or undefined while the node is unknown. A returned object, and
   * everything in it, must not be mutated afterwards: build new objects for a new view (sharing the
   * unchanged parts is encouraged). The server relies on this to skip a view that is the same object as
   * last time, and to serialise a part shared by many views once.
   */
  view(node: string): unknown;
  /** Called after any change that may alter views; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

export interface RenderedView {
  /** What `ViewSource.view` returned; compared by reference to skip work. */
  input: unknown;
  version: string;
  /** The `config` message, newline included; undefined once written (see `lineOf`). */
  line: string | undefined;
}

/** Renders a view; `memo` keeps the JSON of objects shared between views (see canonicalJson). */
export function renderView(input: unknown, memo?: WeakMap<object, string>): RenderedView {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    // Not a ProxyConfig: sent as it is, so the proxy's nack reports the problem where operators look.
    const canonical = canonicalJson(input, memo);
    const version = versionOfCanonical(canonical);
    return { input, version, line: configLine(version, canonical) };
  }
  // The control plane owns versions: a `version` in the view is not part of its content.
  const { version: _ignored, ...content } = input as Record<string, unknown>;
  const canonical = canonicalJson(content, memo);
  const version = versionOfCanonical(canonical);
  const quoted = JSON.stringify(version);
  const withVersion =
    canonical === '{}' ? `{"version":${quoted}}` : `{"version":${quoted},${canonical.slice(1)}`;
  return { input, version, line: configLine(version, withVersion) };
}

/** The view's line, rendered again if it was dropped. */
export function lineOf(view: RenderedView, memo?: WeakMap<object, string>): string {
  return view.line ?? (renderView(view.input, memo).line as string);
}

/** The config as the proxy receives it, for `weft proxy-config`. */
export function sentConfig(view: RenderedView): unknown {
  if (typeof view.input !== 'object' || view.input === null || Array.isArray(view.input)) return view.input;
  return { ...(view.input as Record<string, unknown>), version: view.version };
}

function configLine(version: string, configJson: string): string {
  return `{"type":"config","version":${JSON.stringify(version)},"config":${configJson}}\n`;
}
