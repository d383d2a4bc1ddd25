/**
 * Fan-out without per-recipient work: every line a room's readers of one view see is appended
 * once to that room's shared log, an append-only sequence of large blocks, and each reader keeps
 * only a position in it. A writer sends `block.subarray(position, head)`: no copy per recipient,
 * no allocation per recipient, no array push per recipient. What is not the same for everyone —
 * a private line, a welcome, a mention drawn for one person, the author's own line, a line from
 * someone they ignore — is a small per-reader side entry ordered by log position. Blocks are
 * dropped once every reader has passed them.
 */

/** Block size: a line is never split across blocks (a longer line gets a block of its own). */
export const BLOCK = 64 * 1024;
/**
 * Largest size a busy log's last block grows to (see {@link SharedLog.append}): the most one
 * write takes (MAX_WRITE in src/net/connection.ts), so a reader behind needs one write, not two.
 */
export const MAX_BLOCK = 256 * 1024;

/** An append-only log of encoded lines, in blocks; positions are byte offsets from its start. */
export class SharedLog {
  /** Blocks still held, oldest first, and the position each starts at. */
  #blocks: Uint8Array[] = [];
  #starts: number[] = [];
  /** Bytes used in the last block. */
  #fill = 0;
  /** The position after the last byte appended. */
  head = 0;
  /** Outboxes that read this log now, or will once they get to it. */
  readonly readers = new Set<LogReader>();

