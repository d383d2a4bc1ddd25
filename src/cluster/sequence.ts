/**
 * Per-room sequence bookkeeping: Redis numbers each room's events, and every process applies
 * them in that order; this finds what was already applied and what is missing (a gap), holds a
 * room's events while its gap is read back or a snapshot is taken, and decides what a snapshot
 * or a read-back lets through. It does no I/O: the link (src/cluster/link.ts) reads Redis and
 * hands the answers in, so every ordering can be tested without Redis or timers.
 */
import type { RoomBus } from "./bus.ts";

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

/**
 * Events of a room to read back from its kept events (Redis's list of the room's last events):
 * `from`..`to`, inclusive. `linesOnly` after a snapshot (it has the members already: only the
 * lines said are wanted); `sync` is the sync the read belongs to (a later sync makes it stale).
 */
export interface Fill {
  room: string;
  from: number;
  to: number;
  linesOnly: boolean;
  sync: number;
}

/** Room events to hand to the hub now, in this order, and read-backs to start. */
export interface Step {
  apply: RoomBus[];
  fills: Fill[];
}

/** What a finished read-back gives: recovered events, what is gone, then what was held. */
export interface Filled {
  /** Events read back, to apply first, in order. */
  recovered: RoomBus[];
  /** Events of the range that are nowhere (to be reported, never skipped silently). */
  lost: number;
  /** Held events numbered past the room's sequence in Redis: not Redis's, dropped. */
  ignored: number;
  /** The room's held events, now let through (and any new gap among them). */
  then: Step;
}

/**
 * How a snapshot stands to what this process applied before it:
 * - `first`: the first snapshot: every room starts where Redis has it.
 * - `resumed`: the link came back and Redis kept its data: the lines of each followed room that
 *   went on meanwhile are read back.
 * - `lost`: Redis lost its data (its epoch changed): numbering started again, so everything it
 *   kept happened after the loss, and nothing of it was shown here unless it is in the record
 *   of recent lines ({@link RoomOrder}); those lines are read back from 1.
 * - `rewound`: same epoch, but Redis is behind (restored from an older copy): its kept events
 *   may be ones shown here already and cannot be told apart, so rooms start where Redis has them.
 */
export type SyncKind = "first" | "resumed" | "lost" | "rewound";

/** How many recent lines are remembered, to never show one twice when a room is read back. */
export const RECENT_LINES = 8192;

/** A step that does nothing (a new one each time: callers may add to it). */
function nothing(): Step {
  return { apply: [], fills: [] };
}

/**
 * The order of every room's events on this process: applies each room's events in sequence,
 * holds a room's newer events while a gap is read back, and holds every room's while a
 * snapshot is taken (nothing can be judged until its sequences are in: after a Redis restart
 * numbering starts again, and an event may look old that is new).
 */
export class RoomOrder {
  readonly #seqs = new SeqTracker();
  /** Events held back per room while a gap is filled, or until a snapshot is in. */
  readonly #held = new Map<string, RoomBus[]>();
  /** A snapshot is being taken (or the link is down): every room event waits in #held. */
  #holding = true;
  /** Counts syncs: a read-back started before the latest one is stale. */
  #sync = 0;
  /**
   * Lines applied lately, by origin and proposal number (unique per process and run), oldest
   * first: a room read back after Redis lost its data under a live link (FLUSHALL) may hold
   * lines that were applied here before the loss was noticed.
   */
  readonly #recent = new Set<string>();

  /** The last sequence number applied in `room` (0 if none). */
  last(room: string): number {
    return this.#seqs.last(room);
  }

