/**
 * UTF-16 surrogate pairs, for the code that walks the line a code unit at a time: the line and
 * the prompt are JavaScript strings, where a code point beyond the BMP takes two units.
 */

/** Whether the code unit `c` is the first half of a surrogate pair. */
export function isHigh(c: number): boolean {
  return c >= 0xd800 && c < 0xdc00;
}

/** Whether the code unit `c` is the second half of a surrogate pair. */
export function isLow(c: number): boolean {
  return c >= 0xdc00 && c < 0xe000;
}

/** The code point of the surrogate pair `high`, `low`. */
export function fromPair(high: number, low: number): number {
  return (high - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
}

/** The code point that ends at offset `i` of `s` (a surrogate pair whole). */
export function codePointBefore(s: string, i: number): number {
  const c = s.charCodeAt(i - 1);
  if (isLow(c) && i >= 2) {
    const h = s.charCodeAt(i - 2);
    if (isHigh(h)) return fromPair(h, c);
  }
  return c;
}
