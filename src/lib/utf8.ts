/**
 * UTF-8 lengths of JavaScript strings, as the bytes the server sends (TextEncoder's encoding):
 * a lone surrogate is sent as U+FFFD, three bytes.
 */

/** Bytes `s` takes in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n++;
    else if (
      c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      n += 2; // 4 bytes for 2 code units
      i++;
    } else n += 2;
  }
  return n;
}

/** The longest prefix of `s` that fits in `room` UTF-8 bytes, cut between code points. */
export function fitBytes(s: string, room: number): string {
  let used = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c < 0xdc00 && i + 1 < s.length &&
      (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (used + size > room) break;
    used += size;
    i += pair ? 2 : 1;
  }
  return s.slice(0, i);
}

/**
 * True when `text` takes more than `max` bytes in UTF-8; cheap for the common case (a string
 * shorter than a third of the limit cannot pass it).
 */
export function longerThan(text: string, max: number): boolean {
  return text.length * 3 > max && utf8Length(text) > max;
}
