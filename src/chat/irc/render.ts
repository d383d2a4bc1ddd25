/**
 * How the hub's lines look to an IRC client: a room's line is `:nick!user@host PRIVMSG #room
 * :text` (an action wrapped in CTCP ACTION), the server's notices are NOTICEs from the server,
 * and everything is split so no message passes 512 bytes. Nicks IRC cannot carry are shown in
 * their IRC form (see toIrcNick).
 */
import type { RoomLine } from "../render.ts";
import { fitBytes, utf8Length } from "../../lib/utf8.ts";
import { ctcp, formatMessage, MAX_LINE, splitText, toIrcNick } from "./wire.ts";

/** The host part of every member's mask: addresses are never shown. */
export const MASK_HOST = "shat";

/** `nick!user@host` for a Shat nick: the same for every viewer and every message. */
export function maskOf(nick: string): string {
  const n = toIrcNick(nick);
  return `${n}!${n.slice(0, 10)}@${MASK_HOST}`;
}

/**
 * `text` as one or more `command` messages from `source` to `target` (CR LF ended), split to
 * fit; `action` wraps each piece in CTCP ACTION.
 */
export function messages(
  source: string,
  command: string,
  target: string,
  text: string,
  action = false,
): string {
  const head = `:${source} ${command} ${target} :`;
  let out = "";
  if (action) {
    // Measured with the wrapper around every piece: `\x01ACTION ` before, `\x01` after.
    for (const piece of splitText(head + "\x01ACTION \x01", text)) {
      out += head + ctcp("ACTION", piece) + "\r\n";
    }
    return out;
  }
  for (const piece of splitText(head, text)) out += head + piece + "\r\n";
  return out;
}

/** Commands whose last parameter is text: it always goes after a `:`, as servers send it. */
const TEXT_LAST = new Set([
  "PRIVMSG",
  "NOTICE",
  "PART",
  "QUIT",
  "KICK",
  "TOPIC",
  "ERROR",
  "PONG",
  "PING",
  "CAP",
]);

/** Of those, the ones whose only parameter is text too (a PART's only one is its room). */
const ALONE_TEXT = new Set(["QUIT", "ERROR", "PING", "PONG"]);

/**
 * One message, CR LF ended (see formatMessage); the last parameter of a numeric or of a
 * command that ends in text is always written after a `:`.
 */
export function wire(source: string, command: string, ...params: string[]): string {
  const n = params.length;
  const text = TEXT_LAST.has(command) || /^\d{3}$/.test(command);
  if (n === 0 || !text || (n === 1 && !ALONE_TEXT.has(command))) {
    return formatMessage(source, command, ...params) + "\r\n";
  }
  const head = formatMessage(source, command, ...params.slice(0, -1), "x").slice(0, -2) + " :";
  // Nothing goes past IRC's 512 bytes: a text too long for one message (a long topic in a
  // list) is cut at a character's end.
  const last = fitBytes(params[n - 1].replace(/[\r\n\0]/g, ""), MAX_LINE - 2 - utf8Length(head));
  return `${head}${last}\r\n`;
}

/**
 * A room's line for its IRC members: a chat line or an action as a PRIVMSG from its author, a
 * notice as a NOTICE from the server to the room; "" for what IRC does not show this way.
 */
export function roomLine(line: RoomLine, label: string, server: string): string {
  switch (line.kind) {
    case "chat":
      return messages(maskOf(line.nick), line.ircNotice ? "NOTICE" : "PRIVMSG", label, line.text);
    case "action":
      return messages(maskOf(line.nick), "PRIVMSG", label, line.text, true);
    case "notice":
      return messages(server, "NOTICE", label, `*** ${line.text}`);
    default:
      return "";
  }
}

/** The server's words as an IRC user reads them: Shat's operator command is OPER there. */
export function ircWords(text: string): string {
  return text.replaceAll("with /op TOKEN", "with /oper NAME TOKEN");
}

/** The server's words to `nick` (answers, errors in words), each line a NOTICE. */
export function serverNotices(server: string, nick: string, lines: readonly string[]): string {
  const to = nick ? toIrcNick(nick) : "*";
  let out = "";
  for (const text of lines) {
    for (const line of text.split(/\r?\n/)) {
      if (line !== "") out += messages(server, "NOTICE", to, line);
    }
  }
  return out;
}
