/**
 * The central async queue between connections and the hub. Producers push synchronously; the
 * single consumer drains everything pending at once, so the hub works in batches and pays one
 * wake-up per batch rather than one per event.
 */
export class AsyncQueue<T> {
  #items: T[] = [];
  #wake: (() => void) | null = null;
  #closed = false;

  /** Adds an event; returns false (and drops it) once the queue is closed. */
  push(item: T): boolean {
    if (this.#closed) return false;
    this.#items.push(item);
    this.#notify();
    return true;
  }

  /** Number of events waiting. */
  get size(): number {
    return this.#items.length;
  }

  /**
   * Resolves with every pending event (at least one), waiting if there are none; resolves with
   * `null` once the queue is closed and empty.
   */
  async drain(): Promise<T[] | null> {
    while (this.#items.length === 0) {
      if (this.#closed) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    return this.takeAll();
  }

  /** Removes and returns every pending event without waiting (possibly none). */
  takeAll(): T[] {
    const batch = this.#items;
    this.#items = [];
    return batch;
  }

  /** Stops accepting events; a waiting drain finishes what is left, then gets `null`. */
  close(): void {
    this.#closed = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    if (wake) {
      this.#wake = null;
      wake();
    }
  }
}
