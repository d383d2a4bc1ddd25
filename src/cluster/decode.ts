/**
 * Checked decoding of everything read from Redis: bus messages (src/cluster/bus.ts) and the
 * records a snapshot reads (members, rooms, bans). Everything read from Redis is input like
 * anything typed (it could have been put there by something other than Shat): every field comes
 * back checked, its free text cleaned as typed text is and cut to the same lengths, or the whole
 * message is dropped, with why. Pure: what counts as a nick, a room name and the lengths are
 * {@link BusRules} the caller passes in (the chat's rules; cluster/ does not know them itself).
 */
import type { BanInfo, BusIn, DirectEv, MemberInfo, RoomEv, Snapshot } from "./bus.ts";
import { parseIp } from "../lib/ip.ts";
import { cleanText } from "../lib/sanitize.ts";

/**
 * What the bus accepts, as the chat defines it. The shell builds these from the chat's nick and
 * room rules and its lengths, and gives them to the link (ClusterOptions in src/cluster/link.ts).
 */
export interface BusRules {
  /**
   * A nick some process could have given: one anyone may pick, or a guest nick. Its answers are
   * remembered (it must be pure).
   */
  nickOk(nick: string): boolean;
  /** A room name as typed, without `#`, in any case. */
  roomOk(name: string): boolean;
  /** Longest topic, in characters: longer is cut. */
  topicMax: number;
  /** Longest away message, in characters: longer is cut. */
  awayMax: number;
  /**
   * Longest line, private line, notice or reason, in characters (the process's `--max-line`):
   * longer is cut, and a message far longer is not even parsed.
   */
  textMax: number;
}

/**
 * A `textMax` for a caller that knows no `--max-line`: more than any line typed at the default,
 * little enough that one forged message cannot fill everyone's outbox.
 */
export const TEXT_MAX = 16 * 1024;

/** A message or record from Redis that was dropped, and why, for the log. */
export interface Dropped {
  /** The field and what is wrong with it (never its value). */
  dropped: string;
  /** The start of the refused value, escaped: enough to recognise, never the text at length. */
  sample: string;
  /** The value was meant as an address: logged as one (so never in safe mode). */
  address?: boolean;
}

/**
 * Reads a bus payload: `SEQ JSON` for a room event (the sequence number Redis gave it), or
 * `JSON` for a direct message. Every field comes back checked against `rules`, its free text
 * cleaned and cut, or the whole message is dropped, with why.
 */
