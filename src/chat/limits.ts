/**
 * Lengths of what people type that hold wherever it is shown: the commands cut typed text to
 * them, and the cluster link cuts what other processes send to them too. A leaf module, so the
 * link (src/bus.ts) can share them without importing the commands.
 */

/** Longest topic kept, in characters. */
export const TOPIC_MAX = 200;

/** Longest away reason kept, in characters. */
export const AWAY_MAX = 100;

/** How many rooms one account may keep (operators may keep more). */
export const KEEP_PER_ACCOUNT = 3;

/** Lines `/history` shows when no number is given. */
export const HISTORY_DEFAULT = 20;
/** Most lines one `/history N` goes back. */
export const HISTORY_MAX = 10_000;
/** Most lines in one page of `/history`. */
export const PAGE_LINES = 50;
/** Most matches `/search` shows. */
export const SEARCH_LIMIT = 20;
/** Most words in a search, and the longest word. */
export const SEARCH_WORDS = 8;
export const SEARCH_WORD_MAX = 64;