  /**
   * Appends `bytes` (whole lines); returns the position they start at. When the last block is
   * full and some reader has not read all of it (a busy room: writers wait their turn), the
   * block grows instead, up to {@link MAX_BLOCK}: it is copied into one twice its size, so that
   * what a reader has left of it and what comes next are one piece, written in one call rather
   * than one per block (at a block's end every reader behind would pay a write more). Views of
   * the old copy already handed to writers stay valid: the bytes never change.
   */
  append(bytes: Uint8Array): number {
    const n = bytes.length;
    let last = this.#blocks[this.#blocks.length - 1];
    if (!last || this.#fill + n > last.length) last = this.#room(last, n);
    last.set(bytes, this.#fill);
    this.#fill += n;
    const at = this.head;
    this.head += n;
    return at;
  }

  /**
   * The bytes in [from, to) as views into the blocks (no copy), added to `out`. Positions before
   * the first block still held are gone (no reader can need them).
   */
  slices(from: number, to: number, out: Uint8Array[]): void {
    const starts = this.#starts;
    let i = starts.length - 1;
    while (i > 0 && starts[i] > from) i--;
    for (; i < starts.length && from < to; i++) {
      const start = starts[i];
      const end = i + 1 < starts.length ? starts[i + 1] : this.head;
      if (end <= from) continue;
      const a = Math.max(from, start) - start;
      const b = Math.min(to, end) - start;
      out.push(this.#blocks[i].subarray(a, b));
      from = start + b;
    }
  }

  /** Blocks held (for tests and metrics). */
  get blocks(): number {
    return this.#blocks.length;
  }

  /** Bytes the blocks held take (for tests). */
  get held(): number {
    let n = 0;
    for (const b of this.#blocks) n += b.length;
    return n;
  }

  /**
   * The last block, grown to take `n` more bytes while a reader is behind in it and it may
   * grow, or else a new block (after dropping the blocks every reader has passed).
   */
  #room(last: Uint8Array | undefined, n: number): Uint8Array {
    const behind = this.#release();
    const need = this.#fill + n;
    if (last && behind && need <= MAX_BLOCK) {
      let size = last.length * 2;
      while (size < need) size *= 2;
      const grown = new Uint8Array(Math.min(size, MAX_BLOCK));
      grown.set(last.subarray(0, this.#fill));
      this.#blocks[this.#blocks.length - 1] = grown;
      return grown;
    }
    const block = new Uint8Array(Math.max(BLOCK, n));
    this.#blocks.push(block);
    this.#starts.push(this.head);
    this.#fill = 0;
    return block;
  }

  /**
   * Drops the blocks every reader has passed (called when the last block is full). Returns
   * whether some reader has yet to read all of the last block (then it is still held).
   */
  #release(): boolean {
    let min = this.head;
    this.readers.forEach((r) => min = Math.min(min, r.positionIn(this)));
    let drop = 0;
    while (drop < this.#blocks.length - 1 && this.#starts[drop + 1] <= min) drop++;
    if (this.#blocks.length > 0 && min >= this.head) drop = this.#blocks.length; // all passed
    if (drop > 0) {
      this.#blocks.splice(0, drop);
      this.#starts.splice(0, drop);
      if (this.#blocks.length === 0) this.#fill = 0;
    }
    return this.#blocks.length > 0;
  }
}

/** Anything that reads a log: it says how far it has got in it. */
export interface LogReader {
  /** Its position in `log` (Infinity if it has passed it for good). */
  positionIn(log: SharedLog): number;
}

/**
 * One reader's place in the logs, and what only it gets, in order:
 * - `bytes` at log position `at` (a private line, a welcome);
 * - a skip of [at, end) (a line it must not get: its own, an ignored author's) — with `bytes`,
 *   a replacement (a mention drawn for it, its own line drawn as its own);
 * - a switch to another log at position `to` (it changed room or view) once `at` is reached.
 */
interface Entry {
  at: number;
  end: number;
  bytes: Uint8Array | null;
  log: SharedLog | null;
  to: number;
}

const EMPTY: Entry[] = [];

/** Where a reader that has left goes: a log nothing is ever appended to. */
const STOPPED = new SharedLog();

/**
 * A log nothing is ever appended to, for an outbox that gets only entries of its own for now
 * (an IRC session in several rooms); unlike {@link STOPPED}, it may read a log again later.
 */
export const NO_LOG = new SharedLog();

/**
 * A client's unsent output: a position in a shared log plus side entries, so that queueing a
 * broadcast costs nothing per reader. The hub appends to logs and adds entries; the writer takes
 * what is due as views into the log blocks ({@link takeSlices}) or one joined buffer
 * ({@link take}).
 */
export class Outbox implements LogReader {
  /** The log being read now, and the position in it. */
  #log: SharedLog | null = null;
  #pos = 0;
  /** The log later entries refer to (the current one, or the target of the last switch). */
  #tail: SharedLog | null = null;
  #side: Entry[] | null = null;
  /** Bytes of the side entries queued (an outbox that reads no log costs O(1) to measure). */
  #sideBytes = 0;
  /**
   * Set by the hub when it asks the shell to start the writer; cleared by the writer once it
   * has nothing left. While set, more output needs no further wake-up.
   */
  armed = false;
  /** The client this is the output of (set by the hub). */
  owner = 0;

  /** The log entries refer to now (null before the first {@link read}). */
  get log(): SharedLog | null {
    return this.#tail;
  }

  /** Starts (or, after what is queued, goes on) reading `log` from its current head. */
  read(log: SharedLog): void {
    if (this.#tail === log || this.#tail === STOPPED) return;
    if (log !== NO_LOG) log.readers.add(this);
    if (!this.#log) {
      this.#log = this.#tail = log;
      this.#pos = log.head;
      return;
    }
    this.#add({ at: this.#tail!.head, end: 0, bytes: null, log, to: log.head });
    this.#tail = log;
  }

  /**
   * Stops reading logs after what is queued so far (the client is leaving: its last words may
   * follow with {@link push}, nothing said after this point does).
   */
  stop(): void {
    if (!this.#tail || this.#tail === STOPPED) return;
    this.#add({ at: this.#tail.head, end: 0, bytes: null, log: STOPPED, to: 0 });
    this.#tail = STOPPED;
  }

  /** Queues bytes for this reader only, after everything queued so far. */
  push(bytes: Uint8Array): void {
    this.#add({ at: this.#tail?.head ?? 0, end: 0, bytes, log: null, to: 0 });
  }

  /** Leaves [at, end) of the current log out for this reader, sending `bytes` instead if given. */
  skip(at: number, end: number, bytes: Uint8Array | null = null): void {
    this.#add({ at, end, bytes, log: null, to: 0 });
  }

  #add(e: Entry): void {
    if (e.bytes) this.#sideBytes += e.bytes.length;
    (this.#side ??= []).push(e);
  }

  /** Whether anything is waiting to be taken (cheaper than {@link bytes}). */
  get due(): boolean {
    return this.#side !== null || (this.#log !== null && this.#log.head > this.#pos);
  }

  /** Bytes waiting to be taken. */
  get bytes(): number {
    // Reads no log (an IRC session before its first room, or in several): only its own entries.
    if (this.#tail === null || (this.#tail === NO_LOG && this.#log === NO_LOG)) {
      return this.#sideBytes;
    }
    let log = this.#log;
    let pos = this.#pos;
    const side = this.#side;
    // Nothing of its own queued (most readers): what the log has past its position.
    if (side === null) return log && log.head > pos ? log.head - pos : 0;
    let n = 0;
    for (let i = 0; i < side.length; i++) {
      const e = side[i];
      if (e.at > pos && log) {
        n += e.at - pos;
        pos = e.at;
      }
      if (e.log) {
        log = e.log;
        pos = e.to;
        continue;
      }
      if (e.bytes) n += e.bytes.length;
      if (e.end > pos) pos = e.end;
    }
    if (log && log.head > pos) n += log.head - pos;
    return n;
  }

  positionIn(log: SharedLog): number {
    if (log === this.#log) return this.#pos;
    for (const e of this.#side ?? EMPTY) if (e.log === log) return e.to;
    return Infinity;
  }

  /**
   * Takes what is due, up to about `max` bytes (never splitting a side entry's bytes), as views
   * into the log blocks and entry buffers, in order. Returns [] when there is nothing.
   */
  takeSlices(max = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    let size = 0;
    const side = this.#side;
    let i = 0;
    while (size < max) {
      const log = this.#log;
      const e = side && i < side.length ? side[i] : null;
      const limit = e ? e.at : (log?.head ?? 0);
      if (log && limit > this.#pos) {
        const to = Math.min(limit, this.#pos + (max - size));
        const before = out.length;
        log.slices(this.#pos, to, out);
        for (let k = before; k < out.length; k++) size += out[k].length;
        this.#pos = to;
        if (to < limit) break;
      }
      if (!e) break;
      i++;
      if (e.log) {
        if (this.#log && this.#log !== e.log && !this.#reads(this.#log, side!, i)) {
          this.#log.readers.delete(this);
        }
        this.#log = e.log;
        this.#pos = e.to;
        continue;
      }
      if (e.bytes) {
        out.push(e.bytes);
        size += e.bytes.length;
        this.#sideBytes -= e.bytes.length;
      }
      if (e.end > this.#pos) this.#pos = e.end;
    }
    if (side) {
      if (i >= side.length) this.#side = null;
      else if (i > 0) side.splice(0, i);
    }
    return out;
  }

  /** Whether a later entry switches back to `log` (then it stays a reader of it). */
  #reads(log: SharedLog, side: Entry[], from: number): boolean {
    for (let k = from; k < side.length; k++) if (side[k].log === log) return true;
    return false;
  }

  /** Takes what is due as one buffer (joined when it is in pieces), or null when nothing is. */
  take(max = Infinity): Uint8Array | null {
    const parts = this.takeSlices(max);
    if (parts.length === 0) return null;
    if (parts.length === 1) return parts[0];
    let n = 0;
    for (const p of parts) n += p.length;
    const out = new Uint8Array(n);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  /** Drops everything queued and stops reading (the client is gone). */
  clear(): void {
    this.#log?.readers.delete(this);
    for (const e of this.#side ?? EMPTY) e.log?.readers.delete(this);
    this.#log = this.#tail = null;
    this.#side = null;
    this.#sideBytes = 0;
    this.#pos = 0;
  }
}
