/**
 * A connection's buffers: read buffers that cost an idle connection little (small views into
 * shared slabs, grown while reads keep filling them), and writes gathered so that many short
 * pieces go out in one write while large ones (views into shared log blocks) are never copied.
 */

/**
 * Read buffer while a connection is quiet: idle clients must cost little memory (most chat lines
 * fit; a longer burst grows the buffer for as long as reads keep filling it).
 */
export const SMALL_READ = 128;
/** Largest read buffer, reached by doubling while reads keep filling the buffer. */
export const LARGE_READ = 64 * 1024;
const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * Small read buffers are views into shared slabs, given back when their reader is done with
 * them (no read pending) and handed out again: an ArrayBuffer of its own costs a connection
 * about 300 bytes besides its contents (the object and the runtime's bookkeeping). The spares
 * are as many as the most connections that were idle at once.
 */
const SLAB = 256 * SMALL_READ;
let slab: Uint8Array = EMPTY;
let slabUsed = 0;
const spareReads: Uint8Array[] = [];

export function smallRead(): Uint8Array {
  const spare = spareReads.pop();
  if (spare) return spare;
  if (slabUsed === slab.length) {
    slab = new Uint8Array(SLAB);
    slabUsed = 0;
  }
  slabUsed += SMALL_READ;
  return slab.subarray(slabUsed - SMALL_READ, slabUsed);
}

/** Takes back a read buffer from {@link smallRead} (larger ones are left to the GC). */
export function releaseRead(buf: Uint8Array): void {
  if (buf.length === SMALL_READ) spareReads.push(buf);
}

/** Pieces smaller than this are joined with their neighbours into one write. */
const GATHER = 16 * 1024;

/** Whether two neighbours in `parts` are both small (otherwise each is written as it is). */
function joinable(parts: Uint8Array[]): boolean {
  for (let i = 1; i < parts.length; i++) {
    if (parts[i].length < GATHER && parts[i - 1].length < GATHER) return true;
  }
  return false;
}

/**
 * The writes for `parts`, in order: runs of small pieces joined into one buffer (one write for
 * many short lines), large pieces (views into shared log blocks) written as they are, never
 * copied.
 */
export function gather(parts: Uint8Array[]): Uint8Array[] {
  if (parts.length <= 1 || !joinable(parts)) return parts;
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let size = 0;
  const close = () => {
    if (run.length === 1) out.push(run[0]);
    else if (run.length > 1) {
      const joined = new Uint8Array(size);
      let off = 0;
      for (const p of run) {
        joined.set(p, off);
        off += p.length;
      }
      out.push(joined);
    }
    run = [];
    size = 0;
  };
  for (const p of parts) {
    if (p.length >= GATHER) {
      close();
      out.push(p);
    } else {
      if (size + p.length > GATHER) close();
      run.push(p);
      size += p.length;
    }
  }
  close();
  return out;
}
