/**
 * What a room's operators (and server operators) ask of a room: modes, slow mode, the key,
 * operators and voice, handing it over, kicks back to the lobby, room bans, mutes, invitations.
 * Who may is the stewards' to say (src/chat/stewards.ts); each act here answers its asker in one
 * line, tells the room and the person it concerns, and has the change kept, shared and audited.
 */
import { parseBanTarget } from "../lib/ip.ts";
import { formatDuration } from "../lib/units.ts";
import {
  addSanction,
  dropSanction,
  INVITE_MS,
  sanctionFor,
  SLOW_MAX_MS,
  SLOW_MIN_MS,
} from "./authority.ts";
import type { Client } from "./client.ts";
import { maskOf, wire } from "./irc/render.ts";
import { toIrcNick } from "./irc/wire.ts";
import type { RoomAct } from "./commands/types.ts";
import type { HubContext } from "./context.ts";
import { RemoteMember } from "./mirror.ts";
import type { ChatRoom } from "./room.ts";
import { keyDigest } from "./room.ts";
import type { AuditFn, StewardParts, Stewards } from "./stewards.ts";

/** Someone on this process or another. */
type Person = Client | RemoteMember;

/** The acts of a room's operators. */
export class RoomActs {
  readonly #ctx: HubContext;
  readonly #p: StewardParts;
  readonly #s: Stewards;
  readonly #audit: AuditFn;

  constructor(ctx: HubContext, parts: StewardParts, stewards: Stewards, audit: AuditFn) {
    this.#ctx = ctx;
    this.#p = parts;
    this.#s = stewards;
    this.#audit = audit;
  }

  /** Does `act` for `c` in its room; the line `c` is told (done, or why not). */
  act(c: Client, act: RoomAct, now: number): string {
    const room = c.room;
    const lobby = room === this.#p.rooms.lobby;
    const owner = c.op || this.#s.isOwner(c, room);
    if (!this.#s.mayModerate(c, room)) {
      if (lobby && !this.#ctx.config.adminToken) {
        return "Operator commands are off on this server (it has no admin token).";
      }
      return lobby
        ? `Only server operators can do that in ${room.label}. Operators get in with /op TOKEN.`
        : `Only ${room.label}'s operators can do that (${this.#s.ownerWords(room)}).`;
    }
    switch (act.act) {
      case "mode":
        return this.#mode(c, act.mode, act.on, now);
      case "slow":
        return this.#slow(c, act.ms, now);
      case "key":
        // The key keeps people out: only the owner (or a server operator) changes it.
        if (!owner && !lobby) {
          return `Only ${room.label}'s owner can change its key (${this.#s.ownerWords(room)}).`;
        }
        return this.#key(c, act.key, now);
      case "op":
      case "deop":
      case "owner":
        if (lobby) return `${room.label} has no owner or operators: server operators run it.`;
        if (!owner) return `Only ${room.label}'s owner can do that (${this.#s.ownerWords(room)}).`;
        return act.act === "owner"
          ? this.#handOver(c, act.nick, now)
          : this.#op(c, act.act === "op", act.nick, now);
      case "voice":
      case "devoice":
        return this.#voice(c, act.act === "voice", act.nick, now);
      case "kick":
        return this.#kick(c, act.nick, act.reason);
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
    if (room.auth.inviteOnly && !this.#s.mayModerate(c, room)) {
      return `${room.label} is invite-only: only its operators can invite.`;
    }
    return this.#invite(c, nick, now);
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
    this.#changedIn(
      c.room,
      c,
      `room ${mode}`,
      "",
      on ? "on" : "off",
      now,
      `${c.room.label} ${what}`,
    );
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
    this.#changedIn(
      c.room,
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
    this.#changedIn(c.room, c, "room key", "", key ? "set" : "off", now, `${room.label} ${what}`);
    return `Done: ${room.label} ${what}.`;
  }

