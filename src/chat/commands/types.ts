/**
 * What command handlers work with: the people (Member), the rooms (RoomInfo) and the one
 * interface through which they reach the hub's state (Chat). Handlers never touch the hub.
 */
import type { Config } from "../../ops/config.ts";
import type { AuditEntry } from "../events.ts";
import type { BanRecord } from "../moderation.ts";

/** What `/history` was asked for: the last N lines, those since a time, or the next page. */
export type HistoryRequest = { count: number } | { since: number } | { more: true };

/** What came of `/room keep on|off`. */
export type KeepOutcome =
  | "kept"
  | "unkept"
  | "already"
  | "lobby"
  | "not-owner"
  | "no-owner"
  | "too-many";

/** A room setting that is on or off. */
export type RoomMode = "invite-only" | "moderated" | "topic-lock";

/**
 * What a room operator (or a server operator) asks of the room: each answered by the hub with
 * one line for the asker (done, or why not).
 */
export type RoomAct =
  | { act: "mode"; mode: RoomMode; on: boolean }
  | { act: "slow"; ms: number }
  | { act: "key"; key: string }
  | { act: "op" | "deop" | "voice" | "devoice" | "owner"; nick: string }
  | { act: "kick"; nick: string; reason: string }
  | { act: "ban"; target: string; ms: number; reason: string }
  | { act: "unban"; target: string }
  | { act: "mute"; nick: string; ms: number }
  | { act: "unmute"; nick: string }
  | { act: "invite"; nick: string };

/** A room's settings in words, for `/room`. */
export interface RoomSettings {
  label: string;
  lobby: boolean;
  /** The owner's nick ("" = nobody). */
  owner: string;
  operators: string[];
  voice: string[];
  inviteOnly: boolean;
  moderated: boolean;
  topicLock: boolean;
  slowMs: number;
  keyed: boolean;
  kept: boolean;
  mutes: number;
  bans: number;
  /** The asker may change them (a room operator here, or a server operator). */
  mayChange: boolean;
}

/** A mute or a room ban, as /room bans lists it. */
export interface SanctionInfo {
  nick: string;
  /** The address key it holds ("" when shown to someone who may not see addresses). */
  address: string;
  account: string;
  until: number;
  by: string;
  reason: string;
}

/** A person in the room, as commands see them. */
export interface Member {
  readonly id: number;
  readonly nick: string;
  readonly ip: string;
  readonly op: boolean;
  /** When they last said something (or joined), for idle times. */
  readonly lastActive: number;
  /** The client id that last sent them a private message (0 = nobody). */
  replyTo: number;
  /** Why they are away ("" = here). */
  readonly away: string;
}

/** A room as commands see it. */
export interface RoomInfo {
  /** The name without its `#`. */
  name: string;
  /** `#name`, as rooms are always shown. */
  label: string;
  /** People in it. */
  members: number;
  /** Its topic ("" when none, or hidden from someone outside a room with a key). */
  topic: string;
  /** Who set the topic ("" when hidden or none). */
  topicBy: string;
  /** It has a key. */
  keyed: boolean;
  /** It is the lobby (where everyone starts; never goes away). */
  lobby: boolean;
  /** It is kept (stays when empty, and across restarts); never true of the lobby. */
  kept: boolean;
  /** The account that owns it ("" = nobody). */
  owner: string;
  /** Its modes in words (`invite-only`, `moderated`, `slow 10s`, `topic-lock`). */
  modes: string[];
}

/** What came of a /join. */
export type JoinOutcome =
  | { ok: true; created: boolean; room: RoomInfo }
  | { ok: false; why: "same" | "needs-key" | "wrong-key" | "lookalike"; room: RoomInfo }
  | { ok: false; why: "too-many-rooms"; limit: number }
  | { ok: false; why: "too-fast"; wait: number }
  /** Kept out by the room's rules (a room ban, invite-only): `text` says why. */
  | { ok: false; why: "refused"; text: string };

/** How someone's lines are drawn (see src/render.ts), and whether the server edits their line. */
export interface ViewSettings {
  color: boolean;
  bell: boolean;
  timestamps: boolean;
  /** A telnet client in character mode (the server echoes and edits its line). */
  charMode: boolean;
  /** A browser (the web page). */
  web: boolean;
  /** Screen-reader mode (/screenreader): plain whole lines, no prompt, colours or bell. */
  screenReader: boolean;
  /** Bot mode (/bot): every line one JSON object; no history on /join, no join/leave notices. */
  bot: boolean;
}

