/**
 * Rooms run by their people: who may do what in a room (its owner, its operators, server
 * operators everywhere), the room's modes, mutes, room bans and invitations, and the checks
 * the hub makes on every line and every entry, each O(1). A change is told to the room, kept
 * with a kept room (the store), sent to the other processes (--redis) and written to the audit
 * log. The state itself is each room's {@link RoomAuthority}.
 */
import type { RoomEv } from "../cluster/bus.ts";
import { ipKey, parseBanTarget } from "../lib/ip.ts";
import { formatDuration } from "../lib/units.ts";
import type { Accounts } from "./accounts.ts";
import {
  addSanction,
  AUTH_RULES,
  authData,
  type AuthRules,
  dropSanction,
  findSanction,
  INVITE_MS,
  listSanctions,
  readAuth,
  type RoomAuthority,
  type Sanction,
  sanctionFor,
  sessionHolder,
  SLOW_MAX_MS,
  SLOW_MIN_MS,
} from "./authority.ts";
import type { Client } from "./client.ts";
import type { ClientTable } from "./clients.ts";
import type { RoomAct, RoomSettings, SanctionInfo } from "./commands/types.ts";
import type { HubContext } from "./context.ts";
import type { Fanout } from "./fanout.ts";
import type { Keep } from "./keep.ts";
import { type Mirror, RemoteMember } from "./mirror.ts";
import type { NickTable } from "./names.ts";
import type { ChatRoom } from "./room.ts";
import { keyDigest } from "./room.ts";
import type { Rooms } from "./rooms.ts";
import type { Outbound } from "./sync.ts";

/** Someone on this process or another. */
type Person = Client | RemoteMember;

/** The parts the stewards work with. */
export interface StewardParts {
  clients: ClientTable;
  fanout: Fanout;
  nicks: NickTable;
  rooms: Rooms;
  mirror: Mirror;
  sync: Outbound;
  keep: Keep;
  accounts: Accounts;
}

/** Records an operator action (see Hub's audit log). */
export type AuditFn = (
  action: string,
  by: Client,
  target: string,
  detail: string,
  room: ChatRoom<Client> | null,
) => void;

/** Who runs the rooms. */
export class Stewards {
  readonly #ctx: HubContext;
  readonly #p: StewardParts;
  readonly #audit: AuditFn;

  constructor(ctx: HubContext, parts: StewardParts, audit: AuditFn) {
    this.#ctx = ctx;
    this.#p = parts;
    this.#audit = audit;
  }

  // ---- Who someone is, to a room ---------------------------------------------------------------

