/**
 * Input: what a connection sent, judged. Lines are judged by when they arrived (and, read
 * together after a stall of the server, as spread over it); a line sooner than --rate-limit
 * after the last accepted one, or one an address's allowance cannot cover, is struck; a good line
 * takes a strike away. Before the room token, input is on a small budget. Commands are run
 * through `runCommand` (the hub, which is what commands see).
 */
import { sameSecret } from "../lib/secret.ts";
import { formatDuration } from "../lib/units.ts";
import type { Client } from "./client.ts";
import type { ClientTable } from "./clients.ts";
import { type Command, findCommand, SECRET_LINE } from "./commands/mod.ts";
import type { HubContext } from "./context.ts";
import type { InputEvent } from "./events.ts";
import type { Fanout } from "./fanout.ts";
import { addressMaySend, tooSoon } from "./moderation.ts";
import type { Sanctions } from "./sanctions.ts";
import type { Sessions } from "./sessions.ts";
import type { Outbound } from "./sync.ts";

/** Empty lines in a row, each sooner than the rate limit, that count as one strike. */
export const BLANK_FLOOD = 10;

/** Lines a connection may send before giving the room token. */
export const PREAUTH_LINES = 5;
/** Bytes a connection may send before giving the room token, besides the token itself. */
export const PREAUTH_BYTES = 1024;

/** Runs command `cmd` for `c` with `args` (the text after its name). */
export type RunCommand = (cmd: Command, c: Client, args: string, now: number) => void;

/** Says a chat line from `c` in its room (the room's rules decide whether it is shown). */
export type SayLine = (c: Client, text: string, at: number) => void;

/** Hands an IRC session's line (raw, C0 bytes but \x01 removed) to the IRC door. */
export type IrcLine = (c: Client, line: string, at: number) => void;

/** The parts input reaches. */
export interface InputParts {
  clients: ClientTable;
  fanout: Fanout;
  sanctions: Sanctions;
  sessions: Sessions;
  sync: Outbound;
}

/** Lines and the rules they meet. */
export class Input {
  readonly #ctx: HubContext;
  readonly #parts: InputParts;
  readonly #run: RunCommand;
  readonly #say: SayLine;
  readonly #irc: IrcLine;

  constructor(
    ctx: HubContext,
    parts: InputParts,
    run: RunCommand,
    say: SayLine,
    irc: IrcLine = () => {},
  ) {
    this.#ctx = ctx;
    this.#parts = parts;
    this.#run = run;
    this.#say = say;
    this.#irc = irc;
  }

