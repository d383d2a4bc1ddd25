/**
 * What an IRC session is told: numerics addressed to it, the server's notices, and the answers
 * to the commands that only ask (LUSERS, MOTD, NAMES, LIST, WHO, WHOIS, USERHOST, ISON). It
 * changes nothing; the door and its room commands use it to speak.
 */
import type { Client } from "../client.ts";
import type { Chat, Member } from "../commands/types.ts";
import type { HubContext } from "../context.ts";
import type { RemoteMember } from "../mirror.ts";
import type { ChatRoom } from "../room.ts";
import { CHANNEL_LIMIT, type DoorParts } from "./parts.ts";
import { maskOf, wire } from "./render.ts";
import { fromIrcNick, type IrcMessage, toIrcNick, validIrcNick } from "./wire.ts";

/** The IRC door's replies. */
export class IrcAnswers {
  readonly #ctx: HubContext;
  readonly #p: DoorParts;
  readonly #chat: Chat;

  constructor(ctx: HubContext, parts: DoorParts, chat: Chat) {
    this.#ctx = ctx;
    this.#p = parts;
    this.#chat = chat;
  }

  get server(): string {
    return this.#p.fanout.ircName;
  }

  /** 001–005, the user counts and the message of the day. */
  welcome(c: Client): void {
    const cfg = this.#ctx.config;
    const srv = this.server;
    this.num(c, "001", `Welcome to ${cfg.name}, ${maskOf(c.nick)}`);
    this.num(c, "002", `Your host is ${srv}, running Shat`);
    this.num(c, "003", "This server has rooms for telnet, nc, the web and IRC");
    this.num(c, "004", srv, "shat", "i", "imntkbov");
    this.num(
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
    this.lusers(c);
    this.motd(c);
    this.notice(c, `Rooms are channels here: /join ${this.#p.rooms.lobby.label} to meet people.`);
  }

  lusers(c: Client): void {
    const online = this.#p.clients.members + this.#p.mirror.size;
    let ops = 0;
    for (const m of this.#p.clients.values()) if (m.op && m.authed) ops++;
    this.num(c, "251", `There are ${online} users and 0 invisible on 1 servers`);
    this.num(c, "252", String(ops), "operator(s) online");
    this.num(c, "254", String(this.#p.rooms.count), "channels formed");
    this.num(c, "255", `I have ${this.#p.clients.members} clients and 0 servers`);
    this.num(c, "265", String(this.#p.clients.members), String(online), "Current local users");
    this.num(c, "266", String(online), String(online), "Current global users");
  }

  motd(c: Client): void {
    const lines = this.#ctx.motd;
    if (lines.length === 0) return this.num(c, "422", "MOTD File is missing");
    this.num(c, "375", `- ${this.server} Message of the day -`);
    for (const line of lines) this.num(c, "372", `- ${line}`);
    this.num(c, "376", "End of /MOTD command");
  }

  topicReply(c: Client, room: ChatRoom<Client>): void {
    if (!room.topic) return this.num(c, "331", room.label, "No topic is set");
    this.num(c, "332", room.label, room.topic);
    const when = String(Math.floor(room.topicAt / 1000));
    this.num(c, "333", room.label, room.topicBy ? maskOf(room.topicBy) : this.server, when);
  }

  namesCmd(c: Client, m: IrcMessage, at: number): void {
    const target = m.params[0] ?? "";
    if (!target) return this.num(c, "366", "*", "End of /NAMES list");
    for (const t of target.split(",")) {
      const room = this.channel(t);
      if (room && (!room.secret || c.inRoom(room))) this.names(c, room, at);
      else this.num(c, "366", t, "End of /NAMES list");
    }
  }

  /** 353 (as many as it takes) and 366: everyone in `room`, here and elsewhere, with @ and +. */
  names(c: Client, room: ChatRoom<Client>, at: number): void {
    const head = `:${this.server} 353 ${toIrcNick(c.nick)} = ${room.label} :`;
    const lines: string[] = [];
    let names: string[] = [];
    let size = head.length + 2;
    for (const m of this.#chat.members(room.name)) {
      const name = this.prefix(m, room, at) + toIrcNick(m.nick);
      if (names.length > 0 && size + name.length + 1 > 500) {
        lines.push(head + names.join(" ") + "\r\n");
        names = [];
        size = head.length + 2;
      }
      names.push(name);
      size += name.length + 1;
    }
    if (names.length > 0) lines.push(head + names.join(" ") + "\r\n");
    if (lines.length > 0) this.#p.fanout.ircSend(c, lines.join(""));
    this.num(c, "366", room.label, "End of /NAMES list");
  }

  /** `@` for the room's owner and operators (and server operators), `+` for voice. */
  prefix(m: Member, room: ChatRoom<Client>, at: number): string {
    if (m.op) return "@";
    const a = room.auth;
    // Most rooms have nobody with a role (the lobby never has owners or operators): no lookup.
    if (!a.owner && !a.ownerSession && a.ops.size === 0 && a.voice.size === 0) return "";
    const marks = this.#chat.marks(m, room.name, at);
    if (m.op || marks.includes("owner") || marks.includes("room op")) return "@";
    return marks.includes("voice") ? "+" : "";
  }

  list(c: Client): void {
    this.num(c, "321", "Channel", "Users  Name");
    for (const room of this.#p.rooms.all()) {
      if (room.secret && !c.inRoom(room)) continue;
      const n = String(this.#p.rooms.peopleIn(room));
      this.num(c, "322", room.label, n, room.topic);
    }
    this.num(c, "323", "End of /LIST");
  }

  who(c: Client, target: string, at: number): void {
    const room = target.startsWith("#") ? this.channel(target) : undefined;
    if (room && (!room.secret || c.inRoom(room))) {
      for (const m of this.#chat.members(room.name)) this.#whoLine(c, m, room, at);
    } else if (!target.startsWith("#")) {
      const m = this.person(target);
      if (m) this.#whoLine(c, m, undefined, at);
    }
    this.num(c, "315", target || "*", "End of /WHO list");
  }

  #whoLine(c: Client, m: Member, room: ChatRoom<Client> | undefined, at: number): void {
    const n = toIrcNick(m.nick);
    const flags = (m.away ? "G" : "H") + (m.op ? "*" : "") +
      (room ? this.prefix(m, room, at) : "");
    const real = this.#p.clients.get(m.id)?.irc?.realname || n;
    this.num(
      c,
      "352",
      room?.label ?? "*",
      n.slice(0, 10),
      "shat",
      this.server,
      n,
      flags,
      `0 ${real}`,
    );
  }

  whois(c: Client, target: string, at: number): void {
    const m = this.person(target);
    if (!m) {
      this.num(c, "401", target, "No such nick/channel");
      return this.num(c, "318", target, "End of /WHOIS list");
    }
    const n = toIrcNick(m.nick);
    const local = m.id > 0 ? this.#p.clients.get(m.id) : undefined;
    const real = local?.irc?.realname || `${m.nick} (${local ? viaOf(local) : "another server"})`;
    this.num(c, "311", n, n.slice(0, 10), "shat", "*", real);
    const rooms = local
      ? (local.irc ? [...local.irc.channels] : [local.room])
      : (m as RemoteMember).rooms.map((id) => this.#p.rooms.get(id)).filter((r) => r !== undefined);
    const shown = rooms.filter((r) =>
      r && r !== this.#p.rooms.nowhere && (!r.secret || c.inRoom(r))
    );
    if (shown.length > 0) {
      this.num(c, "319", n, shown.map((r) => this.prefix(m, r!, at) + r!.label).join(" "));
    }
    this.num(c, "312", n, this.server, this.#ctx.config.name);
    if (m.op) this.num(c, "313", n, "is a server operator");
    if (m.away) this.num(c, "301", n, m.away);
    const account = local?.identified ? local.account : "";
    if (account) this.num(c, "330", n, account, "is logged in as");
    if (local) {
      const idle = String(Math.max(0, Math.floor((at - local.lastActive) / 1000)));
      this.num(
        c,
        "317",
        n,
        idle,
        String(Math.floor(local.connectedAt / 1000)),
        "seconds idle, signon time",
      );
    }
    this.num(c, "318", n, "End of /WHOIS list");
  }

  /** The room's settings as IRC modes: n always (only members speak), t, i, m, k. */
  modes(room: ChatRoom<Client>): string {
    const a = room.auth;
    return "+n" + (a.topicLock ? "t" : "") + (a.inviteOnly ? "i" : "") + (a.moderated ? "m" : "") +
      (room.secret ? "k" : "");
  }

  userhost(c: Client, nicks: string[]): void {
    const out: string[] = [];
    for (const n of nicks.slice(0, 5)) {
      const m = this.person(n);
      if (m) {
        out.push(
          `${toIrcNick(m.nick)}${m.op ? "*" : ""}=${m.away ? "-" : "+"}${
            toIrcNick(m.nick).slice(0, 10)
          }@shat`,
        );
      }
    }
    this.num(c, "302", out.join(" "));
  }

  ison(c: Client, nicks: string[]): void {
    const out: string[] = [];
    for (const n of nicks.join(" ").split(" ").slice(0, 64)) {
      const m = n ? this.person(n) : undefined;
      if (m) out.push(toIrcNick(m.nick));
    }
    this.num(c, "303", out.join(" "));
  }

  /** The room a channel name names (any case), if it exists. */
  channel(target: string): ChatRoom<Client> | undefined {
    if (!target.startsWith("#")) return undefined;
    return this.#p.rooms.get(target.slice(1).toLowerCase());
  }

  /** The person an IRC nick names, here or elsewhere. */
  person(target: string): Member | undefined {
    if (!validIrcNick(target) && !/^[A-Za-z0-9_.-]+$/.test(target)) return undefined;
    return this.#chat.byNick(fromIrcNick(target));
  }

  /** A numeric reply to `c`: `:server CODE nick params…`. */
  num(c: Client, code: string, ...params: string[]): void {
    const me = c.irc!.registered ? toIrcNick(c.nick) : (c.irc!.nick ? toIrcNick(c.irc!.nick) : "*");
    this.#p.fanout.ircSend(c, wire(this.server, code, me, ...params));
  }

  notice(c: Client, text: string): void {
    this.#p.fanout.tell(c, text);
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
