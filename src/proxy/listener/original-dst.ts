/**
 * The original destination of a connection that iptables REDIRECTed to the proxy (transparent mode).
 * Node has no API for getsockopt(SO_ORIGINAL_DST), so this reads it through the small N-API addon in
 * native/original-dst (built by `npm run build:native`). The addon is loaded lazily, on first use, so a
 * proxy in explicit mode never needs it, and a missing build is reported once with what to do.
 *
 * This module is part of the proxy: node: built-ins only, nothing from src/control or src/runtime.
 */
import { createRequire } from 'node:module';
import type net from 'node:net';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface OriginalDestination {
  address: string;
  port: number;
  family: 4 | 6;
}

interface Addon {
  get(fd: number): [address: string, port: number, family: 4 | 6] | undefined;
}

const ADDON = 'native/original-dst/build/original-dst.node';
/**
 * The addon lives in the checkout; a proxy started from the type-stripped cache (bin/strip-cache.js,
 * node_modules/.cache/weft-js/<key>/src/...) finds it from the checkout root above node_modules.
 */
const addonPath = ((): string => {
  const here = fileURLToPath(import.meta.url);
  const cache = here.lastIndexOf(`${sep}node_modules${sep}.cache${sep}`);
  if (cache !== -1) return join(here.slice(0, cache), ADDON);
  return fileURLToPath(new URL(`../../../${ADDON}`, import.meta.url));
})();

let loaded: { addon: Addon } | { error: string } | undefined;

function load(): { addon: Addon } | { error: string } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    loaded = {
      error: `SO_ORIGINAL_DST exists only on Linux (this is ${process.platform}); use explicit mode`,
    };
    return loaded;
  }
  try {
    const addon = createRequire(import.meta.url)(addonPath) as Addon;
    if (typeof addon.get !== 'function') throw new Error('it does not export get()');
    loaded = { addon };
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'is not built' : (err as Error).message;
    loaded = {
      error: `the SO_ORIGINAL_DST addon (${addonPath}) ${why}: run \`npm run build:native\` (needs a C compiler and Node's headers)`,
    };
  }
  return loaded;
}

/** Whether the addon can be loaded; the reason says what to do when it cannot. */
export function originalDstAvailable(): { ok: true } | { ok: false; reason: string } {
  const state = load();
  return 'addon' in state ? { ok: true } : { ok: false, reason: state.error };
}

/**
 * The destination the client asked for before the kernel redirected it here, or undefined when the
 * connection was not redirected (no NAT record: e.g. a direct connection to the proxy's port).
 * Throws when the addon is unavailable or the socket has no file descriptor (e.g. already destroyed).
 */
export function originalDestination(socket: net.Socket): OriginalDestination | undefined {
  const state = load();
  if (!('addon' in state)) throw new Error(state.error);
  // Node keeps the descriptor on its internal TCP handle; there is no public accessor.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new Error('originalDestination: the socket has no file descriptor (closed, or not a TCP socket)');
  }
  const result = state.addon.get(fd);
  if (!result) return undefined;
  return { address: result[0], port: result[1], family: result[2] };
}
