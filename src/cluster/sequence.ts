/**
 * Per-room sequence bookkeeping: Redis numbers each room's events, and every process applies
 * them in that order; this finds what was already applied and what is missing (a gap).
 */

/** What the sequence bookkeeping says about an arriving room event. */
export type SeqVerdict =
  /** Apply it. */
  | "next"
  /** Already applied (a repeat after filling a gap): drop it. */
  | "old"
  /** Events before it are missing: fill the gap first (from..to, inclusive). */
  | { gap: { from: number; to: number } };

/**
 * Per-room sequence numbers: which event each room expects next. A room first heard of starts
 * wherever its first event is (or where a snapshot says it is).
 */
export class SeqTracker {
  /** The last sequence number applied, by room id. */
  readonly #last = new Map<string, number>();

  /** The last sequence number applied in `room` (0 if none). */
  last(room: string): number {
    return this.#last.get(room) ?? 0;
  }

  /** Sets where `room` stands (from a snapshot, or after a gap was filled or given up on). */
  set(room: string, seq: number): void {
    this.#last.set(room, seq);
  }

  /** Forgets every room (Redis was reset: sequences start again). */
  clear(): void {
    this.#last.clear();
  }

  /** Judges event `seq` of `room`; "next" also records it as applied. */
  check(room: string, seq: number): SeqVerdict {
    const last = this.#last.get(room);
    if (last === undefined || seq === last + 1) {
      this.#last.set(room, seq);
      return "next";
    }
    if (seq <= last) return "old";
    return { gap: { from: last + 1, to: seq - 1 } };
  }

  /** Rooms known, with their last sequence numbers. */
  entries(): [string, number][] {
    return [...this.#last.entries()];
  }
}
