/**
 * Tab completion from sorted indexes: two binary searches and at most a page of names, whatever
 * the number of candidates (a Tab must cost the same in a room of ten and one of ten thousand).
 */
import type { Completion } from "../terminal/editor.ts";

/** A Tab with nothing to offer. */
export const NO_COMPLETION: Completion = { shown: [], total: 0, common: "" };

/** Index of the first of the sorted `keys` not before `w`. */
function lowerBound(keys: readonly string[], w: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] < w) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The completion of prefix `w` among sorted lower-case `keys` (shown as `names`): at most
 * `max` listed, the count, and the common prefix of all matches (that of the first and the
 * last, as they are sorted), in the first match's spelling.
 */
export function completeFrom(
  keys: readonly string[],
  names: readonly string[],
  w: string,
  max: number,
): Completion {
  const lo = lowerBound(keys, w);
  const hi = lowerBound(keys, w + "\uffff");
  const total = hi - lo;
  if (total === 0) return NO_COMPLETION;
  const a = keys[lo];
  const b = keys[hi - 1];
  let n = 0;
  while (n < a.length && n < b.length && a.charCodeAt(n) === b.charCodeAt(n)) n++;
  return { shown: names.slice(lo, Math.min(hi, lo + max)), total, common: names[lo].slice(0, n) };
}
