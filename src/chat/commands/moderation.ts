/**
 * Rooms run by their people: `/room` (settings, operators, voice, modes, room bans), `/kick`,
 * `/mute`, `/unmute`, `/invite`, and `/audit` for server operators. The hub decides and answers
 * (Chat.moderate); these turn what was typed into what is asked.
 */
import { MAX_BAN_MS } from "../moderation.ts";
import { formatDuration, parseDuration } from "../../lib/units.ts";
import { KEEP_PER_ACCOUNT } from "../limits.ts";
import type { Chat, Command, Member, RoomAct } from "./types.ts";
import { firstWord, requireOp } from "./util.ts";

/** How long a mute and a room ban last when no duration is given. */
const MUTE_DEFAULT_MS = 3_600_000;
const ROOM_BAN_DEFAULT_MS = 86_400_000;

/** Most entries /audit shows. */
export const AUDIT_MAX = 100;

/** What `/room help` lists. */
const ROOM_HELP = [
  "/room                           show your room's settings",
  "/room op|deop NICK              name or remove an operator (owner)",
  "/room owner NICK                hand the room over (owner)",
  "/room voice|devoice NICK        let someone speak in a moderated room (operators)",
  "/room invite-only on|off        only people invited (/invite NICK) can join",
  "/room moderated on|off          only operators and people with a voice speak",
  "/room slow DURATION|off         one line per DURATION each (operators exempt)",
  "/room topic-lock on|off         only operators change the topic",
  "/room key KEY|off               change the room's key (owner)",
  "/room ban NICK|ADDRESS [DURATION] [REASON]   keep someone out of this room",
  "/room unban NICK|ADDRESS        let them in again; /room bans lists the bans",
  "/room keep on|off               keep the room when everyone has left, and at restarts",
];

/** A duration word at the start of `text` ("" when none): [ms, rest], or an error. */
function leadingDuration(
  text: string,
  fallback: number,
): { ms: number; rest: string } | { error: string } {
  const [first, after] = firstWord(text);
  if (!first || !/^[-+]?\d/.test(first)) return { ms: fallback, rest: text.trim() };
  const d = parseDuration(first);
  if (!d) return { error: "Durations look like 30s, 10m, 2h or 1d." };
  if (d > MAX_BAN_MS) return { error: `At most ${formatDuration(MAX_BAN_MS)}.` };
  return { ms: d, rest: after.trim() };
}

/** `/room SETTING on|off`, `/room slow …`, `/room op NICK` …: what is asked, or a usage line. */
function roomAct(what: string, rest: string): RoomAct | string {
  const [arg, more] = firstWord(rest);
  const onOff = arg.toLowerCase();
  switch (what) {
    case "invite-only":
    case "moderated":
    case "topic-lock":
      if (onOff !== "on" && onOff !== "off") return `Usage: /room ${what} on|off`;
      return { act: "mode", mode: what, on: onOff === "on" };
    case "slow": {
      if (onOff === "off" || onOff === "0") return { act: "slow", ms: 0 };
      const ms = arg ? parseDuration(arg) : undefined;
      if (!ms) return "Usage: /room slow DURATION|off (like 10s or 1m)";
      return { act: "slow", ms };
    }
    case "key":
      if (!arg) return "Usage: /room key KEY|off";
      return { act: "key", key: onOff === "off" ? "" : arg };
    case "op":
    case "deop":
    case "voice":
    case "devoice":
    case "owner":
      if (!arg) return `Usage: /room ${what} NICK`;
      return { act: what, nick: arg };
    case "ban": {
      if (!arg) return "Usage: /room ban NICK|ADDRESS [DURATION] [REASON]";
      const d = leadingDuration(more, ROOM_BAN_DEFAULT_MS);
      if ("error" in d) return d.error;
      return { act: "ban", target: arg, ms: d.ms, reason: [...d.rest].slice(0, 200).join("") };
    }
    case "unban":
      if (!arg) return "Usage: /room unban NICK|ADDRESS (/room bans lists them)";
      return { act: "unban", target: arg };
  }
  return "Unknown setting. /room help lists them.";
}

