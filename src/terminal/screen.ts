/**
 * The screen model: where the prompt and the line are on the terminal, and the escape
 * sequences that draw, repaint, erase them and move the cursor among them.
 *
 * The model knows where the terminal cursor is, relative to the first row of the prompt, and
 * only ever moves it relatively (up/down, then a column move), so nothing depends on where on
 * the screen the prompt happens to be. The cursor never rests in the terminal's "pending wrap"
 * state: when output ends exactly at the right margin the model sends `\r\n` (the method of Go's
 * x/term), so the cursor always sits at row = column ÷ width and erasing goes up exactly that
 * many rows. A wide character that does not fit in a row's last column is printed on the next
 * row, as terminals do; the model fills the skipped cell with a space so that no stale glyph
 * stays there.
 *
 * The layout cache: each code unit's width is worked out once, when it enters the line, and
 * the screen position of every offset is learnt as the text is drawn and forgotten from an edit
 * on (and at a new prompt or width), so a cursor move is a lookup and a key costs what it
 * changes. Positions are cells, row × width + column, counted from the prompt's first cell.
 *
 * Masking: from a given offset on (a password being typed), the text is drawn as one `*` per
 * code point, so the cached width of a masked unit is 1 (0 for the second half of a surrogate
 * pair), and everything drawn (typing, repaints, redraws) shows stars there.
 */

import type { Meter } from "./meter.ts";
import { fromPair, isHigh, isLow } from "./utf16.ts";
import { columns, startsZeroWidth, unitWidth, widthAt } from "./widths.ts";

/** What a masked code point is drawn as. */
const MASK_CHAR = "*";

/** Width assumed when the client has not told it (or said 0). */
export const DEFAULT_WIDTH = 80;

/** The width to lay out for a terminal of `cols` columns (0: unknown). */
export function effectiveWidth(cols: number): number {
  // Below 2 columns a wide character could never fit; such a width is not a real terminal.
  return cols > 0 ? Math.max(2, cols) : DEFAULT_WIDTH;
}

/**
 * One connection's prompt and input line as the terminal shows them. The caller owns the text
 * and tells the model of each change ({@link splice}); the model writes what the terminal needs
 * into {@link out}, and counts the cells it examines in the meter.
 */
export class ScreenModel {
  readonly #meter: Meter;
  /** Output for the terminal, gathered until the caller takes it. */
  out = "";

  /** Prompt and width the screen was drawn with; the requested ones apply at the next draw. */
  #prompt: string;
  #width: number;
  #nextPrompt: string;
  #nextWidth: number;
  /** Where the input starts on screen: the cell after the prompt. */
  #origin = 0;

  // The layout cache. Both arrays grow with the text by doubling and are dropped at a new line:
  // an idle editor holds none.
  /** Columns each code unit of the text adds (see {@link unitWidth}). */
  #unitWidths: Uint8Array | null = null;
  /**
   * `#cellAfter[i]` is the cell where text offset i + 1 is, known for offsets up to
   * {@link #known}; offset 0 is at {@link #origin}. An edit at offset a forgets from a on, a
   * draw (new prompt or width) all of it; what a draw or repaint writes is learnt again.
   */
  #cellAfter: Float64Array | null = null;
  #known = 0;

  /** The offset from which the text is drawn as stars (Infinity: none). */
  #maskFrom = Infinity;

  /** Whether prompt and input are on screen. */
  #drawn = false;
  /** The input on screen starts with a combining mark, drawn onto the prompt's last cell. */
  #markFirst = false;
  /** Where the terminal cursor is, relative to the prompt's first row. */
  #row = 0;
  #col = 0;
  /**
   * Output just ended at the right margin: the terminal has not moved to the next row yet,
   * though {@link #row} and {@link #col} already say so. Only set between writing text and
   * {@link #settle}.
   */
  #wrapPending = false;

  /** A model of nothing drawn yet, for `prompt` on a terminal `cols` wide (0: unknown). */
  constructor(prompt: string, cols: number, meter: Meter) {
    this.#prompt = this.#nextPrompt = prompt;
    this.#width = this.#nextWidth = effectiveWidth(cols);
    this.#meter = meter;
  }

  /** The prompt the next draw shows. */
  get prompt(): string {
    return this.#nextPrompt;
  }

  set prompt(p: string) {
    this.#nextPrompt = p;
  }

  /** The width the next draw uses. */
  get width(): number {
    return this.#nextWidth;
  }

