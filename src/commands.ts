/**
 * The slash commands, in one table: name, usage, help text and handler. Handlers are the
 * behaviour; they reach the room only through the {@link Room} interface the hub implements.
 */
import type { Config } from "./config.ts";
import { type BanRecord, MAX_BAN_MS, parseIp } from "./moderation.ts";
import { nickProblem } from "./nicks.ts";
import { formatDuration, parseDuration } from "./units.ts";

/** A person in the room, as commands see them. */
export interface Member {
  readonly id: number;
  readonly nick: string;
  readonly ip: string;
  readonly op: boolean;
  /** When they last said something (or joined), for idle times. */
  readonly lastActive: number;
  /** The client id that last sent them a private message (0 = nobody). */
  replyTo: number;
  /** Why they are away ("" = here). */
  readonly away: string;
}

/** How someone's lines are drawn (see src/render.ts), and whether the server edits their line. */
export interface ViewSettings {
  color: boolean;
  bell: boolean;
  timestamps: boolean;
  /** A telnet client in character mode (the server echoes and edits its line). */
  charMode: boolean;
}

/** What the hub offers command handlers. */
export interface Room {
  readonly config: Config;
  /** True when --admin-token is set. */
  readonly opsEnabled: boolean;
  /** Sends lines to one member only. */
  tell(to: Member, ...lines: string[]): void;
  /** A chat line from `from`, seen by everyone else as `<nick> text`. */
  say(from: Member, text: string, now: number): void;
  /** An action, seen by everyone else as `* nick action`. */
  emote(from: Member, action: string, now: number): void;
  /**
   * A private message: `to` sees `[private] <from> text` (unless ignoring `from`), `from` sees
   * `[private to nick] text`, each drawn in their own view.
   */
  whisper(from: Member, to: Member, text: string, now: number): void;
  /** How `m`'s lines are drawn. */
  view(m: Member): ViewSettings;
  /** Changes how `m`'s lines are drawn. */
  setView(m: Member, change: Partial<Omit<ViewSettings, "charMode">>): void;
  /** A room notice (`* …`) for everyone but `except`. */
  announce(text: string, except?: Member): void;
  /** Members in the room (authenticated), in join order. */
  members(): Member[];
  /** The member with this nick, any case. */
  byNick(nick: string): Member | undefined;
  /** The member whose nick looks like this one (same skeleton: `alice`, `aIice`, `a1ice`). */
  lookalike(nick: string): Member | undefined;
  /** The member with this client id, if still here. */
  byId(id: number): Member | undefined;
  /** Marks `m` away with a reason, or back with "", and tells them. */
  setAway(m: Member, reason: string): void;
  /** True if `m` ignores `other`. */
  ignores(m: Member, other: Member): boolean;
  /** Starts or stops `m` ignoring `other`'s lines, actions and private messages. */
  setIgnore(m: Member, other: Member, on: boolean): void;
  /** Whom `m` ignores. */
  ignored(m: Member): Member[];
  /** Gives `m` a new nick (already validated and free) and tells the room. */
  rename(m: Member, nick: string): void;
  /** Says `message` to `m`, then closes its connection; others see `left (reason)`. */
  disconnect(m: Member, message: string, reason: string, now: number): void;
  /** Makes `m` an operator. */
  grantOp(m: Member): void;
  /**
   * Gives `m`'s address a strike, telling them `message` with the count; false if that got
   * them banned (and disconnected). A `secret` strike (a wrong token or key) is never taken
   * away by good lines.
   */
  strike(m: Member, why: string, now: number, message?: string, secret?: boolean): boolean;
  /**
   * Bans an address (reason "" when none was given); every connection from it is closed.
   * Returns how many were.
   */
  ban(ip: string, ms: number, reason: string, by: string, now: number): number;
  /** Lifts a ban; false if the address was not banned. */
  unban(ip: string): boolean;
  /** Running bans. */
  bans(now: number): BanRecord[];
  /** Checks an operator token in constant time. */
  checkAdminToken(attempt: string): boolean;
  /** Records an operator action or a failed /op in the log. */
  audit(message: string, m: Member, fields?: Record<string, string | number>): void;
}

/** One slash command. */
export interface Command {
  name: string;
  usage: string;
  help: string;
  /** Only operators may run it. */
  op?: boolean;
  /** Shown in /help only when operators are enabled. */
  needsOps?: boolean;
  run(room: Room, me: Member, args: string, now: number): void;
}

