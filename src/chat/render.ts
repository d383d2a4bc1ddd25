/**
 * How a line of the room is drawn for one view: plain text, colours, timestamps, a bell. The hub
 * decides what someone sees (a chat line, an action, a notice, a private message); this module
 * decides how it looks. A broadcast is rendered once per distinct view and shared; a mention is
 * the rare per-person variant. Only the server's own styling ever emits escape sequences: the
 * text inside was cleaned before it got here.
 */

/** What kind of line it is, which decides its styling. */
export type LineKind = "chat" | "action" | "notice" | "private" | "privateOut";

/** A line as the hub decided it: who, what, when. */
export interface RoomLine {
  kind: LineKind;
  /** The author (chat, action, private) or the other party (privateOut). */
  nick: string;
  text: string;
  /** When it was said (epoch ms), for timestamps. */
  at: number;
  /** A notice that someone came or went: bots are not shown it (IRC clients get IRC messages). */
  presence?: boolean;
  /** False: IRC clients are not shown it (they are told as an IRC message instead). */
  irc?: false;
  /** Sent by an IRC client as a NOTICE: IRC clients get a NOTICE (bots never answer one). */
  ircNotice?: true;
  /** A private line an IRC client sent as a CTCP ACTION: IRC clients get it as one. */
  ircAction?: true;
}

/** A view bit: colours. */
export const VIEW_COLOR = 1;
/** A view bit: an `HH:MM` timestamp before each line. */
export const VIEW_STAMPS = 2;
/** A view bit: one JSON object per line, for scripts (/bot); the other bits do not apply. */
export const VIEW_JSON = 4;
/** Distinct views a broadcast can be rendered for (every combination of the bits). */
export const VIEWS = 8;

const RESET = "\x1b[0m";
const GREY = "\x1b[90m";
const BOLD = "\x1b[1m";
const MENTION = "\x1b[1;33m";
const PRIVATE = "\x1b[1;35m";
const BEL = "\x07";

/** Nick colours: the 12 ANSI colours readable on both dark and light backgrounds. */
const PALETTE = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96].map((n) => `\x1b[${n}m`);

/** The colour of a nick: the same for everyone and every session (a hash of its lower case). */
export function nickColor(nick: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < nick.length; i++) {
    let c = nick.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 32;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return PALETTE[(h >>> 0) % PALETTE.length];
}

/** A nick in its colour. */
export function colored(nick: string): string {
  return nickColor(nick) + nick + RESET;
}

/** Local `HH:MM` of an epoch-ms time. */
export function localClock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/**
 * Renders `line` for `view` (bits {@link VIEW_COLOR}, {@link VIEW_STAMPS}), ending in CR LF.
 * `own` styles the author's own copy; `mention` highlights a line that names the reader; `bell`
 * rings the terminal bell (for a mention or a private message).
 */
export function render(
  line: RoomLine,
  view: number,
  clock: (ms: number) => string,
  opts: { own?: boolean; mention?: boolean; bell?: boolean; room?: string } = {},
): string {
  if (view & VIEW_JSON) return json(line, opts.room ?? "");
  const color = (view & VIEW_COLOR) !== 0;
  let out = "";
  if (view & VIEW_STAMPS) out = color ? `${GREY}${clock(line.at)}${RESET} ` : `${clock(line.at)} `;
  const nick = !color ? line.nick : opts.own ? BOLD + colored(line.nick) : colored(line.nick);
  const text = color && opts.mention ? MENTION + line.text + RESET : line.text;
  switch (line.kind) {
    case "chat":
      out += `<${nick}> ${text}`;
      break;
    case "action":
      out += `* ${nick} ${text}`;
      break;
    case "notice":
      out += color ? `${GREY}*** ${line.text}${RESET}` : `*** ${line.text}`;
      break;
    case "private":
      out += color
        ? `${PRIVATE}[private]${RESET} <${nick}> ${text}`
        : `[private] <${nick}> ${text}`;
      break;
    case "privateOut":
      out += color
        ? `${PRIVATE}[private to ${RESET}${nick}${PRIVATE}]${RESET} ${text}`
        : `[private to ${nick}] ${text}`;
      break;
  }
  return opts.bell ? out + BEL + "\r\n" : out + "\r\n";
}

/** A line for a bot: one JSON object (time, room, nick, kind, text), ending in CR LF. */
function json(line: RoomLine, room: string): string {
  const kind = line.kind === "privateOut" ? "private-sent" : line.kind;
  const time = new Date(line.at).toISOString();
  return JSON.stringify({ time, room, nick: line.nick, kind, text: line.text }) + "\r\n";
}

/** Lines for a bot that are the server's own words (answers, the welcome): kind `info`. */
export function jsonInfo(lines: readonly string[], at: number): string {
  const time = new Date(at).toISOString();
  let out = "";
  for (const text of lines) {
    out += JSON.stringify({ time, room: "", nick: "", kind: "info", text }) + "\r\n";
  }
  return out;
}

/**
 * The words of a line a nick could be mentioned by, in lower case: split on anything a nick
 * cannot hold, with trailing dots and dashes also tried off ("alice." at the end of a sentence).
 */
export function mentionWords(text: string): Set<string> {
  const words = new Set<string>();
  for (const w of text.toLowerCase().split(/[^a-z0-9_.-]+/)) {
    if (w === "") continue;
    words.add(w);
    const bare = w.replace(/[.-]+$/, "").replace(/^[.-]+/, "");
    if (bare !== w && bare !== "") words.add(bare);
  }
  return words;
}
