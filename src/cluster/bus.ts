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
import { AWAY_MAX, TOPIC_MAX } from "../chat/limits.ts";
import { type BanRecord } from "../chat/moderation.ts";
import { parseIp } from "../lib/ip.ts";
import { isGuestForm, NICK_PATTERN, nickProblem } from "../chat/nicks.ts";
import { roomName } from "../chat/room.ts";
import { cleanText } from "../lib/sanitize.ts";

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

/**
 * Longest chat text, private line, notice or reason taken from Redis, in characters, when the
 * link is not told this process's `--max-line`: more than any line typed at the default, little
 * enough that one forged message cannot fill everyone's outbox.
 */
export const TEXT_MAX = 16 * 1024;

/** The latest time a message may carry (epoch ms): later is no clock's time, only a forgery's. */
const LATEST = Date.UTC(9999, 11, 31);

/** A process id (8 hex digits as Shat makes them, with room to spare): it is logged. */
const NODE = /^[A-Za-z0-9_.-]{1,64}$/;

/** A room key as it travels: its SHA-256 in hex, or "" for none. */
const KEY = /^(?:[0-9a-f]{64})?$/;

/** A message or record from Redis that was dropped, and why, for the log. */
export interface Dropped {
  /** The field and what is wrong with it (never its value). */
  dropped: string;
  /** The start of the refused value, escaped: enough to recognise, never the text at length. */
  sample: string;
  /** The value was meant as an address: logged as one (so never in safe mode). */
  address?: boolean;
}

/** Thrown by the field readers below; {@link attempt} turns it into a {@link Dropped}. */
class Refused extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly value: unknown,
    readonly address: boolean,
  ) {
    super(`${field}: ${problem}`);
  }
}

function refuse(field: string, problem: string, value: unknown, address = false): never {
  throw new Refused(field, problem, value, address);
}

/** Runs a reader: its checked value, or why the whole thing was dropped. */
function attempt<T>(read: () => T): T | Dropped {
  try {
    return read();
  } catch (e) {
    if (!(e instanceof Refused)) throw e;
    const dropped = { dropped: `${e.field}: ${e.problem}`, sample: sample(e.value) };
    return e.address ? { ...dropped, address: true } : dropped;
  }
}

/** At most 64 characters of a value, anything but printable ASCII escaped, for a log line. */
function sample(v: unknown): string {
  const s = typeof v === "string"
    ? v
    : typeof v === "object" && v !== null
    ? (Array.isArray(v) ? "(a list)" : "(an object)")
    : String(v);
  const cut = s.length > 64 ? s.slice(0, 64) + "..." : s;
  return cut.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

type Fields = Record<string, unknown>;

function parse(json: string, field: string): Fields {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    refuse(field, "not JSON", `(${json.length} characters)`); // it may hold an address
  }
  return obj(v, field);
}

function obj(v: unknown, field: string): Fields {
  if (typeof v !== "object" || v === null || Array.isArray(v)) refuse(field, "not an object", v);
  return v as Fields;
}

/** Cuts `s` to `max` characters (never inside a surrogate pair). */
function cap(s: string, max: number): string {
  if (s.length <= max) return s;
  let n = 0;
  let end = 0;
  for (const ch of s) {
    if (n++ === max) break;
    end += ch.length;
  }
  return s.slice(0, end).trimEnd();
}

/** Free text: cleaned as typed text is (src/sanitize.ts), then cut as typed text is. */
function text(v: unknown, field: string, max: number): string {
  if (typeof v !== "string") refuse(field, "not text", v);
  return cap(cleanText(v), max);
}

/** Text that must say something (a line, a private message): nothing left drops it. */
function said(v: unknown, field: string, max: number): string {
  const t = text(v, field, max);
  if (t === "") refuse(field, "empty once cleaned", v);
  return t;
}

/**
 * Text whose "" means something (no topic, not away): other text that cleans to nothing is
 * dropped, not taken for a clear.
 */
function optional(v: unknown, field: string, max: number): string {
  const t = text(v, field, max);
  if (t === "" && v !== "") refuse(field, "empty once cleaned", v);
  return t;
}

/**
 * Nicks found good lately. The same few people say most lines, and the check (look-alike
 * folding, twice) costs more than the rest of a line's decoding: a memo of a pure answer.
 */
const goodNicks = new Set<string>();

/** A nick some process could have given: one anyone may pick, or a guest nick. */
function nick(v: unknown, field: string): string {
  if (typeof v === "string" && goodNicks.has(v)) return v;
  if (
    typeof v !== "string" || !NICK_PATTERN.test(v) ||
    (nickProblem(v) !== undefined && !isGuestForm(v))
  ) {
    refuse(field, "not a nick", v);
  }
  if (goodNicks.size >= 4096) goodNicks.clear();
  goodNicks.add(v);
  return v;
}