  /** The session holder of `m` (it lasts while they stay). */
  session(m: Person): string {
    return m instanceof RemoteMember
      ? sessionHolder(m.node, m.info.id)
      : sessionHolder(this.#p.sync.node, m.id);
  }

  /** The account `m` is logged in to ("" = none). */
  account(m: Person): string {
    return m instanceof RemoteMember ? m.info.acct ?? "" : m.account;
  }

  /** How a room names `m`: by account when logged in (it lasts), else by session. */
  holder(m: Person): string {
    const acct = this.account(m);
    return acct ? `@${acct}` : this.session(m);
  }

  /** The keys mutes and bans find `m` under: their address's key, and their account. */
  keys(m: Person): string[] {
    const addr = m instanceof RemoteMember
      ? ipKey(m.ip, this.#ctx.config.ipv6Prefix)
      : (m as Client).addrKey;
    const acct = this.account(m);
    return acct ? [addr, `@${acct}`] : [addr];
  }

  isOwner(m: Person, room: ChatRoom<Client>): boolean {
    if (room === this.#p.rooms.lobby) return false;
    const a = room.auth;
    if (a.owner) return this.account(m) === a.owner;
    return a.ownerSession !== "" && this.session(m) === a.ownerSession;
  }

  /** A room operator of `room` (its owner included); never in the lobby. */
  isRoomOp(m: Person, room: ChatRoom<Client>): boolean {
    if (room === this.#p.rooms.lobby) return false;
    return this.isOwner(m, room) || room.auth.ops.has(this.holder(m)) ||
      room.auth.ops.has(this.session(m));
  }

  /** May run `room`: a server operator, or a room operator of it. */
  mayModerate(m: Person, room: ChatRoom<Client>): boolean {
    return m.op || this.isRoomOp(m, room);
  }

  /** The running mute on `m` in `room` (a server operator's holds in every room). */
  muteOf(m: Person, room: ChatRoom<Client>, now: number): Sanction | undefined {
    const keys = this.keys(m);
    const lobby = this.#p.rooms.lobby;
    return findSanction(lobby.auth.mutes, keys, now) ??
      (room === lobby ? undefined : findSanction(room.auth.mutes, keys, now));
  }

  /** How `who` is marked in `room`: owner, room op, voice, muted. */
  marks(who: Person, room: ChatRoom<Client>, now: number): string[] {
    const marks: string[] = [];
    if (this.isOwner(who, room)) marks.push("owner");
    else if (this.isRoomOp(who, room)) marks.push("room op");
    if (room.auth.voice.has(this.holder(who)) || room.auth.voice.has(this.session(who))) {
      marks.push("voice");
    }
    if (this.muteOf(who, room, now)) marks.push("muted");
    return marks;
  }

  // ---- The checks of every line and entry -------------------------------------------------------

  /**
   * Whether `c`'s line may be shown in its room now: null when it may (a slow room then starts
   * `c`'s next window), else what `c` is told. No strike either way: this is the room's rule,
   * not spam. O(1).
   */
  gate(c: Client, now: number): string | null {
    const room = c.room;
    const a = room.auth;
    if (!a.gated && this.#p.rooms.lobby.auth.mutes.size === 0) return null;
    const held = this.mayNotSay(c, now);
    if (held || a.slowMs === 0 || this.mayModerate(c, room)) return held;
    const who = this.holder(c);
    const last = a.lastShown.get(who);
    if (last !== undefined && now - last < a.slowMs) {
      const wait = Math.ceil((a.slowMs - (now - last)) / 1000);
      return `${room.label} is in slow mode (one line per ${formatDuration(a.slowMs)} each): ` +
        `you may speak again in ${wait === 1 ? "1 second" : `${wait} seconds`}. ` +
        "Your line was not shown.";
    }
    a.lastShown.set(who, now);
    if (a.lastShown.size > 2 * room.members.size + 64) this.#sweep(a, now);
    return null;
  }

  /**
   * Why `c` may not say anything in its room now (a mute; a moderated room without a voice),
   * or null: the check of a line and of a topic.
   */
  mayNotSay(c: Client, now: number): string | null {
    const room = c.room;
    const a = room.auth;
    const mute = this.muteOf(c, room, now);
    const everywhere = mute !== undefined &&
      this.#p.rooms.lobby.auth.mutes.get(mute.keys[0]) === mute;
    // A mute is kept by address: someone else behind that address (a NAT) who runs this room is
    // not silenced by it (nobody can mute a server operator, nor a room operator their room).
    if (mute && !c.op && (everywhere || !this.isRoomOp(c, room))) {
      const where = everywhere ? "on this server" : `in ${room.label}`;
      return `You are muted ${where} by ${mute.by} for ${
        formatDuration(mute.until - now)
      } more: your line was not shown.`;
    }
    if (
      a.moderated && !this.mayModerate(c, room) && !a.voice.has(this.holder(c)) &&
      !a.voice.has(this.session(c))
    ) {
      return `${room.label} is moderated: only its operators and people they give a voice ` +
        "may speak. Your line was not shown.";
    }
    return null;
  }

  /** Forgets slow-mode windows that have ended. */
  #sweep(a: RoomAuthority, now: number): void {
    for (const [who, at] of a.lastShown) if (now - at >= a.slowMs) a.lastShown.delete(who);
  }

  /**
   * Why `c` may not enter `room` now (a room ban, invite-only), or null. Server operators
   * always may; a room operator may enter an invite-only room. An invitation is used up.
   */
  mayEnter(c: Client, room: ChatRoom<Client>, now: number): string | null {
    // The owner is never kept out of their room, even by a ban of an address they share.
    if (c.op || this.isOwner(c, room)) return null;
    const a = room.auth;
    const ban = findSanction(a.bans, this.keys(c), now);
    if (ban) {
      const why = ban.reason ? `: ${ban.reason}` : "";
      return `You are banned from ${room.label} for ${formatDuration(ban.until - now)} more ` +
        `(by ${ban.by}${why}).`;
    }
    if (!a.inviteOnly || this.isRoomOp(c, room)) return null;
    for (const who of [this.holder(c), this.session(c)]) {
      const until = a.invites.get(who);
      if (until !== undefined && until > now) return null;
    }
    return `${room.label} is invite-only: ask one of its operators for an /invite.`;
  }

  /**
   * `c` is now in `room` (it passed the key too): an invitation is used up; a room just made is
   * told to the others with its owner, so Redis holds it from the start.
   */
  entered(c: Client, room: ChatRoom<Client>, created: boolean, now: number): void {
    const a = room.auth;
    if (
      a.invites.size > 0 && (a.invites.delete(this.holder(c)) || a.invites.delete(this.session(c)))
    ) {
      this.#share(room, c, now, "");
    }
    if (created) this.#share(room, c, now, "");
  }

  /**
   * `m` left `room` (here or elsewhere): what they held as a session goes (their slow-mode
   * window stays: leaving and coming back does not reset it). When `m` was here, the others
   * (and Redis) are told, so a resync never brings it back.
   */
  left(m: Person, room: ChatRoom<Client>, now = 0): void {
    const a = room.auth;
    const s = this.session(m);
    let held = false;
    if (a.ownerSession === s) {
      held = true;
      a.ownerSession = a.ownerNick = "";
      if (room.members.size > 0) {
        this.#p.fanout.notice(room, `${room.label} has no owner now: ${m.nick} left.`);
      }
    }
    held = a.ops.delete(s) || held;
    held = a.voice.delete(s) || held;
    held = a.invites.delete(s) || held;
    if (held && !(m instanceof RemoteMember) && this.#p.rooms.get(room.id) === room) {
      this.#share(room, m as Client, now, "");
    }
  }

  /** A room made by `c`: a person who is not identified owns it for as long as they stay. */
  created(c: Client, room: ChatRoom<Client>): void {
    room.auth.reset();
    room.owner = c.account;
    if (!c.account) {
      room.auth.ownerSession = this.session(c);
      room.auth.ownerNick = c.nick;
    }
  }

  /**
   * Settings from the other processes: the whole of a room's authority, read and checked. What
   * sessions held is kept only for people still in the room. From a snapshot (`resync`), a
   * record without an owner does not take the room from the owner known here.
   */
  applyRemote(
    room: ChatRoom<Client>,
    data: Record<string, unknown>,
    key: string,
    resync = false,
  ): void {
    const a = room.auth;
    const owner = a.owner;
    const session = [a.ownerSession, a.ownerNick];
    readAuth(data, this.#rules(), a);
    if (resync && !a.owner && !a.ownerSession) {
      a.owner = owner;
      [a.ownerSession, a.ownerNick] = session;
    }
    if (a.ownerSession && !this.#present(a.ownerSession, room)) a.ownerSession = a.ownerNick = "";
    for (const map of [a.ops, a.voice]) {
      for (const h of map.keys()) if (h.startsWith("s:") && !this.#present(h, room)) map.delete(h);
    }
    if (room !== this.#p.rooms.lobby) room.secret = key;
  }

  /** Whether the session `holder` is someone in `room` now (here or elsewhere). */
  #present(holder: string, room: ChatRoom<Client>): boolean {
    const m = /^s:(.*):(\d+)$/.exec(holder);
    if (!m) return false;
    const id = Number(m[2]);
    if (m[1] === (this.#p.sync.node ?? "")) return this.#p.clients.member(id)?.room === room;
    return this.#p.mirror.get(m[1], id)?.room === room.id;
  }

  /**
   * A change made on another process (or this one's, back in the room's order: every process
   * applies the same states in the same order): applied, and its notice shown to the room here.
   */
  changedElsewhere(room: ChatRoom<Client>, ev: RoomEv & { t: "auth" }, self: boolean): void {
    this.applyRemote(room, ev.a, ev.key);
    if (!self && ev.notice && room.members.size > 0) this.#p.fanout.notice(room, ev.notice);
  }

  /** The current nick of the person a holder names (a session's, or the account's). */
  #nickOf(holder: string, shown: string): string {
    const m = /^s:(.*):(\d+)$/.exec(holder);
    if (!m) return shown;
    const id = Number(m[2]);
    const p = m[1] === (this.#p.sync.node ?? "")
      ? this.#p.clients.member(id)
      : this.#p.mirror.get(m[1], id);
    return p?.nick ?? shown;
  }

  #rules(): AuthRules {
    return AUTH_RULES;
  }

  // ---- What /room and /who show ------------------------------------------------------------------

  settings(c: Client, now: number): RoomSettings {
    const room = c.room;
    const a = room.auth;
    const owner = a.owner
      ? (this.#p.accounts.registered(a.owner) ?? a.owner)
      : this.#nickOf(a.ownerSession, a.ownerNick);
    return {
      label: room.label,
      lobby: room === this.#p.rooms.lobby,
      owner,
      operators: [...a.ops].map(([h, n]) => this.#nickOf(h, n)),
      voice: [...a.voice].map(([h, n]) => this.#nickOf(h, n)),
      inviteOnly: a.inviteOnly,
      moderated: a.moderated,
      topicLock: a.topicLock,
      slowMs: a.slowMs,
      keyed: room.secret !== "",
      kept: room.kept,
      mutes: listSanctions(a.mutes, now).length,
      bans: listSanctions(a.bans, now).length,
      mayChange: this.mayModerate(c, room),
    };
  }

  /** The room's bans for an operator of it (null for anyone else). */
  bans(c: Client, now: number): SanctionInfo[] | null {
    if (!this.mayModerate(c, c.room)) return null;
    return listSanctions(c.room.auth.bans, now).map((s) => info(s, c.op));
  }

  // ---- What operators ask -------------------------------------------------------------------------

  /** Does `act` for `c` in its room; the line `c` is told (done, or why not). */
  act(c: Client, act: RoomAct, now: number): string {
    const room = c.room;
    const lobby = room === this.#p.rooms.lobby;
    const owner = c.op || this.isOwner(c, room);
    if (!this.mayModerate(c, room)) {
      if (lobby && !this.#ctx.config.adminToken) {
        return "Operator commands are off on this server (it has no admin token).";
      }
      return lobby
        ? `Only server operators can do that in ${room.label}. Operators get in with /op TOKEN.`
        : `Only ${room.label}'s operators can do that (${this.#ownerWords(room)}).`;
    }
    switch (act.act) {
      case "mode":
        return this.#mode(c, act.mode, act.on, now);
      case "slow":
        return this.#slow(c, act.ms, now);
      case "key":
        // The key keeps people out: only the owner (or a server operator) changes it.
        if (!owner && !lobby) {
          return `Only ${room.label}'s owner can change its key (${this.#ownerWords(room)}).`;
        }
        return this.#key(c, act.key, now);
      case "op":
      case "deop":
      case "owner":
        if (lobby) return `${room.label} has no owner or operators: server operators run it.`;
        if (!owner) return `Only ${room.label}'s owner can do that (${this.#ownerWords(room)}).`;
        return act.act === "owner"
          ? this.#handOver(c, act.nick, now)
          : this.#op(c, act.act === "op", act.nick, now);
      case "voice":
      case "devoice":
        return this.#voice(c, act.act === "voice", act.nick, now);
      case "kick":
        return this.#kick(c, act.nick, act.reason, now);
      case "ban":
        return this.#ban(c, act.target, act.ms, act.reason, now);
      case "unban":
        return this.#unban(c, act.target, now);
      case "mute":
        return this.#mute(c, act.nick, act.ms, now);
      case "unmute":
        return this.#unmute(c, act.nick, now);
      case "invite":
        return this.#invite(c, act.nick, now);
    }
  }

  /** `/invite NICK`: anyone may invite into a room that is not invite-only. */
  invite(c: Client, nick: string, now: number): string {
    const room = c.room;
    if (room.auth.inviteOnly && !this.mayModerate(c, room)) {
      return `${room.label} is invite-only: only its operators can invite.`;
    }
    return this.#invite(c, nick, now);
  }

  #ownerWords(room: ChatRoom<Client>): string {
    const a = room.auth;
    if (a.owner) return `its owner is ${this.#p.accounts.registered(a.owner) ?? a.owner}`;
    if (a.ownerSession) return `its owner is ${this.#nickOf(a.ownerSession, a.ownerNick)}`;
    return "it has no owner; server operators can";
  }

  #mode(c: Client, mode: string, on: boolean, now: number): string {
    const a = c.room.auth;
    const field = mode === "invite-only"
      ? "inviteOnly"
      : mode === "moderated"
      ? "moderated"
      : "topicLock";
    if (a[field] === on) return `${c.room.label} is already ${mode} ${on ? "on" : "off"}.`;
    if (field === "inviteOnly" && c.room === this.#p.rooms.lobby) {
      return `${c.room.label} cannot be invite-only: everyone comes back to it.`;
    }
    a[field] = on;
    if (field === "moderated" && !on) a.lastShown.clear();
    const what = {
      "invite-only": on
        ? "is invite-only: only people invited (/invite NICK) can join"
        : "is open to everyone again",
      moderated: on
        ? "is moderated: only its operators and people with a voice (/room voice NICK) speak"
        : "is no longer moderated: everyone may speak",
      "topic-lock": on
        ? "has its topic locked: only its operators can change it"
        : "has its topic unlocked: anyone in it can change it",
    }[mode]!;
    this.#changed(c, `room ${mode}`, "", on ? "on" : "off", now, `${c.room.label} ${what}`);
    return `Done: ${c.room.label} ${what}.`;
  }

  #slow(c: Client, ms: number, now: number): string {
    const a = c.room.auth;
    if (ms !== 0 && (ms < SLOW_MIN_MS || ms > SLOW_MAX_MS)) {
      return `Slow mode is between ${formatDuration(SLOW_MIN_MS)} and ${
        formatDuration(SLOW_MAX_MS)
      } (or off).`;
    }
    if (a.slowMs === ms) return `${c.room.label} is already ${ms ? "in slow mode" : "not slow"}.`;
    a.slowMs = ms;
    a.lastShown.clear();
    const what = ms
      ? `is in slow mode: one line per ${formatDuration(ms)} each (operators are exempt)`
      : "is no longer in slow mode";
    this.#changed(
      c,
      "room slow",
      "",
      ms ? formatDuration(ms) : "off",
      now,
      `${c.room.label} ${what}`,
    );
    return `Done: ${c.room.label} ${what}.`;
  }

  #key(c: Client, key: string, now: number): string {
    const room = c.room;
    if (room === this.#p.rooms.lobby) {
      return `${room.label} cannot have a key: everyone starts there.`;
    }
    if (!key && !room.secret) return `${room.label} has no key.`;
    room.secret = keyDigest(key);
    const what = key ? "has a new key: only those who know it can join" : "has no key now";
    this.#changed(c, "room key", "", key ? "set" : "off", now, `${room.label} ${what}`);
    return `Done: ${room.label} ${what}.`;
  }

  /** A person in `c`'s room by nick (here or elsewhere), or why not. */
  #inRoom(c: Client, nick: string): Person | string {
    const t = this.#p.nicks.holder(nick) as Person | undefined;
    if (!t) return `There is nobody called ${nick} here.`;
    const where = t instanceof RemoteMember ? t.room : (t as Client).room.id;
    if (where !== c.room.id) return `${t.nick} is not in ${c.room.label}.`;
    return t;
  }

  /** A room operator may not act on a server operator or the owner (nor on themselves). */
  #untouchable(c: Client, t: Person): string | null {
    if (t.id === c.id) return "That would be yourself.";
    if (c.op) return null;
    if (t.op) return `${t.nick} is a server operator: a room operator cannot do that.`;
    if (this.isOwner(t, c.room)) return `${t.nick} owns ${c.room.label}.`;
    return null;
  }

  #op(c: Client, on: boolean, nick: string, now: number): string {
    const a = c.room.auth;
    const label = c.room.label;
    const act = { nick };
    if (!on) {
      const key = this.#entry(a.ops, act.nick);
      if (!key) return `${act.nick} is not an operator of ${label}.`;
      a.ops.delete(key[0]);
      this.#changed(c, "room deop", key[1], "", now, `${c.nick} took ${key[1]}'s operator role`);
      return `${key[1]} is no longer an operator of ${label}.`;
    }
    const t = this.#inRoom(c, nick);
    if (typeof t === "string") return t;
    if (this.isRoomOp(t, c.room)) return `${t.nick} is already an operator of ${label}.`;
    if (a.ops.size >= 50) return `${label} has 50 operators already.`;
    a.ops.set(this.holder(t), t.nick);
    this.#changed(
      c,
      "room op",
      t.nick,
      "",
      now,
      `${c.nick} made ${t.nick} an operator of ${label}`,
    );
    return `${t.nick} is now an operator of ${label}` +
      (this.account(t) ? "." : " (until they leave: they are not identified).");
  }

  #handOver(c: Client, nick: string, now: number): string {
    const t = this.#inRoom(c, nick);
    if (typeof t === "string") return t;
    if (this.isOwner(t, c.room)) return `${t.nick} owns ${c.room.label} already.`;
    const room = c.room;
    const a = room.auth;
    const acct = this.account(t);
    room.owner = acct;
    a.ownerSession = acct ? "" : this.session(t);
    a.ownerNick = acct ? "" : t.nick;
    a.ops.delete(this.holder(t));
    if (room.kept && !acct) {
      // A kept room needs an owner with an account (or nobody): it stays kept for the operators.
      room.owner = "";
    }
    this.#changed(c, "room owner", t.nick, "", now, `${c.nick} handed ${room.label} to ${t.nick}`);
    return `${room.label} is now ${t.nick}'s.`;
  }

  #voice(c: Client, on: boolean, nick: string, now: number): string {
    const a = c.room.auth;
    const label = c.room.label;
    if (!on) {
      const key = this.#entry(a.voice, nick);
      if (!key) return `${nick} has no voice in ${label}.`;
      a.voice.delete(key[0]);
      this.#changed(c, "room devoice", key[1], "", now, "");
      return `${key[1]} has no voice in ${label} now.`;
    }
    const t = this.#inRoom(c, nick);
    if (typeof t === "string") return t;
    if (a.voice.has(this.holder(t))) return `${t.nick} has a voice in ${label} already.`;
    if (a.voice.size >= 500) return `${label} has 500 voices already.`;
    a.voice.set(this.holder(t), t.nick);
    this.#changed(c, "room voice", t.nick, "", now, "");
    this.#tellPerson(t, `${c.nick} gave you a voice in ${label}: you may speak there.`);
    return `${t.nick} may speak in ${label}` + (a.moderated ? "." : " (when it is moderated).");
  }

