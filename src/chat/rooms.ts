/**
 * The rooms: which exist (by lower-case name, and by the skeleton of their name so a look-alike
 * is refused), who is in each here and elsewhere, what a viewer may see of one, moving a member
 * from room to room, topics, and each room's nick index for Tab.
 */
import { sameSecret } from "../lib/secret.ts";
import { type Client, promptFor } from "./client.ts";
import type { JoinOutcome, KeepOutcome, RoomInfo } from "./commands/types.ts";
import type { HubContext } from "./context.ts";
import type { Fanout } from "./fanout.ts";
import type { Keep } from "./keep.ts";
import { KEEP_PER_ACCOUNT } from "./limits.ts";
import type { Mirror } from "./mirror.ts";
import { burstWait, mayBurst } from "./moderation.ts";
import { skeleton } from "./nicks.ts";
import { render, VIEW_COLOR, VIEW_JSON } from "./render.ts";
import { ChatRoom, keyDigest } from "./room.ts";
import { NO_LOG } from "./shared_log.ts";
import { AUTH_RULES, readAuth } from "./authority.ts";
import { maskOf, wire } from "./irc/render.ts";
import { formatDuration } from "../lib/units.ts";
import type { Outbound } from "./sync.ts";
import type { StoreStart } from "../store/types.ts";

const encoder = new TextEncoder();

/** Every room, the lobby included. */
export class Rooms {
  readonly #ctx: HubContext;
  readonly #fanout: Fanout;
  readonly #mirror: Mirror;
  readonly #sync: Outbound;
  readonly #keep: Keep;
  /** Rooms by lower-case name; the lobby is always there. */
  readonly #byId = new Map<string, ChatRoom<Client>>();
  /** Rooms by the skeleton of their name, so a look-alike (`#Iobby`, `#l0bby`) is refused. */
  readonly #bySkeleton = new Map<string, ChatRoom<Client>>();
  readonly lobby: ChatRoom<Client>;
  /**
   * Where an IRC session is while it is in no room (it joins none until it asks): no room at
   * all, never listed, never found by name, never told anything.
   */
  readonly nowhere = new ChatRoom<Client>("*");
  /** Counts changes in who is where under which nick (the rooms' Tab indexes follow it). */
  #epoch = 0;
  /**
   * Wired by the hub to the room's authority (src/chat/stewards.ts): why `c` may not enter
   * `room` now (null: it may), a room made by `c`, and `c` leaving `room`.
   */
  hooks: {
    mayEnter(c: Client, room: ChatRoom<Client>, now: number): string | null;
    created(c: Client, room: ChatRoom<Client>): void;
    entered(c: Client, room: ChatRoom<Client>, created: boolean, now: number): void;
    left(c: Client, room: ChatRoom<Client>): void;
    released(account: string): void;
  } = {
    mayEnter: () => null,
    created: () => {},
    entered: () => {},
    left: () => {},
    released: () => {},
  };

  constructor(ctx: HubContext, fanout: Fanout, mirror: Mirror, sync: Outbound, keep: Keep) {
    this.#ctx = ctx;
    this.#fanout = fanout;
    this.#mirror = mirror;
    this.#sync = sync;
    this.#keep = keep;
    this.lobby = new ChatRoom<Client>(ctx.config.lobby);
    this.lobby.kept = true; // it never goes away: its topic and lines are kept like a kept room's
    this.add(this.lobby);
  }