/** What the hub offers command handlers. */
export interface Chat {
  readonly config: Config;
  /** True when --admin-token is set. */
  readonly opsEnabled: boolean;
  /** Members online, in every room. */
  readonly online: number;
  /** Sends lines to one member only. */
  tell(to: Member, ...lines: string[]): void;
  /** A chat line from `from` to their room, seen as `<nick> text`. */
  say(from: Member, text: string, now: number): void;
  /** An action in `from`'s room, seen as `* nick action`. */
  emote(from: Member, action: string, now: number): void;
  /**
   * A private message, across rooms: `to` sees `[private] <from> text` (unless ignoring
   * `from`), `from` sees `[private to nick] text`, each drawn in their own view.
   */
  whisper(from: Member, to: Member, text: string, now: number): void;
  /** How `m`'s lines are drawn. */
  view(m: Member): ViewSettings;
  /** Changes how `m`'s lines are drawn. */
  setView(m: Member, change: Partial<Omit<ViewSettings, "charMode" | "web">>): void;
  /** Whether `m` is a bot here (/bot on; people on other processes are not known). */
  isBot(m: Member): boolean;
  /** Members of the room named (any case), in join order; [] if there is no such room. */
  members(room: string): Member[];
  /** The member with this nick, any case, in any room. */
  byNick(nick: string): Member | undefined;
  /** The member whose nick looks like this one (same skeleton: `alice`, `aIice`, `a1ice`). */
  lookalike(nick: string): Member | undefined;
  /** The member with this client id, if still here. */
  byId(id: number): Member | undefined;
  /** The room `m` is in. */
  roomOf(m: Member): RoomInfo;
  /** Every room, as `viewer` may see it (a keyed room's topic only from inside). */
  rooms(viewer: Member): RoomInfo[];
  /** The room with this name (any case, `#` optional), as `viewer` may see it. */
  findRoom(name: string, viewer: Member): RoomInfo | undefined;
  /**
   * Moves `m` to the room `name` (a valid name), making it (with `key`, if given) when it does
   * not exist; both rooms are told, and `m` is shown the topic and history.
   */
  join(m: Member, name: string, key: string, now: number): JoinOutcome;
  /** Sets the topic of `m`'s room ("" clears it); the room is told who set it. */
  setTopic(m: Member, topic: string, now: number): void;
  /** Marks `m` away with a reason, or back with "", and tells them. */
  setAway(m: Member, reason: string): void;
  /** True if `m` ignores `other`. */
  ignores(m: Member, other: Member): boolean;
  /** Starts or stops `m` ignoring `other`'s lines, actions and private messages. */
  setIgnore(m: Member, other: Member, on: boolean): void;
  /** Whom `m` ignores. */
  ignored(m: Member): Member[];
  /** Gives `m` a new nick (already validated and free) and tells their room. */
  rename(m: Member, nick: string): void;
  /** Says `message` to `m`, then closes its connection; its room sees `left (reason)`. */
  disconnect(m: Member, message: string, reason: string, now: number): void;
  /** Makes `m` an operator. */
  grantOp(m: Member): void;
  /**
   * Gives `m`'s address a strike, telling them `message` with the count; false if that got
   * them banned (and disconnected). A `secret` strike (a wrong token or key) is never taken
   * away by good lines.
   */
  strike(m: Member, why: string, now: number, message?: string, secret?: boolean): boolean;
  /**
   * Bans an address (reason "" when none was given); every connection from it is closed.
   * Returns how many were.
   */
  ban(ip: string, ms: number, reason: string, by: string, now: number): number;
  /** Lifts a ban; false if the address was not banned. */
  unban(ip: string): boolean;
  /** Running bans. */
  bans(now: number): BanRecord[];
  /** Checks an operator token in constant time. */
  checkAdminToken(attempt: string): boolean;
  /**
   * Records an operator action (or a failed /op) in the log and the audit log: what, on whom,
   * the rest (a duration, a reason).
   */
  audit(action: string, m: Member, target?: string, detail?: string): void;
  /** The latest `n` entries of the audit log, oldest first. */
  auditLog(n: number): AuditEntry[];

  // Rooms run by their people.

  /** `m`'s room's settings, as `m` may see them. */
  roomSettings(m: Member): RoomSettings;
  /** Does what a room operator asks in `m`'s room; the answer (done, or why not) for `m`. */
  moderate(m: Member, act: RoomAct, now: number): string;
  /** The bans of `m`'s room (null when `m` may not see them: not an operator there). */
  roomBans(m: Member, now: number): SanctionInfo[] | null;
  /** How `who` is marked in the room `room` (owner, room op, voice, muted). */
  marks(who: Member, room: string, now: number): string[];

  // Accounts, kept rooms and history (answers come later: the store and passwords take time).

  /** The account `m` is logged in to ("" = none). */
  accountOf(m: Member): string;
  /** The nick as registered, if `nick` (any case) is an account. */
  registered(nick: string): string | undefined;
  /** The registered nick `nick` is or looks like, unless it is `m`'s own account. */
  reservedFor(nick: string, m: Member): string | undefined;
  /** True while the server works on `m`'s last password or history request. */
  busy(m: Member): boolean;
  register(m: Member, password: string, now: number): void;
  identify(m: Member, nick: string, password: string, now: number): void;
  changePassword(m: Member, old: string, fresh: string, now: number): void;
  unregister(m: Member, password: string, now: number): void;
  /** Deletes an account (operators); false if `nick` is not one. */
  dropAccount(nick: string, by: Member): boolean;
  /** Keeps `m`'s room (or stops keeping it). */
  keepRoom(m: Member, on: boolean): KeepOutcome;
  /** Shows `m` lines of their room from the store. */
  history(m: Member, req: HistoryRequest): void;
  /** Shows `m` the latest lines of their room with every one of `words`. */
  search(m: Member, words: string[]): void;
  /** Whether an ignore by `m` of `other` is kept with `m`'s account (see setIgnore). */
  ignoreKept(m: Member, other: Member): boolean;
}

/** One slash command. */
export interface Command {
  name: string;
  usage: string;
  help: string;
  /** Only operators may run it. */
  op?: boolean;
  /** Shown in /help only when operators are enabled. */
  needsOps?: boolean;
  run(chat: Chat, me: Member, args: string, now: number): void;
}
