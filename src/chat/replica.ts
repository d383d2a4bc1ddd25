/**
 * The replica: what the other processes tell this one (--redis), applied to the hub's state.
 * Room events arrive in each room's order (this process's own included, shown when they come
 * back); direct messages carry private lines, kicks, bans and departures; a snapshot resyncs
 * everything after the link was down. This is the only writer of the mirror of the members
 * elsewhere. What comes from Redis is cleaned and checked when it is decoded, and again here
 * where it meets a terminal.
 */
import type { ClusterIn, DirectEv, RoomEv, Snapshot } from "../cluster/bus.ts";
import { parseIp } from "../lib/ip.ts";
import { cleanText } from "../lib/sanitize.ts";
import type { Accounts } from "./accounts.ts";
import { maskOf, wire } from "./irc/render.ts";
import { toIrcNick } from "./irc/wire.ts";
import type { Client } from "./client.ts";
import type { ClientTable } from "./clients.ts";
import type { HubContext } from "./context.ts";
import type { Fanout } from "./fanout.ts";
import type { Mirror, RemoteMember } from "./mirror.ts";
import type { NickTable } from "./names.ts";
import { acceptableNick } from "./nicks.ts";
import { render, type RoomLine } from "./render.ts";
import { ChatRoom } from "./room.ts";
import type { Rooms } from "./rooms.ts";
import type { Sanctions } from "./sanctions.ts";
import type { Sessions } from "./sessions.ts";
import type { Stewards } from "./stewards.ts";
import type { RoomActs } from "./room_acts.ts";
import { sessionHolder } from "./authority.ts";
import type { Outbound } from "./sync.ts";
import type { Talk } from "./talk.ts";

/** Bounced proposals remembered, to skip them if they show up after all. */
const MAX_BOUNCED = 4096;

const encoder = new TextEncoder();

/** A nick from another process that no process of ours would have given out. */
function badRemoteNick(nick: string): boolean {
  return !acceptableNick(nick);
}

/** The parts the replica writes to. */
export interface ReplicaParts {
  clients: ClientTable;
  fanout: Fanout;
  nicks: NickTable;
  rooms: Rooms;
  mirror: Mirror;
  sanctions: Sanctions;
  sessions: Sessions;
  sync: Outbound;
  talk: Talk;
  accounts: Accounts;
  stewards: Stewards;
  acts: RoomActs;
}

/** The others' news, applied here. */
export class Replica {
  readonly #ctx: HubContext;
  readonly #parts: ReplicaParts;
  /** Proposals applied here after the link failed under them: skipped if they come back. */
  readonly #bounced = new Set<number>();

  constructor(ctx: HubContext, parts: ReplicaParts) {
    this.#ctx = ctx;
    this.#parts = parts;
  }

