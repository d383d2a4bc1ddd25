/**
 * Bytes received in chunks (from node:tls, from WebSocket messages) waiting for a reader that
 * reads into a buffer of its own, as `Deno.Conn.read` does.
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  /** Bytes waiting. */
  size = 0;

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Moves as many waiting bytes as fit into `p`, oldest first; returns how many. */
  take(p: Uint8Array): number {
    let n = 0;
    while (n < p.length && this.#chunks.length > 0) {
      const c = this.#chunks[0];
      const k = Math.min(c.length, p.length - n);
      p.set(k === c.length ? c : c.subarray(0, k), n);
      n += k;
      if (k === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
    this.size -= n;
    return n;
  }
}
