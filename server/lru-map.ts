/**
 * A Map that holds at most `capacity` entries: setting one more drops the
 * least recently used. For caches whose keys come from outside (SQL text,
 * request URLs), so that they cannot grow without bound.
 */
export class LruMap<K, V> {
  readonly #entries = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`An LruMap holds at least one entry, not ${capacity}.`);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value, marked as just used; undefined when absent. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      // A Map iterates in insertion order, so re-inserting makes the first key the least recently used.
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, value);
  }

  clear(): void {
    this.#entries.clear();
  }
}