/** `/room` alone: the room's settings in words. */
function showSettings(chat: Chat, me: Member): void {
  const s = chat.roomSettings(me);
  const onOff = (b: boolean) => (b ? "on" : "off");
  const lines = [`${s.label}:`];
  if (s.lobby) lines.push("  the lobby: everyone starts here; server operators run it");
  else {
    lines.push(`  owner: ${s.owner || "nobody"}`);
    lines.push(`  operators: ${s.operators.length ? s.operators.join(", ") : "none"}`);
  }
  if (s.voice.length) lines.push(`  voice: ${s.voice.join(", ")}`);
  lines.push(
    `  invite-only: ${onOff(s.inviteOnly)}`,
    `  moderated: ${onOff(s.moderated)}`,
    `  slow: ${s.slowMs ? formatDuration(s.slowMs) : "off"}`,
    `  topic-lock: ${onOff(s.topicLock)}`,
  );
  if (!s.lobby) {
    lines.push(`  key: ${s.keyed ? "yes" : "none"}`, `  kept: ${s.kept ? "yes" : "no"}`);
  }
  if (s.mutes || s.bans) lines.push(`  muted: ${s.mutes}, banned: ${s.bans}`);
  lines.push(
    s.mayChange
      ? "You may change them: /room help lists how."
      : "Only its operators may change them (/room help).",
  );
  chat.tell(me, ...lines);
}

/** `/room keep on|off`, as before owners and operators. */
function keep(chat: Chat, me: Member, rest: string): void {
  const here = chat.roomOf(me);
  const arg = rest.trim().toLowerCase();
  if (arg !== "on" && arg !== "off") {
    const owner = here.owner ? `; its owner is ${chat.registered(here.owner) ?? here.owner}` : "";
    return chat.tell(
      me,
      `${here.label} is ${
        here.kept || here.lobby ? "" : "not "
      }kept${owner}. Usage: /room keep on|off`,
    );
  }
  const on = arg === "on";
  switch (chat.keepRoom(me, on)) {
    case "kept":
      return chat.tell(
        me,
        `${here.label} is kept: it stays, with its topic, key and lines, when everyone has ` +
          "left and when the server restarts.",
      );
    case "unkept":
      return chat.tell(
        me,
        `${here.label} is no longer kept: it goes, with its lines, when everyone has left.`,
      );
    case "already":
      return chat.tell(me, `${here.label} is ${on ? "already" : "not"} kept.`);
    case "lobby":
      return chat.tell(me, `${here.label} is the lobby: it is always kept.`);
    case "no-owner":
      return chat.tell(
        me,
        `${here.label} has no owner with an account (whoever made it was not identified): ` +
          "only a server operator can keep it.",
      );
    case "not-owner":
      return chat.tell(
        me,
        `Only ${here.label}'s owner (${
          chat.registered(here.owner) ?? here.owner
        }, identified) or a server operator can do that.`,
      );
    case "too-many":
      return chat.tell(
        me,
        `You keep ${KEEP_PER_ACCOUNT} rooms already (the most one account may); ` +
          "/room keep off in one of them first.",
      );
  }
}

/** `/room bans`. */
function listBans(chat: Chat, me: Member, now: number): void {
  const here = chat.roomOf(me);
  const bans = chat.roomBans(me, now);
  if (bans === null) return chat.tell(me, `Only ${here.label}'s operators see its bans.`);
  if (bans.length === 0) return chat.tell(me, `Nobody is banned from ${here.label}.`);
  chat.tell(
    me,
    `${bans.length} banned from ${here.label}:`,
    ...bans.map((b) => {
      const who = [
        b.nick,
        b.account && b.account !== b.nick.toLowerCase() ? `@${b.account}` : "",
        b.address,
      ]
        .filter(Boolean).join(" ");
      return `  ${who || "?"}  ${formatDuration(b.until - now)} left  ${
        b.reason || "-"
      }  (by ${b.by})`;
    }),
  );
}