/** Idle time to the second: "0s", "42s", "1m 30s". */
function idleTime(ms: number): string {
  const s = Math.floor(ms / 1_000);
  return s <= 0 ? "0s" : formatDuration(s * 1_000);
}

function firstWord(args: string): [string, string] {
  const m = /^(\S+)\s*(.*)$/s.exec(args);
  return m ? [m[1], m[2]] : ["", ""];
}

function requireOp(room: Room, me: Member): boolean {
  if (!room.opsEnabled) {
    room.tell(me, "Operator commands are off on this server (it has no admin token).");
    return false;
  }
  if (!me.op) {
    room.tell(me, "Only operators can do that. Operators get in with /op TOKEN.");
    return false;
  }
  return true;
}

function sendPrivate(
  room: Room,
  me: Member,
  to: Member | undefined,
  text: string,
  name: string,
  now: number,
) {
  if (!to) {
    room.tell(me, `There is nobody called ${name} here. Type /who to see who is.`);
    return;
  }
  if (to.id === me.id) {
    room.tell(me, "That is you.");
    return;
  }
  room.whisper(me, to, text, now);
  if (to.away) room.tell(me, `${to.nick} is away: ${to.away}`);
}

/** A command that turns one view setting on or off (`/color on`), or says how it is. */
function toggle(
  name: "color" | "bell" | "timestamps",
  what: string,
  help: string,
): Command {
  return {
    name,
    usage: `/${name} on|off`,
    help,
    run(room, me, args) {
      const arg = args.trim().toLowerCase();
      if (arg !== "on" && arg !== "off") {
        const now = room.view(me)[name] ? "on" : "off";
        return room.tell(me, `${what} is ${now}. Usage: /${name} on|off`);
      }
      room.setView(me, { [name]: arg === "on" });
      room.tell(me, `${what} ${arg === "on" ? "on" : "off"}.`);
    },
  };
}

