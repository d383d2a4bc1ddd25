/**
 * The hub: the one owner of the server's state (clients, nicks, rooms, strikes, bans, history).
 * It is a state machine: {@link Hub.handle} takes an event and the current time, updates the
 * state and acts only through {@link HubEffects} and the clients' outboxes. It never awaits,
 * never touches a socket and never reads the clock, so tests drive it with a fake clock and no
 * network. Everything a member sees of a room is decided here: a broadcast goes to one room's
 * members only.
 *
 * This class is a facade over the parts it owns, each with its own state (see README's layout):
 * admission, input, sessions, talk, rooms, nicks, sanctions, fan-out, and the cluster's
 * outbound sync and inbound replica. Parts talk down; an upward need (a ban dropping clients,
 * input running a command) is a callback wired here.
 */
import { ipKey } from "../lib/ip.ts";
import { sameSecret } from "../lib/secret.ts";
import { formatDuration } from "../lib/units.ts";
import type { Config } from "../ops/config.ts";
import type { Logger } from "../ops/log.ts";
import { Accounts } from "./accounts.ts";
import type { Client } from "./client.ts";
import { Admission } from "./admission.ts";
import { ApiPost, botSay } from "./api_post.ts";
import { ClientTable } from "./clients.ts";
import {
  type Chat,
  COMMANDS,
  type HistoryRequest,
  type JoinOutcome,
  type KeepOutcome,
  type Member,
  type RoomAct,
  type RoomInfo,
  type RoomSettings,
  type SanctionInfo,
  type ViewSettings,
} from "./commands/mod.ts";
import { completeFrom, NO_COMPLETION } from "./completion.ts";
import type { HubContext } from "./context.ts";
import type { AuditEntry, HubEffects, HubEvent } from "./events.ts";
import type { WordFilter } from "./filter.ts";
import { Fanout } from "./fanout.ts";
import { Input } from "./input.ts";
import { IrcDoor } from "./irc/door.ts";
import { wire } from "./irc/render.ts";
import { toIrcNick } from "./irc/wire.ts";
import { Keep } from "./keep.ts";
import { Mirror } from "./mirror.ts";
import type { BanRecord } from "./moderation.ts";
import { NickTable } from "./names.ts";
import { localClock, VIEW_JSON } from "./render.ts";
import { Replica } from "./replica.ts";
import { Recall } from "./recall.ts";
import { Rooms } from "./rooms.ts";
import { Sanctions } from "./sanctions.ts";
import { Sessions } from "./sessions.ts";
import { type AuditFn, Stewards } from "./stewards.ts";
import { RoomActs } from "./room_acts.ts";
import { type HubSnapshot, HubStats } from "./stats.ts";
import { Alone, ClusterSync, type Outbound } from "./sync.ts";
import { Talk, type WhisperHow } from "./talk.ts";
import type { Completion } from "../terminal/editor.ts";
import type { StoreStart } from "../store/types.ts";

export type { AuditEntry, CloseMode, HubEffects, HubEvent, InputEvent } from "./events.ts";
export { promptFor } from "./client.ts";
export { BLANK_FLOOD, PREAUTH_BYTES, PREAUTH_LINES } from "./input.ts";

/** Entries of the audit log /audit can show. */
const AUDIT_KEPT = 200;

/** How a room notice (join, leave, rename) starts: no line a person sends can start so. */
export const NOTICE = "*** ";

/** Everything a hub is built from. */
export interface HubOptions {
  config: Config;
  log: Logger;
  effects: HubEffects;
  /** Message-of-the-day lines shown after the welcome banner. */
  motd?: readonly string[];
  /** Bans loaded from the store (or the ban file). */
  bans?: readonly BanRecord[];
  /** What the store holds at start: accounts, kept rooms and their latest lines. */
  memory?: StoreStart;
  /** The word filter (--filter-file) to start with. */
  filter?: WordFilter | null;
  /** The latest entries of the audit log (audit.jsonl), oldest first, for /audit. */
  audit?: readonly AuditEntry[];
  /** Random source for guest nicks (tests pass a fixed one). */
  random?: () => number;
  /** How a history entry's time is shown; local HH:MM by default. */
  clock?: (ms: number) => string;
  /**
   * This process's id when it is one of several sharing rooms over Redis: room events then go
   * through the cluster link (effects.cluster) and are applied when they come back in order.
   */
  node?: string;
}

