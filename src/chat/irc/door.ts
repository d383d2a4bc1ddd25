/**
 * The IRC door: an IRC session's messages turned into what the hub does for everyone (join,
 * say, rename, kick…) and the hub's answers turned into IRC numerics. An IRC session registers
 * (PASS, NICK, USER, CAP) before it is a member, is in no room until it sends JOIN, and may be
 * in several rooms at once. Chat lines (PRIVMSG, NOTICE) meet Shat's rate limit and strikes;
 * other commands get a burst and then a steady pace (fakelag): they wait, they are never struck,
 * and a client that piles up too many is dropped for flooding.
 */
import { take } from "../../lib/bucket.ts";
import { sameSecret } from "../../lib/secret.ts";
import { cleanText } from "../../lib/sanitize.ts";
import type { Client } from "../client.ts";
import type { Chat, Member } from "../commands/types.ts";
import { findCommand } from "../commands/mod.ts";
import type { HubContext } from "../context.ts";
import { nickProblem } from "../nicks.ts";
import type { WhisperHow } from "../talk.ts";
import { maskOf, wire } from "./render.ts";
import { IrcAnswers } from "./answers.ts";
import { IrcRooms } from "./rooms.ts";
import {
  CAPS,
  type DoorParts,
  EARLY_LINES,
  FAKELAG_BURST,
  FAKELAG_QUEUE,
  FAKELAG_RATE,
  QUIT_REASON_AFTER,
} from "./parts.ts";
import { IrcState } from "./state.ts";
import {
  fromIrcNick,
  type IrcMessage,
  parseCtcp,
  parseMessage,
  stripFormatting,
  toIrcNick,
  validIrcNick,
} from "./wire.ts";

/** What the door asks the hub to do (the hub's own paths, for every transport alike). */
export interface DoorHub {
  /** The hub as commands see it. */
  chat: Chat;
  /** `c`'s chat line `text` at `at` meets the rate limit; `act` runs if it keeps the pace. */
  paced(c: Client, text: string, at: number, act: () => void): void;
  /** A line or an action from `c` in its room (the room's rules apply); `notice`: sent so. */
  speak(c: Client, kind: "chat" | "action", text: string, now: number, notice?: boolean): void;
  /** A private line from `c` to `to`, sent by IRC as a NOTICE or a CTCP ACTION. */
  whisper(
    c: Client,
    to: Member,
    text: string,
    now: number,
    how: WhisperHow,
  ): void;
}

/** Commands that may come before registration. */
const EARLY = new Set(["CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT"]);
/** Commands that skip the fakelag queue (chat lines have the rate limit; keepalives are cheap). */
const UNPACED = new Set(["PRIVMSG", "NOTICE", "PING", "PONG", "QUIT"]);

/** IRC sessions, from the first line to QUIT. */
export class IrcDoor {
  readonly #ctx: HubContext;
  readonly #p: DoorParts;
  readonly #hub: DoorHub;
  /** Every IRC session (registered or not), for the keepalive and fakelag on ticks. */
  readonly #sessions = new Set<Client>();
  /** What sessions are told, and their room commands. */
  readonly #a: IrcAnswers;
  readonly #rooms: IrcRooms;

  constructor(ctx: HubContext, parts: DoorParts, hub: DoorHub) {
    this.#ctx = ctx;
    this.#p = parts;
    this.#hub = hub;
    this.#a = new IrcAnswers(ctx, parts, hub.chat);
    this.#rooms = new IrcRooms(ctx, parts, hub.chat, this.#a);
  }

  /** An IRC connection's session starts: it says who it is first (nothing is sent yet). */
  opened(c: Client): void {
    c.irc ??= new IrcState<Client>();
    this.#sessions.add(c);
  }

