/**
 * What several Shat processes tell each other through Redis (see src/cluster.ts), as plain data:
 * the hub proposes room events and direct messages, the link carries them, and every process's
 * hub applies what comes back. This module is pure: the message shapes, their checked decoding,
 * and the per-room sequence bookkeeping that finds gaps.
 *
 * A room's events (lines, people entering and leaving, renames, topics) get a per-room sequence
 * number from Redis and reach every process in that order, the origin included: everyone sees a
 * room the same way. Direct messages (private lines, kicks, bans) go to one process or all and
 * need no order beyond Redis's own.
 */

/** A member as other processes mirror them. */
export interface MemberInfo {
  /** The client id on its own process. */
  id: number;
  nick: string;
  /** Its address (for bans and per-address caps; never logged in safe mode). */
  ip: string;
  /** The room's lower-case id. */
  room: string;
  away: string;
  op: boolean;
  /** When they last said something or joined (epoch ms). */
  active: number;
}

/** Something that happens in a room, in the room's order. */
export type RoomEv =
  | {
    t: "say";
    kind: "chat" | "action";
    /** The author's client id on the origin process. */
    id: number;
    nick: string;
    text: string;
    at: number;
  }
  | {
    t: "enter";
    m: MemberInfo;
    /** The room's name as first typed (a room may first exist on another process). */
    name: string;
    /** The notice the room sees, "" for none (--announce-max, or a quiet resync). */
    notice: string;
    /**
     * The room's key as its SHA-256 ("" for none), sent with every entry into a keyed room;
     * `fresh` when this entry made the room (nothing of an earlier room of that name stays).
     */
    created?: { key: string; fresh?: boolean };
  }
  | { t: "leave"; id: number; nick: string; notice: string }
  | { t: "nick"; id: number; from: string; to: string; notice: string }
  | { t: "topic"; topic: string; by: string; id: number }
  | { t: "away"; id: number; away: string };

/** A message for one process or for all, outside any room's order. */
export type DirectEv =
  | {
    t: "msg";
    /** The recipient: its process and client id. */
    to: string;
    toId: number;
    /** The sender's client id on the origin process (for /reply). */
    id: number;
    nick: string;
    text: string;
    at: number;
  }
  | { t: "kick"; to: string; toId: number; message: string; reason: string }
  | { t: "ban"; ip: string; until: number; reason: string; by: string; since: number }
  | { t: "unban"; ip: string }
  /** The process `node` left (closed cleanly, or was found dead and reaped). */
  | { t: "gone"; node: string };

/** What arrives from the bus: a room event with its sequence number, or a direct message. */
export type BusIn =
  | {
    kind: "room";
    node: string;
    room: string;
    seq: number;
    ev: RoomEv;
    /** The origin's proposal number (see ClusterOut). */
    u?: number;
  }
  | { kind: "direct"; node: string; ev: DirectEv };

/** Encodes a room event as it travels (the sequence number is put in front by Redis). */
export function encodeRoom(node: string, room: string, ev: RoomEv, u = 0): string {
  return JSON.stringify({ n: node, r: room, e: ev, u });
}

/** Encodes a direct message. */
export function encodeDirect(node: string, ev: DirectEv): string {
  return JSON.stringify({ n: node, d: ev });
}

const str = (v: unknown): v is string => typeof v === "string";
const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Whether `v` has every field of a {@link MemberInfo}, each of the right type. */
export function isMember(v: unknown): v is MemberInfo {
  const m = v as MemberInfo;
  return typeof m === "object" && m !== null && num(m.id) && str(m.nick) && str(m.ip) &&
    str(m.room) && str(m.away) && typeof m.op === "boolean" && num(m.active);
}

function isRoomEv(v: unknown): v is RoomEv {
  const e = v as Record<string, unknown>;
  if (typeof e !== "object" || e === null) return false;
  switch (e.t) {
    case "say":
      return (e.kind === "chat" || e.kind === "action") && num(e.id) && str(e.nick) &&
        str(e.text) && num(e.at);
    case "enter": {
      const c = e.created as { key?: unknown; fresh?: unknown } | undefined;
      return isMember(e.m) && str(e.name) && str(e.notice) &&
        (c === undefined ||
          (typeof c === "object" && c !== null && str(c.key) &&
            (c.fresh === undefined || typeof c.fresh === "boolean")));
    }
    case "leave":
      return num(e.id) && str(e.nick) && str(e.notice);
    case "nick":
      return num(e.id) && str(e.from) && str(e.to) && str(e.notice);
    case "topic":
      return str(e.topic) && str(e.by) && num(e.id);
    case "away":
      return num(e.id) && str(e.away);
  }
  return false;
}

