/**
 * An IRC session's room commands: JOIN (with keys, several at once), PART, TOPIC, MODE (the
 * room's own settings as IRC modes), KICK and INVITE, each done the way the room's own commands
 * do it for everyone, and answered with IRC numerics.
 */
import { cleanText } from "../../lib/sanitize.ts";
import type { Client } from "../client.ts";
import type { Chat } from "../commands/types.ts";
import { findCommand } from "../commands/mod.ts";
import type { HubContext } from "../context.ts";
import type { RoomLine } from "../render.ts";
import { type ChatRoom, ROOM_NAME } from "../room.ts";
import type { IrcAnswers } from "./answers.ts";
import { CHANNEL_LIMIT, type DoorParts } from "./parts.ts";
import { ircWords, maskOf, messages, wire } from "./render.ts";
import { fromIrcNick, type IrcMessage, stripFormatting, toIrcNick } from "./wire.ts";

/** The room commands of IRC sessions. */
export class IrcRooms {
  readonly #ctx: HubContext;
  readonly #p: DoorParts;
  readonly #chat: Chat;
  readonly #a: IrcAnswers;

  constructor(ctx: HubContext, parts: DoorParts, chat: Chat, answers: IrcAnswers) {
    this.#ctx = ctx;
    this.#p = parts;
    this.#chat = chat;
    this.#a = answers;
  }