  /** One line from an IRC session, read at `at`. */
  line(c: Client, raw: string, at: number): void {
    const irc = c.irc!;
    if (!irc.registered && ++irc.early > EARLY_LINES) {
      return this.#drop(c, "too many lines before registering", at, true);
    }
    const msg = parseMessage(raw);
    if (!msg) return;
    if (irc.queue !== null || (!UNPACED.has(msg.command) && !this.#turn(c, at))) {
      // Behind waiting commands, whatever it is waits too (the order is the client's).
      const q = irc.queue ??= [];
      if (q.length >= FAKELAG_QUEUE) return this.#drop(c, "Excess Flood", at, true);
      q.push({ msg, at });
      return this.#drain(c, at);
    }
    this.#handle(c, msg, at);
  }

  /** Whether a protocol command of `c` may run now (the fakelag bucket). */
  #turn(c: Client, now: number): boolean {
    return take(c.irc!.pace, 1, FAKELAG_BURST, FAKELAG_RATE / 1_000, now);
  }

  /** On every tick: waiting commands whose turn came run, and the keepalive. */
  tick(now: number): void {
    const ping = this.#ctx.config.ircPing;
    for (const c of [...this.#sessions]) {
      if (c.gone) {
        this.#sessions.delete(c);
        continue;
      }
      const irc = c.irc!;
      this.#drain(c, now);
      if (!irc.registered || c.gone) continue;
      if (irc.pingSent === 0 && now - c.lastInput >= ping) {
        irc.pingSent = now;
        this.#p.fanout.ircSend(c, wire("", "PING", this.#a.server));
      } else if (irc.pingSent > 0 && c.lastInput >= irc.pingSent) {
        irc.pingSent = 0;
      } else if (irc.pingSent > 0 && now - irc.pingSent >= ping) {
        this.#drop(c, `Ping timeout: ${Math.round(ping / 1000)} seconds`, now, false);
      }
    }
  }

  /**
   * Runs the waiting commands of `c` the fakelag bucket allows now, in order. A chat line that
   * waited behind them needs no turn, and is judged by when it arrived (the rate limit is about
   * the sender's pace, not about when the server got to the line).
   */
  #drain(c: Client, now: number): void {
    const irc = c.irc!;
    const q = irc.queue;
    while (q && q.length > 0 && !c.gone) {
      const { msg, at } = q[0];
      const chat = UNPACED.has(msg.command);
      if (!chat && !this.#turn(c, now)) break;
      q.shift();
      this.#handle(c, msg, chat ? at : now);
    }
    if (q && q.length === 0 && irc.queue === q) irc.queue = null;
  }

  #handle(c: Client, m: IrcMessage, at: number): void {
    const irc = c.irc!;
    if (!irc.registered && !EARLY.has(m.command)) {
      return this.#a.num(c, "451", "You have not registered");
    }
    switch (m.command) {
      case "CAP":
        return this.#cap(c, m, at);
      case "PASS":
        if (irc.registered) return this.#a.num(c, "462", "You may not reregister");
        irc.pass = m.params[0] ?? "";
        return;
      case "NICK":
        return this.#nick(c, m.params[0] ?? "", at);
      case "USER":
        if (irc.registered) return this.#a.num(c, "462", "You may not reregister");
        if (m.params.length < 4) return this.#a.num(c, "461", "USER", "Not enough parameters");
        irc.user = cleanText(m.params[0]).replace(/[^A-Za-z0-9_.-]/g, "").slice(0, 10) || "user";
        irc.realname = cleanText(stripFormatting(m.params[3])).slice(0, 64);
        return this.#tryRegister(c, at);
      case "PING":
        if (m.params.length === 0) return this.#a.num(c, "409", "No origin specified");
        return this.#p.fanout.ircSend(
          c,
          wire(this.#a.server, "PONG", this.#a.server, m.params[0] ?? ""),
        );
      case "PONG":
        irc.pingSent = 0;
        return;
      case "QUIT":
        return this.#quit(c, m.params[0] ?? "", at);
      case "PRIVMSG":
      case "NOTICE":
        return this.#privmsg(c, m, at);
      case "JOIN":
        return this.#rooms.join(c, m, at);
      case "PART":
        return this.#rooms.part(c, m);
      case "TOPIC":
        return this.#rooms.topic(c, m, at);
      case "NAMES":
        return this.#a.namesCmd(c, m, at);
      case "LIST":
        return this.#a.list(c);
      case "WHO":
        return this.#a.who(c, m.params[0] ?? "", at);
      case "WHOIS":
        return this.#a.whois(c, m.params[m.params.length - 1] ?? "", at);
      case "MODE":
        return this.#rooms.mode(c, m, at);
      case "KICK":
        return this.#rooms.kick(c, m, at);
      case "INVITE":
        return this.#rooms.invite(c, m, at);
      case "AWAY":
        return this.#away(c, m.params[0] ?? "");
      case "OPER":
        return this.#oper(c, m, at);
      case "USERHOST":
        return this.#a.userhost(c, m.params);
      case "ISON":
        return this.#a.ison(c, m.params);
      case "LUSERS":
        return this.#a.lusers(c);
      case "MOTD":
        return this.#a.motd(c);
      case "VERSION":
        return this.#a.num(c, "351", "shat", this.#a.server, "Shat chat server");
      case "TIME":
        return this.#a.num(c, "391", this.#a.server, new Date(at).toUTCString());
      default:
        return this.#a.num(c, "421", m.command, "Unknown command");
    }
  }