  #kick(c: Client, nick: string, reason: string, now: number): string {
    const t = this.#inRoom(c, nick);
    if (typeof t === "string") return t;
    const bad = this.#untouchable(c, t);
    if (bad) return bad;
    const why = reason ? `: ${reason}` : ".";
    this.#expel(
      t,
      c.room,
      `${t.nick} was sent out of ${c.room.label} by ${c.nick}${why}`,
      `${c.nick} sent you out of ${c.room.label}${why}`,
      now,
    );
    this.#audit("room kick", c, t.nick, reason, c.room);
    return `${t.nick} was sent back to ${this.#p.rooms.lobby.label}.`;
  }

  /** Sends `t` from `room` to the lobby (on its own process), telling them and the room. */
  #expel(t: Person, room: ChatRoom<Client>, notice: string, message: string, now: number): void {
    if (t instanceof RemoteMember) {
      this.#p.sync.direct({
        t: "part",
        to: t.node,
        toId: t.info.id,
        room: room.id,
        message,
        notice,
      });
      return;
    }
    this.#p.rooms.expel(t as Client, notice, now);
    this.#p.fanout.tell(t as Client, message);
  }

  /** A part asked by another process: `c` goes back to the lobby if still in `roomId`. */
  expelled(c: Client, roomId: string, notice: string, message: string, now: number): void {
    if (c.room.id !== roomId || c.room === this.#p.rooms.lobby) return;
    this.#p.rooms.expel(c, notice, now);
    this.#p.fanout.tell(c, message);
  }

  #ban(c: Client, target: string, ms: number, reason: string, now: number): string {
    const room = c.room;
    if (room === this.#p.rooms.lobby) {
      return `Nobody can be kept out of ${room.label}; server operators have /ban.`;
    }
    const t = this.#p.nicks.holder(target) as Person | undefined;
    let keys: string[];
    let nick = "";
    if (t) {
      const bad = this.#untouchable(c, t);
      if (bad) return bad;
      keys = this.keys(t);
      nick = t.nick;
    } else {
      const parsed = parseBanTarget(target, this.#ctx.config.ipv6Prefix);
      if ("error" in parsed) {
        const acct = this.#p.accounts.registered(target);
        if (!acct) return `${target} is neither a nick here, an account nor an IP address.`;
        keys = [`@${acct.toLowerCase()}`];
        nick = acct;
      } else {
        keys = [parsed.ip];
        if (this.keys(c).includes(parsed.ip)) return "That would ban your own address.";
      }
    }
    if (room.owner && keys.includes(`@${room.owner}`) && !c.op) {
      return `${nick} owns ${room.label}.`;
    }
    addSanction(room.auth.bans, { keys, until: now + ms, by: c.nick, nick, reason });
    const shown = nick || target;
    const why = reason ? `: ${reason}` : ".";
    if (t) {
      const where = t instanceof RemoteMember ? t.room : (t as Client).room.id;
      if (where === room.id) {
        this.#expel(
          t,
          room,
          `${t.nick} was banned from ${room.label} by ${c.nick}${why}`,
          `${c.nick} banned you from ${room.label} for ${formatDuration(ms)}${why}`,
          now,
        );
      }
    }
    this.#changed(
      c,
      "room ban",
      shown,
      `${formatDuration(ms)}${reason ? ` ${reason}` : ""}`,
      now,
      "",
    );
    return `${shown} is banned from ${room.label} for ${formatDuration(ms)}.`;
  }

  #unban(c: Client, target: string, now: number): string {
    const room = c.room;
    const parsed = parseBanTarget(target, this.#ctx.config.ipv6Prefix);
    const s = sanctionFor(room.auth.bans, "ip" in parsed ? parsed.ip : target, now);
    if (!s) return `${target} is not banned from ${room.label} (/room bans lists the bans).`;
    dropSanction(room.auth.bans, s);
    this.#changed(c, "room unban", s.nick || target, "", now, "");
    return `${s.nick || target} may enter ${room.label} again.`;
  }

  #mute(c: Client, nick: string, ms: number, now: number): string {
    const t = this.#p.nicks.holder(nick) as Person | undefined;
    if (!t) return `There is nobody called ${nick} here.`;
    // A server operator's mute holds everywhere (it is kept with the lobby's settings).
    const room = c.op ? this.#p.rooms.lobby : c.room;
    if (!c.op) {
      const inRoom = this.#inRoom(c, nick);
      if (typeof inRoom === "string") return inRoom;
    }
    if (t.op) return `${t.nick} is a server operator: nobody can mute them.`;
    const bad = this.#untouchable(c, t);
    if (bad) return bad;
    addSanction(room.auth.mutes, {
      keys: this.keys(t),
      until: now + ms,
      by: c.nick,
      nick: t.nick,
      reason: "",
    });
    const where = room === this.#p.rooms.lobby ? "on this server" : `in ${room.label}`;
    this.#tellPerson(
      t,
      `${c.nick} muted you ${where} for ${formatDuration(ms)}: your lines are not shown.`,
    );
    this.#changedIn(
      room,
      c,
      "mute",
      t.nick,
      formatDuration(ms),
      now,
      `${t.nick} was muted ${where} by ${c.nick} for ${formatDuration(ms)}`,
    );
    return `${t.nick} is muted ${where} for ${formatDuration(ms)}.`;
  }

  #unmute(c: Client, nick: string, now: number): string {
    const rooms = c.op ? [this.#p.rooms.lobby, c.room] : [c.room];
    let done = "";
    for (const room of rooms) {
      const s = sanctionFor(room.auth.mutes, nick, now);
      if (!s) continue;
      dropSanction(room.auth.mutes, s);
      done = s.nick || nick;
      const where = room === this.#p.rooms.lobby ? "on this server" : `in ${room.label}`;
      this.#changedIn(room, c, "unmute", done, "", now, `${done} may speak ${where} again`);
    }
    if (!done) return `${nick} is not muted${c.op ? "" : ` in ${c.room.label}`}.`;
    const t = this.#p.nicks.holder(nick) as Person | undefined;
    if (t) this.#tellPerson(t, `${c.nick} lifted your mute: you may speak again.`);
    return `${done} may speak again.`;
  }

  #invite(c: Client, nick: string, now: number): string {
    const t = this.#p.nicks.holder(nick) as Person | undefined;
    if (!t) return `There is nobody called ${nick} here.`;
    const room = c.room;
    const a = room.auth;
    if (room === this.#p.rooms.lobby) return `Everyone may enter ${room.label}.`;
    const where = t instanceof RemoteMember ? t.room : (t as Client).room.id;
    if (where === room.id) return `${t.nick} is in ${room.label} already.`;
    const key = room.secret ? " (it has a key: they will need it too)" : "";
    // Ignoring is private: the inviter is answered the same, the invitation is not shown.
    const ignored = !(t instanceof RemoteMember) && (t as Client).ignoring?.has(c) === true;
    const tell = () =>
      ignored || this.#tellPerson(
        t,
        `${c.nick} invites you to ${room.label}: /join ${room.name}` +
          (a.inviteOnly ? ` (for ${formatDuration(INVITE_MS)})` : ""),
      );
    if (!a.inviteOnly) {
      tell(); // anyone may enter: an invitation is only a word
      return `Invited ${t.nick} to ${room.label}${key}.`;
    }
    if (a.invites.size >= 100) {
      for (const [h, until] of a.invites) if (until <= now) a.invites.delete(h);
      if (a.invites.size >= 500) return `${room.label} has 500 invitations waiting already.`;
    }
    a.invites.set(this.holder(t), now + INVITE_MS);
    tell();
    this.#changed(c, "invite", t.nick, "", now, "");
    return `Invited ${t.nick} to ${room.label} for ${formatDuration(INVITE_MS)}${key}.`;
  }

  /**
   * The entry of `map` (operators, voice) that `nick` names: the person with that nick now (by
   * holder or session), else an account, else the nick it was given under.
   */
  #entry(map: Map<string, string>, nick: string): [string, string] | undefined {
    const t = this.#p.nicks.holder(nick) as Person | undefined;
    if (t) {
      for (const h of [this.holder(t), this.session(t)]) {
        const n = map.get(h);
        if (n !== undefined) return [h, t.nick];
      }
    }
    const lower = nick.toLowerCase();
    const acct = map.get(`@${lower}`);
    if (acct !== undefined) return [`@${lower}`, acct];
    return [...map].find(([, n]) => n.toLowerCase() === lower);
  }

  /** Tells one person (here, or on their own process). */
  #tellPerson(t: Person, text: string): void {
    if (t instanceof RemoteMember) {
      this.#p.sync.direct({ t: "notice", to: t.node, toId: t.info.id, text });
    } else {
      this.#p.fanout.tell(t as Client, text);
    }
  }

  #changed(
    c: Client,
    action: string,
    target: string,
    detail: string,
    now: number,
    notice: string,
  ): void {
    this.#changedIn(c.room, c, action, target, detail, now, notice);
  }

  /**
   * A change to `room`'s authority by `c`: the room is told (`notice`, "" for none), the change
   * is kept (a kept room), sent to the others and audited.
   */
  #changedIn(
    room: ChatRoom<Client>,
    c: Client,
    action: string,
    target: string,
    detail: string,
    now: number,
    notice: string,
  ): void {
    if (notice && room.members.size > 0) {
      this.#p.fanout.notice(room, notice, room === c.room ? c : undefined);
    }
    this.#share(room, c, now, notice);
    this.#audit(action, c, target, detail, room === this.#p.rooms.lobby ? null : room);
  }

  /** `room`'s authority, kept (a kept room) and sent to the others as a whole. */
  #share(room: ChatRoom<Client>, by: Client | "server", now: number, notice: string): void {
    this.#p.keep.room(room);
    this.#p.sync.propose(room.id, {
      t: "auth",
      a: authData(room.auth, now, false) as Record<string, unknown>,
      key: room.secret,
      by: by === "server" ? by : by.nick,
      notice,
    });
  }

  /**
   * The account `key` is gone: it is nobody's operator or voice any more, anywhere (whoever
   * registers the name next starts with nothing).
   */
  released(key: string): void {
    const holder = `@${key}`;
    for (const room of this.#p.rooms.all()) {
      const a = room.auth;
      const held = [a.ops.delete(holder), a.voice.delete(holder), a.invites.delete(holder)];
      if (held.some(Boolean)) this.#share(room, "server", 0, "");
    }
  }
}

/** A sanction as listed; addresses only for server operators. */
function info(s: Sanction, showAddress: boolean): SanctionInfo {
  const acct = s.keys.find((k) => k.startsWith("@"));
  const addr = s.keys.find((k) => !k.startsWith("@")) ?? "";
  return {
    nick: s.nick,
    address: showAddress ? addr : "",
    account: acct ? acct.slice(1) : "",
    until: s.until,
    by: s.by,
    reason: s.reason,
  };
}