  join(c: Client, m: IrcMessage, at: number): void {
    const irc = c.irc!;
    const list = m.params[0] ?? "";
    if (!list) return this.#a.num(c, "461", "JOIN", "Not enough parameters");
    if (list === "0") {
      for (const room of [...irc.channels]) this.#leave(c, room, "left");
      return;
    }
    const keys = (m.params[1] ?? "").split(",");
    list.split(",").forEach((target, i) => {
      if (c.gone) return;
      const name = target.startsWith("#") ? target.slice(1) : "";
      if (!ROOM_NAME.test(name)) {
        return this.#a.num(
          c,
          "403",
          target,
          "No such channel (names are #letters, digits, - and _)",
        );
      }
      if (irc.channels.size >= CHANNEL_LIMIT) {
        return this.#a.num(c, "405", target, "You have joined too many channels");
      }
      const out = this.#chat.join(c, name, keys[i] ?? "", at);
      if (out.ok) return this.#joined(c, this.#a.channel(target)!, at);
      switch (out.why) {
        case "same":
          return;
        case "needs-key":
        case "wrong-key":
          return this.#a.num(c, "475", target, "Cannot join channel (+k) - wrong or missing key");
        case "refused":
          return /invit/i.test(out.text)
            ? this.#a.num(c, "473", target, `Cannot join channel (+i): ${out.text}`)
            : this.#a.num(c, "474", target, `Cannot join channel (+b): ${out.text}`);
        case "too-many-rooms":
          return this.#a.num(c, "403", target, `No more rooms can be made (${out.limit} exist)`);
        case "too-fast":
          return this.#a.num(c, "437", target, "Rooms are made too fast from your address; wait");
        case "lookalike":
          return this.#a.num(c, "403", target, `Too much like ${out.room.label}; join that one`);
      }
    });
  }

  /** After the JOIN: the topic, history as PRIVMSG lines, and the names. */
  #joined(c: Client, room: ChatRoom<Client>, at: number): void {
    if (room.topic) this.#a.topicReply(c, room);
    const fanout = this.#p.fanout;
    let text = "";
    for (const line of room.recentLines()) text += this.#historyLine(line, room);
    if (text) fanout.ircSend(c, text);
    this.#a.names(c, room, at);
  }

  #historyLine(line: RoomLine, room: ChatRoom<Client>): string {
    if (line.kind !== "chat" && line.kind !== "action") return "";
    return messages(maskOf(line.nick), "PRIVMSG", room.label, line.text, line.kind === "action");
  }

  part(c: Client, m: IrcMessage): void {
    const list = m.params[0] ?? "";
    if (!list) return this.#a.num(c, "461", "PART", "Not enough parameters");
    const reason = cleanText(stripFormatting(m.params[1] ?? "")).slice(0, 200);
    for (const target of list.split(",")) {
      const room = this.#a.channel(target);
      if (!room) this.#a.num(c, "403", target, "No such channel");
      else if (!c.inRoom(room)) this.#a.num(c, "442", target, "You're not on that channel");
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

  topic(c: Client, m: IrcMessage, at: number): void {
    const target = m.params[0] ?? "";
    const room = this.#a.channel(target);
    if (!room) return this.#a.num(c, "403", target, "No such channel");
    if (m.params.length < 2) {
      if (room.secret && !c.inRoom(room)) {
        return this.#a.num(c, "442", target, "You're not on that channel");
      }
      return this.#a.topicReply(c, room);
    }
    if (!c.inRoom(room)) return this.#a.num(c, "442", target, "You're not on that channel");
    c.room = room;
    const text = cleanText(stripFormatting(m.params[1])).trim().slice(0, 400);
    this.#chat.setTopic(c, text, at);
  }

  mode(c: Client, m: IrcMessage, at: number): void {
    const target = m.params[0] ?? "";
    if (!target.startsWith("#")) {
      if (fromIrcNick(target).toLowerCase() !== c.key) {
        return this.#a.num(c, "502", "Can't change mode for other users");
      }
      return this.#a.num(c, "221", "+");
    }
    const room = this.#a.channel(target);
    if (!room) return this.#a.num(c, "403", target, "No such channel");
    const change = m.params[1] ?? "";
    if (change === "") {
      return this.#a.num(c, "324", room.label, this.#a.modes(room));
    }
    if (/^[+-]?b$/.test(change) && m.params.length === 2) {
      return this.#a.num(c, "368", room.label, "End of channel ban list");
    }
    if (!c.inRoom(room)) return this.#a.num(c, "442", target, "You're not on that channel");
    c.room = room;
    this.#setModes(c, room, change, m.params.slice(2), at);
  }

  /** `MODE #room +o nick`, `-m`… as the room's own commands; each answer is a NOTICE. */
  #setModes(c: Client, room: ChatRoom<Client>, change: string, args: string[], at: number): void {
    let on = true;
    let i = 0;
    const chat = this.#chat;
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
          this.#a.num(c, "472", ch, "is unknown mode char to me");
          continue;
      }
      // Not an operator of the room: IRC's own numeric, with the room's words.
      if (/^Only /.test(said)) this.#a.num(c, "482", room.label, ircWords(said));
      else if (said) this.#a.notice(c, said);
    }
  }

  kick(c: Client, m: IrcMessage, at: number): void {
    const [target, who, reason] = m.params;
    if (!target || !who) return this.#a.num(c, "461", "KICK", "Not enough parameters");
    const room = this.#a.channel(target);
    if (!room) return this.#a.num(c, "403", target, "No such channel");
    if (!c.inRoom(room)) return this.#a.num(c, "442", target, "You're not on that channel");
    const nick = fromIrcNick(who.split(",")[0]);
    const t = this.#chat.byNick(nick);
    if (!t) return this.#a.num(c, "401", who, "No such nick/channel");
    c.room = room;
    const why = cleanText(stripFormatting(reason ?? "")).slice(0, 200);
    // The room's /kick: a room operator sends them out of the room, a server operator
    // disconnects them, as for everyone else.
    findCommand("kick")!.run(this.#chat, c, `${nick} ${why}`.trim(), at);
  }

  invite(c: Client, m: IrcMessage, at: number): void {
    const [who, target] = m.params;
    if (!who || !target) return this.#a.num(c, "461", "INVITE", "Not enough parameters");
    const room = this.#a.channel(target);
    if (!room) return this.#a.num(c, "403", target, "No such channel");
    if (!c.inRoom(room)) return this.#a.num(c, "442", target, "You're not on that channel");
    const t = this.#a.person(who);
    if (!t) return this.#a.num(c, "401", who, "No such nick/channel");
    c.room = room;
    const said = this.#chat.moderate(c, { act: "invite", nick: t.nick }, at);
    if (/invit/i.test(said) && !/only|cannot|can't|already|not/i.test(said)) {
      this.#a.num(c, "341", toIrcNick(t.nick), room.label);
      const local = t.id > 0 ? this.#p.clients.get(t.id) : undefined;
      if (local?.irc) {
        this.#p.fanout.ircSend(
          local,
          wire(maskOf(c.nick), "INVITE", toIrcNick(t.nick), room.label),
        );
      }
    } else if (said) {
      this.#a.notice(c, said);
    }
  }
}
