/**
 * What several Shat processes tell each other through Redis (see src/cluster/link.ts), as plain
 * data: the hub proposes room events and direct messages, the link carries them, and every
 * process's hub applies what comes back. This module holds the message shapes and how they are
 * encoded; their checked decoding is src/cluster/decode.ts, the per-room sequence bookkeeping
 * that finds gaps src/cluster/sequence.ts.
 *
 * A room's events (lines, people entering and leaving, renames, topics) get a per-room sequence
 * number from Redis and reach every process in that order, the origin included: everyone sees a
 * room the same way. Direct messages (private lines, kicks, bans) go to one process or all and
 * need no order beyond Redis's own.
 *
 * On the bus a room event is `SEQ {"n":NODE,"r":ROOM,"e":EVENT,"u":PROPOSAL}` and a direct
 * message `{"n":NODE,"d":EVENT}`; those short field names are the wire format and stay.
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
  /** An IRC session's other rooms (it may be in several at once), by id; absent: none. */
  also?: string[];
  away: string;
  op: boolean;
  /** When they last said something or joined (epoch ms). */
  active: number;
  /** The account they are identified as (absent: none), for room operators, mutes and bans. */
  acct?: string;
}

/** A ban as the cluster shares it (the bans hash, a snapshot): who, until when, why, by whom. */
export interface BanInfo {
  /** The address, or an IPv6 network (`2001:db8:1:2::/64`). */
  ip: string;
  /** Until when (epoch ms). */
  until: number;
  reason: string;
  /** A nick, "server" (spam), or "" (nobody known: a ban file without `by`). */
  by: string;
  /** Since when (epoch ms; 0 when not known). */
  since: number;
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
    created?: { key: string; fresh?: boolean; owner?: string };
  }
  | { t: "leave"; id: number; nick: string; notice: string }
  | { t: "nick"; id: number; from: string; to: string; notice: string }
  | { t: "topic"; topic: string; by: string; id: number }
  | { t: "away"; id: number; away: string }
  /** The room is kept (or no longer), by `by`; `owner` is the account that owns it. */
  | { t: "keep"; on: boolean; owner: string; by: string }
  /**
   * Who runs the room and its modes changed (src/chat/authority.ts): `a` is the whole of it as
   * plain data (checked where it is applied), `key` the room's key hash ("" = none).
   */
  | { t: "auth"; a: Record<string, unknown>; key: string; by: string; notice: string };

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
  /** A room operator sent the member out of `room` (a kick, a room ban): back to the lobby. */
  | { t: "part"; to: string; toId: number; room: string; message: string; notice: string }
  /** A line for one member (an invitation). */
  | { t: "notice"; to: string; toId: number; text: string }
  | { t: "ban"; ip: string; until: number; reason: string; by: string; since: number }
  | { t: "unban"; ip: string }
  /** The process `node` left (closed cleanly, or was found dead and reaped). */
  | { t: "gone"; node: string }
  /** An account was registered (`on`) or deleted: `key` is its nick in lower case. */
  | { t: "account"; key: string; nick: string; on: boolean }
  /** Sessions of account `key` elsewhere are logged out (a new login, a new password), `why`. */
  | { t: "logout"; key: string; why: string };

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

/** A room event as it arrives from the bus. */
export type RoomBus = BusIn & { kind: "room" };

/**
 * Encodes a room event as it travels (the sequence number is put in front by Redis), with the
 * origin's proposal number (see ClusterOut) in the field `u`.
 */
export function encodeRoom(node: string, room: string, ev: RoomEv, proposal = 0): string {
  return JSON.stringify({ n: node, r: room, e: ev, u: proposal });
}

/** Encodes a direct message. */
export function encodeDirect(node: string, ev: DirectEv): string {
  return JSON.stringify({ n: node, d: ev });
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
  rooms: {
    id: string;
    name: string;
    topic: string;
    topicBy: string;
    key: string;
    /** Who runs it and its modes, as plain data (see the room event `auth`). */
    auth?: Record<string, unknown>;
  }[];
  bans: BanInfo[];
  /** Each room's recent lines (oldest first), for its history. */
  history: {
    room: string;
    lines: { kind: "chat" | "action"; nick: string; text: string; at: number }[];
  }[];
}
