/**
 * The hub: the one owner of the server's state (clients, nicks, rooms, strikes, bans, history).
 * It is a state machine: {@link Hub.handle} takes an event and the current time, updates the
 * state and acts only through {@link HubEffects} and the clients' outboxes. It never awaits,
 * never touches a socket and never reads the clock, so tests drive it with a fake clock and no
 * network. Everything a member sees of a room is decided here: a broadcast goes to one room's
 * members only.
 */
import {
  type Chat,
  COMMANDS,
  findCommand,
  type JoinOutcome,
  type Member,
  type RoomInfo,
  type ViewSettings,
} from "./commands/mod.ts";
import type {
  ClusterIn,
  ClusterOut,
  DirectEv,
  MemberInfo,
  RoomEv,
  Snapshot,
} from "../cluster/bus.ts";
import type { Config } from "../ops/config.ts";
import { createHash } from "node:crypto";
import { type Logger, LogThrottle } from "../ops/log.ts";
import {
  Addresses,
  addressMaySend,
  type AddressState,
  BanList,
  type BanRecord,
  burstWait,
  MAX_BAN_MS,
  mayBurst,
  tooSoon,
} from "./moderation.ts";
import { ipKey, normalizeIp, parseIp, rekey } from "../lib/ip.ts";
import { Mirror, type RemoteMember } from "./mirror.ts";
import { isGuestForm, nickProblem, skeleton } from "./nicks.ts";
import { cleanText } from "../lib/sanitize.ts";
import { type HubSnapshot, HubStats } from "../ops/metrics.ts";
import type { Outbox, SharedLog } from "./shared_log.ts";
import {
  localClock,
  mentionWords,
  render,
  type RoomLine,
  VIEW_COLOR,
  VIEW_STAMPS,
  VIEWS,
} from "./render.ts";
import { ChatRoom, type HistoryLimits } from "./room.ts";
import type { Completion } from "../terminal/editor.ts";
import { formatDuration } from "../lib/units.ts";

/**
 * How the shell should close a connection: `flush` sends what is queued first (and waits a
 * little for the client to hang up), `drop` closes at once and discards it, `refuse` makes one
 * attempt to send the queued line and closes at once (a refused connection holds nothing).
 */
export type CloseMode = "flush" | "drop" | "refuse";

/** What the hub asks of the shell. */
export interface HubEffects {
  /** Client `id`'s outbox has bytes and no writer is draining it: start one. */
  wake(id: number): void;
  /** Close client `id` (see {@link CloseMode}). */
  close(id: number, mode: CloseMode): void;
  /** The ban list changed; persist this snapshot. */
  saveBans(bans: BanRecord[]): void;
  /** The prompt of character-mode client `id` changed (its nick or room did). */
  prompt(id: number, text: string): void;
  /** Pending connection `id` (see the "open" event) is admitted: it may go on. */
  admitted?(id: number): void;
  /** Several processes (--redis): carry this to the others (see src/cluster.ts). */
  cluster?(out: ClusterOut): void;
}

/** Input from one connection: what one or more reads produced. */
export interface InputEvent {
  type: "input";
  id: number;
  /** When the bytes were read (epoch ms): lines are judged by when they arrived. */
  at: number;
  /**
   * The earliest the bytes may have arrived, when the server was stalled before reading them
   * (see the shell's StallClock): the lines are taken as spread over [from, at], not as a burst.
   */
  from?: number;
  /** Bytes read since the connection's last input event. */
  bytes: number;
  /** Whole lines, already cleaned. */
  lines: string[];
  /** An unfinished line is pending. */
  partial: boolean;
  /** Lines refused for their length. */
  overlong: number;
  /** Times the connection went past its budget of telnet commands. */
  telnetFloods: number;
}

/** Events the hub consumes, posted by the shell. */
export type HubEvent =
  | {
    type: "open";
    id: number;
    ip: string;
    port: number;
    outbox: Outbox;
    /** How the client came (`tcp`, `tls`, `http`, `ws`), for metrics. */
    transport?: string;
    /**
     * Admitted now, but not a chat session until {@link HubEvent} `start` (a TLS handshake, an
     * HTTP connection that may upgrade to a WebSocket): it counts against the caps meanwhile.
     */
    pending?: boolean;
  }
  /** A pending connection became a chat session (now over `transport`, when that changed). */
  | { type: "start"; id: number; transport?: string }
  | InputEvent
  /** A telnet client switched to (or out of) character mode: the server now edits its line. */
  | { type: "terminal"; id: number; charMode: boolean }
  | { type: "closed"; id: number; reason: string }
  | { type: "tick" }
  | { type: "shutdown" }
  /** From the other processes, through the cluster link (src/cluster.ts). */
  | { type: "cluster"; msg: ClusterIn };

/** Everything a hub is built from. */
export interface HubOptions {
  config: Config;
  log: Logger;
  effects: HubEffects;
  /** Message-of-the-day lines shown after the welcome banner. */
  motd?: readonly string[];
  /** Bans loaded from the ban file. */
  bans?: readonly BanRecord[];
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

/** A nick from another process that no process of ours would have given out. */
function badRemoteNick(nick: string): boolean {
  return !isGuestForm(nick) && nickProblem(nick) !== undefined;
}

/** Bounced proposals remembered, to skip them if they show up after all. */
const MAX_BOUNCED = 4096;

/** Empty lines in a row, each sooner than the rate limit, that count as one strike. */
export const BLANK_FLOOD = 10;

/** Lines a connection may send before giving the room token. */
export const PREAUTH_LINES = 5;
/** Bytes a connection may send before giving the room token, besides the token itself. */
export const PREAUTH_BYTES = 1024;

/** How a room notice (join, leave, rename) starts: no line a person sends can start so. */
export const NOTICE = "*** ";

const encoder = new TextEncoder();

/** When a client's lines came (see Hub's #line). */
interface LinePace {
  lastLine: number;
  lastAccepted: number;
  /** Blank lines in a row, each too soon after the one before. */
  blankRun: number;
}

/** Client's #flags. */
const OP = 1;
const AUTHED = 2;
const GONE = 4;
const SLOW = 8;
const BELL = 16;
const ALERT = 32;
const CHAR_MODE = 64;
const PENDING = 128;

class Client implements Member {
  nick = "";
  key = "";
  /** The skeleton of a nick the member chose ("" while they have a guest nick). */
  skeleton = "";
  /** The booleans below, a bit each: an idle client's fields are most of what it costs. */
  #flags = 0;
  lastActive: number;
  lastInput: number;
  /** Made with their first line after the token: a client that only listens costs nothing for it. */
  pace: LinePace | null = null;
  partialSince = 0;
  replyTo = 0;
  /** Bytes and lines received before the room token was given. */
  preauthBytes = 0;
  preauthLines = 0;
  /** Why they are away ("" = here). */
  away = "";
  /** How lines are drawn for them: bits of VIEW_COLOR and VIEW_STAMPS. */
  view = 0;
  /** The room they are in (set when they join). */
  room!: ChatRoom<Client>;
  /**
   * Members whose lines this client does not want to see (null until the first /ignore): this
   * process's clients, or members on other processes.
   */
  ignoring: Set<Client | RemoteMember> | null = null;
  /** Members ignoring this client: their lines skip these recipients. */
  ignoredBy: Set<Client> | null = null;

  constructor(
    readonly id: number,
    readonly ip: string,
    /** The key its address's rules and bans are kept under (an IPv6 address's network). */
    readonly addrKey: string,
    readonly port: number,
    readonly outbox: Outbox,
    readonly addr: AddressState,
    readonly connectedAt: number,
    public transport: string,
  ) {
    this.lastActive = connectedAt;
    this.lastInput = connectedAt;
  }

