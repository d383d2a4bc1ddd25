/**
 * The server-side line editor for a telnet client in character mode: keys in, echo and edits
 * out, finished lines handed over one by one. Incoming messages are printed above the prompt by
 * erasing the prompt and input, printing, and drawing them again. Pure: no sockets, no clock.
 *
 * Screen model: the editor knows where the terminal cursor is, relative to the first row of the
 * prompt, and only ever moves it relatively (up/down, then a column move), so nothing depends on
 * where on the screen the prompt happens to be. The cursor never rests in the terminal's
 * "pending wrap" state: when output ends exactly at the right margin the editor sends `\r\n`
 * (the method of Go's x/term), so the cursor always sits at row = column ÷ width and erasing goes
 * up exactly that many rows. A wide character that does not fit in a row's last column is
 * printed on the next row, as terminals do; the editor fills the skipped cell with a space so
 * that no stale glyph stays there.
 *
 * Cost: a key costs what it changes, not the length of the line, since one client holding a
 * movement key on a long line must not pin a core. Each character's width is worked out once,
 * when it is typed; the screen position of every offset is cached (learnt as the text is drawn,
 * forgotten from an edit on and at a new prompt or width), so a cursor move is a lookup; and
 * grapheme boundaries are found by looking at a few characters around the cursor. What a feed
 * did is reported as {@link EditResult.work}, and `maxWork` caps it.
 */

import { fitBytes, utf8Length } from "../lib/utf8.ts";

// ---- Display width ----------------------------------------------------------------------------

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

/** Width of the code point `cp` found at `s[i]`. */
function widthAt(s: string, i: number, cp: number): number {
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
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) cp = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
    }
    n += widthAt(text, i, cp);
    if (cp > 0xffff) i++;
  }
  return n;
}

// ---- Text helpers -----------------------------------------------------------------------------

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

/** The code point that ends at offset `i` of `s` (a surrogate pair whole). */
function codePointBefore(s: string, i: number): number {
  const c = s.charCodeAt(i - 1);
  if (isLow(c) && i >= 2) {
    const h = s.charCodeAt(i - 2);
    if (isHigh(h)) return (h - 0xd800) * 0x400 + (c - 0xdc00) + 0x10000;
  }
  return c;
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c < 0xdc00;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c < 0xe000;
}

/**
 * Columns the code unit `s[i]` adds: the width of the code point starting there, or 0 for the
 * second half of a surrogate pair (the first half carries the pair's width). The line only
 * holds whole code points and is only cut between them, so this never changes once the unit is
 * in the line: it is worked out once, when the unit enters.
 */
function unitWidth(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0x20 && c < 0x7f) return 1;
  if (isLow(c) && i > 0 && isHigh(s.charCodeAt(i - 1))) return 0;
  let cp = c;
  if (isHigh(c) && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (isLow(d)) cp = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
  }
  return widthAt(s, i, cp);
}

function startsZeroWidth(s: string): boolean {
  const c = s.codePointAt(0) ?? 0x20;
  return c >= 0x300 && widthAt(s, 0, c) === 0;
}

