/**
 * Sessions: a member's life from arrival to departure. The start of a session (the room token
 * asked for, or a welcome in the lobby), the one way out (Sessions.drop), and what a member sets
 * for themselves: nick, terminal mode and view (screen-reader mode too), away, whom they ignore.
 */
import { type Client, type DropOptions, promptFor } from "./client.ts";
import type { Member, ViewSettings } from "./commands/mod.ts";
import type { ClientTable } from "./clients.ts";
import type { HubContext } from "./context.ts";
import type { HubEvent } from "./events.ts";
import type { Fanout } from "./fanout.ts";
import type { Mirror, RemoteMember } from "./mirror.ts";
import type { NickTable } from "./names.ts";
import { VIEW_COLOR, VIEW_JSON, VIEW_STAMPS } from "./render.ts";
import { maskOf, wire } from "./irc/render.ts";
import { toIrcNick } from "./irc/wire.ts";
import type { Rooms } from "./rooms.ts";
import type { Outbound } from "./sync.ts";
import type { Config } from "../ops/config.ts";
import { formatDuration } from "../lib/units.ts";

const encoder = new TextEncoder();

/** The welcome's first line, for a terminal: how to turn screen-reader mode on. */
export const READER_TIP = "Using a screen reader? Type /screenreader on.";

/** A change of how someone's lines are drawn: the view settings, and screen-reader mode. */
export type ViewChange = Partial<Omit<ViewSettings, "charMode" | "web">>;

/** What a telnet connection tells of its terminal (see HubEvent `terminal`). */
export type TerminalNews = Omit<Extract<HubEvent, { type: "terminal" }>, "type">;

/** The welcome's line on what the server keeps of what is said, and for how long. */
export function keptLine(cfg: Config): string {
  const memory = cfg.store === "off" || cfg.retention === 0;
  return memory
    ? "Room lines are kept in memory only, until the server restarts (/history); private " +
      "messages are never kept.\r\n"
    : `Room lines are kept for ${formatDuration(cfg.retention)} (/history, /search); private ` +
      "messages are never kept.\r\n";
}

/** Members from arrival to departure. */
export class Sessions {
  readonly #ctx: HubContext;
  readonly #clients: ClientTable;
  readonly #fanout: Fanout;
  readonly #nicks: NickTable;
  readonly #rooms: Rooms;
  readonly #mirror: Mirror;
  readonly #sync: Outbound;
  /** The message of the day, encoded once and shared by every welcome. */
  readonly #motd: Uint8Array | null;
  /** The welcome's line on what is kept of what is said (see {@link keptLine}). */
  readonly #kept: Uint8Array;
  readonly #keptText: string;
  /** Called as a member leaves (the parts above keep state per member). */
  readonly #left: (c: Client) => void;

  constructor(
    ctx: HubContext,
    parts: {
      clients: ClientTable;
      fanout: Fanout;
      nicks: NickTable;
      rooms: Rooms;
      mirror: Mirror;
      sync: Outbound;
    },
    motd: readonly string[],
    left: (c: Client) => void = () => {},
  ) {
    this.#left = left;
    this.#ctx = ctx;
    this.#clients = parts.clients;
    this.#fanout = parts.fanout;
    this.#nicks = parts.nicks;
    this.#rooms = parts.rooms;
    this.#mirror = parts.mirror;
    this.#sync = parts.sync;
    this.#motd = motd.length > 0 ? encoder.encode(motd.join("\r\n") + "\r\n") : null;
    this.#keptText = keptLine(ctx.config);
    this.#kept = encoder.encode(this.#keptText);
  }

  /**
   * `c` was admitted: a chat session starts now, or, for a pending connection (a TLS handshake,
   * an HTTP request), once the shell says so ({@link start}).
   */
  admitted(c: Client, pending: boolean | undefined, now: number): void {
    if (!pending) return this.#begin(c, now);
    c.pending = true;
    const log = this.#ctx.log;
    if (log.enabled("debug")) {
      log.debug("accepted", { client: c.id, addr: log.addr(c.ip, c.port), transport: c.transport });
    }
    this.#ctx.effects.admitted?.(c.id);
  }

