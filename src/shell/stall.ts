/**
 * Stall detection, for judging lines by when they arrived: a beat every {@link BEAT_MS}, and a
 * gap between beats longer than {@link STALL_MS} was a stall of the whole process.
 */

/** How often the clock beats, and the gap between beats that counts as a stall. */
export const BEAT_MS = 50;
export const STALL_MS = 150;

/**
 * When the event loop was stalled lately (a GC pause, a paused VM, a long batch). Bytes read
 * right after a stall may have waited in the kernel all through it: the lines they carry are
 * judged as having arrived over the stall, not all at the moment they were read, so a polite
 * sender is never struck for the server's own pause.
 */
export class StallClock {
  #lastBeat: number;
  #stallFrom = 0;
  #stallTo = 0;

  constructor(now: number) {
    this.#lastBeat = now;
  }

  /** Called every {@link BEAT_MS}: a long gap since the last beat was a stall. */
  beat(now: number): void {
    if (now - this.#lastBeat > STALL_MS) {
      this.#stallFrom = this.#lastBeat;
      this.#stallTo = now;
    }
    this.#lastBeat = now;
  }

  /**
   * The earliest time bytes read at `now` may have arrived, given that the reader read last
   * at `since`: before a stall that is going on (no beat for a while) or just ended, or `now`.
   */
  earliest(since: number, now: number): number {
    let from = now;
    if (now - this.#lastBeat > STALL_MS) from = this.#lastBeat; // the beat has not run yet
    else if (now - this.#stallTo <= 2 * BEAT_MS) from = this.#stallFrom;
    return Math.min(now, Math.max(since, from));
  }
}
