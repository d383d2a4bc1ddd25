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
import type { ClientTable } from "../clients.ts";
import type { Chat, Member } from "../commands/types.ts";
import { findCommand } from "../commands/mod.ts";
import type { HubContext } from "../context.ts";
import type { Fanout } from "../fanout.ts";
import type { Mirror, RemoteMember } from "../mirror.ts";
import { nickProblem } from "../nicks.ts";
import type { RoomLine } from "../render.ts";
import { type ChatRoom, ROOM_NAME } from "../room.ts";
import type { Rooms } from "../rooms.ts";
import type { Sanctions } from "../sanctions.ts";
import type { Sessions } from "../sessions.ts";
import type { Stewards } from "../stewards.ts";
import { maskOf, messages, wire } from "./render.ts";
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

/** Protocol commands a session may send at once, and how many per second after that. */
export const FAKELAG_BURST = 16;
export const FAKELAG_RATE = 2;
/** Commands waiting for their turn past which the session is dropped (Excess Flood). */
export const FAKELAG_QUEUE = 64;
/** Lines before registration is done (a connect burst is a handful). */
export const EARLY_LINES = 20;
/** Rooms one IRC session may be in at once. */
export const CHANNEL_LIMIT = 50;
/** Capabilities offered (CAP LS). */
export const CAPS = ["echo-message"];
/** A QUIT's reason is shown only from a session connected at least this long (no free ads). */
export const QUIT_REASON_AFTER = 60_000;

