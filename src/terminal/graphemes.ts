/**
 * Grapheme boundaries around the cursor, so that Backspace, Delete, Left and Right take a
 * user-perceived character whole (an accent with its letter, a flag, an emoji ZWJ sequence, a
 * surrogate pair). A boundary costs what it looks at, not the length of the line: between two
 * characters of the common scripts there is always a break, and otherwise Intl.Segmenter is
 * shown a few characters around the cursor. The characters looked at are counted in a
 * {@link Meter}.
 */

import type { Meter } from "./meter.ts";
import { codePointBefore, isHigh, isLow } from "./utf16.ts";

let segmenter: Intl.Segmenter | null = null;

function graphemes(s: string): Intl.Segments {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  return segmenter.segment(s);
}

/**
 * Code units the segmenter is shown on either side of the cursor. Grapheme rules look back
 * without bound (a run of flags pairs from its start, emoji ZWJ and Indic conjuncts chain), so
 * segmenting the whole line made each move cost the line; a cluster longer than this may be
 * split, which only means a key takes it in two steps.
 */
const GRAPHEME_WINDOW = 32;

/**
 * Whether the code point `cp` has a grapheme break before and after it wherever its neighbour
 * passes this test too: Latin and controls below U+0300 (as before), Greek and Cyrillic letters,
 * kana, CJK ideographs, Hangul syllables, and the emoji and symbol blocks (pictographs without
 * the skin tone modifiers and regional indicators). None of these is a mark, a joiner, a prefix,
 * a regional indicator, a Hangul jamo or an Indic consonant, so no rule of UAX #29 but "break
 * everywhere else" applies between two of them (a test checks each against Intl.Segmenter). It
 * keeps typing and moving in the common scripts off the segmenter.
 */
function breaksAround(cp: number): boolean {
  if (cp < 0x10000) {
    return cp < 0x300 || (cp >= 0x370 && cp < 0x483) || (cp >= 0x48a && cp < 0x530) ||
      (cp >= 0x3041 && cp < 0x3097) || (cp >= 0x30a1 && cp < 0x30fb) ||
      (cp >= 0x4e00 && cp < 0xa000) || (cp >= 0xac00 && cp < 0xd7a4);
  }
  return (cp >= 0x1f000 && cp < 0x1f1e6) || (cp >= 0x1f200 && cp < 0x1f3fb) ||
    (cp >= 0x1f400 && cp < 0x1fb00) || (cp >= 0x20000 && cp < 0x3fffe);
}

/**
 * Start of the grapheme of `s` that ends at `pos` (0 < pos ≤ s.length). Between two characters
 * of the common scripts (see {@link breaksAround}) there is always a break; otherwise it looks
 * at most {@link GRAPHEME_WINDOW} back, and counts what it looked at in `meter`.
 */
export function prevBoundary(s: string, pos: number, meter: Meter): number {
  const cp = codePointBefore(s, pos);
  const start = pos - (cp > 0xffff ? 2 : 1);
  if (breaksAround(cp) && (start === 0 || breaksAround(codePointBefore(s, start)))) return start;
  // The segmenter works through the window up to the cursor: try a short one first, and a
  // longer one only when the grapheme may start before it.
  for (let back = 8;; back = GRAPHEME_WINDOW) {
    let lo = Math.max(0, pos - back);
    if (lo > 0 && isLow(s.charCodeAt(lo)) && isHigh(s.charCodeAt(lo - 1))) lo--;
    meter.steps += pos - lo;
    const seg = graphemes(s.slice(lo, pos)).containing(pos - 1 - lo);
    if (!seg) return pos - 1;
    if (seg.index > 0 || lo === 0 || back === GRAPHEME_WINDOW) return lo + seg.index;
  }
}

/**
 * End of the grapheme of `s` that starts at `pos` (0 ≤ pos < s.length). The cursor only rests
 * on grapheme starts, and none of the rules looks back past one, so the window starts at `pos`.
 */
export function nextBoundary(s: string, pos: number, meter: Meter): number {
  const cp = s.codePointAt(pos)!;
  const end = pos + (cp > 0xffff ? 2 : 1);
  if (breaksAround(cp) && (end === s.length || breaksAround(s.codePointAt(end)!))) return end;
  let hi = Math.min(s.length, pos + GRAPHEME_WINDOW);
  if (hi < s.length && isLow(s.charCodeAt(hi)) && isHigh(s.charCodeAt(hi - 1))) hi++;
  meter.steps += hi - pos;
  const seg = graphemes(s.slice(pos, hi)).containing(0);
  return seg ? pos + seg.segment.length : pos + 1;
}
