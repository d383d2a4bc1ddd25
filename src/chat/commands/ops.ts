/** Server operators: /op, /ban, /unban, /bans (and /kick, /mute, /audit in moderation.ts). */
import { MAX_BAN_MS } from "../moderation.ts";
import { ipKey, parseBanTarget } from "../../lib/ip.ts";
import { formatDuration, parseDuration } from "../../lib/units.ts";
import type { Command } from "./types.ts";
import { firstWord, requireOp } from "./util.ts";

/** /op, shown when operators are enabled. */
export const OP: Command = {
  name: "op",
  usage: "/op TOKEN",
  help: "become an operator",
  needsOps: true,
  run(chat, me, args, now) {
    if (!chat.opsEnabled) {
      return chat.tell(me, "Operator commands are off on this server (it has no admin token).");
    }
    if (me.op) return chat.tell(me, "You are already an operator.");
    if (chat.checkAdminToken(args.trim())) {
      chat.grantOp(me);
      chat.audit("operator granted", me);
      return chat.tell(me, "You are now an operator. /help lists the operator commands.");
    }
    chat.audit("wrong operator token", me);
    chat.strike(me, "wrong operator token", now, "Wrong operator token.", true);
  },
};

/** The commands only operators may run. */
export const OP_COMMANDS: readonly Command[] = [
  {
    name: "ban",
    usage: "/ban NICK|IP [DURATION] [REASON]",
    help: "ban an address (default: the --ban-duration)",
    op: true,
    run(chat, me, args, now) {
      if (!requireOp(chat, me)) return;
      const [what, rest] = firstWord(args);
      if (!what) return chat.tell(me, "Usage: /ban NICK|IP [DURATION] [REASON]");
      let ms = chat.config.banDuration;
      let reason = rest.trim();
      const [first, after] = firstWord(reason);
      if (first && /^[-+]?\d/.test(first)) {
        const d = parseDuration(first);
        if (!d) return chat.tell(me, "Durations look like 30s, 10m, 2h or 1d.");
        if (d > MAX_BAN_MS) {
          return chat.tell(me, `Bans last at most ${formatDuration(MAX_BAN_MS)}.`);
        }
        ms = d;
        reason = after.trim();
      }
      // Nicks cannot look like addresses, so the word is one or the other, never both. An IPv6
      // address stands for its network (--ipv6-prefix), as every per-address rule takes it.
      const prefix = chat.config.ipv6Prefix;
      const target = chat.byNick(what);
      let ip = target ? ipKey(target.ip, prefix) : undefined;
      if (!ip) {
        const parsed = parseBanTarget(what, prefix);
        if ("error" in parsed) {
          const why = /^[0-9a-f:./]+$/i.test(what) ? `: ${parsed.error}` : "";
          return chat.tell(me, `${what} is neither a nick here nor an IP address${why}.`);
        }
        ip = parsed.ip;
      }
      if (ip === ipKey(me.ip, prefix)) return chat.tell(me, "That would ban your own address.");
      const dropped = chat.ban(ip, ms, reason, me.nick, now);
      chat.audit("ban", me, target?.nick ?? ip, formatDuration(ms) + (reason ? ` ${reason}` : ""));
      const who = target ? `${target.nick}'s address` : ip;
      const closed = dropped === 1 ? "1 connection closed" : `${dropped} connections closed`;
      chat.tell(me, `Banned ${who} for ${formatDuration(ms)}; ${closed}.`);
    },
  },
  {
    name: "unban",
    usage: "/unban IP",
    help: "lift a ban",
    op: true,
    run(chat, me, args) {
      if (!requireOp(chat, me)) return;
      const text = args.trim();
      if (!text) return chat.tell(me, "Usage: /unban IP (see /bans)");
      const parsed = parseBanTarget(text, chat.config.ipv6Prefix);
      if ("error" in parsed) return chat.tell(me, `${text} is not an IP address: ${parsed.error}.`);
      const ip = parsed.ip;
      if (!chat.unban(ip)) return chat.tell(me, `${ip} is not banned.`);
      chat.audit("unban", me, ip);
      chat.tell(me, `Unbanned ${ip}.`);
    },
  },
  {
    name: "bans",
    usage: "/bans",
    help: "list the bans: address, time left, reason, who banned",
    op: true,
    run(chat, me, _args, now) {
      if (!requireOp(chat, me)) return;
      const bans = chat.bans(now);
      if (bans.length === 0) return chat.tell(me, "Nobody is banned.");
      chat.tell(
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
