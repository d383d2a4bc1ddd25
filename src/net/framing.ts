/**
 * Framing: a byte stream becomes whole lines. A line ends at LF, CR LF, CR NUL (telnet) or a
 * lone CR. A line split across reads is joined; a line longer than the limit is refused whole
 * and its bytes are discarded as they arrive, so the buffer never grows past the limit.
 */

const LF = 10;
const CR = 13;

/** Receives each complete line; the view is only valid during the call. */
export type LineHandler = (line: Uint8Array) => void;

/** Turns chunks of bytes into lines, holding at most `maxLine` bytes of an unfinished line. */
export class LineFramer {
  readonly #max: number;
  #buf: Uint8Array | null = null;
  #len = 0;
  /** Discarding the rest of an over-long line until its end. */
  #skipping = false;
  #skipped = 0;
  #afterCr = false;
  /**
   * Limit breaches since the caller last reset it: one when a line first passes the limit and
   * one more for every further `maxLine` bytes it keeps going without a line end.
   */
  overlong = 0;

  constructor(maxLine: number) {
    this.#max = maxLine;
  }

  /**
   * True while an unfinished line is pending (what a line timeout measures). Only line content
   * counts: telnet commands are removed before framing and never start a line.
   */
  get partial(): boolean {
    return this.#len > 0 || this.#skipping;
  }

  /** Bytes held for the unfinished line (never more than `maxLine`). */
  get buffered(): number {
    return this.#len;
  }

  /** Feeds one chunk. */
  push(chunk: Uint8Array, onLine: LineHandler): void {
    const n = chunk.length;
    let start = 0;
    if (this.#afterCr && n > 0) {
      this.#afterCr = false;
      const b = chunk[0];
      if (b === LF || b === 0) start = 1;
    }
    // The next LF and CR at or after `start` (-1: none left in the chunk), each searched for again
    // only once passed: whatever the mix of line ends, no byte is searched twice for the same one.
    // An empty line needs no search (a flood of them costs what it did with a loop over bytes).
    let lf = -2;
    let cr = -2;
    while (start < n) {
      let end = start;
      const first = chunk[start];
      if (first !== LF && first !== CR) {
        if (lf !== -1 && lf < start) lf = chunk.indexOf(LF, start);
        if (cr !== -1 && cr < start) cr = chunk.indexOf(CR, start);
        end = lf === -1 ? cr : cr === -1 || lf < cr ? lf : cr;
        if (end === -1) break;
      }
      this.#endLine(chunk, start, end, onLine);
      start = end + 1;
      if (chunk[end] === CR) {
        if (start === n) this.#afterCr = true;
        else if (chunk[start] === LF || chunk[start] === 0) start++;
      }
    }
    if (start < n) this.#keep(chunk.subarray(start, n));
  }

  /**
   * Hands over the unfinished line's bytes and forgets them (a client switching to character
   * mode: what it had sent of its line becomes the start of what it types).
   */
  takePartial(): Uint8Array {
    const out = this.#buf && !this.#skipping ? this.#buf.slice(0, this.#len) : new Uint8Array(0);
    this.reset();
    return out;
  }

  /** Forgets any unfinished line (the connection is going away). */
  reset(): void {
    this.#buf = null;
    this.#len = 0;
    this.#skipping = false;
    this.#skipped = 0;
    this.#afterCr = false;
  }

  #endLine(chunk: Uint8Array, start: number, end: number, onLine: LineHandler): void {
    if (this.#skipping) {
      this.#skipping = false;
      this.#skipped = 0;
      return;
    }
    const size = this.#len + (end - start);
    if (size > this.#max) {
      this.overlong++;
      this.#len = 0;
      this.#buf = null;
      return;
    }
    if (this.#len === 0) {
      onLine(chunk.subarray(start, end));
      return;
    }
    const buf = this.#ensure(this.#len + end - start);
    buf.set(chunk.subarray(start, end), this.#len);
    const line = buf.subarray(0, this.#len + end - start);
    this.#len = 0;
    this.#buf = null;
    onLine(line);
  }

  #keep(part: Uint8Array): void {
    if (this.#skipping) {
      this.#skip(part.length);
      return;
    }
    if (this.#len + part.length > this.#max) {
      this.#startSkipping(this.#len + part.length - this.#max);
      return;
    }
    this.#ensure(this.#len + part.length).set(part, this.#len);
    this.#len += part.length;
  }

  /** The partial-line buffer with room for `need` bytes; grows by doubling, up to the limit. */
  #ensure(need: number): Uint8Array {
    const old = this.#buf;
    if (old && old.length >= need) return old;
    const size = Math.min(this.#max, Math.max(256, need * 2));
    const buf = new Uint8Array(Math.max(size, need));
    if (old) buf.set(old.subarray(0, this.#len));
    this.#buf = buf;
    return buf;
  }

  #startSkipping(excess: number): void {
    this.overlong++;
    this.#skipping = true;
    this.#len = 0;
    this.#buf = null;
    this.#skipped = 0;
    this.#skip(excess);
  }

  #skip(n: number): void {
    this.#skipped += n;
    while (this.#skipped >= this.#max) {
      this.#skipped -= this.#max;
      this.overlong++;
    }
  }
}
