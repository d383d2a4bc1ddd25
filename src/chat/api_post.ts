/**
 * Lines posted through the HTTP API (POST /api/rooms/NAME/messages) as a bot's nick: a CI job,
 * a scoreboard, a door sensor. The shell has checked the token and the request's form; this
 * part judges the post as the room would judge a person's line: a nick anyone could pick but
 * nobody online holds (nor looks like), not a registered account's; a room that exists; the
 * same pace as people (--rate-limit per bot nick, and the address's allowance of lines); the
 * room's rules (a muted or room-banned address, a moderated room, slow mode); the text cleaned
 * like typed text and masked by the word filter. The line is then said as `<nick> text`, like
 * a person's, through the `say` function the hub wires in (kept in history, proposed to the
 * cluster). Every answer goes back through `effects.posted` with an HTTP status. No strikes:
 * a refused post costs nothing but the refusal.
 */
import { formatDuration } from "../lib/units.ts";
import { longerThan } from "../lib/utf8.ts";
import { cleanText } from "../lib/sanitize.ts";
import { waitFor } from "../lib/bucket.ts";
import type { Accounts } from "./accounts.ts";
import { findSanction } from "./authority.ts";
import type { HubContext } from "./context.ts";
import type { Fanout } from "./fanout.ts";
import type { Keep } from "./keep.ts";
import { addressMaySend, tooSoon } from "./moderation.ts";
import type { NickTable } from "./names.ts";
import { nickProblem } from "./nicks.ts";
import type { RoomLine } from "./render.ts";
import { type ChatRoom, type HistoryLimits, roomName } from "./room.ts";
import type { Rooms } from "./rooms.ts";
import type { Sanctions } from "./sanctions.ts";
import type { Outbound } from "./sync.ts";
import type { Client } from "./client.ts";

/** Says `text` in `room` as `<nick> text`, like a person's line (see {@link botSay}). */
export type SayAs = (room: ChatRoom<Client>, nick: string, text: string, now: number) => void;

/** What a post looks like to this part (the hub's `post` event). */
export interface Post {
  ticket: number;
  /** The address the request came from (the one a trusted proxy forwarded for). */
  ip: string;
  /** The room's name, without `#` (any case). */
  room: string;
  nick: string;
  text: string;
}

/** The parts the API reads. */
export interface ApiParts {
  rooms: Rooms;
  nicks: NickTable;
  accounts: Accounts;
  sanctions: Sanctions;
}

/** Bot nicks whose last post the part remembers before it forgets those past the rate limit. */
const PACE_SWEEP = 1_024;

/** The id a bot's line carries in a cluster proposal: no connection has it. */
const BOT_ID = 0;

/** An answer to a post: status, message, and for a 429 the seconds to wait. */
type Judged = [status: number, message: string, retryAfter?: number];

/** The HTTP API's side of the hub. */
export class ApiPost {
  readonly #ctx: HubContext;
  readonly #p: ApiParts;
  readonly #mask: (text: string) => string;
  readonly #say: SayAs;
  /** Bot nick (lower case) → when its last post was shown, for --rate-limit. */
  readonly #lastPost = new Map<string, number>();

  /**
   * `mask` applies the word filter to a line; `say` shows a line in a room as from a nick
   * (the hub wires {@link botSay}, or Talk once it says lines without a client).
   */
  constructor(ctx: HubContext, parts: ApiParts, mask: (text: string) => string, say: SayAs) {
    this.#ctx = ctx;
    this.#p = parts;
    this.#mask = mask;
    this.#say = say;
  }

  /** Judges post `p` at `now` and answers it (effects.posted). */
  post(p: Post, now: number): void {
    const [status, message, retryAfter] = this.#judge(p, now);
    const log = this.#ctx.log;
    if (status !== 201) {
      log.debug("api post refused", { status, why: message, nick: p.nick.slice(0, 32) });
    }
    this.#ctx.effects.posted?.(p.ticket, status, message, retryAfter);
  }