/** Every command, in the order /help lists them. */
export const COMMANDS: readonly Command[] = [
  {
    name: "help",
    usage: "/help",
    help: "list the commands",
    run(room, me) {
      room.tell(me, ...helpLines(room.config, room.opsEnabled, room.view(me).charMode));
    },
  },
  {
    name: "nick",
    usage: "/nick NAME",
    help: "change your nickname",
    run(room, me, args) {
      const name = args.trim();
      const problem = nickProblem(name);
      if (problem) return room.tell(me, problem);
      if (name === me.nick) return room.tell(me, `You are already ${name}.`);
      const holder = room.lookalike(name);
      if (holder && holder.id !== me.id) {
        if (holder.nick.toLowerCase() === name.toLowerCase()) {
          return room.tell(me, `${holder.nick} is taken; pick another name.`);
        }
        return room.tell(me, `${name} looks too much like ${holder.nick}; pick another name.`);
      }
      room.rename(me, name);
    },
  },
  {
    name: "who",
    usage: "/who",
    help: "list who is online, with idle times",
    run(room, me, _args, now) {
      const all = room.members().sort((a, b) => a.nick.localeCompare(b.nick));
      const shown = all.slice(0, WHO_LIMIT);
      const lines = [`${all.length} online:`];
      const width = Math.max(...shown.map((m) => m.nick.length));
      for (const m of shown) {
        const tags = [m.op ? "op" : "", m.id === me.id ? "you" : ""].filter(Boolean);
        const tag = tags.length ? ` (${tags.join(", ")})` : "";
        const away = m.away ? `  away: ${m.away}` : "";
        lines.push(
          `  ${(m.nick + tag).padEnd(width + 10)} idle ${idleTime(now - m.lastActive)}${away}`,
        );
      }
      if (all.length > shown.length) lines.push(`  … and ${all.length - shown.length} more`);
      room.tell(me, ...lines);
    },
  },
  {
    name: "me",
    usage: "/me ACTION",
    help: "tell the room what you are doing",
    run(room, me, args, now) {
      if (!args.trim()) return room.tell(me, "Usage: /me ACTION");
      room.emote(me, args.trim(), now);
    },
  },
  {
    name: "msg",
    usage: "/msg NICK TEXT",
    help: "send a private message to one person",
    run(room, me, args, now) {
      const [name, text] = firstWord(args);
      if (!name || !text.trim()) return room.tell(me, "Usage: /msg NICK TEXT");
      sendPrivate(room, me, room.byNick(name), text.trim(), name, now);
    },
  },
  {
    name: "reply",
    usage: "/reply TEXT",
    help: "answer the last private message you got",
    run(room, me, args, now) {
      if (!args.trim()) return room.tell(me, "Usage: /reply TEXT");
      if (!me.replyTo) return room.tell(me, "Nobody has sent you a private message yet.");
      const to = room.byId(me.replyTo);
      if (!to) return room.tell(me, "The person who last wrote to you has left.");
      sendPrivate(room, me, to, args.trim(), to.nick, now);
    },
  },
  {
    name: "away",
    usage: "/away [REASON]",
    help: "mark yourself away (/who and private senders see it)",
    run(room, me, args) {
      room.setAway(me, [...args.trim()].slice(0, AWAY_MAX).join("") || "away");
    },
  },
  {
    name: "back",
    usage: "/back",
    help: "you are back (saying anything does it too)",
    run(room, me) {
      if (!me.away) return room.tell(me, "You are not marked away.");
      room.setAway(me, "");
    },
  },
  {
    name: "ignore",
    usage: "/ignore [NICK]",
    help: "hide someone's lines and private messages (no NICK: list)",
    run(room, me, args) {
      const name = args.trim();
      if (!name) {
        const list = room.ignored(me).map((m) => m.nick).sort();
        return room.tell(
          me,
          list.length ? `You are ignoring: ${list.join(", ")}.` : "You are not ignoring anyone.",
        );
      }
      const who = room.byNick(name);
      if (!who) return room.tell(me, `There is nobody called ${name} here.`);
      if (who.id === me.id) return room.tell(me, "You cannot ignore yourself.");
      if (room.ignores(me, who)) return room.tell(me, `You are already ignoring ${who.nick}.`);
      room.setIgnore(me, who, true);
      room.tell(me, `You are ignoring ${who.nick} (until one of you leaves). /unignore to stop.`);
    },
  },
  {
    name: "unignore",
    usage: "/unignore NICK",
    help: "see someone's lines again",
    run(room, me, args) {
      const name = args.trim();
      if (!name) return room.tell(me, "Usage: /unignore NICK");
      const who = room.byNick(name);
      if (!who || !room.ignores(me, who)) {
        return room.tell(me, `You are not ignoring ${who?.nick ?? name}.`);
      }
      room.setIgnore(me, who, false);
      room.tell(me, `You see ${who.nick} again.`);
    },
  },
  toggle("color", "Colours", "colour nicks, notices and private messages"),
  toggle("bell", "The bell", "ring the bell when someone mentions you or writes to you"),
  toggle("timestamps", "Timestamps", "show the time (HH:MM) before each line"),
  {
    name: "quit",
    usage: "/quit [REASON]",
    help: "say goodbye and leave",
    run(room, me, args, now) {
      const reason = args.trim();
      room.disconnect(me, "Goodbye!", reason ? `quit: ${reason}` : "quit", now);
    },
  },
  {
    name: "op",
    usage: "/op TOKEN",
    help: "become an operator",
    needsOps: true,
    run(room, me, args, now) {
      if (!room.opsEnabled) {
        return room.tell(me, "Operator commands are off on this server (it has no admin token).");
      }
      if (me.op) return room.tell(me, "You are already an operator.");
      if (room.checkAdminToken(args.trim())) {
        room.grantOp(me);
        room.audit("operator granted", me);
        return room.tell(me, "You are now an operator. /help lists the operator commands.");
      }
      room.audit("wrong operator token", me);
      room.strike(me, "wrong operator token", now, "Wrong operator token.", true);
    },
  },
  {
    name: "kick",
    usage: "/kick NICK [REASON]",
    help: "disconnect someone",
    op: true,
    run(room, me, args, now) {
      if (!requireOp(room, me)) return;
      const [name, reason] = firstWord(args);
      if (!name) return room.tell(me, "Usage: /kick NICK [REASON]");
      const target = room.byNick(name);
      if (!target) return room.tell(me, `There is nobody called ${name} here.`);
      const why = reason.trim();
      room.audit("kick", me, { target: target.nick, reason: why });
      room.tell(me, `Kicked ${target.nick}.`);
      room.disconnect(
        target,
        `You have been kicked by ${me.nick}${why ? `: ${why}` : "."}`,
        `kicked by ${me.nick}${why ? `: ${why}` : ""}`,
        now,
      );
    },
  },
  {
    name: "ban",
    usage: "/ban NICK|IP [DURATION] [REASON]",
    help: "ban an address (default: the --ban-duration)",
    op: true,
    run(room, me, args, now) {
      if (!requireOp(room, me)) return;
      const [what, rest] = firstWord(args);
      if (!what) return room.tell(me, "Usage: /ban NICK|IP [DURATION] [REASON]");
      let ms = room.config.banDuration;
      let reason = rest.trim();
      const [first, after] = firstWord(reason);
      if (first && /^[-+]?\d/.test(first)) {
        const d = parseDuration(first);
        if (!d) return room.tell(me, "Durations look like 30s, 10m, 2h or 1d.");
        if (d > MAX_BAN_MS) {
          return room.tell(me, `Bans last at most ${formatDuration(MAX_BAN_MS)}.`);
        }
        ms = d;
        reason = after.trim();
      }
      // Nicks cannot look like addresses, so the word is one or the other, never both.
      const target = room.byNick(what);
      let ip = target?.ip;
      if (!ip) {
        const parsed = parseIp(what);
        if ("error" in parsed) {
          const why = /^[0-9a-f:.]+$/i.test(what) ? `: ${parsed.error}` : "";
          return room.tell(me, `${what} is neither a nick here nor an IP address${why}.`);
        }
        ip = parsed.ip;
      }
      if (ip === me.ip) return room.tell(me, "That would ban your own address.");
      const dropped = room.ban(ip, ms, reason, me.nick, now);
      room.audit("ban", me, { target: target?.nick ?? "", duration: formatDuration(ms) });
      const who = target ? `${target.nick}'s address` : ip;
      const closed = dropped === 1 ? "1 connection closed" : `${dropped} connections closed`;
      room.tell(me, `Banned ${who} for ${formatDuration(ms)}; ${closed}.`);
    },
  },
  {
    name: "unban",
    usage: "/unban IP",
    help: "lift a ban",
    op: true,
    run(room, me, args) {
      if (!requireOp(room, me)) return;
      const text = args.trim();
      if (!text) return room.tell(me, "Usage: /unban IP (see /bans)");
      const parsed = parseIp(text);
      if ("error" in parsed) return room.tell(me, `${text} is not an IP address: ${parsed.error}.`);
      const ip = parsed.ip;
      if (!room.unban(ip)) return room.tell(me, `${ip} is not banned.`);
      room.audit("unban", me);
      room.tell(me, `Unbanned ${ip}.`);
    },
  },
  {
    name: "bans",
    usage: "/bans",
    help: "list the bans: address, time left, reason, who banned",
    op: true,
    run(room, me, _args, now) {
      if (!requireOp(room, me)) return;
      const bans = room.bans(now);
      if (bans.length === 0) return room.tell(me, "Nobody is banned.");
      room.tell(
        me,
        `${bans.length} banned:`,
        ...bans.map((b) =>
          `  ${b.ip}  ${formatDuration(b.until - now)} left  ${b.reason || "-"}  (by ${
            b.by || "?"
          })`
        ),
      );
    },
  },
];

