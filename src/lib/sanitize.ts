/**
 * Input hygiene: nothing one client sends may take over another's terminal. Telnet commands are
 * removed from the raw byte stream before framing (src/telnet.ts); {@link cleanLine} then turns
 * one framed line into safe text: invalid UTF-8 becomes U+FFFD, ANSI/VT escape sequences (CSI,
 * OSC, DCS, …) and their 8-bit C1 forms are removed, other control characters and invisible
 * characters are dropped, tab becomes a space, and backspace/DEL erase the character before
 * them, the way the sender's terminal showed it.
 */

const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: false });

/** Longest run of spaces kept: padding must not push text onto a row of its own. */
export const MAX_SPACES = 4;
/** Most combining marks kept on one character (a "Zalgo" stack cannot cover other lines). */
export const MAX_MARKS = 4;

/** Invisible or line-breaking characters that are dropped (zero-width, joiners, bidi marks…). */
function invisible(c: number): boolean {
  return c === 0xad || c === 0x34f || c === 0x61c || c === 0x115f || c === 0x1160 ||
    c === 0x17b4 || c === 0x17b5 || (c >= 0x180b && c <= 0x180f) ||
    (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
    (c >= 0x2060 && c <= 0x206f) || c === 0x3164 || c === 0xfeff || c === 0xffa0 ||
    (c >= 0xfff9 && c <= 0xfffb);
}

/** Space characters other than U+0020, which become a plain space. */
function otherSpace(c: number): boolean {
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x202f ||
    c === 0x205f || c === 0x3000;
}

/**
 * True for characters that need the slow path: controls, C1, invisible and line-breaking
 * characters, unusual spaces, the replacement character (runs of it are collapsed) and the
 * high surrogate of the tag characters (U+E0000–E007F).
 */
function special(c: number): boolean {
  if (c < 0x20) return true;
  if (c < 0x7f) return false;
  if (c <= 0xa0) return true;
  if (c < 0x300) return c === 0xad;
  return invisible(c) || otherSpace(c) || c === 0xfffd || c === 0xdb40;
}

/** A character that is not printable ASCII. */
const NOT_PRINTABLE = /[^\x20-\x7e]/;
/** A run of spaces longer than {@link MAX_SPACES}. */
const LONG_SPACES = " ".repeat(MAX_SPACES + 1);

/** Turns one line of bytes (without its line end) into text that is safe to show others. */
export function cleanLine(bytes: Uint8Array): string {
  return cleanText(decoder.decode(bytes));
}

/**
 * The text half of {@link cleanLine}, for input that is already a string. Besides removing
 * what could act on a terminal, it keeps a line looking like one line from its author:
 * invisible characters go, unusual spaces become plain ones, runs of spaces are cut to
 * {@link MAX_SPACES}, runs of U+FFFD (from invalid bytes) to one, and stacks of combining
 * marks to {@link MAX_MARKS}.
 */
export function cleanText(s: string): string {
  // Printable ASCII (most chat lines) is clean as it is, but for spaces at its end, unless a run
  // of spaces is to be cut. The checks are the runtime's (a regular expression, a search), not a
  // loop in JavaScript, which a burst of lines would make hot enough for the optimising compiler.
  if (!NOT_PRINTABLE.test(s) && !s.includes(LONG_SPACES)) return s.trimEnd();
  const n = s.length;
  let i = 0;
  let run = 0;
  let high = false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x20) {
      if (++run > MAX_SPACES) break;
      continue;
    }
    run = 0;
    if (special(c)) break;
    if (c >= 0x300) high = true;
  }
  if (i === n) {
    const t = s.trimEnd();
    return high ? capMarks(t) : t;
  }
  return cleanFrom(s, i);
}

/**
 * The slow path of {@link cleanText}: `s` is clean before `i`. Text goes into `pending` and
 * joins `out` only when a backspace needs the parts to erase from.
 */