/** The server's state machine. */
export class Hub implements Chat {
  readonly config: Config;
  readonly opsEnabled: boolean;
  /** Counters for the metrics page. */
  readonly stats = new HubStats();
  readonly #log: Logger;
  readonly #clients = new ClientTable();
  readonly #mirror: Mirror;
  readonly #sync: Outbound;
  readonly #nicks: NickTable;
  readonly #fanout: Fanout;
  readonly #rooms: Rooms;
  readonly #sanctions: Sanctions;
  readonly #sessions: Sessions;
  readonly #talk: Talk;
  readonly #admission: Admission;
  readonly #input: Input;
  readonly #replica: Replica;
  readonly #accounts: Accounts;
  readonly #recall: Recall;
  readonly #stewards: Stewards;
  readonly #acts: RoomActs;
  readonly #api: ApiPost;
  readonly #irc: IrcDoor;
  /** The word filter (--filter-file; null: none). */
  #filter: WordFilter | null;
  /** The latest entries of the audit log, oldest first, for /audit. */
  readonly #auditLog: AuditEntry[];
  readonly #effects: HubEffects;
  /** The time of the event being handled. */
  #now = 0;

  constructor(opts: HubOptions) {
    const config = this.config = opts.config;
    this.opsEnabled = config.adminToken !== "";
    this.#log = opts.log;
    this.#effects = opts.effects;
    const ctx: HubContext = {
      config,
      log: opts.log,
      effects: opts.effects,
      stats: this.stats,
      clock: opts.clock ?? localClock,
      motd: opts.motd ?? [],
    };
    const clients = this.#clients;
    const mirror = this.#mirror = new Mirror((ip) => ipKey(ip, config.ipv6Prefix));
    const sync = this.#sync = opts.node
      ? new ClusterSync(opts.node, opts.effects.cluster)
      : new Alone();
    const nicks = this.#nicks = new NickTable(mirror, opts.random ?? Math.random);
    const fanout = this.#fanout = new Fanout(ctx, clients, nicks);
    const keep = new Keep(ctx);
    const rooms = this.#rooms = new Rooms(ctx, fanout, mirror, sync, keep);
    const sanctions = this.#sanctions = new Sanctions(
      ctx,
      clients,
      fanout,
      sync,
      opts.bans ?? [],
      (c, reason, message, now) => this.#sessions.drop(c, reason, now, { message }),
    );
    const sessions = this.#sessions = new Sessions(
      ctx,
      { clients, fanout, nicks, rooms, mirror, sync },
      opts.motd ?? [],
      (c) => {
        this.#accounts.left(c);
        this.#recall.left(c);
      },
    );
    const talk = this.#talk = new Talk(ctx, fanout, sync, keep);
    const parts = { clients, fanout, nicks, rooms, mirror, sanctions, sessions, sync, talk, keep };
    const accounts = this.#accounts = new Accounts(ctx, parts);
    this.#recall = new Recall(ctx, clients, fanout);
    this.#filter = opts.filter ?? null;
    this.#auditLog = (opts.audit ?? []).slice(-AUDIT_KEPT);
    const audit: AuditFn = (action, by, target, detail, room) =>
      this.#record(action, by, target, detail, room?.label ?? "");
    const stewardParts = { ...parts, accounts };
    const stewards = this.#stewards = new Stewards(ctx, stewardParts, audit);
    const acts = this.#acts = new RoomActs(ctx, stewardParts, stewards, audit);
    rooms.hooks = {
      mayEnter: (c, room, now) => stewards.mayEnter(c, room, now),
      created: (c, room) => stewards.created(c, room),
      entered: (c, room, created, now) => stewards.entered(c, room, created, now),
      left: (c, room) => stewards.left(c, room, this.#now),
      released: (account) => stewards.released(account),
    };
    this.#restore(opts);
    this.#admission = new Admission(ctx, clients, fanout, sanctions, mirror);
    this.#input = new Input(
      ctx,
      parts,
      (cmd, c, args, now) => cmd.run(this, c, args, now),
      (c, text, at) => this.#speakAs(c, "chat", text, at),
      (c, line, at) => this.#irc.line(c, line, at),
    );
    this.#irc = new IrcDoor(ctx, { ...parts, stewards }, {
      chat: this,
      paced: (c, text, at, act) => this.#input.paced(c, text, at, act),
      speak: (c, kind, text, now, notice) => this.#speakAs(c, kind, text, now, notice),
      whisper: (c, to, text, now, how) => this.#whisper(c, to, text, now, how),
    });
    sessions.ircOpened = (c) => this.#irc.opened(c);
    this.#replica = new Replica(ctx, { ...parts, accounts, stewards, acts });
    this.#api = new ApiPost(
      ctx,
      { rooms, nicks, accounts, sanctions },
      (text) => this.#masked(text),
      botSay(ctx, { fanout, sync, keep, limits: talk.limits }),
    );
  }

  /** What the store held at start: kept rooms with their latest lines, accounts. */
  #restore(opts: HubOptions): void {
    if (!opts.memory) return;
    this.#rooms.restore(opts.memory, this.#talk.limits, opts.node !== undefined);
    this.#accounts.load(opts.memory.accounts);
  }

  /** Applies one event at time `now` (epoch ms). */
  handle(ev: HubEvent, now: number): void {
    const sessions = this.#sessions;
    this.#now = now;
    this.#fanout.now = now;
    switch (ev.type) {
      case "open": {
        const c = this.#admission.open({ ...ev, transport: ev.transport ?? "tcp" }, now);
        if (c) sessions.admitted(c, ev.pending, now);
        break;
      }
      case "start":
        sessions.start(ev.id, ev.transport, now);
        break;
      case "input":
        this.#input.input(ev, now);
        break;
      case "terminal":
        sessions.terminal(ev);
        break;
      case "closed": {
        const c = this.#clients.get(ev.id);
        if (c) sessions.drop(c, ev.reason, now, { mode: "drop" });
        break;
      }
      case "answer":
        this.#recall.answer(ev.ticket, ev.answer, ev.error, now);
        break;
      case "auth":
        this.#accounts.answer(ev.ticket, ev.outcome, ev.nick, ev.prefs, now);
        break;
      case "post":
        this.#api.post(ev, now);
        break;
      case "tick":
        this.#accounts.tick(now);
        this.#input.timeouts(now);
        this.#irc.tick(now);
        this.#sanctions.tick(now);
        this.#admission.summarize(now);
        break;
      case "cluster":
        this.#replica.apply(ev.msg, now);
        break;
      case "filter":
        this.#filter = ev.filter;
        break;
      case "shutdown":
        for (const c of [...this.#clients.values()]) {
          sessions.drop(c, "server shutting down", now, {
            message: "Server is shutting down.",
            quiet: true,
          });
        }
        break;
    }
    sessions.reapSlow(now);
  }

  /**
   * After a batch of events: starts the writers of everyone whose log got lines, and drops
   * readers that fell more than --max-outbox behind. This is the one place that costs per
   * reader, once per batch rather than once per line.
   */
  flush(now: number): void {
    this.#fanout.flush();
    this.#sessions.reapSlow(now);
  }

  /** Connections the hub holds (members and those still giving the room token). */
  get connections(): number {
    return this.#clients.size;
  }

  /** Members online, in every room. */
  get online(): number {
    return this.#clients.members + this.#mirror.size;
  }

  /** Rooms that exist (the lobby included). */
  get roomCount(): number {
    return this.#rooms.count;
  }

  /** Addresses the hub remembers (connected, struck or recently active). */
  get addressesKnown(): number {
    return this.#sanctions.addresses.size;
  }

  /** The numbers for the metrics page: the counters, and gauges counted now. */
  snapshot(): HubSnapshot {
    let outboxBytes = 0;
    for (const c of this.#clients.values()) outboxBytes += c.outbox.bytes;
    return {
      stats: this.stats,
      connections: { ...this.#clients.transports },
      members: this.#clients.members,
      rooms: this.#rooms.count,
      bansActive: this.#sanctions.banCount,
      outboxBytes,
      accounts: this.#accounts.size,
      roomsKept: this.#rooms.keptCount,
      ...(this.#sync.node === null ? {} : { remoteMembers: this.#mirror.size }),
    };
  }

  /** The nick of client `id`, if it is a member. */
  nickOf(id: number): string | undefined {
    return this.#clients.member(id)?.nick;
  }

  /** Strikes currently held against an address. */
  strikesOf(ip: string): number {
    return this.#sanctions.addresses.peek(this.#sanctions.key(ip))?.strikes ?? 0;
  }

  /**
   * Completions for Tab in a character-mode client's line: `/commands` for a word at the start
   * of the line that begins with `/`, otherwise the nicks of the room, by prefix, any case. At
   * most `max` are listed; the cost is a binary search in the room's sorted index (rebuilt
   * after a change in who is where, on the next Tab), whatever the size of the room.
   */
  complete(id: number, word: string, atLineStart: boolean, max: number): Completion {
    const c = this.#clients.member(id);
    if (!c) return NO_COMPLETION;
    const w = word.toLowerCase();
    if (atLineStart && w.startsWith("/")) {
      const names = COMMANDS.filter((cmd) => (cmd.op || cmd.needsOps) ? this.opsEnabled : true)
        .map((cmd) => `/${cmd.name}`).sort();
      return completeFrom(names, names, w, max);
    }
    if (w === "") return NO_COMPLETION;
    const index = this.#rooms.nickIndex(c.room);
    return completeFrom(index.keys, index.nicks, w, max);
  }

  // ---- What commands may do (the Chat interface) ----------------------------------------------

  tell(to: Member, ...lines: string[]): void {
    const c = this.#clients.get(to.id);
    if (c) this.#fanout.tell(c, ...lines);
  }

  say(from: Member, text: string, now: number): void {
    this.#speak(from, "chat", text, now);
  }

  emote(from: Member, action: string, now: number): void {
    this.#speak(from, "action", action, now);
  }

  #speak(from: Member, kind: "chat" | "action", text: string, now: number): void {
    const c = this.#clients.member(from.id);
    if (c) this.#speakAs(c, kind, text, now);
  }

  /** A line or an action, if the room's rules let it be shown (mutes, moderated, slow). */
  #speakAs(c: Client, kind: "chat" | "action", text: string, now: number, notice = false): void {
    const held = this.#stewards.gate(c, now);
    if (held) return this.#fanout.tell(c, held);
    this.#talk.speak(c, kind, this.#masked(text), now, notice);
  }

  /** `text` with what the word filter names masked. */
  #masked(text: string): string {
    return this.#filter ? this.#filter.mask(text) : text;
  }

  whisper(from: Member, to: Member, text: string, now: number): void {
    const a = this.#clients.get(from.id);
    if (a) this.#whisper(a, to, text, now);
  }

  /** A private line from `a` to `to` (masked by the word filter), sent as IRC's `how` says. */
  #whisper(a: Client, to: Member, text: string, now: number, how: WhisperHow = {}): void {
    this.#talk.whisper(a, this.#sessions.anyone(to.id), this.#masked(text), now, how);
  }

  view(m: Member): ViewSettings {
    return this.#sessions.view(this.#clients.get(m.id));
  }

  setView(m: Member, change: Partial<Omit<ViewSettings, "charMode" | "web">>): void {
    const c = this.#clients.get(m.id);
    if (!c) return;
    this.#sessions.setView(c, change);
    this.#accounts.savePrefs(c);
  }

  members(room: string): Member[] {
    const r = this.#rooms.get(room.toLowerCase());
    if (!r) return [];
    const here: Member[] = [...r.members];
    return here.concat(this.#mirror.membersOf(r.id));
  }

  roomOf(m: Member): RoomInfo {
    const c = this.#clients.get(m.id);
    return this.#rooms.info(c?.room ?? this.#rooms.lobby, c);
  }

  rooms(viewer: Member): RoomInfo[] {
    const c = this.#clients.get(viewer.id);
    return [...this.#rooms.all()].map((r) => this.#rooms.info(r, c));
  }

  findRoom(name: string, viewer: Member): RoomInfo | undefined {
    const r = this.#rooms.get((name.startsWith("#") ? name.slice(1) : name).toLowerCase());
    return r ? this.#rooms.info(r, this.#clients.get(viewer.id)) : undefined;
  }

  join(m: Member, name: string, key: string, now: number): JoinOutcome {
    return this.#rooms.join(this.#clients.get(m.id)!, name, key, now);
  }

  setTopic(m: Member, topic: string, now: number): void {
    const c = this.#clients.member(m.id);
    if (!c) return;
    const held = this.#stewards.mayNotSay(c, this.#now);
    if (held) {
      return this.#fanout.tell(
        c,
        held.replace(/Y?y?our line was not shown\./, "the topic was not changed."),
      );
    }
    if (c.room.auth.topicLock && !this.#stewards.mayModerate(c, c.room)) {
      return this.#fanout.tell(
        c,
        `The topic of ${c.room.label} is locked: only its operators can change it.`,
      );
    }
    this.#rooms.setTopic(c, this.#masked(topic), now);
  }

  byNick(nick: string): Member | undefined {
    return this.#nicks.holder(nick);
  }

  lookalike(nick: string): Member | undefined {
    return this.#nicks.lookalike(nick);
  }

  byId(id: number): Member | undefined {
    return id < 0 ? this.#mirror.byHandle(id) : this.#clients.member(id);
  }

  setAway(m: Member, reason: string): void {
    const c = this.#clients.get(m.id);
    if (c) this.#sessions.setAway(c, reason);
  }

  ignores(m: Member, other: Member): boolean {
    return this.#sessions.ignores(m, other);
  }

  setIgnore(m: Member, other: Member, on: boolean): void {
    this.#sessions.setIgnore(m, other, on);
    const c = this.#clients.get(m.id);
    if (c) this.#accounts.keepIgnore(c, other, on);
  }

  ignoreKept(m: Member, other: Member): boolean {
    return this.#clients.get(m.id)?.keptIgnores?.has(other.nick.toLowerCase()) ?? false;
  }

  ignored(m: Member): Member[] {
    const c = this.#clients.get(m.id);
    return c?.ignoring ? [...c.ignoring] : [];
  }

  rename(m: Member, nick: string): void {
    const c = this.#clients.get(m.id);
    if (!c) return;
    this.#sessions.rename(c, nick);
    this.#accounts.taken(c);
  }

  disconnect(m: Member, message: string, reason: string, now: number): void {
    const r = m.id < 0 ? this.#mirror.byHandle(m.id) : undefined;
    if (r) {
      this.#sync.direct({ t: "kick", to: r.node, toId: r.info.id, message, reason });
      return;
    }
    const c = this.#clients.get(m.id);
    if (c) this.#sessions.drop(c, reason, now, { message });
  }

  grantOp(m: Member): void {
    const c = this.#clients.get(m.id);
    if (!c) return;
    c.op = true;
    // A server operator shows as @ to IRC clients everywhere it is: they are told so.
    const server = this.#fanout.ircName;
    for (const room of c.irc ? c.irc.channels : [c.room]) {
      this.#fanout.ircTell([room], () => wire(server, "MODE", room.label, "+o", toIrcNick(c.nick)));
    }
  }

  strike(m: Member, why: string, now: number, message?: string, secret?: boolean): boolean {
    const c = this.#clients.get(m.id);
    return c ? this.#sanctions.strike(c, why, now, message, secret) : false;
  }

  ban(ip: string, ms: number, reason: string, by: string, now: number): number {
    const why = reason ? `: ${reason}` : ".";
    return this.#sanctions.ban(this.#sanctions.key(ip), ms, reason || "operator ban", by, now, [
      `You have been banned by ${by} for ${formatDuration(ms)}${why}`,
    ]);
  }

  unban(ip: string): boolean {
    return this.#sanctions.unban(ip);
  }

  bans(now: number): BanRecord[] {
    return this.#sanctions.list(now);
  }

  checkAdminToken(attempt: string): boolean {
    return this.opsEnabled && sameSecret(attempt, this.config.adminToken);
  }

  audit(action: string, m: Member, target = "", detail = ""): void {
    const c = this.#clients.get(m.id);
    if (c) this.#record(action, c, target, detail, "");
  }

  /**
   * An operator action: logged, kept for /audit, and appended to the audit log (addresses only
   * outside safe mode).
   */
  #record(action: string, c: Client, target: string, detail: string, room: string): void {
    const fields: Record<string, string | number> = { client: c.id, nick: c.nick };
    if (target) fields.target = target;
    if (room) fields.room = room;
    if (detail) fields.detail = detail;
    this.#log.info(`operator: ${action}`, fields);
    const entry: AuditEntry = {
      at: this.#now,
      action,
      by: c.nick,
      account: c.account,
      address: this.config.safeMode ? "" : c.ip,
      target,
      room,
      detail,
    };
    this.#auditLog.push(entry);
    if (this.#auditLog.length > AUDIT_KEPT) this.#auditLog.shift();
    this.#effects.audit?.(entry);
  }

  auditLog(n: number): AuditEntry[] {
    return this.#auditLog.slice(-n);
  }

  roomSettings(m: Member): RoomSettings {
    const c = this.#clients.member(m.id)!;
    return this.#stewards.settings(c, this.#now);
  }

  moderate(m: Member, act: RoomAct, now: number): string {
    const c = this.#clients.member(m.id);
    if (!c) return "";
    if (act.act === "invite") return this.#acts.invite(c, act.nick, now);
    return this.#acts.act(c, act, now);
  }

  roomBans(m: Member, now: number): SanctionInfo[] | null {
    const c = this.#clients.member(m.id);
    return c ? this.#stewards.bans(c, now) : null;
  }

  marks(who: Member, room: string, now: number): string[] {
    const r = this.#rooms.get(room.toLowerCase());
    const p = who.id < 0 ? this.#mirror.byHandle(who.id) : this.#clients.member(who.id);
    const marks = r && p ? this.#stewards.marks(p, r, now) : [];
    return this.isBot(who) ? [...marks, "bot"] : marks;
  }

  isBot(m: Member): boolean {
    const c = m.id < 0 ? undefined : this.#clients.get(m.id);
    return c !== undefined && (c.view & VIEW_JSON) !== 0;
  }

  accountOf(m: Member): string {
    return this.#clients.get(m.id)?.account ?? "";
  }

  registered(nick: string): string | undefined {
    return this.#accounts.registered(nick);
  }

  reservedFor(nick: string, m: Member): string | undefined {
    return this.#accounts.reserved(nick, this.accountOf(m));
  }

  busy(m: Member): boolean {
    return (this.#clients.get(m.id)?.ticket ?? 0) !== 0;
  }

  register(m: Member, password: string, now: number): void {
    const c = this.#clients.member(m.id);
    if (c) this.#accounts.register(c, password, now);
  }

  identify(m: Member, nick: string, password: string, now: number): void {
    const c = this.#clients.member(m.id);
    if (c) this.#accounts.identify(c, nick, password, now);
  }

  changePassword(m: Member, old: string, fresh: string, now: number): void {
    const c = this.#clients.member(m.id);
    if (c) this.#accounts.changePassword(c, old, fresh, now);
  }

  unregister(m: Member, password: string, now: number): void {
    const c = this.#clients.member(m.id);
    if (c) this.#accounts.unregister(c, password, now);
  }

  dropAccount(nick: string, by: Member): boolean {
    const c = this.#clients.member(by.id);
    return c ? this.#accounts.drop(nick, c) : false;
  }

  keepRoom(m: Member, on: boolean): KeepOutcome {
    const c = this.#clients.member(m.id);
    return c ? this.#rooms.setKept(c, on) : "no-owner";
  }

  history(m: Member, req: HistoryRequest): void {
    const c = this.#clients.member(m.id);
    if (c) this.#recall.history(c, req);
  }

  search(m: Member, words: string[]): void {
    const c = this.#clients.member(m.id);
    if (c) this.#recall.search(c, words);
  }
}

/** The command names, for documentation and tests. */
export const COMMAND_NAMES: readonly string[] = COMMANDS.map((c) => c.name);
