/** What the room said before: /history and /search (answered from the store). */
import { parseDuration } from "../../lib/units.ts";
import { HISTORY_DEFAULT, HISTORY_MAX, SEARCH_WORD_MAX, SEARCH_WORDS } from "../limits.ts";
import type { Command } from "./types.ts";

/** The commands for reading back. */
export const HISTORY_COMMANDS: readonly Command[] = [
  {
    name: "history",
    usage: "/history [N | DURATION | more]",
    help: "your room's last N lines (20) or those of the last DURATION (2h); more: the page before",
    run(chat, me, args, now) {
      const arg = args.trim().toLowerCase();
      if (arg === "") return chat.history(me, { count: HISTORY_DEFAULT });
      if (arg === "more") return chat.history(me, { more: true });
      if (/^\d+$/.test(arg)) {
        const n = Number(arg);
        if (n < 1 || n > HISTORY_MAX) {
          return chat.tell(me, `/history N: N is 1 to ${HISTORY_MAX}.`);
        }
        return chat.history(me, { count: n });
      }
      const ms = parseDuration(arg);
      if (ms === undefined || ms <= 0) {
        return chat.tell(me, "Usage: /history [N | DURATION], like /history 50 or /history 2h");
      }
      chat.history(me, { since: Math.max(1, now - ms + 1) });
    },
  },
  {
    name: "search",
    usage: "/search WORDS",
    help: "find the latest lines of your room that hold all the words",
    run(chat, me, args) {
      const words = args.trim().split(/\s+/).filter((w) => w !== "");
      if (words.length === 0) return chat.tell(me, "Usage: /search WORDS");
      if (words.length > SEARCH_WORDS) {
        return chat.tell(me, `At most ${SEARCH_WORDS} words in one search.`);
      }
      if (words.some((w) => [...w].length > SEARCH_WORD_MAX)) {
        return chat.tell(me, `A word in a search may have at most ${SEARCH_WORD_MAX} characters.`);
      }
      chat.search(me, words);
    },
  },
];