  /** A pending connection (TLS handshake done, WebSocket upgraded) becomes a chat session. */
  start(id: number, transport: string | undefined, now: number): void {
    const c = this.#clients.get(id);
    if (!c || c.gone || !c.pending) return;
    c.pending = false;
    if (transport && transport !== c.transport) this.#clients.moveTransport(c, transport);
    this.#begin(c, now);
  }

  /** Wired by the hub: an IRC connection's session starts (it registers first). */
  ircOpened: (c: Client) => void = () => {};

  /**
   * The start of a chat session: the room token is asked for, or the client joins; an IRC
   * session says who it is first.
   */
  #begin(c: Client, now: number): void {
    const { config: cfg, log } = this.#ctx;
    if (log.enabled("info")) log.info("connect", { client: c.id, addr: log.addr(c.ip, c.port) });
    if (c.transport === "irc" || c.transport === "ircs") return this.ircOpened(c);
    if (cfg.token) {
      this.#fanout.tell(
        c,
        `${cfg.name}: this room is private. Type the room token and press Enter.`,
      );
    } else {
      this.join(c, now);
    }
  }

  /** `c` becomes a member: a guest nick, the lobby, and the welcome. */
  join(c: Client, now: number): void {
    const ctx = this.#ctx;
    const fanout = this.#fanout;
    c.authed = true;
    c.nick = this.#nicks.guest();
    c.key = c.nick.toLowerCase();
    c.lastActive = now;
    this.#nicks.add(c);
    this.#rooms.changed();
    const lobby = this.#rooms.lobby;
    c.room = lobby;
    lobby.members.add(c);
    if (c.alert) lobby.alerts++;
    c.outbox.read(lobby.logFor(c.view));
    ctx.stats.joins++;
    const n = ++this.#clients.members + this.#mirror.size;
    const others = n === 1 ? "you are the only one here" : `${n} people are online`;
    // The welcome is the server's own doing: it is always queued, never counted against the
    // reader (the configuration guarantees it fits in half an outbox), and the motd and history
    // are buffers shared by every newcomer rather than copies.
    // A browser's page has its own accessibility; a screen-reader session needs no tip.
    const tip = c.transport === "ws" || c.screenReader ? "" : READER_TIP + "\r\n";
    // Without a motd, what is kept is said in the same buffer: a newcomer's welcome is one
    // piece, written as it is (pieces are joined into a copy for the write).
    const welcome = tip +
      `Welcome to ${ctx.config.name}! You are ${c.nick} in ${lobby.label}; ${others}.\r\n` +
      "Type /help for the commands and /nick NAME to choose your name.\r\n";
    if (this.#motd) {
      fanout.push(c, encoder.encode(welcome));
      fanout.push(c, this.#motd);
      fanout.push(c, this.#kept);
    } else {
      fanout.push(c, encoder.encode(welcome + this.#keptText));
    }
    if (lobby.topic) fanout.push(c, encoder.encode(`Topic: ${lobby.topic}\r\n`));
    const history = lobby.historyBlock(c.view & VIEW_COLOR, ctx.clock);
    if (history) fanout.push(c, history);
    const joined = this.#rooms.announcing(lobby) ? `${c.nick} joined` : "";
    if (joined) {
      fanout.notice(lobby, joined, c, true);
      fanout.ircTell([lobby], () => wire(maskOf(c.nick), "JOIN", lobby.label));
    }
    this.#sync.enter(c, lobby, joined);
    if (c.charMode) ctx.effects.prompt(c.id, promptFor(c.nick, lobby.name));
    if (ctx.log.enabled("info")) {
      ctx.log.info("join", { client: c.id, nick: c.nick, room: lobby.label, online: n });
    }
  }

  /**
   * An IRC session finished registering as `nick` (free, checked by the caller; "" = a guest
   * nick, until it logs in to its account): a member in no room yet (it joins what its person
   * configured). The welcome numerics are the caller's.
   */
  registered(c: Client, nick: string, now: number): void {
    c.authed = true;
    nick ||= this.#nicks.guest();
    c.nick = nick;
    c.key = nick.toLowerCase();
    c.lastActive = now;
    this.#nicks.add(c);
    if (!/^guest-/i.test(nick)) this.#nicks.rename(c, nick); // a chosen nick: its skeleton too
    this.#rooms.changed();
    c.room = this.#rooms.nowhere;
    this.#ctx.stats.joins++;
    const n = ++this.#clients.members + this.#mirror.size;
    if (this.#ctx.log.enabled("info")) {
      this.#ctx.log.info("join", { client: c.id, nick: c.nick, irc: "registered", online: n });
    }
  }

  /** The one way out of the room: closes the connection and tells the others. */
  drop(c: Client, reason: string, now: number, opts: DropOptions): void {
    if (c.gone) return;
    const ctx = this.#ctx;
    c.outbox.stop(); // nothing said from now on reaches it
    if (opts.message) {
      c.slow = false; // a last word is always queued, even past the limit
      const said = opts.message.replaceAll("\r\n", " ");
      const last = c.irc ? wire("", "ERROR", `Closing link: ${said}`) : "";
      if (last) c.outbox.push(encoder.encode(last));
      else this.#fanout.push(c, encoder.encode(this.#fanout.words(c, [opts.message])));
    }
    c.gone = true;
    this.#clients.remove(c);
    c.addr.conns--;
    c.addr.lastSeen = now;
    const mode = opts.mode ?? "flush";
    if (mode === "drop") c.outbox.clear();
    ctx.effects.close(c.id, mode);
    if (c.ignoring) { for (const o of c.ignoring) o.ignoredBy?.delete(c); }
    if (c.ignoredBy) { for (const o of c.ignoredBy) o.ignoring?.delete(c); }
    c.ignoring = c.ignoredBy = null;
    if (c.authed) {
      this.#left(c);
      this.#leaveAll(c, reason, opts.quiet === true);
    }
    if (c.pending) {
      // Never a chat session (a failed handshake, a page load): worth a line only when debugging.
      if (ctx.log.enabled("debug")) ctx.log.debug("closed", { client: c.id, reason });
    } else if (ctx.log.enabled("info")) {
      ctx.log.info("disconnect", { client: c.id, nick: c.nick || undefined, reason });
    }
  }

  /** A member leaving: out of its room and its nick; the room (unless `quiet`) and the others told. */
  #leaveAll(c: Client, reason: string, quiet: boolean): void {
    if (c.irc) {
      this.#rooms.quitAll(c, reason, quiet);
      this.#clients.members--;
      this.#nicks.remove(c);
      return;
    }
    const room = c.room;
    const left = this.#rooms.announcing(room) ? `${c.nick} left (${reason})` : "";
    if (left) this.#fanout.ircTell([room], () => wire(maskOf(c.nick), "QUIT", reason));
    this.#rooms.leave(c);
    if (c.alert) room.alerts--;
    this.#clients.members--;
    this.#nicks.remove(c);
    if (left && !quiet) this.#fanout.notice(room, left, undefined, true);
    // A quiet leave (this process stopping) is still news on the others.
    this.#sync.propose(room.id, { t: "leave", id: c.id, nick: c.nick, notice: left }, null, c.key);
  }

  /** Drops the clients whose outbox passed the limit during the last event or flush. */
  reapSlow(now: number): void {
    const log = this.#ctx.log;
    for (let c = this.#fanout.takeSlow(); c; c = this.#fanout.takeSlow()) {
      if (c.gone) continue;
      this.#ctx.stats.slowReaders++;
      log.warn("slow reader disconnected", {
        client: c.id,
        nick: c.nick || undefined,
        queued: c.outbox.bytes,
      });
      this.drop(c, "too slow: stopped reading", now, { mode: "drop" });
    }
  }

  /**
   * Renames `c`. `knownAs` is the nick the other processes know `c` by, when that is not its
   * nick here (a rename the cluster refused), or null when they do not know `c` at all.
   */
  rename(c: Client, nick: string, knownAs: string | null = c.nick): void {
    const rooms = this.#rooms;
    const old = c.nick;
    this.#nicks.rename(c, nick);
    rooms.changed();
    const nickMsg = wire(maskOf(old), "NICK", toIrcNick(nick));
    if (c.irc) this.#fanout.ircSend(c, nickMsg);
    else this.#fanout.tell(c, `You are now ${nick}.`);
    if (c.charMode) this.#ctx.effects.prompt(c.id, promptFor(nick, c.room.name));
    const said = rooms.announcing(c.room) ? `${old} is now ${nick}` : "";
    this.#fanout.ircTell(c.irc ? c.irc.channels : [c.room], nickMsg, c);
    for (const room of c.irc ? c.irc.channels : [c.room]) {
      if (rooms.announcing(room)) {
        this.#fanout.notice(room, `${old} is now ${nick}`, c, false, false);
      }
    }
    if (c.room === rooms.nowhere) {
      this.#ctx.log.info("nick", { client: c.id, from: old, to: nick });
      return; // in no room: the others do not know it yet
    }
    const oldKey = old.toLowerCase();
    if (knownAs === null) {
      // The others never heard of `c` (its arrival was refused): it arrives now.
      this.#sync.enter(c, c.room, rooms.announcing(c.room) ? `${nick} joined` : "");
    } else {
      const told = said && knownAs !== old ? `${knownAs} is now ${nick}` : said;
      this.#sync.propose(
        c.room.id,
        { t: "nick", id: c.id, from: knownAs, to: nick, notice: told },
        c,
        oldKey !== c.key ? oldKey : undefined,
      );
    }
    this.#ctx.log.info("nick", { client: c.id, from: old, to: nick });
  }

  /**
   * A telnet client's terminal mode changed, or TTYPE told more of it. In character mode the
   * server echoes and edits the line, so the client gets what a terminal user expects: colours
   * (not on a `dumb` terminal), the bell, and their own lines shown back once. A client that
   * announces a screen reader gets screen-reader mode, unless the person chose otherwise.
   */
  terminal(news: TerminalNews): void {
    const c = this.#clients.get(news.id);
    if (!c || c.gone) return;
    if (news.termType !== undefined && (news.termType === "dumb") !== c.dumb) {
      c.dumb = !c.dumb;
      if (c.charMode) this.setView(c, { color: !c.dumb });
    }
    if (news.screenReader && !c.readerChosen) {
      this.setScreenReader(
        c,
        true,
        "Your client announced a screen reader: screen reader mode is on (/screenreader off).",
      );
    }
    const charMode = news.charMode && !c.screenReader;
    if (c.charMode === charMode) return;
    c.charMode = charMode;
    this.setView(c, { color: charMode && !c.dumb, bell: charMode });
    if (charMode && c.authed) this.#ctx.effects.prompt(c.id, promptFor(c.nick, c.room.name));
  }

  /**
   * Screen-reader mode on or off; true if it changed. On: no colours, bell or timestamps (each
   * line starts with its sender), and the connection stops editing the line: no prompt, no
   * echo, no redraw, the client back in line mode. Off: a telnet client is offered character
   * mode again (its answer comes back as a `terminal` event). `told` is said to `c` if it changed.
   */
  setScreenReader(c: Client, on: boolean, told = ""): boolean {
    if (c.screenReader === on) return false;
    c.screenReader = on;
    const effects = this.#ctx.effects;
    if (on) {
      c.charMode = false;
      this.setView(c, { color: false, bell: false, timestamps: false });
      effects.lineMode?.(c.id, true);
    } else {
      effects.lineMode?.(c.id, false);
      effects.prompt(c.id, c.authed ? promptFor(c.nick, c.room.name) : "");
    }
    if (told) this.#fanout.tell(c, told);
    return true;
  }

  /** How `c`'s lines are drawn. */
  view(c: Client | undefined): ViewSettings {
    return {
      bot: ((c?.view ?? 0) & VIEW_JSON) !== 0,
      screenReader: c?.screenReader ?? false,
      color: ((c?.view ?? 0) & VIEW_COLOR) !== 0,
      bell: c?.bell ?? false,
      timestamps: ((c?.view ?? 0) & VIEW_STAMPS) !== 0,
      charMode: c?.charMode ?? false,
      web: c?.transport === "ws",
    };
  }

  /**
   * Changes how `c`'s lines are drawn (colour, bell, timestamps) and screen-reader mode (their
   * own choice, kept with their account). Colours and the bell stay off in screen-reader mode.
   */
  setView(c: Client, change: ViewChange): void {
    if (c.irc) return; // an IRC client draws lines itself
    if (change.screenReader !== undefined) {
      c.readerChosen = true;
      this.setScreenReader(c, change.screenReader);
    }
    const bit = (on: boolean | undefined, b: number) => {
      if (on !== undefined) c.view = on ? c.view | b : c.view & ~b;
    };
    if (change.bot !== undefined) {
      bit(change.bot, VIEW_JSON);
      // JSON carries its time and no styling: one log for every bot.
      if (change.bot) change = { ...change, color: false, bell: false, timestamps: false };
    }
    // Plain whole lines for a screen reader, plain JSON for a bot: no colour, no bell.
    const reader = c.screenReader || (c.view & VIEW_JSON) !== 0;
    bit(change.color === undefined ? undefined : change.color && !reader, VIEW_COLOR);
    bit(change.timestamps, VIEW_STAMPS);
    if (change.bell !== undefined) c.bell = change.bell && !reader;
    const alert = (c.view & VIEW_COLOR) !== 0 || c.bell;
    if (c.authed && alert !== c.alert) c.room.alerts += alert ? 1 : -1;
    c.alert = alert;
    // Another view reads another log, from now on.
    if (c.authed) c.outbox.read(c.room.logFor(c.view));
  }

  /** Marks `c` away with a reason, or back with "", and tells them. */
  setAway(c: Client, reason: string): void {
    c.away = reason;
    if (c.authed && c.room !== this.#rooms.nowhere) {
      this.#sync.propose(c.room.id, { t: "away", id: c.id, away: reason }, c);
    }
    if (c.irc) return; // told with a numeric
    this.#fanout.tell(
      c,
      reason ? `You are marked away (${reason}). /back when you return.` : "Welcome back.",
    );
  }

  /** This process's client with id `id`, or a member elsewhere by its (negative) handle. */
  anyone(id: number): Client | RemoteMember | undefined {
    return id < 0 ? this.#mirror.byHandle(id) : this.#clients.get(id);
  }

  /** True if `m` ignores `other`. */
  ignores(m: Member, other: Member): boolean {
    const c = this.#clients.get(m.id);
    const o = this.anyone(other.id);
    return !!(c && o && c.ignoring?.has(o));
  }

  /** Starts or stops `m` ignoring `other`'s lines, actions and private messages. */
  setIgnore(m: Member, other: Member, on: boolean): void {
    const c = this.#clients.get(m.id);
    const o = this.anyone(other.id);
    if (!c || !o || c === o) return;
    if (on) {
      (c.ignoring ??= new Set()).add(o);
      (o.ignoredBy ??= new Set()).add(c);
    } else {
      c.ignoring?.delete(o);
      o.ignoredBy?.delete(c);
    }
  }
}