function isBidiControl(cp: number): boolean {
  return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/** `p` without a high surrogate at its end (a prefix may end between the halves of a pair). */
function wholeCodePoints(p: string): string {
  return isHigh(p.charCodeAt(p.length - 1)) ? p.slice(0, -1) : p;
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

/** `ESC [ n letter`, leaving out n when it is 1. */
function csi(n: number, letter: string): string {
  return n === 1 ? `\x1b[${letter}` : `\x1b[${n}${letter}`;
}

const decoder = new TextDecoder();

// ---- The editor -------------------------------------------------------------------------------

/** Lines of input history kept per connection. */
export const HISTORY_LINES = 50;
/** UTF-8 bytes of input history kept per connection. */
export const HISTORY_BYTES = 16 * 1024;
/** Width assumed when the client has not told it (or said 0). */
export const DEFAULT_WIDTH = 80;
/** Most completion candidates listed at once; more are summarised as a count. */
export const MAX_LISTED = 64;

/**
 * Work a Tab counts besides what it lists: asking the completer is a lookup in the caller's
 * index, not free, and a held Tab key must not be (see {@link EditResult.work}).
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

/** Options for {@link LineEditor}. */
export interface LineEditorOptions {
  /** Most UTF-8 bytes a line may hold; typing past it is refused with a bell. */
  maxLine: number;
  /** Shown before the input, e.g. `[alice] `; may contain SGR colour sequences. */
  prompt?: string;
  /** Terminal width in columns (NAWS); 0 means unknown, taken as {@link DEFAULT_WIDTH}. */
  width?: number;
  /** Tab completion; without it Tab does nothing. */
  complete?: Completer;
  /**
   * What Enter leaves on screen: the prompt and the line as typed (true, the default), or
   * nothing, for a caller that shows the line back in its own form (a chat server echoing it
   * the way others see it).
   */
  keepSubmitted?: boolean;
  /**
   * Whether a line sent with Enter goes into the history Up recalls (default: every line). A
   * chat server leaves secrets out: a token, a room key.
   */
  remember?: (line: string) => boolean;
}

/** What one {@link LineEditor.feed} produced. */
export interface EditResult {
  /** Text to send back to the client: echo, edits, redraws, bells. */
  echo: string;
  /** Lines finished with Enter, in the order typed. */
  lines: string[];
  /** Ctrl-D on an empty line: the user wants to leave (input after it was not read). */
  leave: boolean;
  /**
   * Work done, in units of about one character cell examined or written: cells the layout
   * walked, characters of echo, text scanned for a word or grapheme, {@link TAB_WORK} a Tab, and
   * one per byte of a key that is not text. A caller bounds a client's CPU with it, since the
   * cost of a key depends on the line, not on its bytes.
   */
  work: number;
  /**
   * Bytes of the input taken: all of them, unless `maxWork` stopped the feed early or the user
   * left. Feed the rest later: a key split anywhere is put together again.
   */
  consumed: number;
}

/** Placeholder until the first feed (which replaces it), so an idle editor holds no array. */
const NO_LINES: string[] = [];

// Escape parser states.
const GROUND = 0;
const ESC = 1;
const CSI = 2;
const SS3 = 3;
const STR = 4; // OSC, DCS, SOS, PM, APC: up to BEL or ST
const STR_ESC = 5;
const INTER = 6; // ESC + intermediate bytes, up to the final byte

/**
 * One connection's input line: decodes keys (UTF-8 split anywhere, escape sequences consumed
 * whole), edits the buffer, and says what to send back. Keys: text, Backspace, Delete, Enter,
 * Left/Right (Ctrl-B/F, Ctrl/Alt for words), Home/End (Ctrl-A/E), Up/Down (Ctrl-P/N) through
 * history, Ctrl-U (kill to start), Ctrl-K (kill to end), Ctrl-W (kill word), Ctrl-C (clear),
 * Ctrl-D (leave when empty, else delete), Ctrl-L (redraw), Tab (complete).
 */
export class LineEditor {
  readonly #max: number;
  readonly #complete: Completer | null;
  readonly #keep: boolean;
  readonly #remembers: ((line: string) => boolean) | null;
  /** Prompt and width the screen was drawn with; the requested ones apply at the next draw. */
  #prompt: string;
  #width: number;
  #nextPrompt: string;
  #nextWidth: number;
  /** Where the input starts on screen: the cell after the prompt, as row × width + column. */
  #origin = 0;

  /** The line; it only ever holds what a key can type (no controls, see {@link typeable}). */
  #text = "";
  #pos = 0;
  #bytes = 0;

  // The layout cache, so that a key costs what it changes rather than the whole line. Both
  // arrays grow with the text by doubling and are dropped at Enter: an idle editor holds none.
  /** Columns each code unit of the text adds (see {@link unitWidth}). */
  #w: Uint8Array | null = null;
  /**
   * `#lay[i]` is where text offset i + 1 is on screen (row × width + column), known for offsets
   * up to {@link #valid}; offset 0 is {@link #origin}. An edit at offset a forgets from a on,
   * a draw (new prompt or width) all of it; what a draw or repaint writes is learnt again.
   */
  #lay: Float64Array | null = null;
  #valid = 0;
  /** Work done in this feed besides the echo (see {@link EditResult.work}). */
  #steps = 0;

  /** Whether prompt and input are on screen, and where the terminal cursor is among them. */
  #drawn = false;
  /** The input on screen starts with a combining mark, drawn onto the prompt's last cell. */
  #markFirst = false;
  #row = 0;
  #col = 0;
  // Result of #locate / #render.
  #lr = 0;
  #lc = 0;
  #pend = false;

  // UTF-8 decoding across reads.
  #u8cp = 0;
  #u8need = 0;
  #u8lo = 0x80;
  #u8hi = 0xbf;
  // Escape sequences across reads.
  #esc = GROUND;
  #p1 = 0;
  #p2 = 0;
  #np = 0;
  #odd = false;
  #afterCr = false;

  #hist: string[] | null = null;
  #histBytes = 0;
  #histIdx = -1;
  #saved = "";

  // Per feed.
  #out = "";
  #ins = "";
  #lines: string[] = NO_LINES;
  #leave = false;
  #rang = false;

  constructor(options: LineEditorOptions) {
    this.#max = options.maxLine;
    this.#complete = options.complete ?? null;
    this.#keep = options.keepSubmitted ?? true;
    this.#remembers = options.remember ?? null;
    this.#prompt = this.#nextPrompt = options.prompt ?? "";
    this.#width = this.#nextWidth = effectiveWidth(options.width ?? 0);
  }

  /** The line being typed. */
  get line(): string {
    return this.#text;
  }

  /** The cursor's offset in {@link line} (UTF-16 code units). */
  get cursor(): number {
    return this.#pos;
  }

  /** The prompt the next draw shows. */
  get prompt(): string {
    return this.#nextPrompt;
  }

  /** Sets the prompt; it shows at the next redraw (call {@link refresh} to show it now). */
  set prompt(p: string) {
    this.#nextPrompt = p;
  }

  /** The width the next draw uses. */
  get width(): number {
    return this.#nextWidth;
  }

  /**
   * Sets the terminal width (0 = unknown, taken as 80). It takes effect at the next redraw, so
   * the erase before it still matches what is on screen; call {@link refresh} after a resize.
   */
  setWidth(cols: number): void {
    this.#nextWidth = effectiveWidth(cols);
  }

  /**
   * Decodes and applies the keys in `data` (telnet commands already removed). With `maxWork`,
   * stops after the byte at which the work done passes it, and says how much was taken in
   * {@link EditResult.consumed}; without it, everything is taken.
   */
  feed(data: Uint8Array, maxWork = Infinity): EditResult {
    this.#out = "";
    this.#lines = [];
    this.#leave = false;
    this.#rang = false;
    this.#steps = 0;
    if (!this.#drawn) this.#draw();
    const n = data.length;
    let i = 0;
    while (i < n && !this.#leave) {
      const b = data[i];
      if (this.#u8need > 0 && b >= this.#u8lo && b <= this.#u8hi) {
        this.#u8cp = (this.#u8cp << 6) | (b & 0x3f);
        this.#u8lo = 0x80;
        this.#u8hi = 0xbf;
        i++;
        if (--this.#u8need === 0) this.#key(this.#u8cp);
      } else {
        if (this.#u8need > 0) {
          this.#u8need = 0; // cut short: the partial character is invalid, b starts afresh
          this.#u8lo = 0x80;
          this.#u8hi = 0xbf;
          this.#key(0xfffd);
          if (this.#leave) break;
        }
        i = this.#lead(data, i, maxWork - this.#spent());
      }
      if (this.#spent() > maxWork) break;
    }
    this.#flushIns();
    const result = {
      echo: this.#out,
      lines: this.#lines,
      leave: this.#leave,
      work: this.#steps + this.#out.length,
      consumed: i,
    };
    this.#out = "";
    return result;
  }

  /** Work so far in this feed, counting the text waiting to be inserted. */
  #spent(): number {
    return this.#steps + this.#out.length + this.#ins.length;
  }

  /**
   * Takes the byte at `data[i]` that is not a UTF-8 continuation, and with it a run of plain
   * ASCII of at most `room` bytes (at least the one); returns the index after what it took.
   */
  #lead(data: Uint8Array, i: number, room: number): number {
    const b = data[i];
    if (b < 0x80) {
      if (b >= 0x20 && b < 0x7f && this.#esc === GROUND) {
        // A run of plain ASCII, the bulk of any paste, is taken in one piece.
        const end = Math.min(data.length, i + Math.max(1, room));
        let j = i + 1;
        while (j < end && data[j] >= 0x20 && data[j] < 0x7f) j++;
        this.#afterCr = false;
        this.#ins += decoder.decode(data.subarray(i, j));
        return j;
      }
      this.#key(b);
    } else if (b >= 0xc2 && b <= 0xdf) {
      this.#u8need = 1;
      this.#u8cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      // The bounds on the next byte refuse overlong forms and surrogates (as WHATWG does).
      this.#u8need = 2;
      this.#u8cp = b & 0x0f;
      if (b === 0xe0) this.#u8lo = 0xa0;
      if (b === 0xed) this.#u8hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      this.#u8need = 3;
      this.#u8cp = b & 0x07;
      if (b === 0xf0) this.#u8lo = 0x90;
      if (b === 0xf4) this.#u8hi = 0x8f;
    } else {
      this.#key(0xfffd);
    }
    return i + 1;
  }

  /**
   * Erases prompt and input: back to column 0, up to the prompt's first row, erase to the end of
   * the screen. What is written next starts at the prompt's old place; follow it with
   * {@link draw}.
   */
  erase(): string {
    this.#erase();
    return this.#take();
  }

  /** Draws prompt and input again (after {@link erase}), the cursor where it was in the line. */
  draw(): string {
    this.#draw();
    return this.#take();
  }

  /** Erases, prints `lines` (whole lines each ending `\r\n`), and draws prompt and input again. */
  print(lines: string): string {
    this.#erase();
    this.#out += lines;
    if (lines.length > 0 && !lines.endsWith("\n")) this.#out += "\r\n";
    this.#draw();
    return this.#take();
  }

  /**
   * The window was resized to `cols` columns (0 = unknown). Most terminals re-wrap what is on
   * screen when that happens (tmux, VTE, iTerm2, the Windows console), so the rows the prompt
   * and input take are no longer known: erasing by the old geometry can wipe a message above or
   * leave a row behind. So the input is drawn afresh on the next row at the new width, with
   * everything below cleared; at worst a stale copy of it stays above, and no message is lost.
   */
  resize(cols: number): string {
    this.#nextWidth = effectiveWidth(cols);
    if (!this.#drawn) return "";
    this.#out += "\r\n\x1b[J";
    this.#drawn = false;
    this.#row = this.#col = 0;
    this.#draw();
    return this.#take();
  }

  /** Erases and draws prompt and input again (after a prompt change). */
  refresh(): string {
    this.#draw();
    return this.#take();
  }

  #take(): string {
    const s = this.#out;
    this.#out = "";
    return s;
  }

  // ---- Keys ----

  /** One decoded code point through the escape-sequence parser. */
  #key(cp: number): void {
    if (this.#afterCr) {
      this.#afterCr = false;
      if (cp === 0 || cp === 0x0a) return; // CR NUL and CR LF are one Enter
    }
    if (this.#esc === GROUND && cp >= 0x20 && cp !== 0x7f && (cp < 0x80 || cp >= 0xa0)) {
      if (isBidiControl(cp)) this.#steps++;
      else this.#ins += String.fromCodePoint(cp);
      return;
    }
    this.#steps++;
    switch (this.#esc) {
      case GROUND:
        this.#flushIns();
        if (cp < 0x80) this.#control(cp);
        else this.#c1(cp);
        return;
      case ESC:
        this.#esc = GROUND;
        if (cp === 0x5b) this.#startCsi(CSI);
        else if (cp === 0x4f) this.#startCsi(SS3);
        else if (cp === 0x5d || cp === 0x50 || cp === 0x58 || cp === 0x5e || cp === 0x5f) {
          this.#esc = STR;
        } else if (cp === 0x1b) this.#esc = ESC; // the first ESC was alone
        else if (cp >= 0x20 && cp <= 0x2f) this.#esc = INTER;
        else if (cp === 0x62) this.#moveTo(this.#wordLeft()); // Alt-b
        else if (cp === 0x66) this.#moveTo(this.#wordRight()); // Alt-f
        else if (cp === 0x7f || cp === 0x08) this.#killWord(); // Alt-Backspace
        else if (cp < 0x20 || cp >= 0x80) this.#key(cp); // not a sequence: the key itself counts
        // other Alt-keys are consumed
        return;
      case CSI:
        if (cp >= 0x30 && cp <= 0x39) {
          if (this.#np === 0) this.#p1 = Math.min(this.#p1 * 10 + cp - 0x30, 9999);
          else if (this.#np === 1) this.#p2 = Math.min(this.#p2 * 10 + cp - 0x30, 9999);
        } else if (cp === 0x3b) {
          this.#np++;
        } else if ((cp >= 0x3c && cp <= 0x3f) || (cp >= 0x20 && cp <= 0x2f)) {
          this.#odd = true; // private or intermediate: a sequence no key sends, consumed
        } else if (cp >= 0x40 && cp <= 0x7e) {
          this.#esc = GROUND;
          if (!this.#odd) this.#csiKey(cp);
        } else if (cp === 0x1b) {
          this.#esc = ESC;
        } else if (cp !== 0x3a) {
          this.#esc = GROUND;
          this.#key(cp);
        }
        return;
      case SS3:
        if (cp >= 0x30 && cp <= 0x3f) return; // modifier parameters
        this.#esc = GROUND;
        if (cp >= 0x40 && cp <= 0x7e) this.#ss3Key(cp);
        else if (cp === 0x1b) this.#esc = ESC;
        else this.#key(cp);
        return;
      case STR:
        if (cp === 0x07 || cp === 0x9c) this.#esc = GROUND;
        else if (cp === 0x1b) this.#esc = STR_ESC;
        else if (cp < 0x20) {
          // A control string never holds C0 controls: the user pressed a key (Enter, Ctrl-C).
          this.#esc = GROUND;
          this.#key(cp);
        }
        return;
      case STR_ESC:
        this.#esc = cp === 0x5c ? GROUND : ESC;
        if (cp !== 0x5c) this.#key(cp);
        return;
      case INTER:
        if (cp >= 0x20 && cp <= 0x2f) return;
        this.#esc = GROUND;
        if (cp < 0x30 || cp > 0x7e) this.#key(cp);
        return;
    }
  }

  #startCsi(state: number): void {
    this.#esc = state;
    this.#p1 = 0;
    this.#p2 = 0;
    this.#np = 0;
    this.#odd = false;
  }

  #c1(cp: number): void {
    if (cp === 0x9b) this.#startCsi(CSI);
    else if (cp === 0x8f || cp === 0x8e) this.#startCsi(SS3);
    else if (cp === 0x90 || cp === 0x98 || cp === 0x9d || cp === 0x9e || cp === 0x9f) {
      this.#esc = STR;
    }
  }

  #control(cp: number): void {
    switch (cp) {
      case 0x01: // Ctrl-A
        return this.#moveTo(0);
      case 0x02: // Ctrl-B
        return this.#left();
      case 0x03: // Ctrl-C
        return this.#clear();
      case 0x04: // Ctrl-D
        if (this.#text.length === 0) this.#leave = true;
        else this.#delete();
        return;
      case 0x05: // Ctrl-E
        return this.#moveTo(this.#text.length);
      case 0x06: // Ctrl-F
        return this.#right();
      case 0x08:
      case 0x7f:
        return this.#backspace();
      case 0x09:
        return this.#tab();
      case 0x0a:
        return this.#enter();
      case 0x0b: // Ctrl-K
        return this.#cut(this.#pos, this.#text.length);
      case 0x0c: // Ctrl-L
        this.#out += "\x1b[H\x1b[2J";
        this.#drawn = false;
        this.#row = this.#col = 0;
        return this.#draw();
      case 0x0d:
        this.#enter();
        this.#afterCr = true;
        return;
      case 0x0e: // Ctrl-N
        return this.#down();
      case 0x10: // Ctrl-P
        return this.#up();
      case 0x15: // Ctrl-U
        return this.#cut(0, this.#pos);
      case 0x17: // Ctrl-W
        return this.#killWord();
      case 0x1b:
        this.#esc = ESC;
        return;
    }
  }

  #csiKey(final: number): void {
    const word = this.#p2 >= 3; // Alt (3), Ctrl (5) and the like move by words
    switch (final) {
      case 0x41: // A
        return this.#up();
      case 0x42: // B
        return this.#down();
      case 0x43: // C
        return word ? this.#moveTo(this.#wordRight()) : this.#right();
      case 0x44: // D
        return word ? this.#moveTo(this.#wordLeft()) : this.#left();
      case 0x48: // H
        return this.#moveTo(0);
      case 0x46: // F
        return this.#moveTo(this.#text.length);
      case 0x7e: // ~
        if (this.#p1 === 1 || this.#p1 === 7) this.#moveTo(0);
        else if (this.#p1 === 4 || this.#p1 === 8) this.#moveTo(this.#text.length);
        else if (this.#p1 === 3) this.#delete();
        return;
    }
  }

  #ss3Key(final: number): void {
    switch (final) {
      case 0x41:
        return this.#up();
      case 0x42:
        return this.#down();
      case 0x43:
        return this.#right();
      case 0x44:
        return this.#left();
      case 0x48:
        return this.#moveTo(0);
      case 0x46:
        return this.#moveTo(this.#text.length);
      case 0x4d: // keypad Enter in application mode
        return this.#enter();
    }
  }

  // ---- Edits ----

  #flushIns(): void {
    let s = this.#ins;
    if (s.length === 0) return;
    this.#ins = "";
    let size = utf8Length(s);
    const refused = this.#bytes + size > this.#max;
    if (refused) {
      s = fitBytes(s, this.#max - this.#bytes);
      size = utf8Length(s);
    }
    if (s.length > 0) this.#insert(s, size);
    if (refused) this.#bell();
  }

  #insert(s: string, size: number): void {
    const from = this.#pos;
    const t = this.#text;
    const atEnd = from === t.length;
    // A combining mark joins the character before it: typed, or pushed away from its old base,
    // it changes the look of the character before the insertion point.
    const marks = startsZeroWidth(s) || (!atEnd && startsZeroWidth(t.slice(from, from + 2)));
    this.#splice(from, from, s);
    this.#pos = from + s.length;
    this.#bytes += size;
    if (atEnd && !marks) {
      this.#render(from, false, s, from);
      this.#settle();
    } else {
      this.#repaint(from, marks);
    }
  }

  /**
   * Replaces text[a, b) with `s`, keeping the widths in step and forgetting the layout from
   * where it changed. The caller adjusts the cursor and the byte count.
   */
  #splice(a: number, b: number, s: string): void {
    const t = this.#text;
    const n = t.length - (b - a) + s.length;
    // Appending makes a rope of the old text and `s`: V8 copies nothing until the line is read.
    this.#text = a === t.length ? t + s : t.slice(0, a) + s + t.slice(b);
    this.#valid = Math.min(this.#valid, a);
    if (n === 0) return;
    this.#grow(n);
    const w = this.#w!;
    const e = a + s.length;
    if (e !== b && b < t.length) w.copyWithin(e, b, t.length);
    // The widths of `s` come from `s`: reading the new text would make V8 copy the line out of
    // the pieces that appending leaves, at every key.
    for (let j = 0; j < s.length; j++) w[a + j] = unitWidth(s, j);
  }

  /** Makes room in the layout cache for a text of `n` code units. */
  #grow(n: number): void {
    const old = this.#w;
    if (old && old.length >= n) return;
    let cap = old ? old.length * 2 : 32;
    while (cap < n) cap *= 2;
    const w = new Uint8Array(cap);
    const lay = new Float64Array(cap);
    if (old) {
      w.set(old);
      lay.set(this.#lay!);
    }
    this.#w = w;
    this.#lay = lay;
  }

  /** Removes text[a, b) and adjusts the cursor. */
  #remove(a: number, b: number): string {
    const gone = this.#text.slice(a, b);
    this.#splice(a, b, "");
    this.#bytes -= utf8Length(gone);
    this.#steps += gone.length;
    if (this.#pos >= b) this.#pos -= b - a;
    else if (this.#pos > a) this.#pos = a;
    return gone;
  }

  #backspace(): void {
    const pos = this.#pos;
    if (pos === 0) return;
    const from = this.#prevBoundary(pos);
    const atEnd = pos === this.#text.length;
    const gone = this.#remove(from, pos);
    const w = columns(gone);
    // At the end of the input, a character that fits left of the cursor is on the cursor's row;
    // when it started the row, the cursor may belong at the end of the row above (a wide
    // character that did not fit there), so that case takes the general path.
    if (atEnd && w > 0 && this.#col > w) {
      this.#out += w === 1 ? "\b \b" : "\b".repeat(w) + " ".repeat(w) + "\b".repeat(w);
      this.#col -= w;
    } else {
      this.#removed(from, gone);
    }
  }

  #delete(): void {
    const pos = this.#pos;
    if (pos >= this.#text.length) return;
    this.#removed(pos, this.#remove(pos, this.#nextBoundary(pos)));
  }

  /** Cuts text[a, b) (Ctrl-U, Ctrl-K, Ctrl-W). */
  #cut(a: number, b: number): void {
    if (a >= b) return;
    this.#removed(a, this.#remove(a, b));
  }

  /** Shows that `gone` was removed at `at`. */
  #removed(at: number, gone: string): void {
    // A combining mark that went, or that now follows another character, changes the look of
    // the character before `at`.
    this.#repaint(at, startsZeroWidth(gone) || startsZeroWidth(this.#text.slice(at, at + 2)));
  }

  #killWord(): void {
    this.#cut(this.#wordLeft(), this.#pos);
  }

  #wordLeft(): number {
    const t = this.#text;
    let i = this.#pos;
    while (i > 0 && t.charCodeAt(i - 1) === 0x20) i--;
    if (i > 0) i = t.lastIndexOf(" ", i - 1) + 1;
    this.#steps += this.#pos - i;
    return i;
  }

  #wordRight(): number {
    const t = this.#text;
    let i = this.#pos;
    while (i < t.length && t.charCodeAt(i) === 0x20) i++;
    const space = t.indexOf(" ", i);
    i = space < 0 ? t.length : space;
    this.#steps += i - this.#pos;
    return i;
  }

  /**
   * Start of the user-perceived character (grapheme) that ends at `pos`, so Backspace and Left
   * never split an accent from its letter, a flag or a surrogate pair. Between two characters
   * of the common scripts (see {@link breaksAround}) there is always a break, which keeps
   * typing them off the segmenter; otherwise it looks at most {@link GRAPHEME_WINDOW} back.
   */
  #prevBoundary(pos: number): number {
    const s = this.#text;
    const cp = codePointBefore(s, pos);
    const start = pos - (cp > 0xffff ? 2 : 1);
    if (breaksAround(cp) && (start === 0 || breaksAround(codePointBefore(s, start)))) return start;
    // The segmenter works through the window up to the cursor: try a short one first, and a
    // longer one only when the grapheme may start before it.
    for (let back = 8;; back = GRAPHEME_WINDOW) {
      let lo = Math.max(0, pos - back);
      if (lo > 0 && isLow(s.charCodeAt(lo)) && isHigh(s.charCodeAt(lo - 1))) lo--;
      this.#steps += pos - lo;
      const seg = graphemes(s.slice(lo, pos)).containing(pos - 1 - lo);
      if (!seg) return pos - 1;
      if (seg.index > 0 || lo === 0 || back === GRAPHEME_WINDOW) return lo + seg.index;
    }
  }

  /**
   * End of the grapheme that starts at `pos`. The cursor only rests on grapheme starts, and
   * none of the rules looks back past one, so the window starts at `pos`.
   */
  #nextBoundary(pos: number): number {
    const s = this.#text;
    const cp = s.codePointAt(pos)!;
    const end = pos + (cp > 0xffff ? 2 : 1);
    if (breaksAround(cp) && (end === s.length || breaksAround(s.codePointAt(end)!))) return end;
    let hi = Math.min(s.length, pos + GRAPHEME_WINDOW);
    if (hi < s.length && isLow(s.charCodeAt(hi)) && isHigh(s.charCodeAt(hi - 1))) hi++;
    this.#steps += hi - pos;
    const seg = graphemes(s.slice(pos, hi)).containing(0);
    return seg ? pos + seg.segment.length : pos + 1;
  }

  #clear(): void {
    this.#histIdx = -1;
    this.#saved = "";
    this.#setLine("");
  }

  #setLine(s: string): void {
    this.#splice(0, this.#text.length, s);
    this.#pos = s.length;
    this.#bytes = utf8Length(s);
    this.#repaint(0);
  }

  #left(): void {
    if (this.#pos > 0) this.#moveTo(this.#prevBoundary(this.#pos));
  }

  #right(): void {
    if (this.#pos < this.#text.length) this.#moveTo(this.#nextBoundary(this.#pos));
  }

  #enter(): void {
    const line = this.#text;
    if (this.#keep) {
      this.#moveTo(line.length);
      // Input that ended at the right margin already moved the cursor to a fresh row.
      if (this.#col !== 0 || this.#row === 0) this.#out += "\r\n";
    } else {
      this.#erase();
    }
    this.#lines.push(line);
    if (!this.#remembers || this.#remembers(line)) this.#remember(line);
    this.#text = "";
    this.#pos = 0;
    this.#bytes = 0;
    this.#w = this.#lay = null; // sized for the longest line so far: let it go
    this.#valid = 0;
    this.#histIdx = -1;
    this.#saved = "";
    this.#drawn = false;
    this.#row = this.#col = 0;
    this.#draw();
  }

  #remember(line: string): void {
    if (line.length === 0) return;
    const h = this.#hist ??= [];
    if (h[h.length - 1] === line) return;
    h.push(line);
    this.#histBytes += utf8Length(line);
    while (h.length > HISTORY_LINES || this.#histBytes > HISTORY_BYTES) {
      this.#histBytes -= utf8Length(h.shift()!);
    }
  }

  #up(): void {
    const h = this.#hist;
    if (!h || this.#histIdx + 1 >= h.length) return;
    if (this.#histIdx < 0) this.#saved = this.#text;
    this.#histIdx++;
    this.#setLine(h[h.length - 1 - this.#histIdx]);
  }

  #down(): void {
    const h = this.#hist;
    if (!h || this.#histIdx < 0) return;
    this.#histIdx--;
    if (this.#histIdx >= 0) {
      this.#setLine(h[h.length - 1 - this.#histIdx]);
    } else {
      const saved = this.#saved;
      this.#saved = "";
      this.#setLine(saved);
    }
  }

  /**
   * Tab: one match replaces the word (a nick at the start of the line gets `: `, anything else
   * a space); several are listed above the prompt and their common prefix is filled in; none
   * rings the bell.
   */
  #tab(): void {
    if (!this.#complete) return;
    const t = this.#text;
    const pos = this.#pos;
    let start = pos;
    while (start > 0 && t.charCodeAt(start - 1) !== 0x20) start--;
    this.#steps += TAB_WORK + pos - start;
    const word = t.slice(start, pos);
    const { shown, total, common } = this.#complete(word, start === 0);
    if (total <= 0) return this.#bell();
    if (total === 1) {
      let suffix = start === 0 && !word.startsWith("/") ? ": " : " ";
      if (t.charCodeAt(pos) === 0x20) suffix = suffix.trimEnd();
      const match = typeable(shown[0] ?? common);
      if (this.#replaceWord(start, match + suffix)) this.#repaint(start);
      return;
    }
    const prefix = wholeCodePoints(typeable(common));
    if (prefix.length > word.length) this.#replaceWord(start, prefix);
    const listed = shown.length > MAX_LISTED ? shown.slice(0, MAX_LISTED) : shown;
    const more = total - listed.length;
    this.#erase();
    this.#out += listed.join("  ") + (more > 0 ? `  (+${more})` : "") + "\r\n";
    this.#draw();
  }

  /** Replaces text[start, pos) with `s` unless the line would grow past the limit. */
  #replaceWord(start: number, s: string): boolean {
    const t = this.#text;
    const size = this.#bytes - utf8Length(t.slice(start, this.#pos)) + utf8Length(s);
    if (size > this.#max) {
      this.#bell();
      return false;
    }
    this.#splice(start, this.#pos, s);
    this.#pos = start + s.length;
    this.#bytes = size;
    return true;
  }

  #bell(): void {
    if (this.#rang) return; // one bell per read, however much of a paste is refused
    this.#rang = true;
    this.#out += "\x07";
  }

  // ---- Screen ----

  #erase(): void {
    if (!this.#drawn) return;
    this.#out += this.#row > 0 ? `\r\x1b[${this.#row}A\x1b[J` : "\r\x1b[J";
    this.#drawn = false;
    this.#row = this.#col = 0;
  }

  /** Draws prompt and input from the prompt's first row (erasing first if they are shown). */
  #draw(): void {
    this.#erase();
    this.#prompt = this.#nextPrompt;
    this.#width = this.#nextWidth;
    this.#lr = this.#lc = 0;
    this.#pend = false;
    this.#walkPrompt(this.#prompt);
    // A new prompt or width moves everything: the layout is learnt again as the text is drawn.
    this.#origin = this.#lr * this.#width + this.#lc;
    this.#valid = 0;
    this.#render(0, this.#pend, this.#text, 0);
    this.#settle();
    this.#drawn = true;
    this.#markFirst = startsZeroWidth(this.#text);
    this.#moveTo(this.#pos);
  }

  /** Redraws the input from `from` to its end, clears what the old text left, puts the cursor back. */
  #repaint(from: number, marks = false): void {
    const t = this.#text;
    // With `marks`, the character before `from` gains or loses a combining mark: start with it.
    // When that is the prompt's last character, only a full redraw is right.
    if (marks && from > 0) from = this.#prevBoundary(from);
    if (from === 0 && (this.#markFirst || startsZeroWidth(t))) return this.#draw();
    this.#locate(from);
    this.#go(this.#lr, this.#lc);
    this.#render(from, false, t, 0);
    this.#settle();
    this.#out += "\x1b[J";
    this.#moveTo(this.#pos);
  }

  /** Puts the cursor at text offset `pos`. */
  #moveTo(pos: number): void {
    this.#pos = pos;
    this.#locate(pos);
    this.#go(this.#lr, this.#lc);
  }

  /** Moves the terminal cursor with relative moves only: rows first, then the column. */
  #go(row: number, col: number): void {
    if (row < this.#row) this.#out += csi(this.#row - row, "A");
    else if (row > this.#row) this.#out += csi(row - this.#row, "B");
    if (col !== this.#col) {
      if (col === 0) this.#out += "\r";
      else if (col > this.#col) this.#out += csi(col - this.#col, "C");
      else this.#out += csi(this.#col - col, "D");
    }
    this.#row = row;
    this.#col = col;
  }

  /** The screen position of text offset `pos`, into #lr/#lc, from the layout cache. */
  #locate(pos: number): void {
    this.#learn(pos);
    const p = pos === 0 ? this.#origin : this.#lay![pos - 1];
    const row = Math.floor(p / this.#width);
    this.#lr = row;
    this.#lc = p - row * this.#width;
    this.#pend = false;
  }

  /**
   * Extends the known layout to offset `to` from where it is known, as the terminal would place
   * the text: a row that fills up moves on to the next row; a wide character that does not fit
   * moves to the next row, skipping a cell.
   */
  #learn(to: number): void {
    const from = this.#valid;
    if (to <= from) return;
    const w = this.#w!;
    const lay = this.#lay!;
    const width = this.#width;
    const p = from === 0 ? this.#origin : lay[from - 1];
    let row = Math.floor(p / width);
    let col = p - row * width;
    for (let i = from; i < to; i++) {
      const k = w[i];
      if (k !== 0) {
        if (col + k > width) {
          row++;
          col = 0;
        }
        col += k;
        if (col >= width) {
          row++;
          col = 0;
        }
      }
      lay[i] = row * width + col;
    }
    this.#valid = to;
    this.#steps += to - from;
  }

  /** After output: a cursor left in pending wrap is taken to the next row, as the model says. */
  #settle(): void {
    if (this.#pend) {
      this.#out += "\r\n";
      this.#pend = false;
    }
    this.#row = this.#lr;
    this.#col = this.#lc;
  }

  /**
   * Writes the text from offset `from` to its end, from where `from` is on screen, and learns
   * the layout on the way (the same steps as {@link #learn}); the end position goes to #lr/#lc.
   * `pend` says the terminal is in pending wrap at `from`, and #pend says so at the end (then
   * the terminal has not moved to the next row yet). A wide character that does not fit is
   * preceded by blanks for the cells it skips. The characters are taken from `src`, which holds
   * the text from offset `base` on (the inserted piece, when typing at the end).
   */
  #render(from: number, pend: boolean, src: string, base: number): void {
    const to = this.#text.length;
    this.#learn(from);
    const width = this.#width;
    const p = from === 0 ? this.#origin : this.#lay![from - 1];
    let row = Math.floor(p / width);
    let col = p - row * width;
    if (from < to) {
      const w = this.#w!;
      const lay = this.#lay!;
      let flushed = from;
      for (let i = from; i < to; i++) {
        const k = w[i];
        if (k !== 0) {
          if (col + k > width) {
            this.#out += src.slice(flushed - base, i - base) + " ".repeat(width - col);
            flushed = i;
            row++;
            col = 0;
          }
          col += k;
          pend = false;
          if (col >= width) {
            row++;
            col = 0;
            pend = true;
          }
        }
        lay[i] = row * width + col;
      }
      this.#out += src.slice(flushed - base, to - base);
      this.#valid = to;
    }
    this.#lr = row;
    this.#lc = col;
    this.#pend = pend;
  }

  /**
   * Advances the position in #lr/#lc over the prompt and writes it out, as {@link #render} does
   * for the text; escape sequences (colours) take no room.
   */
  #walkPrompt(s: string): void {
    const width = this.#width;
    let row = this.#lr;
    let col = this.#lc;
    let pend = this.#pend;
    let flushed = 0;
    let i = 0;
    const to = s.length;
    while (i < to) {
      const c = s.charCodeAt(i);
      let w = 1;
      let n = 1;
      if (c < 0x20 || c >= 0x7f) {
        if (c === 0x1b) {
          i = skipSequence(s, i, to);
          continue;
        }
        let cp = c;
        if (isHigh(c) && i + 1 < to) {
          const d = s.charCodeAt(i + 1);
          if (isLow(d)) {
            cp = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
            n = 2;
          }
        }
        w = widthAt(s, i, cp);
      }
      if (w > 0) {
        if (col + w > width) {
          this.#out += s.slice(flushed, i) + " ".repeat(width - col);
          flushed = i;
          row++;
          col = 0;
        }
        col += w;
        pend = false;
        if (col >= width) {
          row++;
          col = 0;
          pend = true;
        }
      }
      i += n;
    }
    if (flushed < to) this.#out += s.slice(flushed, to);
    this.#steps += to;
    this.#lr = row;
    this.#lc = col;
    this.#pend = pend;
  }
}

function effectiveWidth(cols: number): number {
  // Below 2 columns a wide character could never fit; such a width is not a real terminal.
  return cols > 0 ? Math.max(2, cols) : DEFAULT_WIDTH;
}

/** Index after the escape sequence starting at s[i] (CSI with parameters, or ESC + one). */
function skipSequence(s: string, i: number, to: number): number {
  if (s.charCodeAt(i + 1) !== 0x5b) return Math.min(i + 2, to);
  let j = i + 2;
  while (j < to) {
    const c = s.charCodeAt(j++);
    if (c >= 0x40 && c <= 0x7e) break;
  }
  return j;
}
