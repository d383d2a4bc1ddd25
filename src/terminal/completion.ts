/**
 * Tab completion: what a caller's completer answers, and what a Tab makes of the answer (the
 * word it completes, the text that replaces it, the listing of several matches).
 */

import { isHigh } from "./utf16.ts";

/** Most completion candidates listed at once; more are summarised as a count. */
export const MAX_LISTED = 64;

/**
 * Work a Tab counts besides what it lists: asking the completer is a lookup in the caller's
 * index, not free, and a held Tab key must not be (see `EditResult.work` in editor.ts).
 */
export const TAB_WORK = 64;

/** What a {@link Completer} found for a word. */
export interface Completion {
  /** At most {@link MAX_LISTED} of the matches, in the order to list them. */
  shown: string[];
  /** How many matched in all; the listing ends with `(+N)` for those not shown. */
  total: number;
  /**
   * The longest common prefix of all `total` matches (not only those shown): it is filled in
   * when several match. With one match, it is that match.
   */
  common: string;
}

/**
 * Completes the word before the cursor: what matches `word` (nicks, or /commands when the word
 * starts with `/` at the start of the line); `atLineStart` is true when nothing precedes the
 * word. The answer is bounded however many match: a Tab must cost the same in a room of ten
 * and one of ten thousand, so the caller keeps a sorted index, lists at most
 * {@link MAX_LISTED} and works out `common` from the first and last match. One match
 * (`total === 1`) replaces the word; several fill in `common` and are listed; none rings the
 * bell.
 */
export type Completer = (word: string, atLineStart: boolean) => Completion;

/** Where the word that ends at `pos` starts: after the last space before it. */
export function wordStart(text: string, pos: number): number {
  let start = pos;
  while (start > 0 && text.charCodeAt(start - 1) !== 0x20) start--;
  return start;
}

/**
 * What replaces `word` when it is the one match: the match, then `: ` after a nick at the start
 * of the line or a space after anything else, less a space already after the word.
 */
export function oneMatch(
  found: Completion,
  word: string,
  atLineStart: boolean,
  spaceAfter: boolean,
): string {
  let suffix = atLineStart && !word.startsWith("/") ? ": " : " ";
  if (spaceAfter) suffix = suffix.trimEnd();
  return typeable(found.shown[0] ?? found.common) + suffix;
}

/** The prefix that several matches share, as the line may hold it. */
export function sharedPrefix(found: Completion): string {
  return wholeCodePoints(typeable(found.common));
}

/** The row that lists several matches (at most {@link MAX_LISTED}, then `(+N)`). */
export function listing(found: Completion): string {
  const { shown, total } = found;
  const listed = shown.length > MAX_LISTED ? shown.slice(0, MAX_LISTED) : shown;
  const more = total - listed.length;
  return listed.join("  ") + (more > 0 ? `  (+${more})` : "") + "\r\n";
}

/**
 * `s` without what no key can type (C0 and C1 controls, DEL, bidi controls; a lone surrogate
 * becomes U+FFFD, as the UTF-8 decoder makes it), so a completion keeps to what the line may
 * hold: whole code points, whose widths alone say where the text goes, with no escape sequence
 * to interpret (and none echoed to the terminal).
 */
function typeable(s: string): string {
  // deno-lint-ignore no-control-regex -- removing controls is the point
  return s.toWellFormed().replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, "");
}

/** `p` without a high surrogate at its end (a prefix may end between the halves of a pair). */
function wholeCodePoints(p: string): string {
  return isHigh(p.charCodeAt(p.length - 1)) ? p.slice(0, -1) : p;
}