  get op(): boolean {
    return (this.#flags & OP) !== 0;
  }
  set op(on: boolean) {
    this.#flag(OP, on);
  }
  get authed(): boolean {
    return (this.#flags & AUTHED) !== 0;
  }
  set authed(on: boolean) {
    this.#flag(AUTHED, on);
  }
  /** Removed from the hub; nothing more is sent to it. */
  get gone(): boolean {
    return (this.#flags & GONE) !== 0;
  }
  set gone(on: boolean) {
    this.#flag(GONE, on);
  }
  /** Its outbox passed the limit; it is dropped when the current event is done. */
  get slow(): boolean {
    return (this.#flags & SLOW) !== 0;
  }
  set slow(on: boolean) {
    this.#flag(SLOW, on);
  }
  /** The terminal bell rings for a mention or a private message. */
  get bell(): boolean {
    return (this.#flags & BELL) !== 0;
  }
  set bell(on: boolean) {
    this.#flag(BELL, on);
  }
  /** True when colour or bell is on: lines that mention them are drawn for them alone. */
  get alert(): boolean {
    return (this.#flags & ALERT) !== 0;
  }
  set alert(on: boolean) {
    this.#flag(ALERT, on);
  }
  /** The server edits their line (telnet character mode): their own lines are shown back. */
  get charMode(): boolean {
    return (this.#flags & CHAR_MODE) !== 0;
  }
  set charMode(on: boolean) {
    this.#flag(CHAR_MODE, on);
  }
  /** Admitted, but not a chat session yet (a TLS handshake or an HTTP request under way). */
  get pending(): boolean {
    return (this.#flags & PENDING) !== 0;
  }
  set pending(on: boolean) {
    this.#flag(PENDING, on);
  }
  #flag(bit: number, on: boolean): void {
    this.#flags = on ? this.#flags | bit : this.#flags & ~bit;
  }
}

interface DropOptions {
  /** Said to the client before it is closed. */
  message?: string;
  /** How to close (default `flush`). */
  mode?: CloseMode;
  /** No "left" notice for the room. */
  quiet?: boolean;
}

/** Compares two strings in time that depends only on their lengths. */
function sameSecret(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0 && b.length > 0;
}

/** The prompt a character-mode client is shown: who they are, and in which room. */
export function promptFor(nick: string, room: string): string {
  return `[${nick} #${room}] `;
}

/** The server's state machine. */
export class Hub implements Chat {
  readonly config: Config;
  readonly opsEnabled: boolean;
  readonly #log: Logger;
  readonly #fx: HubEffects;
  /** The message of the day, encoded once and shared by every welcome. */
  readonly #motd: Uint8Array | null;
  readonly #random: () => number;
  readonly #clock: (ms: number) => string;
  readonly #clients = new Map<number, Client>();
  /** Rooms by lower-case name; the lobby is always there. */
  readonly #rooms = new Map<string, ChatRoom<Client>>();
  /** Rooms by the skeleton of their name, so a look-alike (`#Iobby`, `#l0bby`) is refused. */
  readonly #roomSkeletons = new Map<string, ChatRoom<Client>>();
  readonly #lobby: ChatRoom<Client>;
  /** Members (authenticated), in every room. */
  #online = 0;
  readonly #limits: HistoryLimits;
  readonly #nicks = new Map<string, Client>();
  /**
   * Members who chose their nick, by its skeleton, so lookalike nicks are refused. Guest nicks
   * need no entry: nobody may choose a name of the guest form, and two guest nicks look alike
   * only when they are equal.
   */
  readonly #skeletons = new Map<string, Client>();
  readonly #addresses = new Addresses();
  readonly #bans: BanList;
  /** Where one broadcast went in each view's log: start and end, or -1 (reused). */
  readonly #ranges = new Array<number>(VIEWS * 2).fill(-1);
  /** Logs appended to since the last flush: their readers need their writers started. */
  readonly #dirty = new Set<SharedLog>();
  #slow: Client[] = [];
  /** Counters for the metrics page. */
  readonly stats = new HubStats();
  /** Open connections by transport. */
  readonly #transports: Record<string, number> = {};
  readonly #refusals = new LogThrottle(60_000);
  /** This process's id among several (--redis), null when it is the only one. */
  readonly #node: string | null;
  /** The cluster link is up: room events go through it (see #propose). */
  #linkUp = false;
  /** Members on the other processes. */
  readonly #mirror: Mirror;
  /** Counts changes in who is where under which nick (rooms' Tab indexes follow it). */
  #epoch = 0;
  /** Proposals sent to the cluster, numbered. */
  #proposals = 0;
  /** Proposals applied here after the link failed under them: skipped if they come back. */
  readonly #bounced = new Set<number>();
  /** Bans and unbans made here while the link was down, for Redis when it is back. */
  readonly #offlineBans = new Set<string>();
  readonly #offlineUnbans = new Set<string>();

  constructor(opts: HubOptions) {
    this.config = opts.config;
    this.opsEnabled = opts.config.adminToken !== "";
    this.#log = opts.log;
    this.#fx = opts.effects;
    const motd = opts.motd ?? [];
    this.#motd = motd.length > 0 ? encoder.encode(motd.join("\r\n") + "\r\n") : null;
    this.#random = opts.random ?? Math.random;
    this.#clock = opts.clock ?? localClock;
    // Bans are kept under address keys; a ban file from another --ipv6-prefix is keyed anew.
    this.#bans = new BanList(
      (opts.bans ?? []).map((b) => {
        const key = rekey(b.ip, opts.config.ipv6Prefix);
        return { ...b, ip: "ip" in key ? key.ip : b.ip };
      }),
    );
    this.#lobby = new ChatRoom<Client>(opts.config.lobby);
    this.#addRoom(this.#lobby);
    this.#limits = { lines: opts.config.history, bytes: opts.config.historyBytes };
    this.#node = opts.node ?? null;
    this.#mirror = new Mirror((ip) => ipKey(ip, opts.config.ipv6Prefix));
  }

  /** Applies one event at time `now` (epoch ms). */
  handle(ev: HubEvent, now: number): void {
    switch (ev.type) {
      case "open":
        this.#open(ev.id, ev.ip, ev.port, ev.outbox, ev.transport ?? "tcp", ev.pending, now);
        break;
      case "start":
        this.#start(ev.id, ev.transport, now);
        break;
      case "input":
        this.#input(ev, now);
        break;
      case "terminal":
        this.#terminal(ev.id, ev.charMode);
        break;
      case "closed": {
        const c = this.#clients.get(ev.id);
        if (c) this.#drop(c, ev.reason, now, { mode: "drop" });
        break;
      }
      case "tick":
        this.#tick(now);
        break;
      case "cluster":
        this.#cluster(ev.msg, now);
        break;
      case "shutdown":
        for (const c of [...this.#clients.values()]) {
          this.#drop(c, "server shutting down", now, {
            message: "Server is shutting down.",
            quiet: true,
          });
        }
        break;
    }
    this.#reapSlow(now);
  }

  /** Connections the hub holds (members and those still giving the room token). */
  get connections(): number {
    return this.#clients.size;
  }

  /** Members online, in every room. */
  get online(): number {
    return this.#online + this.#mirror.size;
  }

  /** Rooms that exist (the lobby included). */
  get roomCount(): number {
    return this.#rooms.size;
  }

  /** The numbers for the metrics page: the counters, and gauges counted now. */
  snapshot(): HubSnapshot {
    let outboxBytes = 0;
    for (const c of this.#clients.values()) outboxBytes += c.outbox.bytes;
    return {
      stats: this.stats,
      connections: { ...this.#transports },
      members: this.#online,
      rooms: this.#rooms.size,
      bansActive: this.#bans.size,
      outboxBytes,
      ...(this.#node === null ? {} : { remoteMembers: this.#mirror.size }),
    };
  }

  /** The nick of client `id`, if it is a member. */
  nickOf(id: number): string | undefined {
    const c = this.#clients.get(id);
    return c?.authed ? c.nick : undefined;
  }

  /** Strikes currently held against an address. */
  strikesOf(ip: string): number {
    return this.#addresses.peek(this.#key(ip))?.strikes ?? 0;
  }

  /** The key per-address rules use for `ip` (see ipKey and --ipv6-prefix). */
  #key(ip: string): string {
    return ipKey(normalizeIp(ip), this.config.ipv6Prefix);
  }

  /** Addresses the hub remembers (connected, struck or recently active). */
  get addressesKnown(): number {
    return this.#addresses.size;
  }

  // ---- events -------------------------------------------------------------------------------

  #open(
    id: number,
    rawIp: string,
    port: number,
    outbox: Outbox,
    transport: string,
    pending: boolean | undefined,
    now: number,
  ): void {
    const ip = normalizeIp(rawIp);
    const key = ipKey(ip, this.config.ipv6Prefix);
    const cfg = this.config;
    const ban = this.#bans.active(key, now);
    if (ban) {
      const left = formatDuration(ban.until - now);
      this.stats.refusedBanned++;
      this.#refuse(id, outbox, `You are still temporarily banned. Try again in ${left}.`);
      if (this.#refusals.first(`ban ${key}`, now)) {
        this.#log.info("refused banned address", { addr: this.#log.addr(ip, port), left });
      }
      return;
    }
    const addr = this.#addresses.get(key, now);
    addr.lastSeen = now;
    if (!mayBurst(addr.connects, now, cfg.connectRate)) {
      this.stats.refusedThrottled++;
      const wait = formatDuration(Math.max(1_000, burstWait(addr.connects, now, cfg.connectRate)));
      this.#refuse(
        id,
        outbox,
        `Too many new connections from your address. Try again in ${wait}.`,
      );
      if (this.#refusals.first(`throttle ${key}`, now)) {
        this.#log.warn("connections from one address too fast: refusing", {
          addr: this.#log.addr(ip),
          limit: `${cfg.connectRate.burst}/${formatDuration(cfg.connectRate.per)}`,
        });
      }
      return;
    }
    if (cfg.maxClients > 0 && this.#clients.size >= cfg.maxClients) {
      this.stats.refusedFull++;
      this.#refuse(id, outbox, "Server is full. Please try again later.");
      if (this.#refusals.first("full", now)) {
        this.#log.warn("server full: refusing connections", { limit: cfg.maxClients });
      }
      return;
    }
    const elsewhere = this.#node === null ? 0 : this.#mirror.fromIp(key);
    if (cfg.maxPerIp > 0 && addr.conns + elsewhere >= cfg.maxPerIp) {
      this.stats.refusedPerAddress++;
      this.#refuse(
        id,
        outbox,
        `Too many connections from your address (limit ${cfg.maxPerIp}).`,
      );
      if (this.#refusals.first(`perip ${key}`, now)) {
        this.#log.warn("too many connections from one address", {
          addr: this.#log.addr(ip),
          limit: cfg.maxPerIp,
        });
      }
      return;
    }
    const c = new Client(id, ip, key, port, outbox, addr, now, transport);
    outbox.owner = id;
    addr.conns++;
    this.#transports[transport] = (this.#transports[transport] ?? 0) + 1;
    this.#clients.set(id, c);
    if (pending) {
      c.pending = true;
      if (this.#log.enabled("debug")) {
        this.#log.debug("accepted", { client: id, addr: this.#log.addr(ip, port), transport });
      }
      this.#fx.admitted?.(id);
      return;
    }
    this.#session(c, now);
  }