  /** What one or more reads of connection `ev.id` produced. */
  input(ev: InputEvent, now: number): void {
    const c = this.#parts.clients.get(ev.id);
    if (!c || c.gone) return;
    const strike = this.#parts.sanctions;
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
      // An IRC client says more before it is in (CAP, NICK, USER, its first JOINs).
      const budget = PREAUTH_BYTES * (c.irc ? 4 : 1) + this.#ctx.config.token.length;
      if (c.preauthBytes > budget) {
        this.#tooMuchBeforeToken(c, at);
        return;
      }
    }
    for (let i = 0; i < ev.telnetFloods && !c.gone; i++) {
      strike.strike(c, "telnet negotiation flood", at, i === 0 ? "Too many telnet commands." : "");
    }
    if (ev.overlong > 0) {
      const note = `That line was too long (over ${this.#ctx.config.maxLine} bytes) and was not ` +
        "sent.";
      for (let i = 0; i < ev.overlong && !c.gone; i++) {
        strike.strike(c, "line too long", at, i === 0 ? note : "");
      }
    }
    const lines = ev.lines;
    const n = lines.length;
    for (let i = 0; i < n && !c.gone; i++) {
      this.#line(c, lines[i], from === at ? at : from + ((at - from) * (i + 1)) / n);
    }
  }

  #line(c: Client, text: string, at: number): void {
    if (c.irc) return this.#irc(c, text, at);
    if (!c.authed) {
      if (++c.preauthLines > PREAUTH_LINES) this.#tooMuchBeforeToken(c, at);
      else if (text !== "") this.#authenticate(c, text, at);
      return;
    }
    if (!this.#inPace(c, text, at)) return;
    const given = this.#ctx.stats.strikes;
    if (text.charCodeAt(0) === 0x2f && text.charCodeAt(1) !== 0x2f) {
      this.#command(c, text, at);
    } else if (text.charCodeAt(0) === 0x20 && SECRET_LINE.test(text)) {
      // A password command after a stray space would be said to the room (and kept).
      this.#parts.fanout.tell(
        c,
        "That line looks like a command with a space before its /, so it was not sent (it " +
          "would have shown a secret to everyone). Type it without the space.",
      );
    } else {
      if (c.away) this.#parts.sessions.setAway(c, "");
      this.#say(c, text.charCodeAt(0) === 0x2f ? text.slice(1) : text, at);
    }
    this.#good(c, given);
  }

  /**
   * A good line takes a strike away, but not one it earned itself (`given`: the strike count
   * before it; a wrong /op token), and never the strikes for wrong secrets.
   */
  #good(c: Client, given: number): void {
    const a = c.addr;
    if (this.#ctx.stats.strikes === given && a.strikes > a.secretStrikes) {
      a.strikes--;
      this.#parts.sync.strike(c.addrKey, -1);
    }
  }

  /**
   * An IRC session's chat line (PRIVMSG, NOTICE): judged by the same rate limit and strikes as
   * a typed line; `act` delivers it when it keeps the pace.
   */
  paced(c: Client, text: string, at: number, act: () => void): void {
    if (!this.#inPace(c, text, at)) return;
    const given = this.#ctx.stats.strikes;
    act();
    this.#good(c, given);
  }

  /**
   * Whether `text` from `c` at `at` keeps the pace (--rate-limit, per connection and per
   * address); a line that does not is struck. Blank lines are never accepted, but a burst of
   * them is a flood like any other.
   */
  #inPace(c: Client, text: string, at: number): boolean {
    const sanctions = this.#parts.sanctions;
    const rate = this.#ctx.config.rateLimit;
    const pace = c.pace ??= { lastLine: -Infinity, lastAccepted: -Infinity, blankRun: 0 };
    const rapid = tooSoon(pace.lastLine, at, rate);
    pace.lastLine = at;
    if (text === "") {
      pace.blankRun = rapid ? pace.blankRun + 1 : 1;
      if (pace.blankRun >= BLANK_FLOOD) {
        pace.blankRun = 0;
        sanctions.strike(c, "flood of empty lines", at, "Too many empty lines.");
      }
      return false;
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
        sanctions.strike(c, fast, at, "Slow down: that line was not sent.");
      } else if (sanctions.strike(c, fast, at)) {
        // Leaving is never refused, but a hasty /quit's reason is not shown: a fresh
        // connection per /quit would otherwise put words in front of the whole room for free.
        this.#parts.sessions.drop(c, "quit", at, { message: "Goodbye!" });
      }
      return false;
    }
    pace.lastAccepted = at;
    c.lastActive = at;
    return true;
  }

  #command(c: Client, text: string, now: number): void {
    const m = /^\/(\S*)\s*(.*)$/s.exec(text)!;
    const cmd = findCommand(m[1]);
    if (!cmd) {
      const name = m[1].length > 24 ? m[1].slice(0, 24) + "…" : m[1];
      this.#parts.fanout.tell(c, `Unknown command /${name}. Type /help for the list.`);
      return;
    }
    this.#run(cmd, c, m[2], now);
  }

  #authenticate(c: Client, text: string, now: number): void {
    const log = this.#ctx.log;
    if (sameSecret(text, this.#ctx.config.token)) {
      log.info("room token accepted", { client: c.id });
      this.#parts.sessions.join(c, now);
      return;
    }
    log.info("wrong room token", { client: c.id });
    if (this.#parts.sanctions.strike(c, "wrong room token", now, "Wrong token.", true)) {
      this.#parts.sessions.drop(c, "wrong token", now, {});
    }
  }

  /** Before the room token, input is on a small budget: past it, a strike and goodbye. */
  #tooMuchBeforeToken(c: Client, now: number): void {
    if (this.#parts.sanctions.strike(c, "too much input before the token", now)) {
      this.#parts.sessions.drop(c, "too much input before the token", now, {
        message: "Too much input before the room token; goodbye.",
      });
    }
  }

  /** Drops whoever kept a place too long: no token, a line never finished, nothing sent. */
  timeouts(now: number): void {
    const cfg = this.#ctx.config;
    const sessions = this.#parts.sessions;
    for (const c of this.#parts.clients.values()) {
      // A pending connection's time is bounded by the shell (handshake and HTTP timeouts).
      if (c.gone || c.pending) continue;
      if (!c.authed && now - c.connectedAt >= cfg.authTimeout) {
        const what = c.irc ? "registration (NICK and USER)" : "token";
        // Not giving the token in time is a strike too: a connection that only holds a place
        // costs its address.
        if (this.#parts.sanctions.strike(c, "no token in time", now)) {
          sessions.drop(c, "no token", now, {
            message: `No ${what} within ${formatDuration(cfg.authTimeout)}; goodbye.`,
          });
        }
      } else if (
        cfg.lineTimeout > 0 && c.partialSince > 0 && now - c.partialSince >= cfg.lineTimeout
      ) {
        sessions.drop(c, "unfinished line", now, {
          message: `Disconnected: a line was started but not finished within ${
            formatDuration(cfg.lineTimeout)
          }.`,
        });
      } else if (cfg.idleTimeout > 0 && now - c.lastInput >= cfg.idleTimeout) {
        sessions.drop(c, "idle", now, {
          message: `Disconnected: nothing received for ${formatDuration(cfg.idleTimeout)}.`,
        });
      }
    }
  }
}
