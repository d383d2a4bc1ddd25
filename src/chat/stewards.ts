/**
 * Rooms run by their people: who someone is to a room (its owner, its operators, server
 * operators everywhere; by account or by session), the checks the hub makes on every line and
 * every entry (mutes, moderated, slow mode, room bans, invite-only), each O(1), what a room's
 * authority becomes as people come and go and as the other processes tell, and what /room and
 * /who show. What operators ask is src/chat/room_acts.ts; the state itself is each room's
 * {@link RoomAuthority}.
 */
import type { RoomEv } from "../cluster/bus.ts";
import { ipKey } from "../lib/ip.ts";
import { formatDuration } from "../lib/units.ts";
import type { Accounts } from "./accounts.ts";
import {
  AUTH_RULES,
  authData,
  findSanction,
  listSanctions,
  readAuth,
  type RoomAuthority,
  type Sanction,
  sessionHolder,
} from "./authority.ts";
import type { Client } from "./client.ts";
import type { ClientTable } from "./clients.ts";
import type { RoomSettings, SanctionInfo } from "./commands/types.ts";
import type { HubContext } from "./context.ts";
import type { Fanout } from "./fanout.ts";
import type { Keep } from "./keep.ts";
import { type Mirror, RemoteMember } from "./mirror.ts";
import type { NickTable } from "./names.ts";
import type { ChatRoom } from "./room.ts";
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
      this.share(room, c, now, "");
    }
    if (created) this.share(room, c, now, "");
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
      this.share(room, m as Client, now, "");
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
    readAuth(data, AUTH_RULES, a);
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
    const p = this.#sessionPerson(holder);
    return p instanceof RemoteMember ? p.isIn(room.id) : (p?.inRoom(room) ?? false);
  }

  /** The person a session holder names, while they are connected (here or elsewhere). */
  #sessionPerson(holder: string): Person | undefined {
    const m = /^s:(.*):(\d+)$/.exec(holder);
    if (!m) return undefined;
    const id = Number(m[2]);
    return m[1] === (this.#p.sync.node ?? "")
      ? this.#p.clients.member(id)
      : this.#p.mirror.get(m[1], id);
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
  nickOf(holder: string, shown: string): string {
    return this.#sessionPerson(holder)?.nick ?? shown;
  }

  /** Who owns `room`, in words, for a refusal. */
  ownerWords(room: ChatRoom<Client>): string {
    const a = room.auth;
    if (a.owner) return `its owner is ${this.#p.accounts.registered(a.owner) ?? a.owner}`;
    if (a.ownerSession) return `its owner is ${this.nickOf(a.ownerSession, a.ownerNick)}`;
    return "it has no owner; server operators can";
  }

  // ---- What /room and /who show ------------------------------------------------------------------

  settings(c: Client, now: number): RoomSettings {
    const room = c.room;
    const a = room.auth;
    const owner = a.owner
      ? (this.#p.accounts.registered(a.owner) ?? a.owner)
      : this.nickOf(a.ownerSession, a.ownerNick);
    return {
      label: room.label,
      lobby: room === this.#p.rooms.lobby,
      owner,
      operators: [...a.ops].map(([h, n]) => this.nickOf(h, n)),
      voice: [...a.voice].map(([h, n]) => this.nickOf(h, n)),
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

  /** `room`'s authority, kept (a kept room) and sent to the others as a whole. */
  share(room: ChatRoom<Client>, by: Client | "server", now: number, notice: string): void {
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
      if (held.some(Boolean)) this.share(room, "server", 0, "");
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