/** `/room …`: settings, operators, modes, bans, keeping. */
export const ROOM: Command = {
  name: "room",
  usage: "/room [SETTING …]",
  help: "your room's settings; its owner and operators change them (/room help)",
  run(chat, me, args, now) {
    const [first, rest] = firstWord(args.trim());
    const what = first.toLowerCase();
    if (!what) return showSettings(chat, me);
    if (what === "help") return chat.tell(me, "Room settings:", ...ROOM_HELP.map((l) => `  ${l}`));
    if (what === "keep") return keep(chat, me, rest);
    if (what === "bans") return listBans(chat, me, now);
    const act = roomAct(what, rest);
    if (typeof act === "string") return chat.tell(me, act);
    chat.tell(me, chat.moderate(me, act, now));
  },
};

/** The commands of rooms run by their people. */
export const MODERATION_COMMANDS: readonly Command[] = [
  ROOM,
  {
    name: "invite",
    usage: "/invite NICK",
    help: "invite someone to your room (for 10 minutes)",
    run(chat, me, args, now) {
      const [nick] = firstWord(args);
      if (!nick) return chat.tell(me, "Usage: /invite NICK");
      chat.tell(me, chat.moderate(me, { act: "invite", nick }, now));
    },
  },
  {
    name: "kick",
    usage: "/kick NICK [REASON]",
    help: "send someone out of your room (operators; server operators disconnect them)",
    run(chat, me, args, now) {
      const [name, reason] = firstWord(args);
      if (!name) return chat.tell(me, "Usage: /kick NICK [REASON]");
      const why = [...reason.trim()].slice(0, 200).join("");
      if (!me.op) {
        return chat.tell(me, chat.moderate(me, { act: "kick", nick: name, reason: why }, now));
      }
      const target = chat.byNick(name);
      if (!target) return chat.tell(me, `There is nobody called ${name} here.`);
      chat.audit("kick", me, target.nick, why);
      chat.tell(me, `Kicked ${target.nick}.`);
      chat.disconnect(
        target,
        `You have been kicked by ${me.nick}${why ? `: ${why}` : "."}`,
        `kicked by ${me.nick}${why ? `: ${why}` : ""}`,
        now,
      );
    },
  },
  {
    name: "mute",
    usage: "/mute NICK [DURATION]",
    help: "hide someone's lines in your room (operators; a server operator's: everywhere)",
    run(chat, me, args, now) {
      const [nick, rest] = firstWord(args);
      if (!nick) return chat.tell(me, "Usage: /mute NICK [DURATION]");
      const d = leadingDuration(rest, MUTE_DEFAULT_MS);
      if ("error" in d) return chat.tell(me, d.error);
      chat.tell(me, chat.moderate(me, { act: "mute", nick, ms: d.ms }, now));
    },
  },
  {
    name: "unmute",
    usage: "/unmute NICK",
    help: "lift a mute",
    run(chat, me, args, now) {
      const [nick] = firstWord(args);
      if (!nick) return chat.tell(me, "Usage: /unmute NICK");
      chat.tell(me, chat.moderate(me, { act: "unmute", nick }, now));
    },
  },
];

/** `/audit [N]`: the latest operator actions, for server operators. */
export const AUDIT: Command = {
  name: "audit",
  usage: "/audit [N]",
  help: "the last N operator actions (default 20)",
  op: true,
  run(chat, me, args) {
    if (!requireOp(chat, me)) return;
    const text = args.trim();
    const n = text ? Number(text) : 20;
    if (!Number.isInteger(n) || n < 1) return chat.tell(me, "Usage: /audit [N] (a number)");
    const entries = chat.auditLog(Math.min(n, AUDIT_MAX));
    if (entries.length === 0) return chat.tell(me, "No operator actions yet.");
    chat.tell(
      me,
      `The last ${
        entries.length === 1 ? "operator action" : `${entries.length} operator actions`
      }:`,
      ...entries.map((e) => {
        const when = new Date(e.at).toISOString().slice(0, 16).replace("T", " ");
        const by = e.account && e.account !== e.by.toLowerCase() ? `${e.by} (@${e.account})` : e.by;
        const parts = [e.action, e.target, e.room ? `in ${e.room}` : "", e.detail].filter(Boolean);
        return `  ${when}  ${by}: ${parts.join(" ")}`;
      }),
    );
  },
};