/** Who made a ban: a nick, the server (spam), or nobody known (a ban file without `by`). */
function banner(v: unknown, field: string): string {
  return v === "server" || v === "" ? v : nick(v, field);
}

/** A room's id: a room name in lower case. */
function roomId(v: unknown, field: string): string {
  if (typeof v !== "string" || roomName(v) !== v || v !== v.toLowerCase()) {
    refuse(field, "not a room id", v);
  }
  return v;
}

/** A room's name as first typed (no `#`): the name of room `id`. */
function roomLabel(v: unknown, field: string, id: string): string {
  if (typeof v !== "string" || roomName(v) !== v || v.toLowerCase() !== id) {
    refuse(field, "not the room's name", v);
  }
  return v;
}

function roomKey(v: unknown, field: string): string {
  if (typeof v !== "string" || !KEY.test(v)) refuse(field, "not a key hash", v);
  return v;
}

/**
 * An address in its canonical spelling; with `prefix`, also an IPv6 network as bans may name
 * one (`2001:db8:1:2::/64`: the address canonical, a length of 1-128).
 */
function address(v: unknown, field: string, prefix = false): string {
  if (typeof v === "string") {
    const slash = prefix ? v.indexOf("/") : -1;
    const p = parseIp(slash < 0 ? v : v.slice(0, slash));
    if ("ip" in p) {
      if (slash < 0) return p.ip;
      const bits = v.slice(slash + 1);
      if (p.ip.includes(":") && /^[1-9][0-9]{0,2}$/.test(bits) && Number(bits) <= 128) {
        return `${p.ip}/${bits}`;
      }
    }
  }
  refuse(field, prefix ? "not an address or IPv6 network" : "not an address", v, true);
}

/** A client id: a whole number, not negative. */
function id(v: unknown, field: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) refuse(field, "not an id", v);
  return v as number;
}

/** A time (epoch ms) a clock can show. */
function time(v: unknown, field: string): number {
  if (typeof v !== "number" || !(v >= 0 && v <= LATEST)) refuse(field, "not a time", v);
  return v;
}

function node(v: unknown, field: string): string {
  if (typeof v !== "string" || !NODE.test(v)) refuse(field, "not a process id", v);
  return v;
}

function bool(v: unknown, field: string): boolean {
  if (typeof v !== "boolean") refuse(field, "not true or false", v);
  return v;
}

function member(v: unknown, field: string): MemberInfo {
  const m = obj(v, field);
  return {
    id: id(m.id, `${field}.id`),
    nick: nick(m.nick, `${field}.nick`),
    ip: address(m.ip, `${field}.ip`),
    room: roomId(m.room, `${field}.room`),
    away: optional(m.away, `${field}.away`, AWAY_MAX),
    op: bool(m.op, `${field}.op`),
    active: time(m.active, `${field}.active`),
  };
}

function roomEv(v: unknown, room: string, max: number): RoomEv {
  const e = obj(v, "e");
  switch (e.t) {
    case "say":
      if (e.kind !== "chat" && e.kind !== "action") refuse("say.kind", "unknown", e.kind);
      return {
        t: "say",
        kind: e.kind,
        id: id(e.id, "say.id"),
        nick: nick(e.nick, "say.nick"),
        text: said(e.text, "say.text", max),
        at: time(e.at, "say.at"),
      };
    case "enter": {
      const m = member(e.m, "enter.m");
      if (m.room !== room) refuse("enter.m.room", "not the event's room", m.room);
      const ev: RoomEv & { t: "enter" } = {
        t: "enter",
        m,
        name: roomLabel(e.name, "enter.name", room),
        notice: text(e.notice, "enter.notice", max),
      };
      if (e.created !== undefined) {
        const c = obj(e.created, "enter.created");
        const key = roomKey(c.key, "enter.created.key");
        ev.created = c.fresh === undefined ? { key } : { key, fresh: bool(c.fresh, "fresh") };
      }
      return ev;
    }
    case "leave":
      return {
        t: "leave",
        id: id(e.id, "leave.id"),
        nick: nick(e.nick, "leave.nick"),
        notice: text(e.notice, "leave.notice", max),
      };
    case "nick":
      return {
        t: "nick",
        id: id(e.id, "nick.id"),
        from: nick(e.from, "nick.from"),
        to: nick(e.to, "nick.to"),
        notice: text(e.notice, "nick.notice", max),
      };
    case "topic":
      return {
        t: "topic",
        topic: optional(e.topic, "topic.topic", TOPIC_MAX),
        by: nick(e.by, "topic.by"),
        id: id(e.id, "topic.id"),
      };
    case "away":
      return { t: "away", id: id(e.id, "away.id"), away: optional(e.away, "away.away", AWAY_MAX) };
  }
  refuse("e.t", "not a room event", e.t);
}

