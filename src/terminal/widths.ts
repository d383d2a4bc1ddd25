/**
 * Display widths: how many columns a character takes on a terminal (the wcwidth rules), worked
 * out from a table of the wide ranges and the engine's own tables of zero-width characters.
 */

import { fromPair, isHigh, isLow } from "./utf16.ts";

/**
 * Code points shown two columns wide, as inclusive [first, last] pairs: East Asian Wide and
 * Fullwidth (Hangul jamo, CJK, kana, Hangul syllables, fullwidth forms, Tangut, …) and the
 * characters with Emoji_Presentation (Unicode 16), ranges joined across unassigned gaps.
 * Regional indicators are left out: one alone is one column, a flag (a pair) two.
 */
// deno-fmt-ignore
const WIDE = [
  0x1100, 0x115f, 0x231a, 0x231b, 0x2329, 0x232a, 0x23e9, 0x23ec, 0x23f0, 0x23f0, 0x23f3, 0x23f3,
  0x25fd, 0x25fe, 0x2614, 0x2615, 0x2648, 0x2653, 0x267f, 0x267f, 0x2693, 0x2693, 0x26a1, 0x26a1,
  0x26aa, 0x26ab, 0x26bd, 0x26be, 0x26c4, 0x26c5, 0x26ce, 0x26ce, 0x26d4, 0x26d4, 0x26ea, 0x26ea,
  0x26f2, 0x26f3, 0x26f5, 0x26f5, 0x26fa, 0x26fa, 0x26fd, 0x26fd, 0x2705, 0x2705, 0x270a, 0x270b,
  0x2728, 0x2728, 0x274c, 0x274c, 0x274e, 0x274e, 0x2753, 0x2755, 0x2757, 0x2757, 0x2795, 0x2797,
  0x27b0, 0x27b0, 0x27bf, 0x27bf, 0x2b1b, 0x2b1c, 0x2b50, 0x2b50, 0x2b55, 0x2b55, 0x2e80, 0x303e,
  0x3041, 0x3247, 0x3250, 0x4dbf, 0x4e00, 0xa4c6, 0xa960, 0xa97c, 0xac00, 0xd7a3, 0xf900, 0xfaff,
  0xfe10, 0xfe19, 0xfe30, 0xfe6b, 0xff00, 0xff60, 0xffe0, 0xffe6, 0x16fe0, 0x18cd5,
  0x18d00, 0x1b2fb, 0x1f004, 0x1f004, 0x1f0cf, 0x1f0cf, 0x1f18e, 0x1f18e, 0x1f191, 0x1f19a,
  0x1f200, 0x1f320, 0x1f32d, 0x1f335, 0x1f337, 0x1f37c, 0x1f37e, 0x1f393, 0x1f3a0, 0x1f3ca,
  0x1f3cf, 0x1f3d3, 0x1f3e0, 0x1f3f0, 0x1f3f4, 0x1f3f4, 0x1f3f8, 0x1f43e, 0x1f440, 0x1f440,
  0x1f442, 0x1f4fc, 0x1f4ff, 0x1f53d, 0x1f54b, 0x1f54e, 0x1f550, 0x1f567, 0x1f57a, 0x1f57a,
  0x1f595, 0x1f596, 0x1f5a4, 0x1f5a4, 0x1f5fb, 0x1f64f, 0x1f680, 0x1f6c5, 0x1f6cc, 0x1f6cc,
  0x1f6d0, 0x1f6d2, 0x1f6d5, 0x1f6df, 0x1f6eb, 0x1f6ec, 0x1f6f4, 0x1f6fc, 0x1f7e0, 0x1f7f0,
  0x1f90c, 0x1f93a, 0x1f93c, 0x1f945, 0x1f947, 0x1f9ff, 0x1fa70, 0x1faf8, 0x20000, 0x3fffd,
];

/**
 * Zero-width code points: combining and enclosing marks and format characters (ZWJ, variation
 * selectors, tags). These come from the engine's own Unicode tables: written out they would be
 * some 330 ranges. Sticky, so a width is tested in place without cutting out a string.
 */
const ZERO = /[\p{Mn}\p{Me}\p{Cf}]/uy;

function isWide(cp: number): boolean {
  if (cp < WIDE[0] || cp > WIDE[WIDE.length - 1]) return false;
  let lo = 0;
  let hi = WIDE.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < WIDE[2 * mid]) hi = mid - 1;
    else if (cp > WIDE[2 * mid + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/**
 * Width of the code point `cp` found at `s[i]` (the string is passed so that a zero-width test
 * runs in place, without cutting out a string).
 */
export function widthAt(s: string, i: number, cp: number): number {
  if (cp < 0x300) return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? 0 : 1;
  // Combining diacriticals, then Greek and Cyrillic, whose only marks are U+0483..U+0489.
  if (cp < 0x530) return cp < 0x370 || (cp >= 0x483 && cp <= 0x489) ? 0 : 1;
  if (isWide(cp)) {
    // The only combining marks inside the wide ranges: ideographic tone marks, kana voicing.
    return (cp >= 0x302a && cp <= 0x302d) || cp === 0x3099 || cp === 0x309a || cp === 0x16fe4
      ? 0
      : 2;
  }
  // Hangul medial vowels and final consonants join the syllable before them.
  if ((cp >= 0x1160 && cp <= 0x11ff) || (cp >= 0xd7b0 && cp <= 0xd7ff)) return 0;
  ZERO.lastIndex = i;
  return ZERO.test(s) ? 0 : 1;
}

/**
 * Columns a code point takes on a terminal: 2 for East Asian wide characters and emoji, 0 for
 * combining marks, zero-width and control characters, 1 for the rest (the wcwidth rules).
 */
export function charWidth(cp: number): number {
  return widthAt(String.fromCodePoint(cp), 0, cp);
}

/**
 * Columns `text` takes on a terminal: the sum of its code points' widths, which is what xterm,
 * tmux and most terminals draw (an emoji ZWJ sequence counts each emoji it joins).
 */
export function columns(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      n++;
      continue;
    }
    let cp = c;
    if (isHigh(c) && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (isLow(d)) cp = fromPair(c, d);
    }
    n += widthAt(text, i, cp);
    if (cp > 0xffff) i++;
  }
  return n;
}

/**
 * Columns the code unit `s[i]` adds: the width of the code point starting there, or 0 for the
 * second half of a surrogate pair (the first half carries the pair's width). The line only
 * holds whole code points and is only cut between them, so this never changes once the unit is
 * in the line: it is worked out once, when the unit enters.
 */
export function unitWidth(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0x20 && c < 0x7f) return 1;
  if (isLow(c) && i > 0 && isHigh(s.charCodeAt(i - 1))) return 0;
  let cp = c;
  if (isHigh(c) && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (isLow(d)) cp = fromPair(c, d);
  }
  return widthAt(s, i, cp);
}

/** Whether `s` starts with a zero-width character that joins what is before it (a mark). */
export function startsZeroWidth(s: string): boolean {
  const c = s.codePointAt(0) ?? 0x20;
  return c >= 0x300 && widthAt(s, 0, c) === 0;
}