  /** A person in `c`'s room by nick (here or elsewhere), or why not. */
  #inRoom(c: Client, nick: string): Person | string {
    const t = this.#p.nicks.holder(nick) as Person | undefined;
    if (!t) return `There is nobody called ${nick} here.`;
    const here = t instanceof RemoteMember ? t.room === c.room.id : (t as Client).inRoom(c.room);
    if (!here) return `${t.nick} is not in ${c.room.label}.`;
    return t;
  }

  /** A room operator may not act on a server operator or the owner (nor on themselves). */
  #untouchable(c: Client, t: Person): string | null {
    if (t.id === c.id) return "That would be yourself.";
    if (c.op) return null;
    if (t.op) return `${t.nick} is a server operator: a room operator cannot do that.`;
    if (this.#s.isOwner(t, c.room)) return `${t.nick} owns ${c.room.label}.`;
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
      this.#changedIn(
        c.room,
        c,
        "room deop",
        key[1],
        "",
        now,
        `${c.nick} took ${key[1]}'s operator role`,
      );
      return `${key[1]} is no longer an operator of ${label}.`;
    }
    const t = this.#inRoom(c, nick);
    if (typeof t === "string") return t;
    if (this.#s.isRoomOp(t, c.room)) return `${t.nick} is already an operator of ${label}.`;
    if (a.ops.size >= 50) return `${label} has 50 operators already.`;
    a.ops.set(this.#s.holder(t), t.nick);
    this.#changedIn(
      c.room,
      c,
      "room op",
      t.nick,
      "",
      now,
      `${c.nick} made ${t.nick} an operator of ${label}`,
    );
    return `${t.nick} is now an operator of ${label}` +
      (this.#s.account(t) ? "." : " (until they leave: they are not identified).");
  }

  #handOver(c: Client, nick: string, now: number): string {
    const t = this.#inRoom(c, nick);
    if (typeof t === "string") return t;
    if (this.#s.isOwner(t, c.room)) return `${t.nick} owns ${c.room.label} already.`;
    const room = c.room;
    const a = room.auth;
    const acct = this.#s.account(t);
    room.owner = acct;
    a.ownerSession = acct ? "" : this.#s.session(t);
    a.ownerNick = acct ? "" : t.nick;
    a.ops.delete(this.#s.holder(t));
    if (room.kept && !acct) {
      // A kept room needs an owner with an account (or nobody): it stays kept for the operators.
      room.owner = "";
    }
    this.#changedIn(
      c.room,
      c,
      "room owner",
      t.nick,
      "",
      now,
      `${c.nick} handed ${room.label} to ${t.nick}`,
    );
    return `${room.label} is now ${t.nick}'s.`;
  }

  #voice(c: Client, on: boolean, nick: string, now: number): string {
    const a = c.room.auth;
    const label = c.room.label;
    if (!on) {
      const key = this.#entry(a.voice, nick);
      if (!key) return `${nick} has no voice in ${label}.`;
      a.voice.delete(key[0]);
      this.#changedIn(c.room, c, "room devoice", key[1], "", now, "");
      return `${key[1]} has no voice in ${label} now.`;
    }
    const t = this.#inRoom(c, nick);
    if (typeof t === "string") return t;
    if (a.voice.has(this.#s.holder(t))) return `${t.nick} has a voice in ${label} already.`;
    if (a.voice.size >= 500) return `${label} has 500 voices already.`;
    a.voice.set(this.#s.holder(t), t.nick);
    this.#changedIn(c.room, c, "room voice", t.nick, "", now, "");
    this.#tellPerson(t, `${c.nick} gave you a voice in ${label}: you may speak there.`);
    return `${t.nick} may speak in ${label}` + (a.moderated ? "." : " (when it is moderated).");
  }

  #kick(c: Client, nick: string, reason: string): string {
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
      this.#kickWire(c.nick, c.room, t.nick, reason || c.nick),
    );
    this.#audit("room kick", c, t.nick, reason, c.room);
    return `${t.nick} was sent back to ${this.#p.rooms.lobby.label}.`;
  }

  /** Sends `t` from `room` to the lobby (on its own process), telling them and the room. */
  #expel(t: Person, room: ChatRoom<Client>, notice: string, message: string, kick: string): void {
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
    this.#p.rooms.expel(t as Client, room, notice, kick);
    if (!(t as Client).irc) this.#p.fanout.tell(t as Client, message);
  }

  /** The KICK IRC clients in `room` see: by `by` (a nick; "" = the server), of `target`. */
  #kickWire(by: string, room: ChatRoom<Client>, target: string, reason: string): string {
    const source = by ? maskOf(by) : this.#ctx.config.ircName || "shat";
    return wire(source, "KICK", room.label, toIrcNick(target), reason);
  }

  /**
   * A part asked by another process: `c` goes back to the lobby if still in `roomId` (an IRC
   * session leaves that room alone).
   */
  expelled(c: Client, roomId: string, notice: string, message: string): void {
    const room = this.#p.rooms.get(roomId);
    if (!room || !c.inRoom(room) || room === this.#p.rooms.lobby) return;
    this.#p.rooms.expel(c, room, notice, this.#kickWire("", room, c.nick, message));
    if (!c.irc) this.#p.fanout.tell(c, message);
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
      keys = this.#s.keys(t);
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
        if (this.#s.keys(c).includes(parsed.ip)) return "That would ban your own address.";
      }
    }
    if (room.owner && keys.includes(`@${room.owner}`) && !c.op) {
      return `${nick} owns ${room.label}.`;
    }
    addSanction(room.auth.bans, { keys, until: now + ms, by: c.nick, nick, reason });
    const shown = nick || target;
    const why = reason ? `: ${reason}` : ".";
    if (t) {
      const here = t instanceof RemoteMember ? t.isIn(room.id) : (t as Client).inRoom(room);
      if (here) {
        this.#expel(
          t,
          room,
          `${t.nick} was banned from ${room.label} by ${c.nick}${why}`,
          `${c.nick} banned you from ${room.label} for ${formatDuration(ms)}${why}`,
          this.#kickWire(c.nick, room, t.nick, `banned for ${formatDuration(ms)}${why}`),
        );
      }
    }
    this.#changedIn(
      c.room,
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
    this.#changedIn(c.room, c, "room unban", s.nick || target, "", now, "");
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
      keys: this.#s.keys(t),
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
    a.invites.set(this.#s.holder(t), now + INVITE_MS);
    tell();
    this.#changedIn(c.room, c, "invite", t.nick, "", now, "");
    return `Invited ${t.nick} to ${room.label} for ${formatDuration(INVITE_MS)}${key}.`;
  }

  /**
   * The entry of `map` (operators, voice) that `nick` names: the person with that nick now (by
   * holder or session), else an account, else the nick it was given under.
   */
  #entry(map: Map<string, string>, nick: string): [string, string] | undefined {
    const t = this.#p.nicks.holder(nick) as Person | undefined;
    if (t) {
      for (const h of [this.#s.holder(t), this.#s.session(t)]) {
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
    this.#s.share(room, c, now, notice);
    this.#audit(action, c, target, detail, room === this.#p.rooms.lobby ? null : room);
    const mode = IRC_MODES[action];
    if (mode) {
      // IRC clients keep their nick lists and channel modes from MODE messages.
      const change = typeof mode === "string" ? mode : mode[detail === "off" ? 1 : 0];
      const params = change.endsWith("o") || change.endsWith("v") ? [toIrcNick(target)] : [];
      if (change === "+k") params.push("*");
      this.#p.fanout.ircTell(
        [room],
        () => wire(maskOf(c.nick), "MODE", room.label, change, ...params),
      );
    }
  }
}

/** The IRC mode change each room act is (on, off), for the room's IRC members. */
const IRC_MODES: Record<string, string | [string, string]> = {
  "room op": "+o",
  "room deop": "-o",
  "room owner": "+o",
  "room voice": "+v",
  "room devoice": "-v",
  "room invite-only": ["+i", "-i"],
  "room moderated": ["+m", "-m"],
  "room topic-lock": ["+t", "-t"],
  "room key": ["+k", "-k"],
};