export function readBus(payload: string, rules: BusRules): BusIn | Dropped {
  return attempt((): BusIn => {
    // Text is at most doubled by JSON's escapes: longer cannot be ours, and is not parsed.
    if (payload.length > 2 * rules.textMax + 4096) {
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
    const fields = parse(json, "message");
    const from = node(fields.n, "n");
    if (seq < 0) return { kind: "direct", node: from, ev: directEv(fields.d, rules) };
    const room = roomId(fields.r, "r", rules);
    const ev = roomEv(fields.e, room, rules);
    const proposal = Number.isSafeInteger(fields.u) ? fields.u as number : 0;
    return { kind: "room", node: from, room, seq, ev, u: proposal };
  });
}

/** {@link readBus}, for callers that need no reason: null for anything dropped. */
export function decodeBus(payload: string, rules: BusRules): BusIn | null {
  const bus = readBus(payload, rules);
  return "dropped" in bus ? null : bus;
}

/** A member as the members hash keeps them (with `n`, their process), checked as on the bus. */
export function readMember(
  json: string,
  rules: BusRules,
): { node: string; info: MemberInfo } | Dropped {
  return attempt(() => {
    const fields = parse(json, "member");
    return { node: node(fields.n, "member.n"), info: member(fields, "member", rules) };
  });
}

/** A room's description from the rooms hash (its field `id`): name, key hash, topic. */
export function readRoomMeta(
  id: string,
  json: string,
  rules: BusRules,
): Snapshot["rooms"][number] | Dropped {
  return attempt(() => {
    const room = roomId(id, "room", rules);
    const fields = parse(json, "room");
    const topic = optional(fields.topic ?? "", "room.topic", rules.topicMax);
    const topicBy = (fields.topicBy ?? "") === ""
      ? ""
      : nick(fields.topicBy, "room.topicBy", rules);
    if (topic && !topicBy) refuse("room.topicBy", "missing for a topic", fields.topicBy);
    return {
      id: room,
      name: fields.name === undefined ? room : roomLabel(fields.name, "room.name", room, rules),
      topic,
      topicBy,
      key: fields.key === undefined ? "" : roomKey(fields.key, "room.key"),
      ...(fields.auth === undefined ? {} : { auth: obj(fields.auth, "room.auth") }),
    };
  });
}

/** A ban from the bans hash (its field `ip`), checked as a ban on the bus. */
export function readBan(ip: string, json: string, rules: BusRules): BanInfo | Dropped {
  return attempt(() => {
    const fields = parse(json, "ban");
    return {
      ip: address(ip, "ban.ip", true),
      until: time(fields.until, "ban.until"),
      reason: text(fields.reason ?? "", "ban.reason", rules.textMax),
      by: banner(fields.by ?? "", "ban.by", rules),
      since: fields.since === undefined ? 0 : time(fields.since, "ban.since"),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The events

function roomEv(value: unknown, room: string, rules: BusRules): RoomEv {
  const event = obj(value, "e");
  const max = rules.textMax;
  switch (event.t) {
    case "say":
      if (event.kind !== "chat" && event.kind !== "action") {
        refuse("say.kind", "unknown", event.kind);
      }
      return {
        t: "say",
        kind: event.kind,
        id: id(event.id, "say.id"),
        nick: nick(event.nick, "say.nick", rules),
        text: said(event.text, "say.text", max),
        at: time(event.at, "say.at"),
      };
    case "enter":
      return enterEv(event, room, rules);
    case "leave":
      return {
        t: "leave",
        id: id(event.id, "leave.id"),
        nick: nick(event.nick, "leave.nick", rules),
        notice: text(event.notice, "leave.notice", max),
      };
    case "nick":
      return {
        t: "nick",
        id: id(event.id, "nick.id"),
        from: nick(event.from, "nick.from", rules),
        to: nick(event.to, "nick.to", rules),
        notice: text(event.notice, "nick.notice", max),
      };
    case "topic":
      return {
        t: "topic",
        topic: optional(event.topic, "topic.topic", rules.topicMax),
        by: nick(event.by, "topic.by", rules),
        id: id(event.id, "topic.id"),
      };
    case "away":
      return {
        t: "away",
        id: id(event.id, "away.id"),
        away: optional(event.away, "away.away", rules.awayMax),
      };
    case "auth":
      return {
        t: "auth",
        a: obj(event.a, "auth.a"),
        key: roomKey(event.key, "auth.key"),
        by: banner(event.by, "auth.by", rules),
        notice: text(event.notice ?? "", "auth.notice", max),
      };
    case "keep":
      return {
        t: "keep",
        on: bool(event.on, "keep.on"),
        owner: account(event.owner, "keep.owner", rules),
        by: nick(event.by, "keep.by", rules),
      };
  }
  refuse("e.t", "not a room event", event.t);
}

/** Someone entering `room`: a member of that room, its name, and its key when it has one. */
function enterEv(event: Fields, room: string, rules: BusRules): RoomEv & { t: "enter" } {
  const who = member(event.m, "enter.m", rules);
  if (who.room !== room) refuse("enter.m.room", "not the event's room", who.room);
  const ev: RoomEv & { t: "enter" } = {
    t: "enter",
    m: who,
    name: roomLabel(event.name, "enter.name", room, rules),
    notice: text(event.notice, "enter.notice", rules.textMax),
  };
  if (event.created !== undefined) {
    const created = obj(event.created, "enter.created");
    const key = roomKey(created.key, "enter.created.key");
    ev.created = created.fresh === undefined
      ? { key }
      : { key, fresh: bool(created.fresh, "fresh") };
    if (created.owner !== undefined && created.owner !== "") {
      ev.created.owner = account(created.owner, "enter.created.owner", rules);
    }
  }
  return ev;
}

function directEv(value: unknown, rules: BusRules): DirectEv {
  const event = obj(value, "d");
  const max = rules.textMax;
  switch (event.t) {
    case "msg":
      return {
        t: "msg",
        to: node(event.to, "msg.to"),
        toId: id(event.toId, "msg.toId"),
        id: id(event.id, "msg.id"),
        nick: nick(event.nick, "msg.nick", rules),
        text: said(event.text, "msg.text", max),
        at: time(event.at, "msg.at"),
      };
    case "kick":
      return {
        t: "kick",
        to: node(event.to, "kick.to"),
        toId: id(event.toId, "kick.toId"),
        message: text(event.message, "kick.message", max),
        reason: text(event.reason, "kick.reason", max),
      };
    case "part":
      return {
        t: "part",
        to: node(event.to, "part.to"),
        toId: id(event.toId, "part.toId"),
        room: roomId(event.room, "part.room", rules),
        message: said(event.message, "part.message", max),
        notice: said(event.notice, "part.notice", max),
      };
    case "notice":
      return {
        t: "notice",
        to: node(event.to, "notice.to"),
        toId: id(event.toId, "notice.toId"),
        text: said(event.text, "notice.text", max),
      };
    case "ban":
      return {
        t: "ban",
        ip: address(event.ip, "ban.ip", true),
        until: time(event.until, "ban.until"),
        reason: text(event.reason, "ban.reason", max),
        by: banner(event.by, "ban.by", rules),
        since: time(event.since, "ban.since"),
      };
    case "unban":
      return { t: "unban", ip: address(event.ip, "unban.ip", true) };
    case "gone":
      return { t: "gone", node: node(event.node, "gone.node") };
    case "account": {
      const name = nick(event.nick, "account.nick", rules);
      if (event.key !== name.toLowerCase()) refuse("account.key", "not its nick", event.key);
      return {
        t: "account",
        key: name.toLowerCase(),
        nick: name,
        on: bool(event.on, "account.on"),
      };
    }
    case "logout":
      return {
        t: "logout",
        key: account(event.key, "logout.key", rules),
        why: text(event.why, "logout.why", max),
      };
  }
  refuse("d.t", "not a direct message", event.t);
}

function member(value: unknown, field: string, rules: BusRules): MemberInfo {
  const fields = obj(value, field);
  const info: MemberInfo = {
    id: id(fields.id, `${field}.id`),
    nick: nick(fields.nick, `${field}.nick`, rules),
    ip: address(fields.ip, `${field}.ip`),
    room: roomId(fields.room, `${field}.room`, rules),
    away: optional(fields.away, `${field}.away`, rules.awayMax),
    op: bool(fields.op, `${field}.op`),
    active: time(fields.active, `${field}.active`),
  };
  if (fields.acct !== undefined && fields.acct !== "") {
    info.acct = account(fields.acct, `${field}.acct`, rules);
  }
  if (fields.also !== undefined) {
    const also = fields.also;
    if (!Array.isArray(also) || also.length > MAX_ALSO) {
      refuse(`${field}.also`, `not a list of at most ${MAX_ALSO} rooms`, also);
    }
    const ids = also.map((r, i) => roomId(r, `${field}.also[${i}]`, rules));
    const others = [...new Set(ids)].filter((r) => r !== info.room);
    if (others.length > 0) info.also = others;
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// The fields

/** The most rooms an IRC session is said to be in besides its own (Shat allows 50). */
const MAX_ALSO = 100;

/** The latest time a message may carry (epoch ms): later is no clock's time, only a forgery's. */
const LATEST = Date.UTC(9999, 11, 31);

/** A process id (8 hex digits as Shat makes them, with room to spare): it is logged. */
const NODE = /^[A-Za-z0-9_.-]{1,64}$/;

/** A room key as it travels: its SHA-256 in hex, or "" for none. */
const KEY = /^(?:[0-9a-f]{64})?$/;

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
function sample(value: unknown): string {
  const s = typeof value === "string"
    ? value
    : typeof value === "object" && value !== null
    ? (Array.isArray(value) ? "(a list)" : "(an object)")
    : String(value);
  const cut = s.length > 64 ? s.slice(0, 64) + "..." : s;
  return cut.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

type Fields = Record<string, unknown>;

function parse(json: string, field: string): Fields {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    refuse(field, "not JSON", `(${json.length} characters)`); // it may hold an address
  }
  return obj(value, field);
}

function obj(value: unknown, field: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    refuse(field, "not an object", value);
  }
  return value as Fields;
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

/** Free text: cleaned as typed text is (src/lib/sanitize.ts), then cut as typed text is. */
function text(value: unknown, field: string, max: number): string {
  if (typeof value !== "string") refuse(field, "not text", value);
  return cap(cleanText(value), max);
}

/** Text that must say something (a line, a private message): nothing left drops it. */
function said(value: unknown, field: string, max: number): string {
  const t = text(value, field, max);
  if (t === "") refuse(field, "empty once cleaned", value);
  return t;
}

/**
 * Text whose "" means something (no topic, not away): other text that cleans to nothing is
 * dropped, not taken for a clear.
 */
function optional(value: unknown, field: string, max: number): string {
  const t = text(value, field, max);
  if (t === "" && value !== "") refuse(field, "empty once cleaned", value);
  return t;
}

/**
 * Nicks found good lately, per rule. The same few people say most lines, and the check (look-alike
 * folding, twice) costs more than the rest of a line's decoding: a memo of a pure answer.
 */
const goodNicks = new WeakMap<BusRules["nickOk"], Set<string>>();

/** A nick some process could have given (see {@link BusRules.nickOk}). */
function nick(value: unknown, field: string, rules: BusRules): string {
  let good = goodNicks.get(rules.nickOk);
  if (good === undefined) goodNicks.set(rules.nickOk, good = new Set());
  if (typeof value === "string" && good.has(value)) return value;
  if (typeof value !== "string" || !rules.nickOk(value)) refuse(field, "not a nick", value);
  if (good.size >= 4096) good.clear();
  good.add(value);
  return value;
}

/** An account: a nick in lower case, or "" for none. */
function account(value: unknown, field: string, rules: BusRules): string {
  if (value === "") return "";
  const name = nick(value, field, rules);
  if (name !== name.toLowerCase()) refuse(field, "not in lower case", value);
  return name;
}

/** Who made a ban: a nick, the server (spam), or nobody known (a ban file without `by`). */
function banner(value: unknown, field: string, rules: BusRules): string {
  return value === "server" || value === "" ? value : nick(value, field, rules);
}

/** A room's id: a room name in lower case. */
function roomId(value: unknown, field: string, rules: BusRules): string {
  if (typeof value !== "string" || !rules.roomOk(value) || value !== value.toLowerCase()) {
    refuse(field, "not a room id", value);
  }
  return value;
}

/** A room's name as first typed (no `#`): the name of room `id`. */
function roomLabel(value: unknown, field: string, id: string, rules: BusRules): string {
  if (typeof value !== "string" || !rules.roomOk(value) || value.toLowerCase() !== id) {
    refuse(field, "not the room's name", value);
  }
  return value;
}

function roomKey(value: unknown, field: string): string {
  if (typeof value !== "string" || !KEY.test(value)) refuse(field, "not a key hash", value);
  return value;
}

/**
 * An address in its canonical spelling; with `prefix`, also an IPv6 network as bans may name
 * one (`2001:db8:1:2::/64`: the address canonical, a length of 1-128).
 */
function address(value: unknown, field: string, prefix = false): string {
  if (typeof value === "string") {
    const slash = prefix ? value.indexOf("/") : -1;
    const parsed = parseIp(slash < 0 ? value : value.slice(0, slash));
    if ("ip" in parsed) {
      if (slash < 0) return parsed.ip;
      const bits = value.slice(slash + 1);
      if (parsed.ip.includes(":") && /^[1-9][0-9]{0,2}$/.test(bits) && Number(bits) <= 128) {
        return `${parsed.ip}/${bits}`;
      }
    }
  }
  refuse(field, prefix ? "not an address or IPv6 network" : "not an address", value, true);
}

/** A client id: a whole number, not negative. */
function id(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) refuse(field, "not an id", value);
  return value as number;
}

/** A time (epoch ms) a clock can show. */
function time(value: unknown, field: string): number {
  if (typeof value !== "number" || !(value >= 0 && value <= LATEST)) {
    refuse(field, "not a time", value);
  }
  return value;
}

function node(value: unknown, field: string): string {
  if (typeof value !== "string" || !NODE.test(value)) refuse(field, "not a process id", value);
  return value;
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== "boolean") refuse(field, "not true or false", value);
  return value;
}