/** What the door needs of the hub. */
export interface DoorParts {
  clients: ClientTable;
  fanout: Fanout;
  rooms: Rooms;
  sessions: Sessions;
  sanctions: Sanctions;
  mirror: Mirror;
  stewards: Stewards;
}

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
    how: Pick<RoomLine, "ircNotice" | "ircAction">,
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

  constructor(ctx: HubContext, parts: DoorParts, hub: DoorHub) {
    this.#ctx = ctx;
    this.#p = parts;
    this.#hub = hub;
  }

  get #server(): string {
    return this.#p.fanout.ircName;
  }

  /** An IRC connection's session starts: it says who it is first (nothing is sent yet). */
  opened(c: Client): void {
    c.irc ??= new IrcState<Client>();
    this.#sessions.add(c);
  }

  /** The session ended (the hub dropped it). */
  closed(c: Client): void {
    this.#sessions.delete(c);
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
      const q = irc.queue ??= [];
      if (q.length >= FAKELAG_QUEUE) return this.#drop(c, "Excess Flood", at, true);
      q.push(raw);
      return;
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
        this.#p.fanout.ircSend(c, wire("", "PING", this.#server));
      } else if (irc.pingSent > 0 && c.lastInput >= irc.pingSent) {
        irc.pingSent = 0;
      } else if (irc.pingSent > 0 && now - irc.pingSent >= ping) {
        this.#drop(c, `Ping timeout: ${Math.round(ping / 1000)} seconds`, now, false);
      }
    }
  }

  /** Runs the waiting commands of `c` the fakelag bucket allows now, in order. */
  #drain(c: Client, now: number): void {
    const irc = c.irc!;
    while (irc.queue && irc.queue.length > 0 && !c.gone && this.#turn(c, now)) {
      const msg = parseMessage(irc.queue.shift()!);
      if (irc.queue.length === 0) irc.queue = null;
      if (msg) this.#handle(c, msg, now);
    }
  }

  #handle(c: Client, m: IrcMessage, at: number): void {
    const irc = c.irc!;
    if (!irc.registered && !EARLY.has(m.command)) {
      return this.#num(c, "451", "You have not registered");
    }
    switch (m.command) {
      case "CAP":
        return this.#cap(c, m, at);
      case "PASS":
        if (irc.registered) return this.#num(c, "462", "You may not reregister");
        irc.pass = m.params[0] ?? "";
        return;
      case "NICK":
        return this.#nick(c, m.params[0] ?? "", at);
      case "USER":
        if (irc.registered) return this.#num(c, "462", "You may not reregister");
        if (m.params.length < 4) return this.#num(c, "461", "USER", "Not enough parameters");
        irc.user = cleanText(m.params[0]).replace(/[^A-Za-z0-9_.-]/g, "").slice(0, 10) || "user";
        irc.realname = cleanText(stripFormatting(m.params[3])).slice(0, 64);
        return this.#tryRegister(c, at);
      case "PING":
        if (m.params.length === 0) return this.#num(c, "409", "No origin specified");
        return this.#p.fanout.ircSend(
          c,
          wire(this.#server, "PONG", this.#server, m.params[0] ?? ""),
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
        return this.#join(c, m, at);
      case "PART":
        return this.#part(c, m);
      case "TOPIC":
        return this.#topic(c, m, at);
      case "NAMES":
        return this.#namesCmd(c, m, at);
      case "LIST":
        return this.#list(c);
      case "WHO":
        return this.#who(c, m.params[0] ?? "", at);
      case "WHOIS":
        return this.#whois(c, m.params[m.params.length - 1] ?? "", at);
      case "MODE":
        return this.#mode(c, m, at);
      case "KICK":
        return this.#kick(c, m, at);
      case "INVITE":
        return this.#invite(c, m, at);
      case "AWAY":
        return this.#away(c, m.params[0] ?? "");
      case "OPER":
        return this.#oper(c, m, at);
      case "USERHOST":
        return this.#userhost(c, m.params);
      case "ISON":
        return this.#ison(c, m.params);
      case "LUSERS":
        return this.#lusers(c);
      case "MOTD":
        return this.#motd(c);
      case "VERSION":
        return this.#num(c, "351", "shat", this.#server, "Shat chat server");
      case "TIME":
        return this.#num(c, "391", this.#server, new Date(at).toUTCString());
      default:
        return this.#num(c, "421", m.command, "Unknown command");
    }
  }

  // ---- Registration ------------------------------------------------------------------------------

  #cap(c: Client, m: IrcMessage, at: number): void {
    const irc = c.irc!;
    const sub = (m.params[0] ?? "").toUpperCase();
    const me = irc.registered ? toIrcNick(c.nick) : "*";
    const send = (...params: string[]) =>
      this.#p.fanout.ircSend(c, wire(this.#server, "CAP", me, ...params));
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
        return this.#num(c, "410", sub || "*", "Invalid CAP command");
    }
  }

  /** NICK: before registration it is remembered; after, it is a rename like /nick. */
  #nick(c: Client, asked: string, at: number): void {
    const irc = c.irc!;
    if (!asked) return this.#num(c, "431", "No nickname given");
    if (!validIrcNick(asked)) return this.#num(c, "432", asked, "Erroneous nickname");
    const nick = fromIrcNick(asked);
    const problem = nickProblem(nick);
    if (problem) return this.#num(c, "432", asked, `Erroneous nickname: ${problem}`);
    if (irc.registered && nick === c.nick) return;
    if (!irc.registered && this.#loginFor(c, nick)) {
      irc.nick = nick; // its account, logged in to as registration ends
      return this.#tryRegister(c, at);
    }
    const taken = this.#taken(c, nick);
    if (taken) return this.#num(c, "433", asked, taken);
    if (!irc.registered) {
      irc.nick = nick;
      return this.#tryRegister(c, at);
    }
    if (this.#hub.chat.busy(c)) {
      return this.#num(c, "437", asked, "Still working on your last request; a moment");
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
        this.#num(c, "464", "Password incorrect: this server needs its room token as PASS");
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
      return this.#num(c, "433", asked, taken);
    }
    irc.registered = true;
    irc.pass = "";
    this.#p.sessions.registered(c, login ? "" : irc.nick, at);
    this.#welcome(c);
    const colon = account.indexOf(":");
    if (colon > 0) {
      // An account's password goes the way /identify's does: hashed off the hub.
      this.#hub.chat.identify(c, account.slice(0, colon), account.slice(colon + 1), at);
    }
  }

  /** 001–005, the user counts and the message of the day. */
  #welcome(c: Client): void {
    const cfg = this.#ctx.config;
    const srv = this.#server;
    this.#num(c, "001", `Welcome to ${cfg.name}, ${maskOf(c.nick)}`);
    this.#num(c, "002", `Your host is ${srv}, running Shat`);
    this.#num(c, "003", "This server has rooms for telnet, nc, the web and IRC");
    this.#num(c, "004", srv, "shat", "i", "imntkbov");
    this.#num(
      c,
      "005",
      "CHANTYPES=#",
      "PREFIX=(ov)@+",
      "CASEMAPPING=ascii",
      "NICKLEN=16",
      "CHANNELLEN=25",
      "TOPICLEN=400",
      `CHANLIMIT=#:${CHANNEL_LIMIT}`,
      "CHANMODES=b,k,,imnt",
      "TARGMAX=PRIVMSG:1,NOTICE:1",
      `NETWORK=${cfg.name.replace(/[^A-Za-z0-9_.-]/g, "") || "Shat"}`,
      "are supported by this server",
    );
    this.#lusers(c);
    this.#motd(c);
    this.#notice(c, `Rooms are channels here: /join ${this.#p.rooms.lobby.label} to meet people.`);
  }

  #lusers(c: Client): void {
    const online = this.#p.clients.members + this.#p.mirror.size;
    let ops = 0;
    for (const m of this.#p.clients.values()) if (m.op && m.authed) ops++;
    this.#num(c, "251", `There are ${online} users and 0 invisible on 1 servers`);
    this.#num(c, "252", String(ops), "operator(s) online");
    this.#num(c, "254", String(this.#p.rooms.count), "channels formed");
    this.#num(c, "255", `I have ${this.#p.clients.members} clients and 0 servers`);
    this.#num(c, "265", String(this.#p.clients.members), String(online), "Current local users");
    this.#num(c, "266", String(online), String(online), "Current global users");
  }

  #motd(c: Client): void {
    const lines = this.#ctx.motd;
    if (lines.length === 0) return this.#num(c, "422", "MOTD File is missing");
    this.#num(c, "375", `- ${this.#server} Message of the day -`);
    for (const line of lines) this.#num(c, "372", `- ${line}`);
    this.#num(c, "376", "End of /MOTD command");
  }

  // ---- Talking -----------------------------------------------------------------------------------

  #privmsg(c: Client, m: IrcMessage, at: number): void {
    const notice = m.command === "NOTICE";
    const [targets, raw] = m.params;
    if (!targets) return notice ? undefined : this.#num(c, "411", "No recipient given (PRIVMSG)");
    if (raw === undefined || raw === "") {
      return notice ? undefined : this.#num(c, "412", "No text to send");
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
    if (text === "") return notice ? undefined : this.#num(c, "412", "No text to send");
    if (target.startsWith("#")) {
      const room = this.#channel(target);
      if (!room || !c.inRoom(room)) {
        return notice ? undefined : this.#num(c, "404", target, "Cannot send to channel");
      }
      this.#hub.paced(c, text, at, () => {
        c.room = room;
        this.#hub.speak(c, kind, text, at, notice && kind === "chat");
      });
      return;
    }
    const to = this.#person(target);
    if (!to) return notice ? undefined : this.#num(c, "401", target, "No such nick/channel");
    this.#hub.paced(c, text, at, () => {
      const how = kind === "action" ? { ircAction: true as const } : {};
      this.#hub.whisper(c, to, text, at, notice ? { ...how, ircNotice: true } : how);
      if (to.away && !notice) this.#num(c, "301", toIrcNick(to.nick), to.away);
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
    const to = target.startsWith("#") ? undefined : this.#person(target);
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
    const from = target.startsWith("#") ? this.#server : maskOf(fromIrcNick(target));
    const me = toIrcNick(c.nick);
    if (command === "VERSION") {
      this.#p.fanout.ircSend(c, wire(from, "NOTICE", me, "\x01VERSION Shat chat server\x01"));
    } else if (command === "PING") {
      const echo = cleanText(args).slice(0, 64);
      this.#p.fanout.ircSend(c, wire(from, "NOTICE", me, `\x01PING ${echo}\x01`));
    }
  }

  // ---- Rooms -------------------------------------------------------------------------------------

  #join(c: Client, m: IrcMessage, at: number): void {
    const irc = c.irc!;
    const list = m.params[0] ?? "";
    if (!list) return this.#num(c, "461", "JOIN", "Not enough parameters");
    if (list === "0") {
      for (const room of [...irc.channels]) this.#leave(c, room, "left");
      return;
    }
    const keys = (m.params[1] ?? "").split(",");
    list.split(",").forEach((target, i) => {
      if (c.gone) return;
      const name = target.startsWith("#") ? target.slice(1) : "";
      if (!ROOM_NAME.test(name)) {
        return this.#num(c, "403", target, "No such channel (names are #letters, digits, - and _)");
      }
      if (irc.channels.size >= CHANNEL_LIMIT) {
        return this.#num(c, "405", target, "You have joined too many channels");
      }
      const out = this.#hub.chat.join(c, name, keys[i] ?? "", at);
      if (out.ok) return this.#joined(c, this.#channel(target)!, at);
      switch (out.why) {
        case "same":
          return;
        case "needs-key":
        case "wrong-key":
          return this.#num(c, "475", target, "Cannot join channel (+k) - wrong or missing key");
        case "refused":
          return /invit/i.test(out.text)
            ? this.#num(c, "473", target, `Cannot join channel (+i): ${out.text}`)
            : this.#num(c, "474", target, `Cannot join channel (+b): ${out.text}`);
        case "too-many-rooms":
          return this.#num(c, "403", target, `No more rooms can be made (${out.limit} exist)`);
        case "too-fast":
          return this.#num(c, "437", target, "Rooms are made too fast from your address; wait");
        case "lookalike":
          return this.#num(c, "403", target, `Too much like ${out.room.label}; join that one`);
      }
    });
  }

  /** After the JOIN: the topic, history as PRIVMSG lines, and the names. */
  #joined(c: Client, room: ChatRoom<Client>, at: number): void {
    if (room.topic) this.#topicReply(c, room);
    const fanout = this.#p.fanout;
    let text = "";
    for (const line of room.recentLines()) text += this.#historyLine(line, room);
    if (text) fanout.ircSend(c, text);
    this.#names(c, room, at);
  }

  #historyLine(line: RoomLine, room: ChatRoom<Client>): string {
    if (line.kind !== "chat" && line.kind !== "action") return "";
    return messages(maskOf(line.nick), "PRIVMSG", room.label, line.text, line.kind === "action");
  }

  #part(c: Client, m: IrcMessage): void {
    const list = m.params[0] ?? "";
    if (!list) return this.#num(c, "461", "PART", "Not enough parameters");
    const reason = cleanText(stripFormatting(m.params[1] ?? "")).slice(0, 200);
    for (const target of list.split(",")) {
      const room = this.#channel(target);
      if (!room) this.#num(c, "403", target, "No such channel");
      else if (!c.inRoom(room)) this.#num(c, "442", target, "You're not on that channel");
      else this.#leave(c, room, reason);
    }
  }

  #leave(c: Client, room: ChatRoom<Client>, reason: string): void {
    const notice = this.#p.rooms.announcing(room)
      ? `${c.nick} left${reason ? ` (${reason})` : ""}`
      : "";
    const part = reason
      ? wire(maskOf(c.nick), "PART", room.label, reason)
      : wire(maskOf(c.nick), "PART", room.label);
    this.#p.rooms.part(c, room, notice, part);
  }

  #topic(c: Client, m: IrcMessage, at: number): void {
    const target = m.params[0] ?? "";
    const room = this.#channel(target);
    if (!room) return this.#num(c, "403", target, "No such channel");
    if (m.params.length < 2) {
      if (room.secret && !c.inRoom(room)) {
        return this.#num(c, "442", target, "You're not on that channel");
      }
      return this.#topicReply(c, room);
    }
    if (!c.inRoom(room)) return this.#num(c, "442", target, "You're not on that channel");
    c.room = room;
    const text = cleanText(stripFormatting(m.params[1])).trim().slice(0, 400);
    this.#hub.chat.setTopic(c, text, at);
  }

  #topicReply(c: Client, room: ChatRoom<Client>): void {
    if (!room.topic) return this.#num(c, "331", room.label, "No topic is set");
    this.#num(c, "332", room.label, room.topic);
    const when = String(Math.floor(room.topicAt / 1000));
    this.#num(c, "333", room.label, room.topicBy ? maskOf(room.topicBy) : this.#server, when);
  }

  #namesCmd(c: Client, m: IrcMessage, at: number): void {
    const target = m.params[0] ?? "";
    if (!target) return this.#num(c, "366", "*", "End of /NAMES list");
    for (const t of target.split(",")) {
      const room = this.#channel(t);
      if (room && (!room.secret || c.inRoom(room))) this.#names(c, room, at);
      else this.#num(c, "366", t, "End of /NAMES list");
    }
  }

  /** 353 (as many as it takes) and 366: everyone in `room`, here and elsewhere, with @ and +. */
  #names(c: Client, room: ChatRoom<Client>, at: number): void {
    const head = `:${this.#server} 353 ${toIrcNick(c.nick)} = ${room.label} :`;
    let line = "";
    let out = "";
    for (const m of this.#hub.chat.members(room.name)) {
      const name = this.#prefix(m, room, at) + toIrcNick(m.nick);
      if (line && head.length + line.length + name.length + 3 > 500) {
        out += head + line + "\r\n";
        line = "";
      }
      line = line ? `${line} ${name}` : name;
    }
    if (line) out += head + line + "\r\n";
    if (out) this.#p.fanout.ircSend(c, out);
    this.#num(c, "366", room.label, "End of /NAMES list");
  }

  /** `@` for the room's owner and operators (and server operators), `+` for voice. */
  #prefix(m: Member, room: ChatRoom<Client>, at: number): string {
    const marks = this.#hub.chat.marks(m, room.name, at);
    if (m.op || marks.includes("owner") || marks.includes("room op")) return "@";
    return marks.includes("voice") ? "+" : "";
  }

  #list(c: Client): void {
    this.#num(c, "321", "Channel", "Users  Name");
    for (const room of this.#p.rooms.all()) {
      if (room.secret && !c.inRoom(room)) continue;
      const n = String(this.#p.rooms.peopleIn(room));
      this.#num(c, "322", room.label, n, room.topic);
    }
    this.#num(c, "323", "End of /LIST");
  }

  #who(c: Client, target: string, at: number): void {
    const room = target.startsWith("#") ? this.#channel(target) : undefined;
    if (room && (!room.secret || c.inRoom(room))) {
      for (const m of this.#hub.chat.members(room.name)) this.#whoLine(c, m, room, at);
    } else if (!target.startsWith("#")) {
      const m = this.#person(target);
      if (m) this.#whoLine(c, m, undefined, at);
    }
    this.#num(c, "315", target || "*", "End of /WHO list");
  }

  #whoLine(c: Client, m: Member, room: ChatRoom<Client> | undefined, at: number): void {
    const n = toIrcNick(m.nick);
    const flags = (m.away ? "G" : "H") + (m.op ? "*" : "") +
      (room ? this.#prefix(m, room, at) : "");
    const real = this.#p.clients.get(m.id)?.irc?.realname || n;
    this.#num(
      c,
      "352",
      room?.label ?? "*",
      n.slice(0, 10),
      "shat",
      this.#server,
      n,
      flags,
      `0 ${real}`,
    );
  }

  #whois(c: Client, target: string, at: number): void {
    const m = this.#person(target);
    if (!m) {
      this.#num(c, "401", target, "No such nick/channel");
      return this.#num(c, "318", target, "End of /WHOIS list");
    }
    const n = toIrcNick(m.nick);
    const local = m.id > 0 ? this.#p.clients.get(m.id) : undefined;
    const real = local?.irc?.realname || `${m.nick} (${local ? viaOf(local) : "another server"})`;
    this.#num(c, "311", n, n.slice(0, 10), "shat", "*", real);
    const rooms = local
      ? (local.irc ? [...local.irc.channels] : [local.room])
      : [this.#p.rooms.get((m as RemoteMember).room)].filter((r) => r !== undefined);
    const shown = rooms.filter((r) =>
      r && r !== this.#p.rooms.nowhere && (!r.secret || c.inRoom(r))
    );
    if (shown.length > 0) {
      this.#num(c, "319", n, shown.map((r) => this.#prefix(m, r!, at) + r!.label).join(" "));
    }
    this.#num(c, "312", n, this.#server, this.#ctx.config.name);
    if (m.op) this.#num(c, "313", n, "is a server operator");
    if (m.away) this.#num(c, "301", n, m.away);
    const account = local?.identified ? local.account : "";
    if (account) this.#num(c, "330", n, account, "is logged in as");
    if (local) {
      const idle = String(Math.max(0, Math.floor((at - local.lastActive) / 1000)));
      this.#num(
        c,
        "317",
        n,
        idle,
        String(Math.floor(local.connectedAt / 1000)),
        "seconds idle, signon time",
      );
    }
    this.#num(c, "318", n, "End of /WHOIS list");
  }

  #mode(c: Client, m: IrcMessage, at: number): void {
    const target = m.params[0] ?? "";
    if (!target.startsWith("#")) {
      if (fromIrcNick(target).toLowerCase() !== c.key) {
        return this.#num(c, "502", "Can't change mode for other users");
      }
      return this.#num(c, "221", "+");
    }
    const room = this.#channel(target);
    if (!room) return this.#num(c, "403", target, "No such channel");
    const change = m.params[1] ?? "";
    if (change === "") {
      return this.#num(c, "324", room.label, this.#modes(room));
    }
    if (/^[+-]?b$/.test(change) && m.params.length === 2) {
      return this.#num(c, "368", room.label, "End of channel ban list");
    }
    if (!c.inRoom(room)) return this.#num(c, "442", target, "You're not on that channel");
    c.room = room;
    this.#setModes(c, room, change, m.params.slice(2), at);
  }

  /** The room's settings as IRC modes: n always (only members speak), t, i, m, k. */
  #modes(room: ChatRoom<Client>): string {
    const a = room.auth;
    return "+n" + (a.topicLock ? "t" : "") + (a.inviteOnly ? "i" : "") + (a.moderated ? "m" : "") +
      (room.secret ? "k" : "");
  }

  /** `MODE #room +o nick`, `-m`… as the room's own commands; each answer is a NOTICE. */
  #setModes(c: Client, room: ChatRoom<Client>, change: string, args: string[], at: number): void {
    let on = true;
    let i = 0;
    const chat = this.#hub.chat;
    for (const ch of change) {
      if (ch === "+" || ch === "-") {
        on = ch === "+";
        continue;
      }
      const arg = ch === "o" || ch === "v" || ch === "b" || (ch === "k" && on)
        ? args[i++] ?? ""
        : "";
      let said = "";
      switch (ch) {
        case "i":
        case "m":
        case "t": {
          const mode = ch === "i" ? "invite-only" : ch === "m" ? "moderated" : "topic-lock";
          said = chat.moderate(c, { act: "mode", mode, on }, at);
          break;
        }
        case "k":
          said = chat.moderate(c, { act: "key", key: on ? arg : "" }, at);
          break;
        case "o":
        case "v":
          if (!arg) continue;
          said = chat.moderate(c, {
            act: ch === "o" ? (on ? "op" : "deop") : (on ? "voice" : "devoice"),
            nick: fromIrcNick(arg),
          }, at);
          break;
        case "b":
          if (!arg) continue;
          said = on
            ? chat.moderate(c, {
              act: "ban",
              target: fromIrcNick(arg.replace(/!.*$/, "")),
              ms: this.#ctx.config.banDuration,
              reason: "",
            }, at)
            : chat.moderate(c, { act: "unban", target: fromIrcNick(arg.replace(/!.*$/, "")) }, at);
          break;
        case "n":
          continue;
        default:
          this.#num(c, "472", ch, "is unknown mode char to me");
          continue;
      }
      // Not an operator of the room: IRC's own numeric, with the room's words.
      if (/^Only /.test(said)) this.#num(c, "482", room.label, said);
      else if (said) this.#notice(c, said);
    }
  }

  #kick(c: Client, m: IrcMessage, at: number): void {
    const [target, who, reason] = m.params;
    if (!target || !who) return this.#num(c, "461", "KICK", "Not enough parameters");
    const room = this.#channel(target);
    if (!room) return this.#num(c, "403", target, "No such channel");
    if (!c.inRoom(room)) return this.#num(c, "442", target, "You're not on that channel");
    const nick = fromIrcNick(who.split(",")[0]);
    const t = this.#hub.chat.byNick(nick);
    if (!t) return this.#num(c, "401", who, "No such nick/channel");
    c.room = room;
    const why = cleanText(stripFormatting(reason ?? "")).slice(0, 200);
    // The room's /kick: a room operator sends them out of the room, a server operator
    // disconnects them, as for everyone else.
    findCommand("kick")!.run(this.#hub.chat, c, `${nick} ${why}`.trim(), at);
  }

  #invite(c: Client, m: IrcMessage, at: number): void {
    const [who, target] = m.params;
    if (!who || !target) return this.#num(c, "461", "INVITE", "Not enough parameters");
    const room = this.#channel(target);
    if (!room) return this.#num(c, "403", target, "No such channel");
    if (!c.inRoom(room)) return this.#num(c, "442", target, "You're not on that channel");
    const t = this.#person(who);
    if (!t) return this.#num(c, "401", who, "No such nick/channel");
    c.room = room;
    const said = this.#hub.chat.moderate(c, { act: "invite", nick: t.nick }, at);
    if (/invit/i.test(said) && !/only|cannot|can't|already|not/i.test(said)) {
      this.#num(c, "341", toIrcNick(t.nick), room.label);
      const local = t.id > 0 ? this.#p.clients.get(t.id) : undefined;
      if (local?.irc) {
        this.#p.fanout.ircSend(
          local,
          wire(maskOf(c.nick), "INVITE", toIrcNick(t.nick), room.label),
        );
      }
    } else if (said) {
      this.#notice(c, said);
    }
  }

  #away(c: Client, reason: string): void {
    const text = cleanText(stripFormatting(reason)).trim().slice(0, 200);
    this.#p.sessions.setAway(c, text);
    if (text) this.#num(c, "306", "You have been marked as being away");
    else this.#num(c, "305", "You are no longer marked as being away");
  }

  /** `OPER NAME TOKEN`: the operator token, whatever the name (Shat's /op). */
  #oper(c: Client, m: IrcMessage, at: number): void {
    const token = m.params[1] ?? m.params[0] ?? "";
    if (!token) return this.#num(c, "461", "OPER", "Not enough parameters");
    if (!this.#hub.chat.opsEnabled) return this.#num(c, "491", "No O-lines for your host");
    if (c.op) return this.#num(c, "381", "You are now an IRC operator");
    findCommand("op")!.run(this.#hub.chat, c, token, at);
    if (c.gone) return;
    if (c.op) this.#num(c, "381", "You are now an IRC operator");
    else this.#num(c, "464", "Password incorrect");
  }

  #userhost(c: Client, nicks: string[]): void {
    const out: string[] = [];
    for (const n of nicks.slice(0, 5)) {
      const m = this.#person(n);
      if (m) {
        out.push(
          `${toIrcNick(m.nick)}${m.op ? "*" : ""}=${m.away ? "-" : "+"}${
            toIrcNick(m.nick).slice(0, 10)
          }@shat`,
        );
      }
    }
    this.#num(c, "302", out.join(" "));
  }

  #ison(c: Client, nicks: string[]): void {
    const out: string[] = [];
    for (const n of nicks.join(" ").split(" ").slice(0, 64)) {
      const m = n ? this.#person(n) : undefined;
      if (m) out.push(toIrcNick(m.nick));
    }
    this.#num(c, "303", out.join(" "));
  }

  #quit(c: Client, reason: string, at: number): void {
    const text = cleanText(stripFormatting(reason)).trim().slice(0, 200);
    const shown = text && at - c.connectedAt >= QUIT_REASON_AFTER ? `Quit: ${text}` : "Quit";
    this.#p.sessions.drop(c, shown, at, { message: "Goodbye!" });
  }

  // ---- Helpers -----------------------------------------------------------------------------------

  /** The room a channel name names (any case), if it exists. */
  #channel(target: string): ChatRoom<Client> | undefined {
    if (!target.startsWith("#")) return undefined;
    return this.#p.rooms.get(target.slice(1).toLowerCase());
  }

  /** The person an IRC nick names, here or elsewhere. */
  #person(target: string): Member | undefined {
    if (!validIrcNick(target) && !/^[A-Za-z0-9_.-]+$/.test(target)) return undefined;
    return this.#hub.chat.byNick(fromIrcNick(target));
  }

  /** A numeric reply to `c`: `:server CODE nick params…`. */
  #num(c: Client, code: string, ...params: string[]): void {
    const me = c.irc!.registered ? toIrcNick(c.nick) : (c.irc!.nick ? toIrcNick(c.irc!.nick) : "*");
    this.#p.fanout.ircSend(c, wire(this.#server, code, me, ...params));
  }

  #notice(c: Client, text: string): void {
    this.#p.fanout.tell(c, text);
  }

  /** Drops `c` with an IRC ERROR; `strike` counts it against the address (a flood). */
  #drop(c: Client, reason: string, at: number, strike: boolean): void {
    this.#ctx.log.info("irc session dropped", { client: c.id, reason });
    if (strike) this.#p.sanctions.strike(c, `irc: ${reason.toLowerCase()}`, at);
    if (!c.gone) this.#p.sessions.drop(c, reason, at, { message: reason });
  }
}

/** How a member came, for WHOIS. */
function viaOf(c: Client): string {
  switch (c.transport) {
    case "ws":
      return "the web page";
    case "tls":
      return "telnet over TLS";
    default:
      return "telnet or nc";
  }
}