function cleanFrom(s: string, i: number): string {
  const n = s.length;
  const out: string[] = [s.slice(0, i)];
  let pending = "";
  while (i < n) {
    const c = s.charCodeAt(i);
    if (!special(c)) {
      let j = i + 1;
      while (j < n && !special(s.charCodeAt(j))) j++;
      pending += s.slice(i, j);
      i = j;
      continue;
    }
    if (c === 0x1b) {
      i = skipEscape(s, i + 1);
    } else if (c === 0x9b) {
      i = skipCsi(s, i + 1);
    } else if (c === 0x9d || c === 0x90 || c === 0x98 || c === 0x9e || c === 0x9f) {
      i = skipString(s, i + 1);
    } else if (c === 0x09 || otherSpace(c)) {
      pending += " ";
      i++;
    } else if (c === 0x08 || c === 0x7f) {
      if (pending) out.push(pending);
      pending = "";
      eraseLast(out);
      i++;
    } else if (c === 0xfffd) {
      pending += "\ufffd";
      i++;
    } else if (c === 0xdb40) {
      const low = s.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdc7f) i += 2; // a tag character: invisible
      else {
        pending += s.slice(i, i + 2);
        i += 2;
      }
    } else {
      i++; // other C0/C1 controls, invisible characters and bidi controls are dropped
    }
  }
  if (pending) out.push(pending);
  return tidy(out.join("").trimEnd());
}

/**
 * A backspace: removes the last character of the last non-empty part (both halves of a
 * surrogate pair when the part holds both).
 */
function eraseLast(out: string[]): void {
  while (out.length > 0) {
    const last = out[out.length - 1];
    if (last.length === 0) {
      out.pop();
      continue;
    }
    const code = last.charCodeAt(last.length - 1);
    const cut = code >= 0xdc00 && code <= 0xdfff && last.length >= 2 ? 2 : 1;
    out[out.length - 1] = last.slice(0, last.length - cut);
    return;
  }
}

const SPACE_RUN = new RegExp(` {${MAX_SPACES + 1},}`, "g");
const SPACES = " ".repeat(MAX_SPACES);
const MARK_STACK = new RegExp(`(\\p{M}{${MAX_MARKS}})\\p{M}+`, "gu");

/** The run-length rules of {@link cleanText}, applied to text built on the slow path. */
function tidy(t: string): string {
  if (t.includes("     ")) t = t.replace(SPACE_RUN, SPACES);
  if (t.includes("\ufffd\ufffd")) t = t.replace(/\ufffd{2,}/g, "\ufffd");
  // deno-lint-ignore no-control-regex -- only text outside ASCII can hold combining marks
  return /[^\u0000-\u02ff]/.test(t) ? capMarks(t) : t;
}

function capMarks(t: string): string {
  return t.replace(MARK_STACK, "$1");
}

/** Skips an escape sequence whose ESC was at `i - 1`; returns the index after it. */
function skipEscape(s: string, i: number): number {
  if (i >= s.length) return i;
  const c = s.charCodeAt(i);
  if (c === 0x5b) return skipCsi(s, i + 1); // ESC [
  if (c === 0x5d || c === 0x50 || c === 0x58 || c === 0x5e || c === 0x5f) {
    return skipString(s, i + 1); // ESC ] OSC, ESC P DCS, ESC X SOS, ESC ^ PM, ESC _ APC
  }
  if (c >= 0x20 && c <= 0x2f) {
    // intermediates, then one final byte: ESC ( B, ESC # 8, …
    let j = i;
    while (j < s.length && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x2f) j++;
    return j < s.length ? j + 1 : j;
  }
  if (c >= 0x30 && c <= 0x7e) return i + 1; // two-byte sequences: ESC c, ESC 7, ESC M, …
  return i; // ESC followed by something else: drop the ESC alone
}

/** Skips CSI parameters, intermediates and the final byte. */
function skipCsi(s: string, i: number): number {
  let j = i;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c >= 0x40 && c <= 0x7e) return j + 1;
    if (c < 0x20 || c > 0x3f) return j; // malformed: stop, the rest is ordinary text
    j++;
  }
  return j;
}

/** Skips a control string (OSC, DCS, …) up to BEL, ST (`ESC \`) or 8-bit ST; unterminated = to end. */
function skipString(s: string, i: number): number {
  let j = i;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === 0x07 || c === 0x9c) return j + 1;
    if (c === 0x1b) return s.charCodeAt(j + 1) === 0x5c ? j + 2 : j; // a new ESC aborts it
    j++;
  }
  return j;
}