  /**
   * The rooms as the store kept them: kept rooms come back with their topic, key, owner and
   * latest lines, numbered on from where they were; lines of a room that was not kept (the
   * server stopped while it was in use) are forgotten, unless the store is `shared` with other
   * processes.
   */
  restore(start: StoreStart, limits: { lines: number; bytes: number }, shared: boolean): void {
    for (const r of start.rooms) {
      if (!r.kept) continue;
      let room = this.#byId.get(r.id);
      if (!room) {
        if (this.#bySkeleton.has(skeleton(r.id))) continue; // a look-alike of one already here
        room = new ChatRoom<Client>(r.name, r.key);
        this.add(room);
      }
      room.kept = true;
      readAuth(r.extra?.auth, AUTH_RULES, room.auth);
      room.owner = r.owner;
      room.topic = r.topic;
      room.topicBy = r.topicBy;
      if (room !== this.lobby) room.secret = r.key;
    }
    for (const [id, seq] of Object.entries(start.seqs)) {
      const room = this.#byId.get(id);
      if (room) room.seq = Math.max(room.seq, seq);
      // Alone, a room that is not kept did not survive the restart. A store shared with other
      // processes (--redis) holds rooms that are in use on them: theirs to forget.
      else if (!shared) this.#keep.gone(id);
    }
    for (const { room: id, lines } of start.recent) {
      const room = this.#byId.get(id);
      if (!room) continue;
      for (const kept of lines) {
        if (kept.kind === "topic") continue;
        const line = { kind: kept.kind, nick: kept.nick, text: kept.text, at: kept.at };
        room.remember(line, encoder.encode(render(line, 0, this.#ctx.clock)).length, limits);
      }
    }
  }

  /** The room with this lower-case name. */
  get(id: string): ChatRoom<Client> | undefined {
    return this.#byId.get(id);
  }

  /** Rooms that exist (the lobby included). */
  get count(): number {
    return this.#byId.size;
  }

  all(): IterableIterator<ChatRoom<Client>> {
    return this.#byId.values();
  }

  /** A room now exists (made here, or heard of from the others). */
  add(room: ChatRoom<Client>): void {
    this.#byId.set(room.id, room);
    this.#bySkeleton.set(skeleton(room.id), room);
  }

  /** Who is where, under which nick, changed (here or elsewhere). */
  changed(): void {
    this.#epoch++;
  }

  /** People in `room`, here and on the other processes. */
  peopleIn(room: ChatRoom<Client>): number {
    return room.members.size + this.#mirror.inRoom(room.id);
  }

  /** Whether joins and leaves are announced in `room` (--announce-max, per room). */
  announcing(room: ChatRoom<Client>): boolean {
    const max = this.#ctx.config.announceMax;
    return max === 0 || this.peopleIn(room) <= max;
  }

  /** What `viewer` may see of `room`: a keyed room's topic only from inside. */
  info(room: ChatRoom<Client>, viewer?: Client): RoomInfo {
    const visible = !room.secret || (viewer?.inRoom(room) ?? false);
    return {
      name: room.name,
      label: room.label,
      members: this.peopleIn(room),
      topic: visible ? room.topic : "",
      topicBy: visible ? room.topicBy : "",
      keyed: room.secret !== "",
      lobby: room === this.lobby,
      kept: room.kept && room !== this.lobby,
      owner: room.owner,
      modes: room.auth.modes(formatDuration),
    };
  }

  /** Takes `c` out of its room; a room other than the lobby goes away once empty. */
  leave(c: Client): void {
    const room = c.room;
    room.members.delete(c);
    this.#epoch++;
    this.hooks.left(c, room);
    this.maybeGone(room);
  }

  /**
   * A room goes away once nobody, here or elsewhere, is in it, unless it is kept (the lobby
   * always is); its lines are forgotten with it.
   */
  maybeGone(room: ChatRoom<Client>): void {
    if (this.peopleIn(room) === 0 && !room.kept && this.#byId.get(room.id) === room) {
      this.#byId.delete(room.id);
      if (this.#bySkeleton.get(skeleton(room.id)) === room) {
        this.#bySkeleton.delete(skeleton(room.id));
      }
      this.#keep.gone(room.id);
      this.#ctx.log.info("room emptied", { room: room.label });
    }
  }

  /**
   * `/room keep on|off` by `c` in its room: the owner (identified) or an operator may; an
   * account keeps at most {@link KEEP_PER_ACCOUNT} rooms unless it is an operator's.
   */
  setKept(c: Client, on: boolean): KeepOutcome {
    const room = c.room;
    if (room === this.lobby) return "lobby";
    if (room.kept === on) return "already";
    if (!c.op) {
      if (!room.owner) return "no-owner";
      if (room.owner !== c.account) return "not-owner";
      if (on && this.keptBy(c.account) >= KEEP_PER_ACCOUNT) return "too-many";
    }
    room.kept = on;
    if (on) {
      this.#keep.room(room);
    } else {
      this.#keep.unkept(room);
    }
    this.#sync.propose(room.id, { t: "keep", on, owner: room.owner, by: c.nick });
    this.#ctx.log.info(on ? "room kept" : "room no longer kept", {
      room: room.label,
      client: c.id,
      nick: c.nick,
    });
    return on ? "kept" : "unkept";
  }

  /**
   * The account `owner` is gone: its rooms have no owner and are kept no more (they go, with
   * their lines, once empty), so a deleted account holds no room and its name starts afresh.
   */
  release(owner: string): void {
    this.hooks.released(owner);
    for (const room of [...this.#byId.values()]) {
      if (room.owner !== owner) continue;
      room.owner = "";
      if (room === this.lobby || !room.kept) continue;
      room.kept = false;
      this.#keep.unkept(room);
      this.#sync.propose(room.id, { t: "keep", on: false, owner: "", by: "server" });
      this.#ctx.log.info("room no longer kept: its owner's account is gone", { room: room.label });
      this.maybeGone(room);
    }
  }

  /** Rooms kept (the lobby not counted). */
  get keptCount(): number {
    let n = 0;
    for (const r of this.#byId.values()) if (r.kept && r !== this.lobby) n++;
    return n;
  }

  /** How many rooms the account `owner` keeps. */
  keptBy(owner: string): number {
    let n = 0;
    for (const r of this.#byId.values()) if (r.kept && r.owner === owner && r !== this.lobby) n++;
    return n;
  }

  /**
   * Moves `c` to the room `name` (a valid name), making it (with `key`, if given) when it does
   * not exist; both rooms are told, and `c` is shown the topic and history.
   */
  join(c: Client, name: string, key: string, now: number): JoinOutcome {
    const found = this.#byId.get(name.toLowerCase());
    if (found && c.inRoom(found)) return { ok: false, why: "same", room: this.info(found, c) };
    if (found) {
      const refused = this.hooks.mayEnter(c, found, now);
      if (refused) return { ok: false, why: "refused", text: refused };
      if (found.secret && !key) return { ok: false, why: "needs-key", room: this.info(found, c) };
      if (found.secret && !sameSecret(keyDigest(key), found.secret)) {
        return { ok: false, why: "wrong-key", room: this.info(found, c) };
      }
      if (c.irc) this.#enter(c, found, false);
      else this.#move(c, found, false, key, "");
      this.hooks.entered(c, found, false, now);
      return { ok: true, created: false, room: this.info(found, c) };
    }
    const cfg = this.#ctx.config;
    if (cfg.maxRooms > 0 && this.#byId.size >= cfg.maxRooms) {
      return { ok: false, why: "too-many-rooms", limit: cfg.maxRooms };
    }
    if (!mayBurst(c.addr.rooms, now, cfg.roomRate)) {
      return { ok: false, why: "too-fast", wait: burstWait(c.addr.rooms, now, cfg.roomRate) };
    }
    const twin = this.#bySkeleton.get(skeleton(name));
    if (twin) return { ok: false, why: "lookalike", room: this.info(twin, c) };
    const room = new ChatRoom<Client>(name, keyDigest(key));
    this.hooks.created(c, room);
    this.add(room);
    this.#ctx.log.info("room created", {
      room: room.label,
      client: c.id,
      nick: c.nick,
      key: key ? "yes" : "no",
    });
    if (c.irc) this.#enter(c, room, true);
    else this.#move(c, room, true, key, "");
    this.hooks.entered(c, room, true, now);
    return { ok: true, created: true, room: this.info(room, c) };
  }

  /**
   * Sends `c` out of `room` (a kick or a ban), which sees `notice`, and its IRC members `kick`
   * (a KICK message): back to the lobby, or, for an IRC session, out of that room only.
   */
  expel(c: Client, room: ChatRoom<Client>, notice: string, kick: string): void {
    if (c.irc) return this.part(c, room, notice, kick, true);
    if (c.room !== room || room === this.lobby) return;
    this.#move(c, this.lobby, false, "", notice, kick);
  }

  /**
   * An IRC session comes into `room` as well (it stays in its other rooms): the room is told,
   * and its IRC members (the session too) get the JOIN.
   */
  #enter(c: Client, room: ChatRoom<Client>, created: boolean): void {
    room.members.add(c);
    (room.irc ??= new Set()).add(c);
    c.irc!.channels.add(room);
    this.#ircReads(c);
    c.room = room;
    this.#epoch++;
    const joined = this.announcing(room) ? `${c.nick} joined` : "";
    this.#sync.enter(c, room, joined, created);
    if (joined) this.#fanout.notice(room, joined, c, true);
    // Past --announce-max the others are not told of comings and goings (IRC clients neither,
    // as Twitch's IRC does for big channels: NAMES still lists everyone); the session always.
    const join = () => wire(maskOf(c.nick), "JOIN", room.label);
    if (joined) this.#fanout.ircTell([room], join);
    else this.#fanout.ircSend(c, join());
    this.#ctx.log.info("join room", { client: c.id, nick: c.nick, room: room.label });
  }

  /**
   * What an IRC session's outbox reads from now on: the IRC log of its room when it is in one
   * room only (a line costs it nothing more than a telnet reader), else no log (each room's
   * lines come as entries of its own, once each).
   */
  #ircReads(c: Client): void {
    const channels = c.irc!.channels;
    let only: ChatRoom<Client> | null = null;
    if (channels.size === 1) { for (const room of channels) only = room; }
    c.outbox.read(only ? only.ircLogFor() : NO_LOG);
    for (const room of channels) room.ircApart = null;
  }

  /**
   * An IRC session leaves every room it is in (it quit, or was dropped): their IRC members get
   * one QUIT each, the others `left` (unless `quiet`), and the other processes are told.
   */
  quitAll(c: Client, reason: string, quiet: boolean): void {
    const irc = c.irc!;
    const told = [...irc.channels].filter((room) => this.announcing(room));
    this.#fanout.ircTell(told, () => wire(maskOf(c.nick), "QUIT", reason), c);
    const known = c.room;
    for (const room of [...irc.channels]) {
      this.#out(c, room);
      const left = this.announcing(room) ? `${c.nick} left (${reason})` : "";
      if (left && !quiet) this.#fanout.notice(room, left, undefined, true);
      const ev = { t: "leave" as const, id: c.id, nick: c.nick, notice: left };
      this.#sync.propose(room.id, ev, null, room === known ? c.key : undefined);
      this.maybeGone(room);
    }
    this.#ircReads(c);
    c.room = this.nowhere;
  }

  /** IRC session `c` is out of `room`: no longer a member, nor one of its IRC members. */
  #out(c: Client, room: ChatRoom<Client>): void {
    c.irc!.channels.delete(room);
    room.irc?.delete(c);
    room.ircApart = null;
    room.members.delete(c);
    this.#epoch++;
    this.hooks.left(c, room);
  }

