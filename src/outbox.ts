/**
 * A client's outbox: encoded lines the hub has decided to send and the writer has not yet
 * handed to the socket. The hub appends (sharing one encoded buffer among all recipients of a
 * broadcast); the connection's writer takes everything pending as one coalesced buffer.
 */
export class Outbox {
  #chunks: Uint8Array[] = [];
  #head = 0;
  /** Bytes waiting to be written. */
  bytes = 0;
  /**
   * Set by the hub when it asks the shell to start writing; cleared by the writer once the
   * outbox is empty. While set, appends need no further wake-up.
   */
  armed = false;

  /** Appends bytes; the buffer is shared, so it must never be modified afterwards. */
  push(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.bytes += bytes.length;
  }

  /**
   * Removes and returns up to `max` pending bytes as one buffer (a single pending chunk is
   * returned as is; a chunk larger than `max` is never split). Returns null when empty.
   */
  take(max = Infinity): Uint8Array | null {
    const chunks = this.#chunks;
    const n = chunks.length - this.#head;
    if (n === 0) return null;
    if (n === 1 || chunks[this.#head].length >= max) {
      const c = chunks[this.#head++];
      this.bytes -= c.length;
      this.#compact();
      return c;
    }
    let size = 0;
    let end = this.#head;
    while (end < chunks.length && (end === this.#head || size + chunks[end].length <= max)) {
      size += chunks[end++].length;
    }
    const out = joined(chunks, this.#head, end, size);
    this.#head = end;
    this.bytes -= size;
    this.#compact();
    return out;
  }

  /** Drops everything pending (the client is gone). */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.bytes = 0;
  }

  #compact(): void {
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * Recently joined chunk runs. After a broadcast most outboxes hold the very same chunks in the
 * same order, so the writers of one flush can share one joined buffer instead of each copying
 * its own: one copy per distinct run, not one per recipient. Buffers are never modified once
 * made, so sharing them between writes is safe. A few entries cover the usual variants (a
 * sender's own outbox lacks its line); the cache holds at most {@link JOIN_CACHE} buffers.
 */
const JOIN_CACHE = 4;
const cache: { parts: Uint8Array[]; out: Uint8Array }[] = [];
let cacheNext = 0;

function joined(chunks: Uint8Array[], from: number, to: number, size: number): Uint8Array {
  const n = to - from;
  search: for (const e of cache) {
    if (e.parts.length !== n || e.out.length !== size) continue;
    for (let i = 0; i < n; i++) if (e.parts[i] !== chunks[from + i]) continue search;
    return e.out;
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (let i = from; i < to; i++) {
    out.set(chunks[i], off);
    off += chunks[i].length;
  }
  const entry = { parts: chunks.slice(from, to), out };
  if (cache.length < JOIN_CACHE) cache.push(entry);
  else cache[cacheNext] = entry;
  cacheNext = (cacheNext + 1) % JOIN_CACHE;
  return out;
}