  // ---- Registration ------------------------------------------------------------------------------

  #cap(c: Client, m: IrcMessage, at: number): void {
    const irc = c.irc!;
    const sub = (m.params[0] ?? "").toUpperCase();
    const me = irc.registered ? toIrcNick(c.nick) : "*";
    const send = (...params: string[]) =>
      this.#p.fanout.ircSend(c, wire(this.#a.server, "CAP", me, ...params));
    switch (sub) {
      case "LS":
        if (!irc.registered) irc.negotiating = true;
        return send("LS", CAPS.join(" "));
      case "LIST":
        return send("LIST", [...irc.caps].join(" "));
      case "REQ": {
        if (!irc.registered) irc.negotiating = true;
        const asked = (m.params[1] ?? "").split(" ").filter((w) => w !== "");
        const ok = asked.every((w) => CAPS.includes(w.replace(/^-/, "")));
        if (!ok || asked.length === 0) return send("NAK", m.params[1] ?? "");
        for (const w of asked) {
          if (w.startsWith("-")) irc.caps.delete(w.slice(1));
          else irc.caps.add(w);
        }
        return send("ACK", m.params[1] ?? "");
      }
      case "END":
        if (irc.registered || !irc.negotiating) return;
        irc.negotiating = false;
        return this.#tryRegister(c, at);
      default:
        return this.#a.num(c, "410", sub || "*", "Invalid CAP command");
    }
  }

  /** NICK: before registration it is remembered; after, it is a rename like /nick. */
  #nick(c: Client, asked: string, at: number): void {
    const irc = c.irc!;
    if (!asked) return this.#a.num(c, "431", "No nickname given");
    if (!validIrcNick(asked)) return this.#a.num(c, "432", asked, "Erroneous nickname");
    const nick = fromIrcNick(asked);
    const problem = nickProblem(nick);
    if (problem) return this.#a.num(c, "432", asked, `Erroneous nickname: ${problem}`);
    if (irc.registered && nick === c.nick) return;
    if (!irc.registered && this.#loginFor(c, nick)) {
      irc.nick = nick; // its account, logged in to as registration ends
      return this.#tryRegister(c, at);
    }
    const taken = this.#taken(c, nick);
    if (taken) return this.#a.num(c, "433", asked, taken);
    if (!irc.registered) {
      irc.nick = nick;
      return this.#tryRegister(c, at);
    }
    if (this.#hub.chat.busy(c)) {
      return this.#a.num(c, "437", asked, "Still working on your last request; a moment");
    }
    this.#hub.chat.rename(c, nick);
  }

  /**
   * Whether `nick` is a registered nick nobody holds and PASS (`pass`, the account part of it)
   * names its account: the session logs in to it as registration ends.
   */
  #loginFor(c: Client, nick: string, pass = this.#accountPass(c)): boolean {
    const colon = pass.indexOf(":");
    if (colon <= 0 || pass.slice(0, colon).toLowerCase() !== nick.toLowerCase()) return false;
    const chat = this.#hub.chat;
    const holder = chat.byNick(nick);
    return chat.registered(nick) !== undefined && (!holder || holder.id === c.id);
  }

  /** The `nick:password` part of PASS (after the room token, when the server has one). */
  #accountPass(c: Client): string {
    const pass = c.irc!.pass;
    const token = this.#ctx.config.token;
    if (!token) return pass;
    return pass.startsWith(token + ":") ? pass.slice(token.length + 1) : "";
  }

  /** Why `nick` cannot be `c`'s (held, looks like someone's, an account's), or "". */
  #taken(c: Client, nick: string): string {
    const chat = this.#hub.chat;
    const account = chat.reservedFor(nick, c);
    if (account) {
      return account.toLowerCase() === nick.toLowerCase()
        ? `Nickname is registered: PASS ${account}:PASSWORD logs in`
        : `Nickname looks too much like the registered nick ${account}`;
    }
    const holder = chat.lookalike(nick) ?? chat.byNick(nick);
    if (holder && holder.id !== c.id) {
      return holder.nick.toLowerCase() === nick.toLowerCase()
        ? "Nickname is already in use"
        : `Nickname looks too much like ${holder.nick}`;
    }
    return "";
  }

  /** Registration completes once NICK and USER are in and CAP negotiation (if any) ended. */
  #tryRegister(c: Client, at: number): void {
    const irc = c.irc!;
    if (irc.registered || !irc.nick || !irc.user || irc.negotiating) return;
    const cfg = this.#ctx.config;
    let account = irc.pass;
    if (cfg.token) {
      const given = irc.pass;
      if (sameSecret(given, cfg.token)) account = "";
      else if (
        given.startsWith(cfg.token + ":") && sameSecret(given.slice(0, cfg.token.length), cfg.token)
      ) {
        account = given.slice(cfg.token.length + 1);
      } else {
        this.#a.num(c, "464", "Password incorrect: this server needs its room token as PASS");
        this.#ctx.log.info("wrong room token", { client: c.id, irc: "PASS" });
        this.#p.sanctions.strike(c, "wrong room token", at, "", true);
        return this.#drop(c, "Password incorrect", at, false);
      }
    }
    // A registered nick with its password in PASS: a guest nick until the password is checked
    // (off the hub), then the account's nick.
    const login = this.#loginFor(c, irc.nick, account);
    const taken = login ? "" : this.#taken(c, irc.nick);
    if (taken) {
      const asked = toIrcNick(irc.nick);
      irc.nick = "";
      return this.#a.num(c, "433", asked, taken);
    }
    irc.registered = true;
    irc.pass = "";
    this.#p.sessions.registered(c, login ? "" : irc.nick, at);
    this.#a.welcome(c);
    const colon = account.indexOf(":");
    if (colon > 0) {
      // An account's password goes the way /identify's does: hashed off the hub.
      this.#hub.chat.identify(c, account.slice(0, colon), account.slice(colon + 1), at);
    }
  }

  // ---- Talking -----------------------------------------------------------------------------------

  #privmsg(c: Client, m: IrcMessage, at: number): void {
    const notice = m.command === "NOTICE";
    const [targets, raw] = m.params;
    if (!targets) return notice ? undefined : this.#a.num(c, "411", "No recipient given (PRIVMSG)");
    if (raw === undefined || raw === "") {
      return notice ? undefined : this.#a.num(c, "412", "No text to send");
    }
    const target = targets.split(",")[0]; // TARGMAX: one
    let kind: "chat" | "action" = "chat";
    let body = raw;
    const ctcp = parseCtcp(raw);
    if (ctcp) {
      if (ctcp.command !== "ACTION") {
        return this.#ctcp(c, target, ctcp.command, ctcp.args, notice, at);
      }
      kind = "action";
      body = ctcp.args;
    }
    const text = cleanText(stripFormatting(body)).trim();
    if (text === "") return notice ? undefined : this.#a.num(c, "412", "No text to send");
    if (target.startsWith("#")) {
      const room = this.#a.channel(target);
      if (!room || !c.inRoom(room)) {
        return notice ? undefined : this.#a.num(c, "404", target, "Cannot send to channel");
      }
      this.#hub.paced(c, text, at, () => {
        c.room = room;
        this.#hub.speak(c, kind, text, at, notice && kind === "chat");
      });
      return;
    }
    const to = this.#a.person(target);
    if (!to) return notice ? undefined : this.#a.num(c, "401", target, "No such nick/channel");
    this.#hub.paced(c, text, at, () => {
      const how = kind === "action" ? { ircAction: true as const } : {};
      this.#hub.whisper(c, to, text, at, notice ? { ...how, ircNotice: true } : how);
      if (to.away && !notice) this.#a.num(c, "301", toIrcNick(to.nick), to.away);
    });
  }

  /**
   * A CTCP request other than ACTION, or a CTCP reply (a NOTICE): passed on to an IRC client,
   * whose own client answers; for anyone else the server answers VERSION and PING, and the rest
   * is ignored (a terminal has nothing to answer with).
   */
  #ctcp(
    c: Client,
    target: string,
    command: string,
    args: string,
    notice: boolean,
    at: number,
  ): void {
    const to = target.startsWith("#") ? undefined : this.#a.person(target);
    const local = to && to.id > 0 ? this.#p.clients.get(to.id) : undefined;
    const cmd = command.replace(/[^A-Z0-9_-]/g, "").slice(0, 32);
    if (local?.irc && cmd) {
      const text = cleanText(stripFormatting(args)).slice(0, 300);
      return this.#hub.paced(c, `${cmd} ${text}`, at, () => {
        const wrapped = text ? `\x01${cmd} ${text}\x01` : `\x01${cmd}\x01`;
        const verb = notice ? "NOTICE" : "PRIVMSG";
        this.#p.fanout.ircSend(local, wire(maskOf(c.nick), verb, toIrcNick(local.nick), wrapped));
      });
    }
    if (notice) return; // a reply to a terminal: nothing to pass it to
    const from = target.startsWith("#") ? this.#a.server : maskOf(fromIrcNick(target));
    const me = toIrcNick(c.nick);
    if (command === "VERSION") {
      this.#p.fanout.ircSend(c, wire(from, "NOTICE", me, "\x01VERSION Shat chat server\x01"));
    } else if (command === "PING") {
      const echo = cleanText(args).slice(0, 64);
      this.#p.fanout.ircSend(c, wire(from, "NOTICE", me, `\x01PING ${echo}\x01`));
    }
  }

  // ---- Rooms -------------------------------------------------------------------------------------

  #away(c: Client, reason: string): void {
    const text = cleanText(stripFormatting(reason)).trim().slice(0, 200);
    this.#p.sessions.setAway(c, text);
    if (text) this.#a.num(c, "306", "You have been marked as being away");
    else this.#a.num(c, "305", "You are no longer marked as being away");
  }

  /** `OPER NAME TOKEN`: the operator token, whatever the name (Shat's /op). */
  #oper(c: Client, m: IrcMessage, at: number): void {
    const token = m.params[1] ?? m.params[0] ?? "";
    if (!token) return this.#a.num(c, "461", "OPER", "Not enough parameters");
    if (!this.#hub.chat.opsEnabled) return this.#a.num(c, "491", "No O-lines for your host");
    if (c.op) return this.#a.num(c, "381", "You are now an IRC operator");
    findCommand("op")!.run(this.#hub.chat, c, token, at);
    if (c.gone) return;
    if (c.op) this.#a.num(c, "381", "You are now an IRC operator");
    else this.#a.num(c, "464", "Password incorrect");
  }

  #quit(c: Client, reason: string, at: number): void {
    const text = cleanText(stripFormatting(reason)).trim().slice(0, 200);
    const shown = text && at - c.connectedAt >= QUIT_REASON_AFTER ? `Quit: ${text}` : "Quit";
    this.#p.sessions.drop(c, shown, at, { message: "Goodbye!" });
  }

  // ---- Helpers -----------------------------------------------------------------------------------

  /** Drops `c` with an IRC ERROR; `strike` counts it against the address (a flood). */
  #drop(c: Client, reason: string, at: number, strike: boolean): void {
    this.#ctx.log.info("irc session dropped", { client: c.id, reason });
    if (strike) this.#p.sanctions.strike(c, `irc: ${reason.toLowerCase()}`, at);
    if (!c.gone) this.#p.sessions.drop(c, reason, at, { message: reason });
  }
}
