/**
 * State that filters keep across config reloads (token buckets), in a keyed cache outside the snapshot,
 * as the upstream cache keeps connection pools: a filter asks for its state by a key made of where it
 * sits (direction, service, route) and its settings, and gets the same object as the previous snapshot
 * when both are unchanged. A changed setting makes another key, hence fresh state (a full bucket).
 *
 * Entries are dropped by generation rather than reference-counted: each compile starts a generation
 * (`begin`) and marks what it uses, and entries that none of the last two compiles before it used go.
 * That keeps the state of the snapshot in force through a compile that failed; the worst case is a bucket
 * starting full again, never a leak, nor a bucket shared by unrelated filters.
 */

interface Entry {
  value: unknown;
  generation: number;
}

export class FilterStateCache {
  readonly #entries = new Map<string, Entry>();
  #generation = 0;

  /** Starts a compile. */
  begin(): void {
    this.#generation++;
    for (const [key, e] of this.#entries) if (e.generation < this.#generation - 2) this.#entries.delete(key);
  }

  /**
   * The state under `key`, created on first use. Two filters that ask for the same key in one compile
   * (two identical limits on one route) get distinct state: the second key is suffixed.
   */
  acquire<T>(key: string, create: () => T): T {
    let k = key;
    for (let n = 2; this.#entries.get(k)?.generation === this.#generation; n++) k = `${key}#${n}`;
    let e = this.#entries.get(k);
    if (e === undefined) {
      e = { value: create(), generation: this.#generation };
      this.#entries.set(k, e);
    } else e.generation = this.#generation;
    return e.value as T;
  }

  get size(): number {
    return this.#entries.size;
  }
}