  /** Sets the width (0: unknown) for the next draw. */
  setWidth(cols: number): void {
    this.#nextWidth = effectiveWidth(cols);
  }

  /** Whether prompt and input are on screen. */
  get drawn(): boolean {
    return this.#drawn;
  }

  /** Returns the output gathered so far and starts afresh. */
  take(): string {
    const s = this.out;
    this.out = "";
    return s;
  }

  /**
   * The text changed: text[a, b) of the old text, `oldLength` code units long, became `s`, and
   * the new text, `text`, is masked from offset `mask` on (-1: not at all). Keeps the widths in
   * step and forgets the layout from the first offset whose drawing changed, which it returns:
   * `a`, or before it when the mask moved (the caller repaints from there).
   */
  splice(a: number, b: number, s: string, oldLength: number, text: string, mask: number): number {
    const n = oldLength - (b - a) + s.length;
    const e = a + s.length;
    const was = this.#maskFrom;
    const now = mask < 0 ? Infinity : mask;
    this.#maskFrom = now;
    // Units before `a` and after the edit keep their widths unless they go in or out of the
    // mask: when it moves, or when text shifts across it.
    const moved = was !== now || (a < was && was !== Infinity && e !== b);
    const from = moved ? Math.min(a, was, now) : a;
    this.#known = Math.min(this.#known, from);
    if (n === 0) return from;
    this.#grow(n);
    const widths = this.#unitWidths!;
    if (moved) {
      // Read from the text: a cost in proportion to the repaint that follows.
      for (let i = from; i < n; i++) {
        widths[i] = i >= now ? maskedWidth(text, i) : unitWidth(text, i);
      }
      this.#meter.steps += n - from;
      return from;
    }
    if (e !== b && b < oldLength) widths.copyWithin(e, b, oldLength);
    // The widths of `s` come from `s`: reading the new text would make V8 copy the line out of
    // the pieces that appending leaves, at every key.
    for (let j = 0; j < s.length; j++) {
      widths[a + j] = a + j >= now ? maskedWidth(s, j) : unitWidth(s, j);
    }
    return from;
  }

