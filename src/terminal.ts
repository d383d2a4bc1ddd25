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
 */

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
 * Start of the user-perceived character (grapheme) that ends at `pos`, so Backspace and Left
 * never split an accent from its letter, a flag or a surrogate pair. Text below U+0300 breaks
 * between any two characters, which keeps typing Latin text off the segmenter.
 */
function prevBoundary(s: string, pos: number): number {
  if (s.charCodeAt(pos - 1) < 0x300 && (pos === 1 || s.charCodeAt(pos - 2) < 0x300)) {
    return pos - 1;
  }
  return graphemes(s).containing(pos - 1)?.index ?? pos - 1;
}

/** End of the grapheme that starts at (or contains) `pos`. */
function nextBoundary(s: string, pos: number): number {
  if (s.charCodeAt(pos) < 0x300 && (pos + 1 === s.length || s.charCodeAt(pos + 1) < 0x300)) {
    return pos + 1;
  }
  const seg = graphemes(s).containing(pos);
  return seg ? seg.index + seg.segment.length : pos + 1;
}

/** Bytes `s` takes in UTF-8 (lone surrogates count as the 3 bytes of U+FFFD). */
function utf8Length(s: string): number {
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
function fitBytes(s: string, room: number): string {
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

function startsZeroWidth(s: string): boolean {
  const c = s.codePointAt(0) ?? 0x20;
  return c >= 0x300 && widthAt(s, 0, c) === 0;
}

function isBidiControl(cp: number): boolean {
  return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

function commonPrefix(words: string[]): string {
  let p = words[0];
  for (const w of words) {
    let i = 0;
    while (i < p.length && i < w.length && p.charCodeAt(i) === w.charCodeAt(i)) i++;
    p = p.slice(0, i);
  }
  const last = p.charCodeAt(p.length - 1);
  return last >= 0xd800 && last < 0xdc00 ? p.slice(0, -1) : p;
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
 * Completes the word before the cursor: returns the candidates for `word` (nicks, or /commands
 * when the word starts with `/` at the start of the line). `atLineStart` is true when nothing
 * precedes the word.
 */
export type Completer = (word: string, atLineStart: boolean) => string[];

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
  #promptRow = 0;
  #promptCol = 0;

  #text = "";
  #pos = 0;
  #bytes = 0;

  /** Whether prompt and input are on screen, and where the terminal cursor is among them. */
  #drawn = false;
  /** The input on screen starts with a combining mark, drawn onto the prompt's last cell. */
  #markFirst = false;
  #row = 0;
  #col = 0;
  // Result of #walk / #locate.
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

  /** Decodes and applies the keys in `data` (telnet commands already removed). */
  feed(data: Uint8Array): EditResult {
    this.#out = "";
    this.#lines = [];
    this.#leave = false;
    this.#rang = false;
    if (!this.#drawn) this.#draw();
    const n = data.length;
    for (let i = 0; i < n && !this.#leave; i++) {
      const b = data[i];
      if (this.#u8need > 0) {
        if (b >= this.#u8lo && b <= this.#u8hi) {
          this.#u8cp = (this.#u8cp << 6) | (b & 0x3f);
          this.#u8lo = 0x80;
          this.#u8hi = 0xbf;
          if (--this.#u8need === 0) this.#key(this.#u8cp);
          continue;
        }
        this.#u8need = 0; // cut short: the partial character is invalid, b starts afresh
        this.#u8lo = 0x80;
        this.#u8hi = 0xbf;
        this.#key(0xfffd);
        if (this.#leave) break;
      }
      if (b < 0x80) {
        if (b >= 0x20 && b < 0x7f && this.#esc === GROUND) {
          // A run of plain ASCII, the bulk of any paste, is taken in one piece.
          let j = i + 1;
          while (j < n && data[j] >= 0x20 && data[j] < 0x7f) j++;
          this.#afterCr = false;
          this.#ins += decoder.decode(data.subarray(i, j));
          i = j - 1;
        } else {
          this.#key(b);
        }
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
    }
    this.#flushIns();
    const result = { echo: this.#out, lines: this.#lines, leave: this.#leave };
    this.#out = "";
    return result;
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
    switch (this.#esc) {
      case GROUND:
        if (cp >= 0x20 && cp !== 0x7f && (cp < 0x80 || cp >= 0xa0)) {
          if (!isBidiControl(cp)) this.#ins += String.fromCodePoint(cp);
          return;
        }
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
    this.#text = atEnd ? t + s : t.slice(0, from) + s + t.slice(from);
    this.#pos = from + s.length;
    this.#bytes += size;
    // A combining mark joins the character before it: typed, or pushed away from its old base,
    // it changes the look of the character before the insertion point.
    const marks = startsZeroWidth(s) || (!atEnd && startsZeroWidth(t.slice(from, from + 2)));
    if (atEnd && !marks) {
      this.#lr = this.#row;
      this.#lc = this.#col;
      this.#pend = false;
      this.#walk(this.#text, from, this.#pos, true);
      this.#settle();
    } else {
      this.#repaint(from, marks);
    }
  }

  /** Removes text[a, b) and adjusts the cursor. */
  #remove(a: number, b: number): string {
    const t = this.#text;
    const gone = t.slice(a, b);
    this.#text = t.slice(0, a) + t.slice(b);
    this.#bytes -= utf8Length(gone);
    if (this.#pos >= b) this.#pos -= b - a;
    else if (this.#pos > a) this.#pos = a;
    return gone;
  }

  #backspace(): void {
    const pos = this.#pos;
    if (pos === 0) return;
    const from = prevBoundary(this.#text, pos);
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
    this.#removed(pos, this.#remove(pos, nextBoundary(this.#text, pos)));
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
    while (i > 0 && t.charCodeAt(i - 1) !== 0x20) i--;
    return i;
  }

  #wordRight(): number {
    const t = this.#text;
    let i = this.#pos;
    while (i < t.length && t.charCodeAt(i) === 0x20) i++;
    while (i < t.length && t.charCodeAt(i) !== 0x20) i++;
    return i;
  }

  #clear(): void {
    this.#histIdx = -1;
    this.#saved = "";
    this.#setLine("");
  }

  #setLine(s: string): void {
    this.#text = s;
    this.#pos = s.length;
    this.#bytes = utf8Length(s);
    this.#repaint(0);
  }

  #left(): void {
    if (this.#pos > 0) this.#moveTo(prevBoundary(this.#text, this.#pos));
  }

  #right(): void {
    if (this.#pos < this.#text.length) this.#moveTo(nextBoundary(this.#text, this.#pos));
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
   * Tab: one candidate replaces the word (a nick at the start of the line gets `: `, anything
   * else a space); several are listed above the prompt and their common prefix is filled in;
   * none rings the bell.
   */
  #tab(): void {
    if (!this.#complete) return;
    const t = this.#text;
    const pos = this.#pos;
    let start = pos;
    while (start > 0 && t.charCodeAt(start - 1) !== 0x20) start--;
    const word = t.slice(start, pos);
    const found = this.#complete(word, start === 0);
    if (found.length === 0) return this.#bell();
    if (found.length === 1) {
      let suffix = start === 0 && !word.startsWith("/") ? ": " : " ";
      if (t.charCodeAt(pos) === 0x20) suffix = suffix.trimEnd();
      if (this.#replaceWord(start, found[0] + suffix)) this.#repaint(start);
      return;
    }
    const prefix = commonPrefix(found);
    if (prefix.length > word.length) this.#replaceWord(start, prefix);
    const shown = found.length > MAX_LISTED
      ? found.slice(0, MAX_LISTED).join("  ") + `  (+${found.length - MAX_LISTED})`
      : found.join("  ");
    this.#erase();
    this.#out += shown + "\r\n";
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
    this.#text = t.slice(0, start) + s + t.slice(this.#pos);
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
    this.#walk(this.#prompt, 0, this.#prompt.length, true);
    this.#promptRow = this.#lr;
    this.#promptCol = this.#lc;
    this.#walk(this.#text, 0, this.#text.length, true);
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
    if (marks && from > 0) from = prevBoundary(t, from);
    if (from === 0 && (this.#markFirst || startsZeroWidth(t))) return this.#draw();
    this.#locate(from);
    this.#go(this.#lr, this.#lc);
    this.#pend = false;
    this.#walk(this.#text, from, this.#text.length, true);
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

  /** The screen position of text offset `pos`, into #lr/#lc. */
  #locate(pos: number): void {
    this.#lr = this.#promptRow;
    this.#lc = this.#promptCol;
    this.#pend = false;
    this.#walk(this.#text, 0, pos, false);
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
   * Advances the position in #lr/#lc over s[from, to), and with `render` writes those
   * characters out. A row that fills up moves the position to the next row at once (#pend says
   * the terminal itself has not moved yet); a wide character that does not fit moves to the next
   * row after a blank for the cell it skips.
   */
  #walk(s: string, from: number, to: number, render: boolean): void {
    const width = this.#width;
    let row = this.#lr;
    let col = this.#lc;
    let pend = this.#pend;
    let flushed = from;
    let i = from;
    while (i < to) {
      const c = s.charCodeAt(i);
      let w = 1;
      let n = 1;
      if (c < 0x20 || c >= 0x7f) {
        if (c === 0x1b) {
          i = skipSequence(s, i, to); // colours in the prompt take no room
          continue;
        }
        let cp = c;
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < to) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d < 0xe000) {
            cp = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
            n = 2;
          }
        }
        w = widthAt(s, i, cp);
      }
      if (w > 0) {
        if (col + w > width) {
          if (render) {
            this.#out += s.slice(flushed, i) + " ".repeat(width - col);
            flushed = i;
          }
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
    if (render && flushed < to) this.#out += s.slice(flushed, to);
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
