/** Small helpers the command themes share. */
import { formatDuration } from "../../lib/units.ts";
import type { Chat, Member } from "./types.ts";

export { AWAY_MAX } from "../limits.ts";

/** Most names /who lists, so one command cannot produce an enormous reply. */
export const WHO_LIMIT = 200;

/** Idle time to the second: "0s", "42s", "1m 30s". */
export function idleTime(ms: number): string {
  const s = Math.floor(ms / 1_000);
  return s <= 0 ? "0s" : formatDuration(s * 1_000);
}

/** The first word of `args` and the rest (trimmed at the start). */
export function firstWord(args: string): [string, string] {
  const m = /^(\S+)\s*(.*)$/s.exec(args);
  return m ? [m[1], m[2]] : ["", ""];
}

/** True if `me` may run an operator command; otherwise tells them why not. */
export function requireOp(chat: Chat, me: Member): boolean {
  if (!chat.opsEnabled) {
    chat.tell(me, "Operator commands are off on this server (it has no admin token).");
    return false;
  }
  if (!me.op) {
    chat.tell(me, "Only operators can do that. Operators get in with /op TOKEN.");
    return false;
  }
  return true;
}