  /** What the cluster link delivered. */
  apply(msg: ClusterIn, now: number): void {
    const { rooms, fanout, sanctions, sync } = this.#parts;
    switch (msg.kind) {
      case "bus": {
        const b = msg.bus;
        if (b.kind === "room") this.#applyRoom(b.node, b.room, b.ev, msg.u ?? 0);
        else this.#applyDirect(b.node, b.ev, now);
        break;
      }
      case "bounced":
        this.#bounce(msg.room, msg.ev, msg.u);
        break;
      case "refused":
        this.#refused(msg.ev);
        break;
      case "link":
        sync.setLinked(msg.up);
        this.#noticeEverywhere(
          msg.up
            ? "The link to the other servers is back."
            : "Lost the link to the other servers: until it is back, only people on this " +
              "server see what is said here.",
        );
        break;
      case "snapshot":
        this.#resync(msg.snap, now, msg.fresh === true);
        if (msg.reset) {
          this.#noticeEverywhere(
            "Redis lost its data (a restart without saving, or emptied): what was said on " +
              "the other servers meanwhile cannot be shown here.",
          );
        }
        break;
      case "missed": {
        const room = rooms.get(msg.room);
        const n = msg.count;
        if (room && room.members.size > 0) {
          fanout.notice(
            room,
            `${n} ${n === 1 ? "event" : "events"} from the other servers could not be ` +
              "recovered: some lines are missing here.",
          );
        }
        break;
      }
      case "strikes":
        // Strikes from every process count together: a flood spread over several processes
        // is banned once, everywhere.
        if (msg.count >= this.#ctx.config.maxStrikes && !sanctions.active(msg.ip, now)) {
          sanctions.banForSpam(msg.ip, now);
        }
        break;
    }
  }

  /**
   * A line that may never have reached the others is shown here at once; if it does come back
   * after all, it is skipped then.
   */
  #bounce(room: string, ev: RoomEv, proposal: number): void {
    const node = this.#parts.sync.node;
    if (ev.t !== "say" || node === null) return;
    this.#bounced.add(proposal);
    // Most never come back (the link was down); keep the newest few thousand.
    if (this.#bounced.size > MAX_BOUNCED) {
      this.#bounced.delete(this.#bounced.values().next().value!);
    }
    this.#applyRoom(node, room, ev, 0);
  }

  /** A notice in every room that has members on this process. */
  #noticeEverywhere(text: string): void {
    for (const room of this.#parts.rooms.all()) {
      if (room.members.size > 0) this.#parts.fanout.notice(room, text);
    }
  }

  /** A room event, in the room's order, from process `node` (this one included). */
  #applyRoom(node: string, roomId: string, ev: RoomEv, proposal: number): void {
    const self = node === this.#parts.sync.node;
    if (ev.t === "say") return this.#applySay(self, node, roomId, ev, proposal);
    if (ev.t === "auth") {
      // Whole states, applied in the room's order everywhere (this process's too), so every
      // process ends with the same one whatever was changed at once.
      const room = this.#parts.rooms.get(roomId);
      if (room) this.#parts.stewards.changedElsewhere(room, ev, self);
      return;
    }
    if (self) return; // applied here when proposed
    const { rooms, fanout, mirror } = this.#parts;
    const room = rooms.get(roomId);
    switch (ev.t) {
      case "enter":
        this.#enter(node, room, ev);
        break;
      case "leave": {
        const m = mirror.get(node, ev.id);
        if (m && mirror.leftRoom(m, roomId)) this.#forget(m);
        if (room && m) this.#parts.stewards.left(m, room);
        if (room) {
          if (ev.notice) fanout.notice(room, ev.notice, undefined, true);
          if (ev.notice) {
            fanout.ircTell([room], () => wire(maskOf(ev.nick), "PART", room.label, ev.notice));
          }
          rooms.maybeGone(room);
        }
        break;
      }
      case "nick": {
        if (badRemoteNick(ev.to)) return;
        const m = mirror.get(node, ev.id);
        const oldKey = m?.key;
        if (m) mirror.update(m, { nick: ev.to });
        rooms.changed();
        if (m) {
          this.#parts.accounts.taken(m);
          if (oldKey && oldKey !== m.key) this.#parts.accounts.freed(oldKey);
        }
        if (room && ev.notice) fanout.notice(room, ev.notice, undefined, false, false);
        if (room) fanout.ircTell([room], () => wire(maskOf(ev.from), "NICK", toIrcNick(ev.to)));
        break;
      }
      case "topic":
        if (!room) break;
        room.topic = ev.topic;
        room.topicBy = ev.topic ? ev.by : "";
        room.topicAt = fanout.now;
        fanout.notice(
          room,
          ev.topic ? `${ev.by} set the topic: ${ev.topic}` : `${ev.by} cleared the topic`,
          undefined,
          false,
          false,
        );
        fanout.ircTell([room], () => wire(maskOf(ev.by), "TOPIC", room.label, ev.topic));
        break;
      case "away": {
        const m = mirror.get(node, ev.id);
        if (m) mirror.update(m, { away: ev.away });
        break;
      }
      case "keep":
        if (!room || room === rooms.lobby) break;
        room.kept = ev.on;
        room.owner = ev.owner;
        if (!ev.on) rooms.maybeGone(room);
        break;
    }
  }

  /** Someone elsewhere entered a room (made there, perhaps). */
  #enter(node: string, found: ChatRoom<Client> | undefined, ev: RoomEv & { t: "enter" }): void {
    const { rooms, fanout, mirror } = this.#parts;
    if (badRemoteNick(ev.m.nick) || !("ip" in parseIp(ev.m.ip))) return;
    let room = found;
    if (!room) {
      room = new ChatRoom<Client>(ev.name, ev.created?.key ?? "");
      room.owner = ev.created?.owner ?? "";
      rooms.add(room);
      if (ev.created?.fresh) this.#sessionOwner(room, node, ev);
    } else if (ev.created && room.members.size === 0 && mirror.inRoom(room.id) === 0) {
      room.secret = ev.created.key;
      if (ev.created.fresh) {
        room.auth.reset();
        room.owner = ev.created.owner ?? "";
        this.#sessionOwner(room, node, ev);
      }
    }
    const { was, member } = mirror.upsert(node, ev.m);
    rooms.changed();
    this.#parts.accounts.taken(member);
    if (was !== undefined && was !== room.id) {
      const old = rooms.get(was);
      if (old) rooms.maybeGone(old);
    }
    if (ev.notice) fanout.notice(room, ev.notice, undefined, true);
    // A member already in the room (an IRC session known in another of its rooms) is no news.
    if (was !== room.id && ev.notice) {
      fanout.ircTell([room], () => wire(maskOf(ev.m.nick), "JOIN", room.label));
    }
  }

  /** A room made elsewhere by someone not identified: theirs for as long as they stay. */
  #sessionOwner(room: ChatRoom<Client>, node: string, ev: RoomEv & { t: "enter" }): void {
    if (room.owner || ev.m.acct) return;
    room.auth.ownerSession = sessionHolder(node, ev.m.id);
    room.auth.ownerNick = ev.m.nick;
  }

  /** A line or an action said in a room, here or elsewhere, in the room's order. */
  #applySay(
    self: boolean,
    node: string,
    roomId: string,
    ev: RoomEv & { t: "say" },
    proposal: number,
  ): void {
    const { rooms, clients, mirror, fanout, talk } = this.#parts;
    if (self && proposal && this.#bounced.delete(proposal)) return;
    const room = rooms.get(roomId);
    if (!room) return;
    // What comes from Redis is cleaned like anything typed (it could have been put there by
    // something other than Shat).
    const text = self ? ev.text : cleanText(ev.text);
    if (!self && (badRemoteNick(ev.nick) || text === "")) return;
    const line: RoomLine = { kind: ev.kind, nick: ev.nick, text, at: ev.at };
    let except: Client | undefined;
    let skip: Set<Client> | null = null;
    if (self) {
      except = clients.get(ev.id);
      skip = except?.ignoredBy ?? null;
    } else {
      const author = mirror.get(node, ev.id);
      if (author) author.info.active = Math.max(author.info.active, ev.at); // for /who
      skip = (author?.ignoredBy as Set<Client> | null) ?? null;
    }
    room.remember(line, fanout.broadcast(room, line, except, skip), talk.limits);
  }

  /** A member elsewhere is gone: out of the mirror and of everyone's ignore lists. */
  #forget(m: RemoteMember): void {
    this.#parts.mirror.remove(m.node, m.info.id);
    this.#parts.rooms.changed();
    this.#parts.accounts.freed(m.key);
    if (m.ignoredBy) { for (const c of m.ignoredBy) (c as Client).ignoring?.delete(m); }
    m.ignoredBy = null;
  }

  /** A member elsewhere vanished without leaving (their process died, or Redis forgot them). */
  #connectionLost(m: RemoteMember): void {
    const rooms = this.#parts.rooms;
    this.#forget(m);
    for (const id of m.rooms) {
      const room = rooms.get(id);
      if (!room) continue;
      this.#parts.stewards.left(m, room);
      if (rooms.announcing(room)) {
        this.#parts.fanout.notice(room, `${m.nick} left (connection lost)`, undefined, true);
      }
      rooms.maybeGone(room);
    }
  }

  #applyDirect(node: string, ev: DirectEv, now: number): void {
    const { clients, sync, sanctions, sessions } = this.#parts;
    switch (ev.t) {
      case "msg":
        if (ev.to === sync.node) this.#privateLine(node, ev);
        break;
      case "kick": {
        if (ev.to !== sync.node) return;
        const c = clients.get(ev.toId);
        if (c) sessions.drop(c, ev.reason, now, { message: ev.message });
        break;
      }
      case "part": {
        const c = ev.to === sync.node ? clients.member(ev.toId) : undefined;
        if (c) this.#parts.acts.expelled(c, ev.room, ev.notice, ev.message);
        break;
      }
      case "notice": {
        const c = ev.to === sync.node ? clients.member(ev.toId) : undefined;
        if (c) this.#parts.fanout.tell(c, ev.text);
        break;
      }
      case "ban":
        if (node !== sync.node) sanctions.fromCluster(ev, now);
        break;
      case "unban":
        if (node !== sync.node) sanctions.lift(ev.ip);
        break;
      case "account":
        if (node !== sync.node) this.#parts.accounts.fromCluster(ev);
        break;
      case "logout":
        if (node !== sync.node && ev.key) this.#parts.accounts.loggedOutElsewhere(ev.key, ev.why);
        break;
      case "gone":
        if (ev.node === sync.node) {
          // The others took this process for dead (it missed its heartbeats): claim everyone
          // here again.
          for (const c of clients.values()) {
            if (c.authed) sync.enter(c, c.room, `${c.nick} joined`);
          }
          return;
        }
        for (const m of this.#parts.mirror.removeNode(ev.node)) this.#connectionLost(m);
        break;
    }
  }

  /** A private line for a member here from a member elsewhere. */
  #privateLine(node: string, ev: DirectEv & { t: "msg" }): void {
    const b = this.#parts.clients.get(ev.toId);
    const from = this.#parts.mirror.get(node, ev.id);
    if (!b?.authed || (from && b.ignoring?.has(from))) return;
    const text = cleanText(ev.text);
    if (badRemoteNick(ev.nick) || text === "") return;
    this.#parts.fanout.privately(b, { kind: "private", nick: ev.nick, text, at: ev.at });
    if (from) b.replyTo = from.id;
  }

  /** A nick this process took was taken elsewhere first: its holder here gets a new one. */
  #refused(ev: RoomEv): void {
    const id = ev.t === "enter" ? ev.m.id : ev.t === "nick" ? ev.id : -1;
    const nick = ev.t === "enter" ? ev.m.nick : ev.t === "nick" ? ev.to : "";
    const c = this.#parts.clients.get(id);
    if (!c?.authed || c.key !== nick.toLowerCase()) return;
    this.#parts.fanout.tell(c, `Someone on another server has the nick ${nick}.`);
    // The others never saw the refused nick: to them this is a rename from the one before.
    this.#parts.sessions.rename(c, this.#parts.nicks.guest(), ev.t === "nick" ? ev.from : null);
  }

  /** The cluster as Redis has it (at start, and whenever the link came back). */
  #resync(snap: Snapshot, now: number, fresh: boolean): void {
    this.#parts.sync.setLinked(true);
    this.#resyncMembers(snap);
    this.#resyncRooms(snap);
    this.#resyncBans(snap, now, fresh);
    this.#reclaim(snap);
  }

  /** The members elsewhere as Redis lists them: those it no longer lists are gone. */
  #resyncMembers(snap: Snapshot): void {
    const { rooms, mirror, sync } = this.#parts;
    const meta = new Map(snap.rooms.map((r) => [r.id, r]));
    const seen = new Set<RemoteMember>();
    for (const { node, info } of snap.members) {
      if (node === sync.node) continue;
      for (const id of [info.room, ...(info.also ?? [])]) {
        if (rooms.get(id)) continue;
        const r = meta.get(id);
        rooms.add(new ChatRoom<Client>(r?.name ?? id, r?.key ?? ""));
      }
      seen.add(mirror.upsert(node, info).member);
      rooms.changed();
    }
    for (const m of mirror.members()) if (!seen.has(m)) this.#connectionLost(m);
  }

  /** Topics, keys and recent lines of the rooms Redis keeps. */
  #resyncRooms(snap: Snapshot): void {
    const rooms = this.#parts.rooms;
    for (const r of snap.rooms) {
      const room = rooms.get(r.id);
      if (!room) continue;
      if (r.topic || !room.topic) {
        room.topic = r.topic;
        room.topicBy = r.topicBy;
      }
      if (r.key && !room.secret) room.secret = r.key;
      if (r.auth) this.#parts.stewards.applyRemote(room, r.auth, room.secret, true);
    }
    const limits = this.#parts.talk.limits;
    for (const h of snap.history) {
      const room = rooms.get(h.room);
      if (!room || room.historyLength > 0) continue;
      for (const line of h.lines) {
        room.remember(line, encoder.encode(render(line, 0, this.#ctx.clock)).length, limits);
      }
    }
  }

  /**
   * Bans: Redis's list is the cluster's, except what changed here while the link was down.
   * When Redis had nothing (first process, or it lost its data) this process's bans (from its
   * ban file) go back into it.
   */
  #resyncBans(snap: Snapshot, now: number, fresh: boolean): void {
    const { sanctions, sync } = this.#parts;
    const offline = sync.takeOffline();
    const known = new Set<string>();
    for (const b of snap.bans) {
      known.add(b.ip);
      if (!offline.unbans.has(b.ip)) sanctions.fromCluster(b, now);
    }
    for (const b of sanctions.list(now)) {
      if (known.has(b.ip)) continue;
      if (fresh || offline.bans.has(b.ip)) {
        sync.send({ op: "direct", ev: { t: "ban", ...b } });
      } else {
        sanctions.lift(b.ip); // lifted elsewhere while this process was away
      }
    }
    for (const ip of offline.unbans) {
      if (known.has(ip)) sync.send({ op: "direct", ev: { t: "unban", ip } });
    }
  }

  /**
   * This process's members: claimed again (quietly if Redis still had them), and entries of
   * members who left while the link was down are given up.
   */
  #reclaim(snap: Snapshot): void {
    const { clients, rooms, sync } = this.#parts;
    const mine = new Map<number, string>();
    for (const { node, info } of snap.members) if (node === sync.node) mine.set(info.id, info.nick);
    for (const c of clients.values()) {
      if (!c.authed) continue;
      const had = mine.get(c.id) === c.nick;
      mine.delete(c.id);
      sync.enter(c, c.room, had || !rooms.announcing(c.room) ? "" : `${c.nick} joined`);
    }
    for (const [id, nick] of mine) {
      const ev: RoomEv = { t: "leave", id, nick, notice: "" };
      sync.propose(rooms.lobby.id, ev, null, nick.toLowerCase());
    }
  }
}