  /**
   * Columns `s`, found at offset `at` of the text, takes on screen as drawn now: its width, or
   * one column a code point where it is masked.
   */
  columnsAt(s: string, at: number): number {
    const plain = Math.max(0, Math.min(s.length, this.#maskFrom - at));
    let n = 0;
    for (let j = plain; j < s.length; j++) n += maskedWidth(s, j);
    return columns(s.slice(0, plain)) + n;
  }

  /** Makes room in the layout cache for a text of `n` code units. */
  #grow(n: number): void {
    const old = this.#unitWidths;
    if (old && old.length >= n) return;
    let cap = old ? old.length * 2 : 32;
    while (cap < n) cap *= 2;
    const widths = new Uint8Array(cap);
    const cells = new Float64Array(cap);
    if (old) {
      widths.set(old);
      cells.set(this.#cellAfter!);
    }
    this.#unitWidths = widths;
    this.#cellAfter = cells;
  }

  /**
   * Erases prompt and input: back to column 0, up to the prompt's first row, erase to the end of
   * the screen. What is written next starts at the prompt's old place.
   */
  erase(): void {
    if (!this.#drawn) return;
    this.out += this.#row > 0 ? `\r\x1b[${this.#row}A\x1b[J` : "\r\x1b[J";
    this.#forgetDrawing();
  }

  /**
   * Writes `sequence`, which takes the cursor to the start of a row below the drawing or clears
   * the screen: the drawing is no longer where the model thought (Ctrl-L, a resize).
   */
  abandon(sequence: string): void {
    this.out += sequence;
    this.#forgetDrawing();
  }

  /**
   * The line `text` was sent: with `keep` it stays on screen and the cursor goes to a fresh row
   * below it, else it is erased. The layout cache, sized for the longest line so far, goes.
   */
  finishLine(text: string, keep: boolean): void {
    if (keep) {
      this.moveTo(text.length);
      // Input that ended at the right margin already moved the cursor to a fresh row.
      if (this.#col !== 0 || this.#row === 0) this.out += "\r\n";
    } else {
      this.erase();
    }
    this.#unitWidths = this.#cellAfter = null;
    this.#known = 0;
    this.#forgetDrawing();
  }

  #forgetDrawing(): void {
    this.#drawn = false;
    this.#row = this.#col = 0;
  }

  /** Draws prompt and `text` from the prompt's first row (erasing first if they are shown). */
  draw(text: string, pos: number): void {
    this.erase();
    this.#prompt = this.#nextPrompt;
    this.#width = this.#nextWidth;
    this.#row = this.#col = 0;
    this.#wrapPending = false;
    this.#writePrompt(this.#prompt);
    // A new prompt or width moves everything: the layout is learnt again as the text is drawn.
    this.#origin = this.#row * this.#width + this.#col;
    this.#known = 0;
    this.#writeText(0, this.#wrapPending, text, 0, text.length);
    this.#settle();
    this.#drawn = true;
    this.#markFirst = this.#startsWithMark(text);
    this.moveTo(pos);
  }

  /**
   * Redraws `text` from offset `from` to its end, clears what the old text left, and puts the
   * cursor at `pos`. When `from` is 0 and a combining mark is or was drawn onto the prompt's
   * last character, only a full redraw is right.
   */
  repaint(text: string, from: number, pos: number): void {
    if (from === 0 && (this.#markFirst || this.#startsWithMark(text))) return this.draw(text, pos);
    this.moveTo(from);
    this.#writeText(from, false, text, 0, text.length);
    this.#settle();
    this.out += "\x1b[J";
    this.moveTo(pos);
  }

  /** Whether `text` starts with a combining mark that is drawn (not masked). */
  #startsWithMark(text: string): boolean {
    return this.#maskFrom > 0 && startsZeroWidth(text);
  }

  /**
   * Writes `piece`, just typed at the end of the text (from offset `from` on), where the cursor
   * is: typing at the end costs the piece, not the line.
   */
  append(piece: string, from: number): void {
    this.#writeText(from, false, piece, from, from + piece.length);
    this.#settle();
  }

  /**
   * Erases the `cols` columns left of the cursor when they are on its row, as Backspace at the
   * end of the input does; says whether it could (else the caller repaints).
   */
  rubOut(cols: number): boolean {
    // When the character started the row, the cursor may belong at the end of the row above (a
    // wide character that did not fit there), so that case is left to a repaint.
    if (cols <= 0 || this.#col <= cols) return false;
    this.out += cols === 1 ? "\b \b" : "\b".repeat(cols) + " ".repeat(cols) + "\b".repeat(cols);
    this.#col -= cols;
    return true;
  }

  /** Puts the cursor at text offset `pos`. */
  moveTo(pos: number): void {
    const cell = this.#cellOf(pos);
    const row = Math.floor(cell / this.#width);
    this.#go(row, cell - row * this.#width);
  }

  /** Moves the terminal cursor with relative moves only: rows first, then the column. */
  #go(row: number, col: number): void {
    if (row < this.#row) this.out += csi(this.#row - row, "A");
    else if (row > this.#row) this.out += csi(row - this.#row, "B");
    if (col !== this.#col) {
      if (col === 0) this.out += "\r";
      else if (col > this.#col) this.out += csi(col - this.#col, "C");
      else this.out += csi(this.#col - col, "D");
    }
    this.#row = row;
    this.#col = col;
  }

  /** The cell of text offset `pos`, from the layout cache. */
  #cellOf(pos: number): number {
    this.#learn(pos);
    return pos === 0 ? this.#origin : this.#cellAfter![pos - 1];
  }

  /**
   * Extends the known layout to offset `to` from where it is known, as the terminal would place
   * the text: a row that fills up moves on to the next row; a wide character that does not fit
   * moves to the next row, skipping a cell.
   */
  #learn(to: number): void {
    const from = this.#known;
    if (to <= from) return;
    const widths = this.#unitWidths!;
    const cells = this.#cellAfter!;
    const width = this.#width;
    const start = from === 0 ? this.#origin : cells[from - 1];
    let row = Math.floor(start / width);
    let col = start - row * width;
    for (let i = from; i < to; i++) {
      const w = widths[i];
      if (w !== 0) {
        if (col + w > width) {
          row++;
          col = 0;
        }
        col += w;
        if (col >= width) {
          row++;
          col = 0;
        }
      }
      cells[i] = row * width + col;
    }
    this.#known = to;
    this.#meter.steps += to - from;
  }

  /** After output: a cursor left in pending wrap is taken to the next row, as the model says. */
  #settle(): void {
    if (this.#wrapPending) {
      this.out += "\r\n";
      this.#wrapPending = false;
    }
  }

  /**
   * Writes the text from offset `from` to offset `to` (its end), from where `from` is on screen,
   * and learns the layout on the way (the same steps as {@link #learn}); the cursor ends after
   * it. `pending` says the terminal is in pending wrap at `from`. The characters are taken from
   * `src`, which holds the text from offset `base` on (the piece typed, when typing at the end);
   * from the mask on, stars are written instead.
   */
  #writeText(from: number, pending: boolean, src: string, base: number, to: number): void {
    const start = this.#cellOf(from);
    const row = Math.floor(start / this.#width);
    this.#row = row;
    this.#col = start - row * this.#width;
    this.#wrapPending = pending;
    if (from >= to) return;
    const plainTo = Math.min(to, Math.max(from, this.#maskFrom));
    if (from < plainTo) this.#writePlain(from, plainTo, src, base);
    if (plainTo < to) this.#writeMasked(plainTo, to);
    this.#known = to;
  }

  /**
   * Writes text[from, to) from the cursor, as it is: a wide character that does not fit is
   * preceded by blanks for the cells it skips.
   */
  #writePlain(from: number, to: number, src: string, base: number): void {
    const width = this.#width;
    const widths = this.#unitWidths!;
    const cells = this.#cellAfter!;
    let row = this.#row;
    let col = this.#col;
    let pending = this.#wrapPending;
    let flushed = from;
    for (let i = from; i < to; i++) {
      const w = widths[i];
      if (w !== 0) {
        if (col + w > width) {
          this.out += src.slice(flushed - base, i - base) + " ".repeat(width - col);
          flushed = i;
          row++;
          col = 0;
        }
        col += w;
        pending = false;
        if (col >= width) {
          row++;
          col = 0;
          pending = true;
        }
      }
      cells[i] = row * width + col;
    }
    this.out += src.slice(flushed - base, to - base);
    this.#row = row;
    this.#col = col;
    this.#wrapPending = pending;
  }

  /** Writes text[from, to) from the cursor as stars: one a code point (a width of 1 each). */
  #writeMasked(from: number, to: number): void {
    const width = this.#width;
    const widths = this.#unitWidths!;
    const cells = this.#cellAfter!;
    let row = this.#row;
    let col = this.#col;
    let pending = this.#wrapPending;
    let stars = 0;
    for (let i = from; i < to; i++) {
      if (widths[i] !== 0) {
        stars++;
        col++;
        pending = false;
        if (col >= width) {
          row++;
          col = 0;
          pending = true;
        }
      }
      cells[i] = row * width + col;
    }
    this.out += MASK_CHAR.repeat(stars);
    this.#row = row;
    this.#col = col;
    this.#wrapPending = pending;
  }

  /**
   * Writes the prompt from where the cursor is, as {@link #writeText} writes the text; escape
   * sequences (colours) take no room.
   */
  #writePrompt(s: string): void {
    const width = this.#width;
    let row = this.#row;
    let col = this.#col;
    let pending = this.#wrapPending;
    let flushed = 0;
    let i = 0;
    const to = s.length;
    while (i < to) {
      const c = s.charCodeAt(i);
      let w = 1;
      let units = 1;
      if (c < 0x20 || c >= 0x7f) {
        if (c === 0x1b) {
          i = skipSequence(s, i, to);
          continue;
        }
        let cp = c;
        if (isHigh(c) && i + 1 < to) {
          const d = s.charCodeAt(i + 1);
          if (isLow(d)) {
            cp = fromPair(c, d);
            units = 2;
          }
        }
        w = widthAt(s, i, cp);
      }
      if (w > 0) {
        if (col + w > width) {
          this.out += s.slice(flushed, i) + " ".repeat(width - col);
          flushed = i;
          row++;
          col = 0;
        }
        col += w;
        pending = false;
        if (col >= width) {
          row++;
          col = 0;
          pending = true;
        }
      }
      i += units;
    }
    if (flushed < to) this.out += s.slice(flushed, to);
    this.#meter.steps += to;
    this.#row = row;
    this.#col = col;
    this.#wrapPending = pending;
  }
}

/** `ESC [ n letter`, leaving out n when it is 1. */
function csi(n: number, letter: string): string {
  return n === 1 ? `\x1b[${letter}` : `\x1b[${n}${letter}`;
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

/**
 * Columns the code unit `s[i]` adds when masked: one star a code point, so 0 for the second
 * half of a surrogate pair and 1 for anything else.
 */
function maskedWidth(s: string, i: number): number {
  return i > 0 && isLow(s.charCodeAt(i)) && isHigh(s.charCodeAt(i - 1)) ? 0 : 1;
}