  /**
   * An IRC session leaves `room` alone (PART, a kick): its IRC members (the session too) get
   * `message` (the PART or KICK), the others `notice`; the session stays in its other rooms.
   * A plain leave is told to the others only while the room is announced (see #enter); a kick
   * (`kicked`) always.
   */
  part(c: Client, room: ChatRoom<Client>, notice: string, message: string, kicked = false): void {
    const irc = c.irc!;
    if (!irc.channels.has(room)) return;
    if (notice || kicked) this.#fanout.ircTell([room], message);
    else this.#fanout.ircSend(c, message);
    this.#out(c, room);
    this.#ircReads(c);
    if (notice) this.#fanout.notice(room, notice, undefined, true);
    this.#sync.propose(room.id, { t: "leave", id: c.id, nick: c.nick, notice });
    c.room = this.nowhere;
    for (const other of irc.channels) c.room = other;
    // The others know a member in one room: still here, it is known in another one of its rooms.
    if (c.room !== this.nowhere) this.#sync.enter(c, c.room, "");
    this.maybeGone(room);
    this.#ctx.log.info("part room", { client: c.id, nick: c.nick, room: room.label });
  }

  /**
   * `c` goes from its room to `room`: both are told, the others too, and `c` is welcomed. The
   * old room sees `why` when it is given (always), else `left for #room` (when announcing).
   */
  #move(
    c: Client,
    room: ChatRoom<Client>,
    created: boolean,
    key: string,
    why: string,
    kick = "",
  ): void {
    const fanout = this.#fanout;
    const old = c.room;
    const leaving = why !== "" || this.announcing(old);
    if (kick || this.announcing(old)) {
      fanout.ircTell(
        [old],
        () => kick || wire(maskOf(c.nick), "PART", old.label, `left for ${room.label}`),
      );
    }
    this.leave(c);
    if (c.alert) old.alerts--;
    c.room = room;
    room.members.add(c);
    this.#epoch++;
    if (c.alert) room.alerts++;
    // The switch to the new room's log comes before anything more is said in the old one.
    c.outbox.read(room.logFor(c.view));
    const left = why || (leaving ? `${c.nick} left for ${room.label}` : "");
    if (left) fanout.notice(old, left, undefined, why === "");
    const n = this.peopleIn(room);
    const here = n === 1 ? "you are the only one here" : `${n} people are here`;
    const lines = [`You are now in ${room.label}; ${here}.`];
    this.#sync.propose(old.id, { t: "leave", id: c.id, nick: c.nick, notice: left });
    this.#sync.enter(c, room, this.announcing(room) ? `${c.nick} joined` : "", created);
    if (created && key) lines.push(`It has a key: only those who know it can join.`);
    if (room.topic) lines.push(`Topic: ${room.topic} (set by ${room.topicBy})`);
    fanout.tell(c, ...lines);
    // A bot is not replayed the room's history (/history asks for it).
    const history = c.view & VIEW_JSON
      ? null
      : room.historyBlock(c.view & VIEW_COLOR, this.#ctx.clock);
    if (history) fanout.send(c, history);
    if (this.announcing(room)) {
      fanout.notice(room, `${c.nick} joined`, c, true);
      fanout.ircTell([room], () => wire(maskOf(c.nick), "JOIN", room.label));
    }
    if (c.charMode) this.#ctx.effects.prompt(c.id, promptFor(c.nick, room.name));
    this.#ctx.log.info("join room", {
      client: c.id,
      nick: c.nick,
      room: room.label,
      from: old.label,
    });
  }

  /** Sets the topic of `c`'s room ("" clears it); the room is told who set it. */
  setTopic(c: Client, topic: string, now: number): void {
    const room = c.room;
    room.topic = topic;
    room.topicBy = topic ? c.nick : "";
    room.topicAt = now;
    this.#keep.line(room, "topic", c.nick, topic, now, c.identified);
    this.#keep.room(room);
    const said = topic ? `${c.nick} set the topic: ${topic}` : `${c.nick} cleared the topic`;
    if (!c.irc) {
      this.#fanout.tell(
        c,
        topic ? `The topic of ${room.label} is now: ${topic}` : "Topic cleared.",
      );
    }
    this.#fanout.notice(room, said, c, false, false);
    this.#fanout.ircTell([room], () => wire(maskOf(c.nick), "TOPIC", room.label, topic));
    this.#sync.propose(room.id, { t: "topic", topic, by: c.nick, id: c.id });
    this.#ctx.log.info("topic", { client: c.id, nick: c.nick, room: room.label });
  }

  /**
   * Everyone in `room` (here and elsewhere) sorted by nick key, for Tab: made on the first Tab
   * after a change in who is where.
   */
  nickIndex(room: ChatRoom<Client>): { keys: string[]; nicks: string[] } {
    if (!room.nickIndex || room.nickIndex.epoch !== this.#epoch) {
      const all: { key: string; nick: string }[] = [];
      for (const m of room.members) all.push({ key: m.key, nick: m.nick });
      for (const m of this.#mirror.membersOf(room.id)) all.push({ key: m.key, nick: m.nick });
      all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      room.nickIndex = {
        epoch: this.#epoch,
        keys: all.map((m) => m.key),
        nicks: all.map((m) => m.nick),
      };
    }
    return room.nickIndex;
  }
}