function isDirectEv(v: unknown): v is DirectEv {
  const e = v as Record<string, unknown>;
  if (typeof e !== "object" || e === null) return false;
  switch (e.t) {
    case "msg":
      return str(e.to) && num(e.toId) && num(e.id) && str(e.nick) && str(e.text) && num(e.at);
    case "kick":
      return str(e.to) && num(e.toId) && str(e.message) && str(e.reason);
    case "ban":
      return str(e.ip) && num(e.until) && str(e.reason) && str(e.by) && num(e.since);
    case "unban":
      return str(e.ip);
    case "gone":
      return str(e.node);
  }
  return false;
}

/**
 * Decodes a bus payload: `SEQ JSON` for a room event (the sequence number Redis gave it), or
 * `JSON` for a direct message. Returns null for anything malformed (logged by the caller,
 * never applied).
 */
export function decodeBus(payload: string): BusIn | null {
  let seq = -1;
  let json = payload;
  const space = payload.indexOf(" ");
  if (space > 0 && payload.charCodeAt(0) !== 0x7b) {
    seq = Number(payload.slice(0, space));
    if (!Number.isSafeInteger(seq) || seq < 1) return null;
    json = payload.slice(space + 1);
  }
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null || !str(v.n)) return null;
  if (seq > 0) {
    if (!str(v.r) || !isRoomEv(v.e)) return null;
    return { kind: "room", node: v.n, room: v.r, seq, ev: v.e, u: num(v.u) ? v.u : 0 };
  }
  if (!isDirectEv(v.d)) return null;
  return { kind: "direct", node: v.n, ev: v.d };
}

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

/** A process's own member, with the nick key it holds in the cluster. */
export interface Claim {
  /** The nick in lower case (the key in the members hash). */
  key: string;
  info: MemberInfo;
}

/** What the hub asks the cluster link to do. */
export type ClusterOut =
  | {
    op: "room";
    /** The room's id (lower-case name). */
    room: string;
    ev: RoomEv;
    /** A unique id for this proposal on this process (to spot it again after a loss). */
    u: number;
    /** Take (or keep) this nick for this member; the event is refused if someone else has it. */
    claim?: Claim;
    /** Give up this nick key (the member left, or changed nick). */
    release?: string;
  }
  | { op: "direct"; ev: DirectEv }
  /**
   * Strikes against an address, counted across the cluster (delta -1 takes one away, 0 clears
   * them: the address was banned or unbanned).
   */
  | { op: "strike"; ip: string; delta: number };

/** What the cluster link tells the hub. */
export type ClusterIn =
  /** Events in order (room events already in their room's sequence). */
  | { kind: "bus"; bus: BusIn; u?: number }
  /** A room event was refused: its nick claim lost to someone else's. */
  | { kind: "refused"; room: string; ev: RoomEv }
  /**
   * A proposal may not have reached the others (the link failed while it was on its way): the
   * hub applies it here at once, and skips it if it shows up later after all.
   */
  | { kind: "bounced"; room: string; ev: RoomEv; u: number }
  /** The link to Redis is down (`up` false) or back (`up` true). */
  | { kind: "link"; up: boolean }
  /**
   * Everyone and every room as Redis has them now (at start and after the link came back);
   * `reset` when Redis lost its data meanwhile (a restart without persistence).
   */
  | {
    kind: "snapshot";
    snap: Snapshot;
    reset: boolean;
    /** Redis had nothing of this cluster (first process ever, or it lost its data). */
    fresh?: boolean;
  }
  /** Lines of a room that could not be recovered after a gap. */
  | { kind: "missed"; room: string; count: number }
  /** An address's strikes across the cluster, after this process added one. */
  | { kind: "strikes"; ip: string; count: number };

/** The cluster's state as read from Redis. */
export interface Snapshot {
  members: { node: string; info: MemberInfo }[];
  rooms: { id: string; name: string; topic: string; topicBy: string; key: string }[];
  bans: { ip: string; until: number; reason: string; by: string; since: number }[];
  /** Each room's recent lines (oldest first), for its history. */
  history: {
    room: string;
    lines: { kind: "chat" | "action"; nick: string; text: string; at: number }[];
  }[];
}