  /** Every room this process follows or holds events of (their sequences are wanted). */
  rooms(): string[] {
    return [...new Set([...this.#seqs.entries().map(([room]) => room), ...this.#held.keys()])];
  }

  /** How many events of `room` are held back. */
  held(room: string): number {
    return this.#held.get(room)?.length ?? 0;
  }

  /**
   * The link is down, or a snapshot is being taken: every room event is held until
   * {@link synced}, and read-backs under way are stale.
   */
  hold(): void {
    this.#holding = true;
    this.#sync++;
  }

  /** A room event from the bus: applied, dropped as a repeat, held, or the start of a gap. */
  arrive(bus: RoomBus): Step {
    const held = this.#held.get(bus.room);
    if (this.#holding || held) {
      (held ?? this.#held.set(bus.room, []).get(bus.room)!).push(bus);
      return nothing();
    }
    return this.#ordered(bus);
  }

  /**
   * The snapshot's sequences (`seqs`, read with its members in one step) are in: each room
   * stands where the snapshot has it, or has its lines read back (see {@link SyncKind}); held
   * events past that go through in order, those before it are in the snapshot already.
   */
  synced(seqs: Map<string, number>, kind: SyncKind): Step {
    if (kind === "lost" || kind === "rewound") this.#seqs.clear();
    const fills: Fill[] = [];
    for (const [room, seq] of seqs) {
      const last = this.#seqs.last(room);
      const behind = kind === "resumed" ? last > 0 && last < seq : kind === "lost" && seq > 0;
      if (behind) {
        fills.push({ room, from: last + 1, to: seq, linesOnly: true, sync: this.#sync });
        if (!this.#held.has(room)) this.#held.set(room, []);
      } else if (last < seq) {
        this.#seqs.set(room, seq);
      }
    }
    this.#holding = false;
    const step: Step = { apply: [], fills };
    for (const room of [...this.#held.keys()]) {
      if (!fills.some((f) => f.room === room)) merge(step, this.#release(room));
    }
    return step;
  }

  /**
   * A read-back is done: `kept` is the room's kept events as Redis gave them (null: they could
   * not be read), `current` the room's sequence in Redis then. Returns null when a later sync
   * made it stale (that sync took care of the room).
   */
  filled(fill: Fill, kept: RoomBus[] | null, current?: number): Filled | null {
    if (fill.sync !== this.#sync || this.#holding) return null;
    const { room, from, linesOnly } = fill;
    let to = fill.to;
    let ignored = 0;
    // Redis numbers a room's events in the same script that publishes them, so an event
    // numbered past the room's sequence did not come from it: it is dropped, not a gap.
    if (!linesOnly && current !== undefined && current < to + 1) {
      const held = this.#held.get(room) ?? [];
      const real = held.filter((bus) => bus.seq <= current);
      ignored = held.length - real.length;
      this.#held.set(room, real);
      to = Math.min(to, current);
    }
    const recovered: RoomBus[] = [];
    let found = 0;
    let last = this.#seqs.last(room);
    const wanted = (kept ?? []).filter((b) => b.room === room && b.seq >= from && b.seq <= to);
    wanted.sort((a, b) => a.seq - b.seq);
    for (const bus of wanted) {
      if (bus.seq <= last) continue; // a repeat in the list
      last = bus.seq;
      found++;
      if (linesOnly && bus.ev.t !== "say") continue;
      if (bus.ev.t === "say" && this.#seen(bus)) continue;
      recovered.push(bus);
    }
    this.#seqs.set(room, Math.max(last, to));
    const lost = Math.max(0, to - from + 1 - found);
    return { recovered, lost, ignored, then: this.#release(room) };
  }

  /** Lets held events of `room` through, in order, until a new gap holds the rest again. */
  #release(room: string): Step {
    const held = this.#held.get(room);
    this.#held.delete(room);
    if (!held) return nothing();
    held.sort((a, b) => a.seq - b.seq);
    const step = nothing();
    for (let i = 0; i < held.length; i++) {
      const again = this.#held.get(room);
      if (again) {
        again.push(...held.slice(i));
        break;
      }
      merge(step, this.#ordered(held[i]));
    }
    return step;
  }

  /** A room event in sequence: applied, dropped as old, or held while the gap is filled. */
  #ordered(bus: RoomBus): Step {
    const verdict = this.#seqs.check(bus.room, bus.seq);
    if (verdict === "next") {
      if (bus.ev.t === "say") this.#seen(bus);
      return { apply: [bus], fills: [] };
    }
    if (verdict === "old") return nothing();
    this.#held.set(bus.room, [bus]);
    const { from, to } = verdict.gap;
    return { apply: [], fills: [{ room: bus.room, from, to, linesOnly: false, sync: this.#sync }] };
  }

  /** Whether line `bus` was applied lately; remembers it if not. */
  #seen(bus: RoomBus): boolean {
    if (!bus.u) return false; // no proposal number: nothing to know it by
    const id = `${bus.node} ${bus.u}`;
    if (this.#recent.has(id)) return true;
    this.#recent.add(id);
    if (this.#recent.size > RECENT_LINES) {
      this.#recent.delete(this.#recent.values().next().value!);
    }
    return false;
  }
}

/** Appends `more` to `step`. */
function merge(step: Step, more: Step): void {
  step.apply.push(...more.apply);
  step.fills.push(...more.fills);
}
