/**
 * The IRC wire format (RFC 1459/2812 as modern.ircdocs.horse describes it): parsing and
 * formatting one message, splitting long text so every line fits 512 bytes, CTCP, mIRC
 * formatting codes, and the mapping between Shat nicks and IRC nicks. Pure: text in, text out.
 */
import { NICK_PATTERN } from "../nicks.ts";
import { fitBytes, utf8Length } from "../../lib/utf8.ts";

/** One IRC message. */
export interface IrcMessage {
  /** IRCv3 message tags, values unescaped; a tag without a value is "". */
  tags: Record<string, string>;
  /** The prefix without its ':' ("" when the line has none). */
  source: string;
  /** The command upper-cased, or a numeric as sent. */
  command: string;
  /** Middle params and the trailing one, at most {@link MAX_PARAMS}. */
  params: string[];
}

/** Most params one message carries (RFC 2812: 14 middles and a trailing). */
const MAX_PARAMS = 15;

/** Most bytes in one IRC line as UTF-8, CR LF included (tags not counted). */
export const MAX_LINE = 512;

const TAG_ESCAPES: Record<string, string> = { ":": ";", s: " ", "\\": "\\", r: "\r", n: "\n" };

/** Unescapes an IRCv3 tag value: a lone trailing '\' is dropped, '\x' for another x is x. */
function unescapeTag(value: string): string {
  if (!value.includes("\\")) return value;
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c !== "\\") out += c;
    else if (i + 1 < value.length) out += TAG_ESCAPES[value[++i]] ?? value[i];
  }
  return out;
}

/** Parses the tags part (without '@'); a repeated key keeps its last value. */
function parseTags(raw: string): Record<string, string> {
  const tags = new Map<string, string>();
  for (const item of raw.split(";")) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key !== "") tags.set(key, eq < 0 ? "" : unescapeTag(item.slice(eq + 1)));
  }
  // fromEntries defines own properties, so a "__proto__" key is data, not a prototype.
  return Object.fromEntries(tags);
}

/** Index of the first non-space at or after `i`. */
function skipSpaces(line: string, i: number): number {
  while (i < line.length && line[i] === " ") i++;
  return i;
}

/** Index of the next space at or after `i`, or the line's length. */
function wordEnd(line: string, i: number): number {
  const end = line.indexOf(" ", i);
  return end < 0 ? line.length : end;
}

/**
 * Parses one line (without CR LF). Tags (`@a=b;c` with IRCv3 value unescaping \: \s \\ \r \n),
 * source (`:prefix`), command upper-cased (numerics kept), params (middle params split on
 * spaces — runs of spaces are one separator —, the trailing after " :" kept whole, at most 15
 * params: after 14 middles the rest of the line is the 15th, ':' optional). Returns null for an
 * empty/blank line or a line with no command.
 */
export function parseMessage(line: string): IrcMessage | null {
  let end = line.length;
  while (end > 0 && (line[end - 1] === "\r" || line[end - 1] === "\n")) end--;
  if (end < line.length) line = line.slice(0, end);
  let i = skipSpaces(line, 0);
  let tags: Record<string, string> = {};
  if (line[i] === "@") {
    const stop = wordEnd(line, i);
    tags = parseTags(line.slice(i + 1, stop));
    i = skipSpaces(line, stop);
  }
  let source = "";
  if (line[i] === ":") {
    const stop = wordEnd(line, i);
    source = line.slice(i + 1, stop);
    i = skipSpaces(line, stop);
  }
  if (i >= line.length) return null;
  const stop = wordEnd(line, i);
  const command = line.slice(i, stop).toUpperCase();
  i = skipSpaces(line, stop);
  const params: string[] = [];
  while (i < line.length) {
    if (line[i] === ":") {
      params.push(line.slice(i + 1));
      break;
    }
    if (params.length === MAX_PARAMS - 1) {
      params.push(line.slice(i));
      break;
    }
    const next = wordEnd(line, i);
    params.push(line.slice(i, next));
    i = skipSpaces(line, next);
  }
  return { tags, source, command, params };
}