  /** The answer: an HTTP status, why, and (429) the seconds to wait. */
  #judge(p: Post, now: number): Judged {
    const cfg = this.#ctx.config;
    const problem = nickProblem(p.nick);
    if (problem) return [400, `bad nick: ${problem}`];
    if (longerThan(p.text, cfg.maxLine)) {
      return [413, `the text is too long (over ${cfg.maxLine} bytes)`];
    }
    const text = oneLine(p.text);
    if (text === null) return [400, "the text must be one line (no line breaks)"];
    if (text === "") return [400, "the text is empty"];
    const name = roomName(p.room);
    const room = name === undefined ? undefined : this.#p.rooms.get(name.toLowerCase());
    if (!room) return [404, name === undefined ? "no such room" : `no such room: #${name}`];
    const taken = this.#taken(p.nick);
    if (taken) return [409, taken];
    const key = this.#p.sanctions.key(p.ip);
    const held = this.#roomRule(room, key, now);
    if (held) return held;
    const wait = this.#pace(p.nick.toLowerCase(), key, now);
    if (wait > 0) {
      const secs = Math.ceil(wait / 1000);
      return [429, `too fast: retry in ${secs}s`, secs];
    }
    // Slow mode's window starts with a line shown, per address (as a person's per session).
    if (room.auth.slowMs > 0) room.auth.lastShown.set(slowKey(key), now);
    this.#say(room, p.nick, this.#mask(text), now);
    this.#ctx.log.info("api post", {
      room: room.label,
      nick: p.nick,
      addr: this.#ctx.log.addr(p.ip),
    });
    if (this.#ctx.log.enabled("debug")) {
      this.#ctx.log.debug("api post text", { room: room.label, nick: p.nick, text });
    }
    return [201, `posted to ${room.label}`];
  }

  /** Why `nick` is someone else's (a person online, a lookalike, an account), or "". */
  #taken(nick: string): string {
    const { nicks, accounts } = this.#p;
    const person = nicks.holder(nick) ?? nicks.lookalike(nick);
    if (person) {
      return person.nick.toLowerCase() === nick.toLowerCase()
        ? `${nick} is someone online`
        : `${nick} looks like ${person.nick}, someone online`;
    }
    const account = accounts.reserved(nick, "");
    if (account) {
      return account.toLowerCase() === nick.toLowerCase()
        ? `${nick} is a registered account`
        : `${nick} looks like ${account}, a registered account`;
    }
    return "";
  }

  /**
   * Whether the room's rules hold the post back: a ban or a mute on the address (the server's
   * or the room's), a moderated room (a bot has no voice), slow mode (per bot nick).
   */
  #roomRule(room: ChatRoom<Client>, key: string, now: number): Judged | null {
    const { sanctions, rooms } = this.#p;
    if (sanctions.active(key, now)) return [403, "this address is banned"];
    const a = room.auth;
    if (findSanction(a.bans, [key], now)) return [403, `this address is banned from ${room.label}`];
    const lobby = rooms.lobby;
    if (findSanction(lobby.auth.mutes, [key], now)) return [403, "this address is muted"];
    if (room !== lobby && findSanction(a.mutes, [key], now)) {
      return [403, `this address is muted in ${room.label}`];
    }
    if (a.moderated) {
      return [403, `${room.label} is moderated: only its operators and people with a voice speak`];
    }
    if (a.slowMs > 0) {
      const last = a.lastShown.get(slowKey(key));
      if (last !== undefined && now - last < a.slowMs) {
        const wait = Math.ceil((a.slowMs - (now - last)) / 1000);
        return [
          429,
          `${room.label} is in slow mode (one line per ${formatDuration(a.slowMs)} each): ` +
          `retry in ${wait}s`,
          wait,
        ];
      }
    }
    return null;
  }

  /**
   * The pace of people (--rate-limit): a bot nick's posts at least that far apart, and the
   * address's allowance of lines (shared with the people behind it). Returns 0 when the post
   * may go (and counts it), else the milliseconds to wait.
   */
  #pace(nickKey: string, key: string, now: number): number {
    const rate = this.#ctx.config.rateLimit;
    if (rate <= 0) return this.#shown(nickKey, now);
    const last = this.#lastPost.get(nickKey) ?? -Infinity;
    if (tooSoon(last, now, rate)) return rate - (now - last);
    const a = this.#p.sanctions.addresses.get(key, now);
    a.lastSeen = now;
    if (!addressMaySend(a, now, rate)) {
      const n = Math.max(1, a.conns);
      return Math.max(1, waitFor(a.lines, 1, n, n / rate, now));
    }
    return this.#shown(nickKey, now);
  }

  /** The post of `nickKey` goes out at `now`: its pace starts again (and old ones are forgotten). */
  #shown(nickKey: string, now: number): number {
    const last = this.#lastPost;
    last.delete(nickKey);
    last.set(nickKey, now);
    if (last.size > PACE_SWEEP) {
      const rate = this.#ctx.config.rateLimit;
      for (const [k, at] of last) {
        if (!tooSoon(at, now, rate)) last.delete(k);
        else break; // in order of posting: the rest are newer
      }
    }
    return 0;
  }
}

/** How slow mode names the bots of one address (no session or account is named so). */
function slowKey(addrKey: string): string {
  return `bot:${addrKey}`;
}

/**
 * The text of a post as one typed line: line breaks at its ends dropped, one inside refused
 * (null), then cleaned like typed text (controls, escapes, invisible characters).
 */
function oneLine(text: string): string | null {
  const t = text.replace(/^[\r\n]+|[\r\n]+$/g, "");
  if (/[\r\n\u2028\u2029\u0085]/.test(t)) return null;
  const clean = cleanText(t);
  return clean.trim() === "" ? "" : clean;
}

/** The parts a bot's line goes through: the same as a person's (see Talk.speak). */
export interface BotSayParts {
  fanout: Fanout;
  sync: Outbound;
  keep: Keep;
  limits: HistoryLimits;
}

/**
 * Says a bot's line as Talk.speak says a person's: proposed to the cluster when linked (shown
 * when it comes back, in the room's order), else shown and kept for newcomers; kept in the
 * store either way.
 */
export function botSay(ctx: HubContext, parts: BotSayParts): SayAs {
  return (room, nick, text, now) => {
    ctx.stats.lines++;
    const kind = "chat";
    if (parts.sync.linked) {
      parts.sync.propose(room.id, { t: "say", kind, id: BOT_ID, nick, text, at: now });
    } else {
      const line: RoomLine = { kind, nick, text, at: now };
      room.remember(line, parts.fanout.broadcast(room, line), parts.limits);
    }
    parts.keep.line(room, kind, nick, text, now, false);
  };
}
