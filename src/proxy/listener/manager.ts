/**
 * Keeps the set of open listeners equal to what the current snapshot asks for: opens new ones, closes
 * removed ones, and leaves unchanged ones alone (their connections keep flowing across reloads).
 */
import type { ProxyRuntime } from '../runtime.ts';
import type { Snapshot } from '../snapshot/index.ts';
import { Listener } from './listener.ts';

export class ListenerManager {
  readonly #rt: ProxyRuntime;
  readonly #listeners = new Map<string, Listener>();

  constructor(rt: ProxyRuntime) {
    this.#rt = rt;
  }

  /** Opens and closes listeners to match the snapshot. Returns the errors of listeners that failed. */
  async reconcile(snapshot: Snapshot): Promise<Array<{ key: string; error: Error }>> {
    const wanted = new Map(snapshot.listeners.map((l) => [l.key, l]));
    const failures: Array<{ key: string; error: Error }> = [];
    for (const [key, l] of this.#listeners) {
      const w = wanted.get(key);
      if (!w || w.protocol !== l.spec.protocol || w.service !== l.spec.service) {
        this.#listeners.delete(key);
        await l.close(true);
      }
    }
    for (const [key, spec] of wanted) {
      if (this.#listeners.has(key)) continue;
      const l = new Listener(this.#rt, spec, snapshot.config.settings);
      try {
        await l.listen();
        this.#listeners.set(key, l);
      } catch (error) {
        failures.push({ key, error: error as Error });
      }
    }
    return failures;
  }

  /** Bound addresses, for /config and for tests that listen on port 0. */
  describe(): Array<{
    kind: string;
    service: string | undefined;
    address: string;
    port: number;
    protocol: string;
  }> {
    return [...this.#listeners.values()].map((l) => ({
      kind: l.spec.kind,
      service: l.spec.service,
      address: l.spec.address,
      port: l.port,
      protocol: l.spec.protocol,
    }));
  }

  async close(drain: boolean): Promise<void> {
    await Promise.all([...this.#listeners.values()].map((l) => l.close(drain)));
  }

  destroyAll(): void {
    for (const l of this.#listeners.values()) l.destroyAll();
  }
}