/** Removes CR, LF and NUL, which would end or corrupt the line on the wire. */
function oneLine(s: string): string {
  return /[\r\n\0]/.test(s) ? s.replace(/[\r\n\0]/g, "") : s;
}

/**
 * Formats a message: `:source COMMAND p1 p2 :last` — the last param is prefixed with ':' when it
 * is empty, contains a space, or starts with ':'; no tags. No CR LF added. An empty `source`
 * leaves out the prefix. CR, LF and NUL are dropped from every part so no text can start a line
 * of its own; only the last param may be empty, hold spaces or start with ':'.
 */
export function formatMessage(source: string, command: string, ...params: string[]): string {
  let out = source === "" ? oneLine(command) : `:${oneLine(source)} ${oneLine(command)}`;
  for (let k = 0; k < params.length; k++) {
    const p = oneLine(params[k]);
    const last = k === params.length - 1;
    out += last && (p === "" || p.includes(" ") || p[0] === ":") ? ` :${p}` : ` ${p}`;
  }
  return out;
}

/** The first code point of a non-empty `s` (a surrogate pair whole, a lone surrogate alone). */
function firstCodePoint(s: string): string {
  const c = s.charCodeAt(0);
  const pair = c >= 0xd800 && c < 0xdc00 && (s.charCodeAt(1) & 0xfc00) === 0xdc00;
  return s.slice(0, pair ? 2 : 1);
}

/**
 * Splits `text` so each `prefix + piece + "\r\n"` fits MAX_LINE bytes (prefix is e.g.
 * ":nick!u@h PRIVMSG #room :"), breaking at the last space before the limit when there is one
 * in the last 1/3 of a piece (that space is dropped), never inside a UTF-8 character (or a
 * surrogate pair). Always returns at least one piece ("" -> [""]); a space left alone at the
 * very end is dropped rather than sent as a line of its own. A prefix that leaves no room still
 * gets one code point per piece, so the split always ends.
 */
export function splitText(prefix: string, text: string): string[] {
  const room = MAX_LINE - 2 - utf8Length(prefix);
  const pieces: string[] = [];
  let rest = text;
  while (rest !== "" && utf8Length(rest) > room) {
    let piece = fitBytes(rest, room);
    if (piece === "") piece = firstCodePoint(rest); // no room at all: one code point a piece
    // The space just past the cut counts too: breaking there loses nothing.
    const space = rest.lastIndexOf(" ", piece.length);
    if (space > 0 && space >= (piece.length * 2) / 3) {
      pieces.push(rest.slice(0, space));
      rest = rest.slice(space + 1);
    } else {
      pieces.push(piece);
      rest = rest.slice(piece.length);
    }
  }
  if (rest !== "" || pieces.length === 0) pieces.push(rest);
  return pieces;
}

/**
 * CTCP: a text wrapped in \x01 (closing \x01 optional; the message ends at the first \x01 after
 * the opening one). Returns {command upper-cased, args (after the first space)} or null when not
 * CTCP or when the command is empty.
 */
export function parseCtcp(text: string): { command: string; args: string } | null {
  if (text[0] !== "\x01") return null;
  let body = text.slice(1);
  const close = body.indexOf("\x01");
  if (close >= 0) body = body.slice(0, close);
  const space = body.indexOf(" ");
  const command = (space < 0 ? body : body.slice(0, space)).toUpperCase();
  if (command === "") return null;
  return { command, args: space < 0 ? "" : body.slice(space + 1) };
}

/**
 * Wraps a CTCP command: "\x01ACTION waves\x01" (no space when args is ""). A \x01 in args would
 * end the CTCP early, so it is dropped.
 */