/** Longest away reason kept, in characters. */
export const AWAY_MAX = 100;

/** Most names /who lists, so one command cannot produce an enormous reply. */
export const WHO_LIMIT = 200;

const BY_NAME = new Map(COMMANDS.map((c) => [c.name, c]));

/** Finds a command by name (case does not matter). */
export function findCommand(name: string): Command | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** The /help text, built from the table. */
export function helpLines(config: Config, opsEnabled: boolean, charMode = false): string[] {
  const shown = COMMANDS.filter((c) => (c.op || c.needsOps) ? opsEnabled : true);
  const width = Math.max(...shown.map((c) => c.usage.length));
  const row = (c: { usage: string; help: string }) => `  ${c.usage.padEnd(width)}  ${c.help}`;
  const lines = ["Commands:"];
  for (const c of shown) if (!c.op) lines.push(row(c));
  lines.push(row({ usage: "//TEXT", help: "send a line that starts with /" }));
  if (opsEnabled) {
    lines.push("Operator commands:");
    for (const c of COMMANDS) if (c.op) lines.push(row(c));
  }
  if (config.rateLimit > 0) {
    lines.push(
      `Lines and commands: at most one every ${
        formatDuration(config.rateLimit)
      }; a faster one is ` +
        `dropped and is a strike (${config.maxStrikes} strikes: banned for ` +
        `${formatDuration(config.banDuration)}).`,
    );
  }
  lines.push(
    charMode
      ? "Keys: arrows edit and recall lines, Tab completes nicks and /commands, Ctrl-U clears " +
        "the line, Ctrl-W a word, Ctrl-L redraws, Ctrl-D on an empty line leaves."
      : "If a message lands in the middle of what you are typing, Ctrl-R reprints your line.",
  );
  return lines;
}