function directEv(v: unknown, max: number): DirectEv {
  const e = obj(v, "d");
  switch (e.t) {
    case "msg":
      return {
        t: "msg",
        to: node(e.to, "msg.to"),
        toId: id(e.toId, "msg.toId"),
        id: id(e.id, "msg.id"),
        nick: nick(e.nick, "msg.nick"),
        text: said(e.text, "msg.text", max),
        at: time(e.at, "msg.at"),
      };
    case "kick":
      return {
        t: "kick",
        to: node(e.to, "kick.to"),
        toId: id(e.toId, "kick.toId"),
        message: text(e.message, "kick.message", max),
        reason: text(e.reason, "kick.reason", max),
      };
    case "ban":
      return {
        t: "ban",
        ip: address(e.ip, "ban.ip", true),
        until: time(e.until, "ban.until"),
        reason: text(e.reason, "ban.reason", max),
        by: banner(e.by, "ban.by"),
        since: time(e.since, "ban.since"),
      };
    case "unban":
      return { t: "unban", ip: address(e.ip, "unban.ip", true) };
    case "gone":
      return { t: "gone", node: node(e.node, "gone.node") };
  }
  refuse("d.t", "not a direct message", e.t);
}

/**
 * Reads a bus payload: `SEQ JSON` for a room event (the sequence number Redis gave it), or
 * `JSON` for a direct message. Everything read from Redis is input like anything typed (it
 * could have been put there by something other than Shat): every field comes back checked,
 * its free text cleaned as typed text is and cut to the same lengths (`maxText` for lines,
 * notices and reasons), or the whole message is dropped, with why.
 */
export function readBus(payload: string, maxText = TEXT_MAX): BusIn | Dropped {
  return attempt((): BusIn => {
    // Text is at most doubled by JSON's escapes: longer cannot be ours, and is not parsed.
    if (payload.length > 2 * maxText + 4096) {
      refuse("message", "too long", `(${payload.length} characters)`);
    }
    let seq = -1;
    let json = payload;
    const space = payload.indexOf(" ");
    if (space > 0 && payload.charCodeAt(0) !== 0x7b) {
      seq = Number(payload.slice(0, space));
      if (!Number.isSafeInteger(seq) || seq < 1) refuse("seq", "not a sequence number", seq);
      json = payload.slice(space + 1);
    }
    const v = parse(json, "message");
    const from = node(v.n, "n");
    if (seq < 0) return { kind: "direct", node: from, ev: directEv(v.d, maxText) };
    const room = roomId(v.r, "r");
    const ev = roomEv(v.e, room, maxText);
    return {
      kind: "room",
      node: from,
      room,
      seq,
      ev,
      u: Number.isSafeInteger(v.u) ? v.u as number : 0,
    };
  });
}

/** {@link readBus}, for callers that need no reason: null for anything dropped. */
export function decodeBus(payload: string, maxText = TEXT_MAX): BusIn | null {
  const bus = readBus(payload, maxText);
  return "dropped" in bus ? null : bus;
}

/** A member as the members hash keeps them (with `n`, their process), checked as on the bus. */
export function readMember(json: string): { node: string; info: MemberInfo } | Dropped {
  return attempt(() => {
    const m = parse(json, "member");
    return { node: node(m.n, "member.n"), info: member(m, "member") };
  });
}

/** A room's description from the rooms hash (its field `id`): name, key hash, topic. */
export function readRoomMeta(id: string, json: string): Snapshot["rooms"][number] | Dropped {
  return attempt(() => {
    const room = roomId(id, "room");
    const r = parse(json, "room");
    const topic = optional(r.topic ?? "", "room.topic", TOPIC_MAX);
    const topicBy = (r.topicBy ?? "") === "" ? "" : nick(r.topicBy, "room.topicBy");
    if (topic && !topicBy) refuse("room.topicBy", "missing for a topic", r.topicBy);
    return {
      id: room,
      name: r.name === undefined ? room : roomLabel(r.name, "room.name", room),
      topic,
      topicBy,
      key: r.key === undefined ? "" : roomKey(r.key, "room.key"),
    };
  });
}

/** A ban from the bans hash (its field `ip`), checked as a ban on the bus. */
export function readBan(ip: string, json: string, maxText = TEXT_MAX): BanRecord | Dropped {
  return attempt(() => {
    const b = parse(json, "ban");
    return {
      ip: address(ip, "ban.ip", true),
      until: time(b.until, "ban.until"),
      reason: text(b.reason ?? "", "ban.reason", maxText),
      by: banner(b.by ?? "", "ban.by"),
      since: b.since === undefined ? 0 : time(b.since, "ban.since"),
    };
  });
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