export function ctcp(command: string, args: string): string {
  const clean = args.replaceAll("\x01", "");
  return clean === "" ? `\x01${command}\x01` : `\x01${command} ${clean}\x01`;
}

const SIMPLE_CODES = new Set(["\x02", "\x1d", "\x1f", "\x1e", "\x11", "\x16", "\x0f"]);
const isCode = (c: string) => SIMPLE_CODES.has(c) || c === "\x03" || c === "\x04";

/** Length of the run of chars at `i` (at most `max`) that `ok` accepts. */
function runOf(text: string, i: number, max: number, ok: (c: string) => boolean): number {
  let n = 0;
  while (n < max && i + n < text.length && ok(text[i + n])) n++;
  return n;
}

const isDigit = (c: string) => c >= "0" && c <= "9";
const isHex = (c: string) => isDigit(c) || (c >= "a" && c <= "f") || (c >= "A" && c <= "F");

/** Length of a colour code's argument at `i`: `fg` or `fg,bg` (each 1..width chars of `ok`). */
function colourArgs(
  text: string,
  i: number,
  width: number,
  exact: boolean,
  ok: (c: string) => boolean,
): number {
  const fits = (n: number) => (exact ? n === width : n > 0);
  const fg = runOf(text, i, width, ok);
  if (!fits(fg)) return 0;
  if (text[i + fg] !== ",") return fg;
  const bg = runOf(text, i + fg + 1, width, ok);
  return fits(bg) ? fg + 1 + bg : fg;
}

/**
 * Removes mIRC formatting: \x02 \x1d \x1f \x1e \x11 \x16 \x0f, \x03 with up to 2 digits and
 * optional ,2 digits (colour), \x04 with 6 hex digits and optional ,6 hex.
 */
export function stripFormatting(text: string): string {
  let start = 0;
  while (start < text.length && !isCode(text[start])) start++;
  if (start === text.length) return text;
  let out = text.slice(0, start);
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (SIMPLE_CODES.has(c)) continue;
    if (c === "\x03") i += colourArgs(text, i + 1, 2, false, isDigit);
    else if (c === "\x04") i += colourArgs(text, i + 1, 6, true, isHex);
    else out += c;
  }
  return out;
}

/**
 * Shat nick -> IRC nick: "." becomes "|", and a nick starting with a digit or "-" gets a leading
 * "`". Consistent and reversible: Shat nicks hold neither "|" nor "`".
 */
export function toIrcNick(nick: string): string {
  const mapped = nick.replaceAll(".", "|");
  return /^[0-9-]/.test(mapped) ? `\`${mapped}` : mapped;
}

/**
 * IRC nick -> Shat nick (the reverse of toIrcNick): "|" becomes "." and a leading "`" before a
 * digit or "-" is dropped; the string is unchanged in other respects (caller validates).
 */
export function fromIrcNick(nick: string): string {
  const bare = /^`[0-9-]/.test(nick) ? nick.slice(1) : nick;
  return bare.replaceAll("|", ".");
}

/** IRC's nick form as this server takes it: 1..17 chars, not starting with a digit or '-'. */
const IRC_NICK = /^[A-Za-z_\[\]\\`^{}|][A-Za-z0-9_\-\[\]\\`^{}|]{0,16}$/;

/**
 * Whether `nick` is a valid IRC nick as this server accepts it at NICK: 1..17 chars of
 * [A-Za-z0-9_\-\[\]\\`^{}|], not starting with a digit or '-' (a leading '`' only as the mapping
 * prefix), AND fromIrcNick(nick) is a valid Shat nick (NICK_PATTERN) that maps back to `nick`.
 */
export function validIrcNick(nick: string): boolean {
  if (!IRC_NICK.test(nick)) return false;
  const shat = fromIrcNick(nick);
  return NICK_PATTERN.test(shat) && toIrcNick(shat) === nick;
}

/** Lower case as CASEMAPPING=ascii: only A-Z change. */
export function ircLower(s: string): string {
  return s.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}