  /** A pending connection (TLS handshake done, WebSocket upgraded) becomes a chat session. */
  #start(id: number, transport: string | undefined, now: number): void {
    const c = this.#clients.get(id);
    if (!c || c.gone || !c.pending) return;
    c.pending = false;
    if (transport && transport !== c.transport) {
      this.#transports[c.transport]--;
      this.#transports[transport] = (this.#transports[transport] ?? 0) + 1;
      c.transport = transport;
    }
    this.#session(c, now);
  }

  /** The start of a chat session: the room token is asked for, or the client joins. */
  #session(c: Client, now: number): void {
    if (this.#log.enabled("info")) {
      this.#log.info("connect", { client: c.id, addr: this.#log.addr(c.ip, c.port) });
    }
    const cfg = this.config;
    if (cfg.token) {
      this.#tell(c, `${cfg.name}: this room is private. Type the room token and press Enter.`);
    } else {
      this.#join(c, now);
    }
  }

  /** Answers a connection the hub will not take, then closes it at once. */
  #refuse(id: number, outbox: Outbox, message: string): void {
    outbox.push(encoder.encode(message + "\r\n"));
    this.#arm(id, outbox);
    this.#fx.close(id, "refuse");
  }

  #join(c: Client, now: number): void {
    c.authed = true;
    c.nick = this.#guestNick();
    c.key = c.nick.toLowerCase();
    c.lastActive = now;
    this.#nicks.set(c.key, c);
    this.#epoch++;
    const lobby = this.#lobby;
    c.room = lobby;
    lobby.members.add(c);
    if (c.alert) lobby.alerts++;
    c.outbox.read(lobby.logFor(c.view));
    this.stats.joins++;
    const n = ++this.#online + this.#mirror.size;
    const others = n === 1 ? "you are the only one here" : `${n} people are online`;
    // The welcome is the server's own doing: it is always queued, never counted against the
    // reader (the configuration guarantees it fits in half an outbox), and the motd and history
    // are buffers shared by every newcomer rather than copies.
    this.#push(
      c,
      encoder.encode(
        `Welcome to ${this.config.name}! You are ${c.nick} in ${lobby.label}; ${others}.\r\n` +
          "Type /help for the commands and /nick NAME to choose your name.\r\n",
      ),
    );
    if (this.#motd) this.#push(c, this.#motd);
    if (lobby.topic) this.#push(c, encoder.encode(`Topic: ${lobby.topic}\r\n`));
    const history = lobby.historyBlock(c.view & VIEW_COLOR, this.#clock);
    if (history) this.#push(c, history);
    const joined = this.#announcing(lobby) ? `${c.nick} joined` : "";
    if (joined) this.#notice(lobby, joined, c);
    this.#enter(c, lobby, joined);
    if (c.charMode) this.#fx.prompt(c.id, promptFor(c.nick, lobby.name));
    if (this.#log.enabled("info")) {
      this.#log.info("join", { client: c.id, nick: c.nick, room: lobby.label, online: n });
    }
  }

  /**
   * A telnet client's terminal mode changed. In character mode the server echoes and edits the
   * line, so the client gets what a terminal user expects: colours, the bell, and their own
   * lines shown back once.
   */
  #terminal(id: number, charMode: boolean): void {
    const c = this.#clients.get(id);
    if (!c || c.gone || c.charMode === charMode) return;
    c.charMode = charMode;
    this.setView(c, { color: charMode, bell: charMode });
    if (charMode && c.authed) this.#fx.prompt(c.id, promptFor(c.nick, c.room.name));
  }

  #input(ev: InputEvent, now: number): void {
    const c = this.#clients.get(ev.id);
    if (!c || c.gone) return;
    // Judged by when the bytes arrived, not by when the hub got to them: lines that queued up
    // while the hub was busy keep the spacing their sender gave them.
    const at = Math.min(ev.at, now);
    // Read together after a stall of the server, they may have come at any time during it.
    const from = Math.min(ev.from ?? at, at);
    c.lastInput = at;
    if (ev.lines.length > 0 || !ev.partial) c.partialSince = 0;
    if (ev.partial && c.partialSince === 0) c.partialSince = at;
    if (!c.authed) {
      c.preauthBytes += ev.bytes;
      if (c.preauthBytes > PREAUTH_BYTES + this.config.token.length) {
        this.#tooMuchBeforeToken(c, at);
        return;
      }
    }
    if (ev.telnetFloods > 0) {
      for (let i = 0; i < ev.telnetFloods && !c.gone; i++) {
        this.#strike(c, "telnet negotiation flood", at, i === 0 ? "Too many telnet commands." : "");
      }
    }
    if (ev.overlong > 0) {
      const note = `That line was too long (over ${this.config.maxLine} bytes) and was not sent.`;
      for (let i = 0; i < ev.overlong && !c.gone; i++) {
        this.#strike(c, "line too long", at, i === 0 ? note : "");
      }
    }
    const lines = ev.lines;
    const n = lines.length;
    for (let i = 0; i < n && !c.gone; i++) {
      this.#line(c, lines[i], from === at ? at : from + ((at - from) * (i + 1)) / n);
    }
  }

  #line(c: Client, text: string, at: number): void {
    if (!c.authed) {
      if (++c.preauthLines > PREAUTH_LINES) this.#tooMuchBeforeToken(c, at);
      else if (text !== "") this.#authenticate(c, text, at);
      return;
    }
    const rate = this.config.rateLimit;
    const pace = c.pace ??= { lastLine: -Infinity, lastAccepted: -Infinity, blankRun: 0 };
    const rapid = tooSoon(pace.lastLine, at, rate);
    pace.lastLine = at;
    if (text === "") {
      // Blank lines are ignored, but a burst of them is a flood like any other.
      pace.blankRun = rapid ? pace.blankRun + 1 : 1;
      if (pace.blankRun >= BLANK_FLOOD) {
        pace.blankRun = 0;
        this.#strike(c, "flood of empty lines", at, "Too many empty lines.");
      }
      return;
    }
    pace.blankRun = 0;
    // The per-connection rule, then the address's: a flood through fresh connections (each
    // with a clean per-connection record) still drains the address's allowance.
    const fast = tooSoon(pace.lastAccepted, at, rate)
      ? "too fast"
      : addressMaySend(c.addr, at, rate)
      ? ""
      : "too fast from one address";
    if (fast) {
      if (!/^\/quit(\s|$)/i.test(text)) {
        this.#strike(c, fast, at, "Slow down: that line was not sent.");
      } else if (this.#strike(c, fast, at)) {
        // Leaving is never refused, but a hasty /quit's reason is not shown: a fresh
        // connection per /quit would otherwise put words in front of the whole room for free.
        this.#drop(c, "quit", at, { message: "Goodbye!" });
      }
      return;
    }
    pace.lastAccepted = at;
    c.lastActive = at;
    const given = this.stats.strikes;
    if (text.charCodeAt(0) === 0x2f && text.charCodeAt(1) !== 0x2f) {
      this.#command(c, text, at);
    } else {
      if (c.away) this.setAway(c, "");
      this.say(c, text.charCodeAt(0) === 0x2f ? text.slice(1) : text, at);
    }
    // A good line takes a strike away, but not one it earned itself (a wrong /op token), and
    // never the strikes for wrong secrets.
    const a = c.addr;
    if (this.stats.strikes === given && a.strikes > a.secretStrikes) {
      a.strikes--;
      if (this.#linked()) this.#fx.cluster!({ op: "strike", ip: c.addrKey, delta: -1 });
    }
  }

  #command(c: Client, text: string, now: number): void {
    const m = /^\/(\S*)\s*(.*)$/s.exec(text)!;
    const cmd = findCommand(m[1]);
    if (!cmd) {
      const name = m[1].length > 24 ? m[1].slice(0, 24) + "…" : m[1];
      this.#tell(c, `Unknown command /${name}. Type /help for the list.`);
      return;
    }
    cmd.run(this, c, m[2], now);
  }

  #authenticate(c: Client, text: string, now: number): void {
    if (sameSecret(text, this.config.token)) {
      this.#log.info("room token accepted", { client: c.id });
      this.#join(c, now);
      return;
    }
    this.#log.info("wrong room token", { client: c.id });
    if (this.#strike(c, "wrong room token", now, "Wrong token.", true)) {
      this.#drop(c, "wrong token", now, {});
    }
  }

  /** Before the room token, input is on a small budget: past it, a strike and goodbye. */
  #tooMuchBeforeToken(c: Client, now: number): void {
    if (this.#strike(c, "too much input before the token", now)) {
      this.#drop(c, "too much input before the token", now, {
        message: "Too much input before the room token; goodbye.",
      });
    }
  }

  #tick(now: number): void {
    const cfg = this.config;
    for (const c of this.#clients.values()) {
      // A pending connection's time is bounded by the shell (handshake and HTTP timeouts).
      if (c.gone || c.pending) continue;
      if (!c.authed && now - c.connectedAt >= cfg.authTimeout) {
        // Not giving the token in time is a strike too: a connection that only holds a place
        // costs its address.
        if (this.#strike(c, "no token in time", now)) {
          this.#drop(c, "no token", now, {
            message: `No token within ${formatDuration(cfg.authTimeout)}; goodbye.`,
          });
        }
      } else if (
        cfg.lineTimeout > 0 && c.partialSince > 0 &&
        now - c.partialSince >= cfg.lineTimeout
      ) {
        this.#drop(c, "unfinished line", now, {
          message: `Disconnected: a line was started but not finished within ${
            formatDuration(cfg.lineTimeout)
          }.`,
        });
      } else if (cfg.idleTimeout > 0 && now - c.lastInput >= cfg.idleTimeout) {
        this.#drop(c, "idle", now, {
          message: `Disconnected: nothing received for ${formatDuration(cfg.idleTimeout)}.`,
        });
      }
    }
    if (this.#bans.prune(now)) this.#saveBans();
    // An address is remembered until its allowances are full again (and its strikes, if any,
    // for the strike memory).
    const quiet = Math.max(cfg.rateLimit, cfg.connectRate.burst > 0 ? cfg.connectRate.per : 0);
    this.#addresses.prune(now, cfg.banDuration, quiet);
    for (const { key, count } of this.#refusals.sweep(now)) {
      const [kind, ip] = key.split(" ");
      const fields = { times: count, within: "60s" };
      if (kind === "ban") {
        this.#log.info("refused banned address again", { addr: this.#log.addr(ip), ...fields });
      } else if (kind === "full") {
        this.#log.warn("server full: more connections refused", fields);
      } else if (kind === "throttle") {
        this.#log.warn("more connections from one address refused as too fast", {
          addr: this.#log.addr(ip),
          ...fields,
        });
      } else {
        this.#log.warn("more connections refused from one address", {
          addr: this.#log.addr(ip),
          ...fields,
        });
      }
    }
  }

  // ---- delivery -----------------------------------------------------------------------------

  #send(c: Client, bytes: Uint8Array): void {
    if (c.gone || c.slow) return;
    this.#enqueue(c, bytes);
  }

  /**
   * Queues bytes for a member still being served; one past --max-outbox is marked slow instead
   * (and dropped once the current event is done).
   */
  #enqueue(c: Client, bytes: Uint8Array): void {
    const ob = c.outbox;
    if (ob.bytes + bytes.length > this.config.maxOutbox) {
      c.slow = true;
      this.#slow.push(c);
      return;
    }
    ob.push(bytes);
    this.stats.deliveries++;
    this.#arm(c.id, ob);
  }

  /** Queues what the server itself must say (a welcome, last words), whatever the limit. */
  #push(c: Client, bytes: Uint8Array): void {
    c.outbox.push(bytes);
    this.#arm(c.id, c.outbox);
  }

  /** Asks the shell to start the writer of an outbox that has just got bytes. */
  #arm(id: number, ob: Outbox): void {
    if (!ob.armed) {
      ob.armed = true;
      this.#fx.wake(id);
    }
  }

  #tell(c: Client, ...lines: string[]): void {
    this.#send(c, encoder.encode(lines.join("\r\n") + "\r\n"));
  }

  /**
   * A line to every member of `room` but `except`: rendered once per view that someone in the
   * room reads, and appended once to that view's shared log, whatever the number of readers.
   * Only the exceptions cost per person: `except` (the author) is skipped, or shown the line as
   * their own if their screen shows nothing of what they typed; those in `skip` (ignoring the
   * author) are skipped; a reader whose nick the line mentions (with colour or the bell on)
   * gets a highlighted copy in its place. Returns the plain rendering's length in bytes.
   */
  #broadcast(
    room: ChatRoom<Client>,
    line: RoomLine,
    except?: Client,
    skip?: Set<Client> | null,
  ): number {
    const clock = this.#clock;
    const ranges = this.#ranges;
    let plain = -1;
    let readers = 0;
    for (let v = 0; v < VIEWS; v++) {
      const log = room.logs[v];
      ranges[2 * v] = -1;
      if (!log || log.readers.size === 0) continue;
      const bytes = encoder.encode(render(line, v, clock));
      if (v === 0) plain = bytes.length;
      ranges[2 * v] = log.append(bytes);
      ranges[2 * v + 1] = log.head;
      readers += log.readers.size;
      this.#dirty.add(log);
    }
    this.stats.deliveries += readers;
    const mentionable = line.kind === "chat" || line.kind === "action";
    if (except?.room === room) {
      // Someone whose screen shows nothing of what they sent (the server edits their line, or
      // a browser) sees their own line once, as they'd read it back; others not at all.
      const echo = (except.charMode || except.transport === "ws") && mentionable;
      this.#instead(except, echo ? render(line, except.view, clock, { own: true }) : null);
    }
    if (skip) { for (const o of skip) if (o !== except && o.room === room) this.#instead(o, null); }
    if (mentionable && room.alerts > 0) {
      for (const word of mentionWords(line.text)) {
        const m = this.#nicks.get(word);
        if (!m || m.room !== room || !m.alert || m === except || skip?.has(m)) continue;
        this.#instead(m, render(line, m.view, clock, { mention: true, bell: m.bell }));
      }
    }
    return plain >= 0 ? plain : encoder.encode(render(line, 0, clock)).length;
  }

  /** For `c`, the broadcast just appended is left out, or replaced by `text`. */
  #instead(c: Client, text: string | null): void {
    const v = c.view;
    const start = this.#ranges[2 * v];
    const bytes = text === null ? null : encoder.encode(text);
    if (start >= 0) c.outbox.skip(start, this.#ranges[2 * v + 1], bytes);
    else if (bytes) c.outbox.push(bytes);
  }

  /**
   * After a batch of events: starts the writers of everyone whose log got lines, and drops
   * readers that fell more than --max-outbox behind. This is the one place that costs per
   * reader, once per batch rather than once per line.
   */
  flush(now: number): void {
    const max = this.config.maxOutbox;
    for (const log of this.#dirty) {
      for (const r of log.readers) {
        const ob = r as Outbox;
        const c = this.#clients.get(ob.owner);
        if (!c || c.gone || c.slow) continue;
        if (ob.bytes > max) {
          c.slow = true;
          this.#slow.push(c);
        } else if (!ob.armed) {
          ob.armed = true;
          this.#fx.wake(c.id);
        }
      }
    }
    this.#dirty.clear();
    this.#reapSlow(now);
  }

  /** A notice (`*** …`) for everyone in `room` but `except`. */
  #notice(room: ChatRoom<Client>, text: string, except?: Client): void {
    this.#broadcast(room, { kind: "notice", nick: "", text, at: 0 }, except);
  }

  /** A notice in every room that has members on this process. */
  #noticeEverywhere(text: string): void {
    for (const room of this.#rooms.values()) if (room.members.size > 0) this.#notice(room, text);
  }

  /** Whether joins and leaves are announced in `room` (--announce-max, per room). */
  #announcing(room: ChatRoom<Client>): boolean {
    const max = this.config.announceMax;
    return max === 0 || this.#size(room) <= max;
  }

  /** What `viewer` may see of `room`: a keyed room's topic only from inside. */
  #info(room: ChatRoom<Client>, viewer?: Client): RoomInfo {
    const visible = !room.secret || viewer?.room === room;
    return {
      name: room.name,
      label: room.label,
      members: this.#size(room),
      topic: visible ? room.topic : "",
      topicBy: visible ? room.topicBy : "",
      keyed: room.secret !== "",
      lobby: room === this.#lobby,
    };
  }

  /** A room now exists (made here, or heard of from the others). */
  #addRoom(room: ChatRoom<Client>): void {
    this.#rooms.set(room.id, room);
    this.#roomSkeletons.set(skeleton(room.id), room);
  }

  /** Takes `c` out of its room; a room other than the lobby goes away once empty. */
  #leaveRoom(c: Client): void {
    const room = c.room;
    room.members.delete(c);
    this.#epoch++;
    this.#roomMaybeGone(room);
  }

  /** People in `room`, here and on the other processes. */
  #size(room: ChatRoom<Client>): number {
    return room.members.size + (this.#node === null ? 0 : this.#mirror.inRoom(room.id));
  }

  /** A room other than the lobby goes away once nobody, here or elsewhere, is in it. */
  #roomMaybeGone(room: ChatRoom<Client>): void {
    if (this.#size(room) === 0 && room !== this.#lobby && this.#rooms.get(room.id) === room) {
      this.#rooms.delete(room.id);
      if (this.#roomSkeletons.get(skeleton(room.id)) === room) {
        this.#roomSkeletons.delete(skeleton(room.id));
      }
      this.#log.info("room emptied", { room: room.label });
    }
  }

  #reapSlow(now: number): void {
    while (this.#slow.length > 0) {
      const c = this.#slow.pop()!;
      if (c.gone) continue;
      this.stats.slowReaders++;
      this.#log.warn("slow reader disconnected", {
        client: c.id,
        nick: c.nick || undefined,
        queued: c.outbox.bytes,
      });
      this.#drop(c, "too slow: stopped reading", now, { mode: "drop" });
    }
  }

  /** The one way out of the room: closes the connection and tells the others. */
  #drop(c: Client, reason: string, now: number, opts: DropOptions): void {
    if (c.gone) return;
    c.outbox.stop(); // nothing said from now on reaches it
    if (opts.message) {
      c.slow = false; // a last word is always queued, even past the limit
      this.#push(c, encoder.encode(opts.message + "\r\n"));
    }
    c.gone = true;
    this.#clients.delete(c.id);
    this.#transports[c.transport]--;
    c.addr.conns--;
    c.addr.lastSeen = now;
    const mode = opts.mode ?? "flush";
    if (mode === "drop") c.outbox.clear();
    this.#fx.close(c.id, mode);
    if (c.ignoring) { for (const o of c.ignoring) o.ignoredBy?.delete(c); }
    if (c.ignoredBy) { for (const o of c.ignoredBy) o.ignoring?.delete(c); }
    c.ignoring = c.ignoredBy = null;
    if (c.authed) {
      const room = c.room;
      const left = this.#announcing(room) ? `${c.nick} left (${reason})` : "";
      this.#leaveRoom(c);
      if (c.alert) room.alerts--;
      this.#online--;
      this.#nicks.delete(c.key);
      if (c.skeleton) this.#skeletons.delete(c.skeleton);
      if (left && !opts.quiet) this.#notice(room, left);
      // A quiet leave (this process stopping) is still news on the others.
      this.#propose(room.id, { t: "leave", id: c.id, nick: c.nick, notice: left }, null, c.key);
    }
    if (c.pending) {
      // Never a chat session (a failed handshake, a page load): worth a line only when debugging.
      if (this.#log.enabled("debug")) this.#log.debug("closed", { client: c.id, reason });
    } else if (this.#log.enabled("info")) {
      this.#log.info("disconnect", { client: c.id, nick: c.nick || undefined, reason });
    }
  }

  /**
   * A strike against `c`'s address, telling `c` the message (if any) with the count; at the
   * limit the address is banned. A `secret` strike (a wrong token) is one good lines cannot
   * take away. Returns false if it got the address banned (and `c` disconnected).
   */
  #strike(c: Client, why: string, now: number, message = "", secret = false): boolean {
    const a = c.addr;
    const max = this.config.maxStrikes;
    a.strikes++;
    a.lastSeen = now;
    this.stats.strikes++;
    if (this.#linked()) this.#fx.cluster!({ op: "strike", ip: c.addrKey, delta: 1 });
    if (secret) {
      a.secretStrikes++;
      a.lastSecretStrike = now;
    }
    this.#log.info("strike", {
      client: c.id,
      nick: c.nick || undefined,
      strikes: `${a.strikes}/${max}`,
      reason: why,
    });
    if (a.strikes < max) {
      if (message) this.#tell(c, `${message} (strike ${a.strikes} of ${max})`);
      return true;
    }
    if (message) this.#tell(c, message);
    this.#banForSpam(c.addrKey, now);
    return false;
  }

  /** The server's ban of an address key that reached --max-strikes (here, or elsewhere). */
  #banForSpam(ip: string, now: number): void {
    this.#ban(ip, this.config.banDuration, "spamming", "server", now, [
      "You have been banned for spamming.",
      `The ban ends in ${formatDuration(this.config.banDuration)}.`,
    ]);
  }

  #ban(
    ip: string,
    ms: number,
    reason: string,
    by: string,
    now: number,
    message: string[],
    fromCluster = false,
  ): number {
    ms = Math.min(ms, MAX_BAN_MS);
    this.stats.bans++;
    const ban = { ip, until: now + ms, reason, by, since: now };
    this.#bans.add(ban);
    this.#saveBans();
    if (!fromCluster && this.#linked()) {
      this.#fx.cluster!({ op: "direct", ev: { t: "ban", ...ban } });
      this.#fx.cluster!({ op: "strike", ip, delta: 0 });
    } else if (!fromCluster && this.#node !== null) {
      this.#offlineBans.add(ip);
      this.#offlineUnbans.delete(ip);
    }
    const a = this.#addresses.peek(ip);
    if (a) a.strikes = a.secretStrikes = 0;
    this.#log.warn("address banned", {
      addr: this.#log.addr(ip),
      for: formatDuration(ms),
      reason,
      by,
    });
    const targets = [...this.#clients.values()].filter((c) => c.addrKey === ip);
    for (const c of targets) {
      this.#drop(c, reason === "spamming" ? "banned for spamming" : "banned", now, {
        message: message.join("\r\n"),
      });
    }
    return targets.length;
  }

  #saveBans(): void {
    this.#fx.saveBans(this.#bans.snapshot());
  }

  #guestNick(): string {
    // Enough digits that most draws are free: at least four times as many numbers as nicks.
    let digits = 4;
    while (9 * 10 ** (digits - 1) < 4 * this.#nicks.size) digits++;
    for (;; digits++) {
      const lo = 10 ** (digits - 1);
      for (let attempt = 0; attempt < 20; attempt++) {
        const nick = `guest-${lo + Math.floor(this.#random() * (9 * lo))}`;
        if (!this.#nicks.has(nick) && !this.#mirror.byKey(nick)) return nick;
      }
    }
  }

  // ---- Several processes (--redis): see src/cluster.ts --------------------------------------

  /** Room events go through the other processes (and come back in order) while linked. */
  #linked(): boolean {
    return this.#node !== null && this.#linkUp && this.#fx.cluster !== undefined;
  }

  /** What the others know of `c`. */
  #memberInfo(c: Client): MemberInfo {
    return {
      id: c.id,
      nick: c.nick,
      ip: c.ip,
      room: c.room.id,
      away: c.away,
      op: c.op,
      active: c.lastActive,
    };
  }

  /** A room key as the hub keeps it: as typed alone, its SHA-256 when shared with others. */
  #secret(key: string): string {
    return key && this.#node !== null ? createHash("sha256").update(key).digest("hex") : key;
  }

  /**
   * Sends a room event to the others (when linked); `claim` takes (or refreshes) `claim`'s nick
   * in the cluster and `release` gives one up.
   */
  #propose(room: string, ev: RoomEv, claim?: Client | null, release?: string): void {
    if (!this.#linked()) return;
    this.#fx.cluster!({
      op: "room",
      room,
      ev,
      u: ++this.#proposals,
      claim: claim ? { key: claim.key, info: this.#memberInfo(claim) } : undefined,
      release,
    });
  }

  /** Tells the others `c` is now in `room` (holding its nick). */
  #enter(c: Client, room: ChatRoom<Client>, notice: string, created = false): void {
    this.#propose(room.id, {
      t: "enter",
      m: this.#memberInfo(c),
      name: room.name,
      notice,
      created: created || room.secret ? { key: room.secret, fresh: created } : undefined,
    }, c);
  }

  #cluster(msg: ClusterIn, now: number): void {
    switch (msg.kind) {
      case "bus": {
        const b = msg.bus;
        if (b.kind === "room") this.#applyRoom(b.node, b.room, b.ev, msg.u ?? 0);
        else this.#applyDirect(b.node, b.ev, now);
        break;
      }
      case "bounced":
        // A line that may never have reached the others is shown here at once; if it does come
        // back after all, it is skipped then.
        if (msg.ev.t === "say" && this.#node !== null) {
          this.#bounced.add(msg.u);
          // Most never come back (the link was down); keep the newest few thousand.
          if (this.#bounced.size > MAX_BOUNCED) {
            this.#bounced.delete(this.#bounced.values().next().value!);
          }
          this.#applyRoom(this.#node, msg.room, msg.ev, 0);
        }
        break;
      case "refused":
        this.#refused(msg.ev);
        break;
      case "link":
        this.#linkUp = msg.up;
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
        const room = this.#rooms.get(msg.room);
        const n = msg.count;
        if (room && room.members.size > 0) {
          this.#notice(
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
        if (msg.count >= this.config.maxStrikes && !this.#bans.active(msg.ip, now)) {
          this.#banForSpam(msg.ip, now);
        }
        break;
    }
  }

  /** A room event, in the room's order, from process `node` (this one included). */
  #applyRoom(node: string, roomId: string, ev: RoomEv, u: number): void {
    const self = node === this.#node;
    let room = this.#rooms.get(roomId);
    if (ev.t === "say") {
      if (self && u && this.#bounced.delete(u)) return;
      if (!room) return;
      // What comes from Redis is cleaned like anything typed (it could have been put there by
      // something other than Shat).
      const text = self ? ev.text : cleanText(ev.text);
      if (!self && (badRemoteNick(ev.nick) || text === "")) return;
      const line: RoomLine = { kind: ev.kind, nick: ev.nick, text, at: ev.at };
      let except: Client | undefined;
      let skip: Set<Client> | null = null;
      if (self) {
        except = this.#clients.get(ev.id);
        skip = except?.ignoredBy ?? null;
      } else {
        const author = this.#mirror.get(node, ev.id);
        if (author) author.info.active = Math.max(author.info.active, ev.at); // for /who
        skip = (author?.ignoredBy as Set<Client> | null) ?? null;
      }
      room.remember(line, this.#broadcast(room, line, except, skip), this.#limits);
      return;
    }
    if (self) return; // applied here when proposed
    switch (ev.t) {
      case "enter": {
        if (badRemoteNick(ev.m.nick) || !("ip" in parseIp(ev.m.ip))) return;
        if (!room) {
          room = new ChatRoom<Client>(ev.name, ev.created?.key ?? "");
          this.#addRoom(room);
        } else if (ev.created && room.members.size === 0 && this.#mirror.inRoom(room.id) === 0) {
          room.secret = ev.created.key;
        }
        const { was } = this.#mirror.upsert(node, ev.m);
        this.#epoch++;
        if (was !== undefined && was !== room.id) {
          const old = this.#rooms.get(was);
          if (old) this.#roomMaybeGone(old);
        }
        if (ev.notice) this.#notice(room, ev.notice);
        break;
      }
      case "leave": {
        const m = this.#mirror.get(node, ev.id);
        if (m && m.room === roomId) this.#forget(m);
        if (room) {
          if (ev.notice) this.#notice(room, ev.notice);
          this.#roomMaybeGone(room);
        }
        break;
      }
      case "nick": {
        if (badRemoteNick(ev.to)) return;
        const m = this.#mirror.get(node, ev.id);
        if (m) this.#mirror.update(m, { nick: ev.to });
        this.#epoch++;
        if (room && ev.notice) this.#notice(room, ev.notice);
        break;
      }
      case "topic":
        if (!room) break;
        room.topic = ev.topic;
        room.topicBy = ev.topic ? ev.by : "";
        this.#notice(
          room,
          ev.topic ? `${ev.by} set the topic: ${ev.topic}` : `${ev.by} cleared the topic`,
        );
        break;
      case "away": {
        const m = this.#mirror.get(node, ev.id);
        if (m) this.#mirror.update(m, { away: ev.away });
        break;
      }
    }
  }

  /** A member elsewhere is gone: out of the mirror and of everyone's ignore lists. */
  #forget(m: RemoteMember): void {
    this.#mirror.remove(m.node, m.info.id);
    this.#epoch++;
    if (m.ignoredBy) { for (const c of m.ignoredBy) (c as Client).ignoring?.delete(m); }
    m.ignoredBy = null;
  }

  /** A member elsewhere vanished without leaving (their process died, or Redis forgot them). */
  #connectionLost(m: RemoteMember): void {
    this.#forget(m);
    const room = this.#rooms.get(m.room);
    if (!room) return;
    if (this.#announcing(room)) this.#notice(room, `${m.nick} left (connection lost)`);
    this.#roomMaybeGone(room);
  }

  #applyDirect(node: string, ev: DirectEv, now: number): void {
    switch (ev.t) {
      case "msg": {
        if (ev.to !== this.#node) return;
        const b = this.#clients.get(ev.toId);
        const from = this.#mirror.get(node, ev.id);
        if (!b?.authed || (from && b.ignoring?.has(from))) return;
        const text = cleanText(ev.text);
        if (badRemoteNick(ev.nick) || text === "") return;
        const line: RoomLine = { kind: "private", nick: ev.nick, text, at: ev.at };
        this.#send(b, encoder.encode(render(line, b.view, this.#clock, { bell: b.bell })));
        if (from) b.replyTo = from.id;
        break;
      }
      case "kick": {
        if (ev.to !== this.#node) return;
        const c = this.#clients.get(ev.toId);
        if (c) this.#drop(c, ev.reason, now, { message: ev.message });
        break;
      }
      case "ban":
        if (node !== this.#node) this.#banFromCluster(ev, now);
        break;
      case "unban":
        if (node === this.#node) return;
        if (this.#bans.remove(ev.ip)) this.#saveBans();
        break;
      case "gone":
        if (ev.node === this.#node) {
          // The others took this process for dead (it missed its heartbeats): claim everyone
          // here again.
          for (const c of this.#clients.values()) {
            if (c.authed) this.#enter(c, c.room, `${c.nick} joined`);
          }
          return;
        }
        for (const m of this.#mirror.removeNode(ev.node)) this.#connectionLost(m);
        break;
    }
  }

  /** A ban another process made (or Redis kept): applied here unless it is one already. */
  #banFromCluster(b: BanRecord, now: number): void {
    const target = rekey(b.ip, this.config.ipv6Prefix);
    if (!("ip" in target) || !(b.until > now)) return; // not a ban Shat makes
    if (this.#bans.active(target.ip, now)) return;
    this.#ban(target.ip, b.until - now, b.reason, b.by, now, [
      b.by === "server"
        ? "You have been banned for spamming."
        : `You have been banned by ${b.by}${b.reason ? `: ${b.reason}` : "."}`,
    ], true);
  }

  /** A nick this process took was taken elsewhere first: its holder here gets a new one. */
  #refused(ev: RoomEv): void {
    const id = ev.t === "enter" ? ev.m.id : ev.t === "nick" ? ev.id : -1;
    const nick = ev.t === "enter" ? ev.m.nick : ev.t === "nick" ? ev.to : "";
    const c = this.#clients.get(id);
    if (!c?.authed || c.key !== nick.toLowerCase()) return;
    this.#tell(c, `Someone on another server has the nick ${nick}.`);
    // The others never saw the refused nick: to them this is a rename from the one before.
    this.#rename(c, this.#guestNick(), ev.t === "nick" ? ev.from : null);
  }

  /** The cluster as Redis has it (at start, and whenever the link came back). */
  #resync(snap: Snapshot, now: number, fresh: boolean): void {
    this.#linkUp = true;
    const self = this.#node;
    const meta = new Map(snap.rooms.map((r) => [r.id, r]));
    const seen = new Set<RemoteMember>();
    for (const { node, info } of snap.members) {
      if (node === self) continue;
      let room = this.#rooms.get(info.room);
      if (!room) {
        const r = meta.get(info.room);
        room = new ChatRoom<Client>(r?.name ?? info.room, r?.key ?? "");
        this.#addRoom(room);
      }
      seen.add(this.#mirror.upsert(node, info).member);
      this.#epoch++;
    }
    for (const m of this.#mirror.members()) if (!seen.has(m)) this.#connectionLost(m);
    for (const r of snap.rooms) {
      const room = this.#rooms.get(r.id);
      if (!room) continue;
      if (r.topic || !room.topic) {
        room.topic = r.topic;
        room.topicBy = r.topicBy;
      }
      if (r.key && !room.secret) room.secret = r.key;
    }
    for (const h of snap.history) {
      const room = this.#rooms.get(h.room);
      if (!room || room.historyLength > 0) continue;
      for (const line of h.lines) {
        room.remember(line, encoder.encode(render(line, 0, this.#clock)).length, this.#limits);
      }
    }
    // Bans: Redis's list is the cluster's, except what changed here while the link was down.
    // When Redis had nothing (first process, or it lost its data) this process's bans (from
    // its ban file) go back into it.
    const known = new Set<string>();
    for (const b of snap.bans) {
      known.add(b.ip);
      if (!this.#offlineUnbans.has(b.ip)) this.#banFromCluster(b, now);
    }
    for (const b of this.#bans.list(now)) {
      if (known.has(b.ip)) continue;
      if (fresh || this.#offlineBans.has(b.ip)) {
        this.#fx.cluster?.({ op: "direct", ev: { t: "ban", ...b } });
      } else if (this.#bans.remove(b.ip)) {
        this.#saveBans(); // lifted elsewhere while this process was away
      }
    }
    for (const ip of this.#offlineUnbans) {
      if (known.has(ip)) this.#fx.cluster?.({ op: "direct", ev: { t: "unban", ip } });
    }
    this.#offlineBans.clear();
    this.#offlineUnbans.clear();
    // This process's members: claimed again (quietly if Redis still had them), and entries of
    // members who left while the link was down are given up.
    const mine = new Map<number, string>();
    for (const { node, info } of snap.members) if (node === self) mine.set(info.id, info.nick);
    for (const c of this.#clients.values()) {
      if (!c.authed) continue;
      const had = mine.get(c.id) === c.nick;
      mine.delete(c.id);
      this.#enter(c, c.room, had || !this.#announcing(c.room) ? "" : `${c.nick} joined`);
    }
    for (const [id, nick] of mine) {
      const ev: RoomEv = { t: "leave", id, nick, notice: "" };
      this.#propose(this.#lobby.id, ev, null, nick.toLowerCase());
    }
  }

  // ---- Room: what commands may do ------------------------------------------------------------

  tell(to: Member, ...lines: string[]): void {
    const c = this.#clients.get(to.id);
    if (c) this.#tell(c, ...lines);
  }

  say(from: Member, text: string, now: number): void {
    const c = this.#clients.get(from.id);
    if (!c?.authed) return;
    this.stats.lines++;
    if (this.#linked()) {
      // Everyone sees a room's lines in one order: this one is shown when it comes back.
      const ev: RoomEv = { t: "say", kind: "chat", id: c.id, nick: c.nick, text: text, at: now };
      this.#propose(c.room.id, ev);
    } else {
      const line: RoomLine = { kind: "chat", nick: c.nick, text: text, at: now };
      c.room.remember(line, this.#broadcast(c.room, line, c, c.ignoredBy), this.#limits);
    }
    if (this.#log.enabled("debug")) {
      this.#log.debug("chat", { nick: c.nick, room: c.room.label, text });
    }
  }

  emote(from: Member, action: string, now: number): void {
    const c = this.#clients.get(from.id);
    if (!c?.authed) return;
    this.stats.lines++;
    if (this.#linked()) {
      // Everyone sees a room's lines in one order: this one is shown when it comes back.
      const ev: RoomEv = {
        t: "say",
        kind: "action",
        id: c.id,
        nick: c.nick,
        text: action,
        at: now,
      };
      this.#propose(c.room.id, ev);
    } else {
      const line: RoomLine = { kind: "action", nick: c.nick, text: action, at: now };
      c.room.remember(line, this.#broadcast(c.room, line, c, c.ignoredBy), this.#limits);
    }
    if (this.#log.enabled("debug")) {
      this.#log.debug("action", { nick: c.nick, room: c.room.label, text: action });
    }
  }

  whisper(from: Member, to: Member, text: string, now: number): void {
    const a = this.#clients.get(from.id);
    const clock = this.#clock;
    const r = to.id < 0 ? this.#mirror.byHandle(to.id) : undefined;
    if (a && r) {
      if (!this.#linked()) {
        this.#tell(a, `${r.nick} is on another server, which cannot be reached right now.`);
        return;
      }
      this.#fx.cluster!({
        op: "direct",
        ev: { t: "msg", to: r.node, toId: r.info.id, id: a.id, nick: a.nick, text, at: now },
      });
      const out: RoomLine = { kind: "privateOut", nick: r.nick, text, at: now };
      this.#send(a, encoder.encode(render(out, a.view, clock)));
      return;
    }
    const b = this.#clients.get(to.id);
    if (!a || !b) return;
    // Someone who ignores the sender does not get it; the sender is not told (ignoring is
    // private), so their own copy looks the same either way.
    if (!b.ignoring?.has(a)) {
      const line: RoomLine = { kind: "private", nick: a.nick, text, at: now };
      this.#send(b, encoder.encode(render(line, b.view, clock, { bell: b.bell })));
      b.replyTo = a.id;
    }
    const out: RoomLine = { kind: "privateOut", nick: b.nick, text, at: now };
    this.#send(a, encoder.encode(render(out, a.view, clock)));
  }

  view(m: Member): ViewSettings {
    const c = this.#clients.get(m.id);
    return {
      color: ((c?.view ?? 0) & VIEW_COLOR) !== 0,
      bell: c?.bell ?? false,
      timestamps: ((c?.view ?? 0) & VIEW_STAMPS) !== 0,
      charMode: c?.charMode ?? false,
      web: c?.transport === "ws",
    };
  }

  setView(m: Member, change: Partial<Omit<ViewSettings, "charMode" | "web">>): void {
    const c = this.#clients.get(m.id);
    if (!c) return;
    const bit = (on: boolean | undefined, b: number) => {
      if (on !== undefined) c.view = on ? c.view | b : c.view & ~b;
    };
    bit(change.color, VIEW_COLOR);
    bit(change.timestamps, VIEW_STAMPS);
    if (change.bell !== undefined) c.bell = change.bell;
    const alert = (c.view & VIEW_COLOR) !== 0 || c.bell;
    if (c.authed && alert !== c.alert) c.room.alerts += alert ? 1 : -1;
    c.alert = alert;
    // Another view reads another log, from now on.
    if (c.authed) c.outbox.read(c.room.logFor(c.view));
  }

  /**
   * Completions for Tab in a character-mode client's line: `/commands` for a word at the start
   * of the line that begins with `/`, otherwise the nicks of the room, by prefix, any case. At
   * most `max` are listed; the cost is a binary search in the room's sorted index (rebuilt
   * after a change in who is where, on the next Tab), whatever the size of the room.
   */
  complete(id: number, word: string, atLineStart: boolean, max: number): Completion {
    const c = this.#clients.get(id);
    if (!c?.authed) return NO_COMPLETION;
    const w = word.toLowerCase();
    if (atLineStart && w.startsWith("/")) {
      const names = COMMANDS.filter((cmd) => (cmd.op || cmd.needsOps) ? this.opsEnabled : true)
        .map((cmd) => `/${cmd.name}`).sort();
      return completeFrom(names, names, w, max);
    }
    if (w === "") return NO_COMPLETION;
    const room = c.room;
    if (!room.nickIndex || room.nickIndex.epoch !== this.#epoch) {
      const all: { key: string; nick: string }[] = [];
      for (const m of room.members) all.push({ key: m.key, nick: m.nick });
      if (this.#node !== null) {
        for (const m of this.#mirror.membersOf(room.id)) all.push({ key: m.key, nick: m.nick });
      }
      all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      room.nickIndex = {
        epoch: this.#epoch,
        keys: all.map((m) => m.key),
        nicks: all.map((m) => m.nick),
      };
    }
    return completeFrom(room.nickIndex.keys, room.nickIndex.nicks, w, max);
  }

  members(room: string): Member[] {
    const r = this.#rooms.get(room.toLowerCase());
    if (!r) return [];
    const here: Member[] = [...r.members];
    return this.#node === null ? here : here.concat(this.#mirror.membersOf(r.id));
  }

  roomOf(m: Member): RoomInfo {
    const c = this.#clients.get(m.id);
    return this.#info(c?.room ?? this.#lobby, c);
  }

  rooms(viewer: Member): RoomInfo[] {
    const c = this.#clients.get(viewer.id);
    return [...this.#rooms.values()].map((r) => this.#info(r, c));
  }

  findRoom(name: string, viewer: Member): RoomInfo | undefined {
    const r = this.#rooms.get((name.startsWith("#") ? name.slice(1) : name).toLowerCase());
    return r ? this.#info(r, this.#clients.get(viewer.id)) : undefined;
  }

  join(m: Member, name: string, key: string, now: number): JoinOutcome {
    const c = this.#clients.get(m.id)!;
    const cfg = this.config;
    let room = this.#rooms.get(name.toLowerCase());
    if (room === c.room) return { ok: false, why: "same", room: this.#info(room, c) };
    let created = false;
    if (room) {
      if (room.secret && !key) return { ok: false, why: "needs-key", room: this.#info(room, c) };
      if (room.secret && !sameSecret(this.#secret(key), room.secret)) {
        return { ok: false, why: "wrong-key", room: this.#info(room, c) };
      }
    } else {
      if (cfg.maxRooms > 0 && this.#rooms.size >= cfg.maxRooms) {
        return { ok: false, why: "too-many-rooms", limit: cfg.maxRooms };
      }
      if (!mayBurst(c.addr.rooms, now, cfg.roomRate)) {
        return { ok: false, why: "too-fast", wait: burstWait(c.addr.rooms, now, cfg.roomRate) };
      }
      const twin = this.#roomSkeletons.get(skeleton(name));
      if (twin) return { ok: false, why: "lookalike", room: this.#info(twin, c) };
      room = new ChatRoom<Client>(name, this.#secret(key));
      this.#addRoom(room);
      created = true;
      this.#log.info("room created", {
        room: room.label,
        client: c.id,
        nick: c.nick,
        key: key ? "yes" : "no",
      });
    }
    const old = c.room;
    const leaving = this.#announcing(old);
    this.#leaveRoom(c);
    if (c.alert) old.alerts--;
    c.room = room;
    room.members.add(c);
    this.#epoch++;
    if (c.alert) room.alerts++;
    // The switch to the new room's log comes before anything more is said in the old one.
    c.outbox.read(room.logFor(c.view));
    if (leaving) this.#notice(old, `${c.nick} left for ${room.label}`);
    const n = this.#size(room);
    const here = n === 1 ? "you are the only one here" : `${n} people are here`;
    const lines = [`You are now in ${room.label}; ${here}.`];
    if (leaving) {
      const left = `${c.nick} left for ${room.label}`;
      this.#propose(old.id, { t: "leave", id: c.id, nick: c.nick, notice: left });
    } else {
      this.#propose(old.id, { t: "leave", id: c.id, nick: c.nick, notice: "" });
    }
    this.#enter(c, room, this.#announcing(room) ? `${c.nick} joined` : "", created);
    if (created && key) lines.push(`It has a key: only those who know it can join.`);
    if (room.topic) lines.push(`Topic: ${room.topic} (set by ${room.topicBy})`);
    this.#tell(c, ...lines);
    const history = room.historyBlock(c.view & VIEW_COLOR, this.#clock);
    if (history) this.#send(c, history);
    if (this.#announcing(room)) this.#notice(room, `${c.nick} joined`, c);
    if (c.charMode) this.#fx.prompt(c.id, promptFor(c.nick, room.name));
    this.#log.info("join room", { client: c.id, nick: c.nick, room: room.label, from: old.label });
    return { ok: true, created, room: this.#info(room, c) };
  }

  setTopic(m: Member, topic: string, _now: number): void {
    const c = this.#clients.get(m.id);
    if (!c?.authed) return;
    const room = c.room;
    room.topic = topic;
    room.topicBy = topic ? c.nick : "";
    const said = topic ? `${c.nick} set the topic: ${topic}` : `${c.nick} cleared the topic`;
    this.#tell(c, topic ? `The topic of ${room.label} is now: ${topic}` : "Topic cleared.");
    this.#notice(room, said, c);
    this.#propose(room.id, { t: "topic", topic, by: c.nick, id: c.id });
    this.#log.info("topic", { client: c.id, nick: c.nick, room: room.label });
  }

  byNick(nick: string): Member | undefined {
    const key = nick.toLowerCase();
    return this.#nicks.get(key) ?? this.#mirror.byKey(key);
  }

  lookalike(nick: string): Member | undefined {
    const sk = skeleton(nick);
    const key = nick.toLowerCase();
    return this.#skeletons.get(sk) ?? this.#nicks.get(key) ?? this.#mirror.bySkeleton(sk) ??
      this.#mirror.byKey(key);
  }

  byId(id: number): Member | undefined {
    if (id < 0) return this.#mirror.byHandle(id);
    const c = this.#clients.get(id);
    return c?.authed ? c : undefined;
  }

  setAway(m: Member, reason: string): void {
    const c = this.#clients.get(m.id);
    if (!c) return;
    c.away = reason;
    if (c.authed) this.#propose(c.room.id, { t: "away", id: c.id, away: reason }, c);
    this.#tell(
      c,
      reason ? `You are marked away (${reason}). /back when you return.` : "Welcome back.",
    );
  }

  ignores(m: Member, other: Member): boolean {
    const c = this.#clients.get(m.id);
    const o = other.id < 0 ? this.#mirror.byHandle(other.id) : this.#clients.get(other.id);
    return !!(c && o && c.ignoring?.has(o));
  }

  setIgnore(m: Member, other: Member, on: boolean): void {
    const c = this.#clients.get(m.id);
    const o = other.id < 0 ? this.#mirror.byHandle(other.id) : this.#clients.get(other.id);
    if (!c || !o || c === o) return;
    if (on) {
      (c.ignoring ??= new Set()).add(o);
      (o.ignoredBy ??= new Set()).add(c);
    } else {
      c.ignoring?.delete(o);
      o.ignoredBy?.delete(c);
    }
  }

  ignored(m: Member): Member[] {
    const c = this.#clients.get(m.id);
    return c?.ignoring ? [...c.ignoring] : [];
  }

  rename(m: Member, nick: string): void {
    const c = this.#clients.get(m.id);
    if (c) this.#rename(c, nick);
  }

  /**
   * Renames `c`. `knownAs` is the nick the other processes know `c` by, when that is not its
   * nick here (a rename the cluster refused), or null when they do not know `c` at all.
   */
  #rename(c: Client, nick: string, knownAs: string | null = c.nick): void {
    const old = c.nick;
    this.#nicks.delete(c.key);
    if (c.skeleton) this.#skeletons.delete(c.skeleton);
    c.nick = nick;
    c.key = nick.toLowerCase();
    this.#nicks.set(c.key, c);
    this.#epoch++;
    c.skeleton = skeleton(nick);
    this.#skeletons.set(c.skeleton, c);
    this.#tell(c, `You are now ${nick}.`);
    if (c.charMode) this.#fx.prompt(c.id, promptFor(nick, c.room.name));
    const said = this.#announcing(c.room) ? `${old} is now ${nick}` : "";
    if (said) this.#notice(c.room, said, c);
    const oldKey = old.toLowerCase();
    if (knownAs === null) {
      // The others never heard of `c` (its arrival was refused): it arrives now.
      this.#enter(c, c.room, this.#announcing(c.room) ? `${nick} joined` : "");
    } else {
      const told = said && knownAs !== old ? `${knownAs} is now ${nick}` : said;
      this.#propose(
        c.room.id,
        { t: "nick", id: c.id, from: knownAs, to: nick, notice: told },
        c,
        oldKey !== c.key ? oldKey : undefined,
      );
    }
    this.#log.info("nick", { client: c.id, from: old, to: nick });
  }

  disconnect(m: Member, message: string, reason: string, now: number): void {
    const r = m.id < 0 ? this.#mirror.byHandle(m.id) : undefined;
    if (r) {
      if (this.#linked()) {
        this.#fx.cluster!({
          op: "direct",
          ev: { t: "kick", to: r.node, toId: r.info.id, message, reason },
        });
      }
      return;
    }
    const c = this.#clients.get(m.id);
    if (c) this.#drop(c, reason, now, { message });
  }

  grantOp(m: Member): void {
    const c = this.#clients.get(m.id);
    if (c) c.op = true;
  }

  strike(m: Member, why: string, now: number, message?: string, secret?: boolean): boolean {
    const c = this.#clients.get(m.id);
    return c ? this.#strike(c, why, now, message, secret) : false;
  }

  ban(ip: string, ms: number, reason: string, by: string, now: number): number {
    const why = reason ? `: ${reason}` : ".";
    return this.#ban(this.#key(ip), ms, reason || "operator ban", by, now, [
      `You have been banned by ${by} for ${formatDuration(ms)}${why}`,
    ]);
  }

  unban(ip: string): boolean {
    const addr = this.#key(ip);
    if (!this.#bans.remove(addr)) return false;
    const a = this.#addresses.peek(addr);
    if (a) a.strikes = a.secretStrikes = 0;
    this.#saveBans();
    if (this.#linked()) {
      this.#fx.cluster!({ op: "direct", ev: { t: "unban", ip: addr } });
      this.#fx.cluster!({ op: "strike", ip: addr, delta: 0 });
    } else if (this.#node !== null) {
      this.#offlineUnbans.add(addr);
      this.#offlineBans.delete(addr);
    }
    return true;
  }

  bans(now: number): BanRecord[] {
    return this.#bans.list(now);
  }

  checkAdminToken(attempt: string): boolean {
    return this.opsEnabled && sameSecret(attempt, this.config.adminToken);
  }

  audit(message: string, m: Member, fields: Record<string, string | number> = {}): void {
    this.#log.info(`operator: ${message}`, { client: m.id, nick: m.nick, ...fields });
  }
}

/** A Tab with nothing to offer. */
const NO_COMPLETION: Completion = { shown: [], total: 0, common: "" };

/** Index of the first of the sorted `keys` not before `w`. */
function lowerBound(keys: readonly string[], w: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] < w) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The completion of prefix `w` among sorted lower-case `keys` (shown as `names`): at most
 * `max` listed, the count, and the common prefix of all matches (that of the first and the
 * last, as they are sorted), in the first match's spelling.
 */
function completeFrom(
  keys: readonly string[],
  names: readonly string[],
  w: string,
  max: number,
): Completion {
  const lo = lowerBound(keys, w);
  const hi = lowerBound(keys, w + "\uffff");
  const total = hi - lo;
  if (total === 0) return NO_COMPLETION;
  const a = keys[lo];
  const b = keys[hi - 1];
  let n = 0;
  while (n < a.length && n < b.length && a.charCodeAt(n) === b.charCodeAt(n)) n++;
  return { shown: names.slice(lo, Math.min(hi, lo + max)), total, common: names[lo].slice(0, n) };
}

/** The command names, for documentation and tests. */
export const COMMAND_NAMES: readonly string[] = COMMANDS.map((c) => c.name);
