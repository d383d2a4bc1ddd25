/**
 * The server-side line editor for a telnet client in character mode: keys in, echo and edits
 * out, finished lines handed over one by one. Incoming messages are printed above the prompt by
 * erasing the prompt and input, printing, and drawing them again. Pure: no sockets, no clock.
 *
 * The editor owns the line and the cursor and composes the parts: the key decoder (keys.ts)
 * turns bytes into keys, the screen model (screen.ts) draws and moves with relative cursor
 * moves only, grapheme boundaries (graphemes.ts) and display widths (widths.ts) say where the
 * cursor may rest and where text goes, and history (history.ts) and completion (completion.ts)
 * serve Up/Down and Tab.
 *
 * Cost: a key costs what it changes, not the length of the line, since one client holding a
 * movement key on a long line must not pin a core. Each character's width is worked out once,
 * when it is typed; the screen position of every offset is cached (learnt as the text is drawn,
 * forgotten from an edit on and at a new prompt or width), so a cursor move is a lookup; and
 * grapheme boundaries are found by looking at a few characters around the cursor. What a feed
 * did is reported as {@link EditResult.work}, and `maxWork` caps it.
 *
 * Masking: with the `mask` option, the part of the line that is a secret (a password after
 * `/identify `) is drawn as one `*` per code point wherever the line is drawn, while the line
 * handed over on Enter is the real one. The mask is asked again after each edit in the line's
 * first {@link MASK_SCAN} code units (it sees only those), so typing costs what it did.
 */

import { fitBytes, utf8Length } from "../lib/utf8.ts";
import {
  type Completer,
  listing,
  oneMatch,
  sharedPrefix,
  TAB_WORK,
  wordStart,
} from "./completion.ts";
import { nextBoundary, prevBoundary } from "./graphemes.ts";
import { History } from "./history.ts";
import { type EditKey, KeyDecoder } from "./keys.ts";
import type { Meter } from "./meter.ts";
import { ScreenModel } from "./screen.ts";
import { startsZeroWidth } from "./widths.ts";
import { isHigh, isLow } from "./utf16.ts";

export type { Completer, Completion } from "./completion.ts";
export { MAX_LISTED, TAB_WORK } from "./completion.ts";
export { HISTORY_BYTES, HISTORY_LINES } from "./history.ts";
export { DEFAULT_WIDTH } from "./screen.ts";
export { charWidth, columns } from "./widths.ts";

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
  /**
   * Where the secret part of a line starts (a password being typed), or -1: none. From that
   * offset on the line is drawn as one `*` per code point; the line handed over is the real one.
   * It is shown the line's first {@link MASK_SCAN} code units only, and its answer must depend on
   * nothing else (an anchored pattern: a secret that starts further on is not hidden).
   */
  mask?: (line: string) => number;
}

/**
 * Code units of the line's start the `mask` option is shown: the mask is asked again only after
 * an edit among them, at a cost of their number, so a key never costs the whole line for it.
 * `/join #` + a 24-character room name + a space is 32.
 */
export const MASK_SCAN = 64;

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
  readonly #masks: ((line: string) => number) | null;

  /** The line; it only ever holds what a key can type (no controls, see completion.ts). */
  #text = "";
  /** The cursor, as an offset in the line (UTF-16 code units). */
  #pos = 0;
  /** UTF-8 bytes of the line. */
  #bytes = 0;
  /** Where the line's masked part starts (-1: nowhere). */
  #mask = -1;
  /** The first offset whose drawing the last splice changed (the edit's, or the mask's). */
  #changedFrom = 0;

  /** Work done in this feed besides the echo (see {@link EditResult.work}). */
  readonly #meter: Meter = { steps: 0 };
  readonly #screen: ScreenModel;
  readonly #keys: KeyDecoder;
  readonly #history = new History();

  // Per feed.
  #lines: string[] = NO_LINES;
  #leave = false;
  #rang = false;

  constructor(options: LineEditorOptions) {
    this.#max = options.maxLine;
    this.#complete = options.complete ?? null;
    this.#keep = options.keepSubmitted ?? true;
    this.#remembers = options.remember ?? null;
    this.#masks = options.mask ?? null;
    this.#screen = new ScreenModel(options.prompt ?? "", options.width ?? 0, this.#meter);
    this.#maskEmpty();
    this.#keys = new KeyDecoder({
      type: (text) => this.#type(text),
      press: (key) => this.#press(key),
      spent: () => this.#meter.steps + this.#screen.out.length,
      stopped: () => this.#leave,
    }, this.#meter);
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
    return this.#screen.prompt;
  }

  /** Sets the prompt; it shows at the next redraw (call {@link refresh} to show it now). */
  set prompt(p: string) {
    this.#screen.prompt = p;
  }

  /** The width the next draw uses. */
  get width(): number {
    return this.#screen.width;
  }

  /**
   * Sets the terminal width (0 = unknown, taken as 80). It takes effect at the next redraw, so
   * the erase before it still matches what is on screen; call {@link refresh} after a resize.
   */
  setWidth(cols: number): void {
    this.#screen.setWidth(cols);
  }

  /**
   * Decodes and applies the keys in `data` (telnet commands already removed). With `maxWork`,
   * stops after the byte at which the work done passes it, and says how much was taken in
   * {@link EditResult.consumed}; without it, everything is taken.
   */
  feed(data: Uint8Array, maxWork = Infinity): EditResult {
    this.#screen.out = "";
    this.#lines = [];
    this.#leave = false;
    this.#rang = false;
    this.#meter.steps = 0;
    if (!this.#screen.drawn) this.#draw();
    const consumed = this.#keys.decode(data, maxWork);
    this.#keys.flush();
    const echo = this.#screen.take();
    const work = this.#meter.steps + echo.length;
    return { echo, lines: this.#lines, leave: this.#leave, work, consumed };
  }

  /**
   * Erases prompt and input: back to column 0, up to the prompt's first row, erase to the end of
   * the screen. What is written next starts at the prompt's old place; follow it with
   * {@link draw}.
   */
  erase(): string {
    this.#screen.erase();
    return this.#screen.take();
  }

  /** Draws prompt and input again (after {@link erase}), the cursor where it was in the line. */
  draw(): string {
    this.#draw();
    return this.#screen.take();
  }

  /** Erases, prints `lines` (whole lines each ending `\r\n`), and draws prompt and input again. */
  print(lines: string): string {
    this.#screen.erase();
    this.#screen.out += lines;
    if (lines.length > 0 && !lines.endsWith("\n")) this.#screen.out += "\r\n";
    this.#draw();
    return this.#screen.take();
  }

  /**
   * The window was resized to `cols` columns (0 = unknown). Most terminals re-wrap what is on
   * screen when that happens (tmux, VTE, iTerm2, the Windows console), so the rows the prompt
   * and input take are no longer known: erasing by the old geometry can wipe a message above or
   * leave a row behind. So the input is drawn afresh on the next row at the new width, with
   * everything below cleared; at worst a stale copy of it stays above, and no message is lost.
   */
  resize(cols: number): string {
    this.#screen.setWidth(cols);
    if (!this.#screen.drawn) return "";
    this.#screen.abandon("\r\n\x1b[J");
    this.#draw();
    return this.#screen.take();
  }

  /** Erases and draws prompt and input again (after a prompt change). */
  refresh(): string {
    this.#draw();
    return this.#screen.take();
  }

  // ---- Keys ----

  #press(key: EditKey): void {
    switch (key) {
      case "home":
        return this.#moveTo(0);
      case "end":
        return this.#moveTo(this.#text.length);
      case "left":
        return this.#left();
      case "right":
        return this.#right();
      case "wordLeft":
        return this.#moveTo(this.#wordLeft());
      case "wordRight":
        return this.#moveTo(this.#wordRight());
      case "up":
        return this.#up();
      case "down":
        return this.#down();
      case "backspace":
        return this.#backspace();
      case "delete":
        return this.#delete();
      case "deleteOrLeave":
        if (this.#text.length === 0) this.#leave = true;
        else this.#delete();
        return;
      case "killToStart":
        return this.#cut(0, this.#pos);
      case "killToEnd":
        return this.#cut(this.#pos, this.#text.length);
      case "killWord":
        return this.#killWord();
      case "clearLine":
        return this.#clear();
      case "clearScreen":
        this.#screen.abandon("\x1b[H\x1b[2J");
        return this.#draw();
      case "enter":
        return this.#enter();
      case "tab":
        return this.#tab();
    }
  }

  // ---- Edits ----

  /** Inserts typed text at the cursor, as much as fits in the line's limit. */
  #type(s: string): void {
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
    if (atEnd && !marks && this.#changedFrom === from) this.#screen.append(s, from);
    else this.#repaint(from, marks);
  }

  /**
   * Replaces text[a, b) with `s`, and tells the screen model (which keeps the widths in step)
   * with the mask of the new text. The caller adjusts the cursor and the byte count, and repaints
   * from {@link #changedFrom} on at least.
   */
  #splice(a: number, b: number, s: string): void {
    const t = this.#text;
    // Appending makes a rope of the old text and `s`: V8 copies nothing until the line is read.
    const text = a === t.length ? t + s : t.slice(0, a) + s + t.slice(b);
    this.#text = text;
    // The mask sees the first MASK_SCAN units: an edit after them cannot change it.
    if (this.#masks && a < MASK_SCAN) this.#mask = this.#maskOf(text);
    this.#changedFrom = this.#screen.splice(a, b, s, t.length, text, this.#mask);
  }

  /** Asks the `mask` option where the masked part of `text` starts, shown its start only. */
  #maskOf(text: string): number {
    const head = text.length > MASK_SCAN ? text.slice(0, MASK_SCAN) : text;
    this.#meter.steps += head.length;
    const m = Math.trunc(this.#masks!(head));
    if (!(m >= 0)) return -1;
    if (m >= head.length) return head.length;
    // Never inside a surrogate pair: the pair is masked whole.
    return m > 0 && isLow(head.charCodeAt(m)) && isHigh(head.charCodeAt(m - 1)) ? m - 1 : m;
  }

  /** The line is empty (again): its mask is the empty line's. */
  #maskEmpty(): void {
    this.#mask = this.#masks ? this.#maskOf("") : -1;
    this.#screen.splice(0, 0, "", 0, "", this.#mask);
  }

  /** Removes text[a, b) and adjusts the cursor. */
  #remove(a: number, b: number): string {
    const gone = this.#text.slice(a, b);
    this.#splice(a, b, "");
    this.#bytes -= utf8Length(gone);
    this.#meter.steps += gone.length;
    if (this.#pos >= b) this.#pos -= b - a;
    else if (this.#pos > a) this.#pos = a;
    return gone;
  }

  #backspace(): void {
    const pos = this.#pos;
    if (pos === 0) return;
    const from = prevBoundary(this.#text, pos, this.#meter);
    const atEnd = pos === this.#text.length;
    // The columns it took as drawn (stars, where masked), before the mask may move.
    const cols = atEnd ? this.#screen.columnsAt(this.#text.slice(from, pos), from) : 0;
    const gone = this.#remove(from, pos);
    // At the end of the input, a character on the cursor's row is rubbed out where it is.
    if (!atEnd || this.#changedFrom !== from || !this.#screen.rubOut(cols)) {
      this.#removed(from, gone);
    }
  }

  #delete(): void {
    const pos = this.#pos;
    if (pos >= this.#text.length) return;
    this.#removed(pos, this.#remove(pos, nextBoundary(this.#text, pos, this.#meter)));
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
    this.#meter.steps += this.#pos - i;
    return i;
  }

  #wordRight(): number {
    const t = this.#text;
    let i = this.#pos;
    while (i < t.length && t.charCodeAt(i) === 0x20) i++;
    const space = t.indexOf(" ", i);
    i = space < 0 ? t.length : space;
    this.#meter.steps += i - this.#pos;
    return i;
  }

  #clear(): void {
    this.#history.reset();
    this.#setLine("");
  }

  #setLine(s: string): void {
    this.#splice(0, this.#text.length, s);
    this.#pos = s.length;
    this.#bytes = utf8Length(s);
    this.#repaint(0);
  }

  #left(): void {
    if (this.#pos > 0) this.#moveTo(prevBoundary(this.#text, this.#pos, this.#meter));
  }

  #right(): void {
    if (this.#pos < this.#text.length) {
      this.#moveTo(nextBoundary(this.#text, this.#pos, this.#meter));
    }
  }

  #enter(): void {
    const line = this.#text;
    if (this.#keep) this.#pos = line.length;
    this.#screen.finishLine(line, this.#keep);
    this.#lines.push(line);
    if (!this.#remembers || this.#remembers(line)) this.#history.add(line);
    this.#text = "";
    this.#pos = 0;
    this.#bytes = 0;
    this.#maskEmpty();
    this.#history.reset();
    this.#draw();
  }

  #up(): void {
    const line = this.#history.older(this.#text);
    if (line !== null) this.#setLine(line);
  }

  #down(): void {
    const line = this.#history.newer();
    if (line !== null) this.#setLine(line);
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
    // A secret is not completed: a listing would show what it starts with.
    if (this.#mask >= 0 && pos >= this.#mask) return this.#bell();
    const start = wordStart(t, pos);
    this.#meter.steps += TAB_WORK + pos - start;
    const word = t.slice(start, pos);
    const found = this.#complete(word, start === 0);
    if (found.total <= 0) return this.#bell();
    if (found.total === 1) {
      const match = oneMatch(found, word, start === 0, t.charCodeAt(pos) === 0x20);
      if (this.#replaceWord(start, match)) this.#repaint(start);
      return;
    }
    const prefix = sharedPrefix(found);
    if (prefix.length > word.length) this.#replaceWord(start, prefix);
    this.#screen.erase();
    this.#screen.out += listing(found);
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
    this.#screen.out += "\x07";
  }

  // ---- Screen ----

  #draw(): void {
    this.#screen.draw(this.#text, this.#pos);
  }

  /**
   * Redraws the input from `from` (or where the last splice changed the drawing, if before) to
   * its end and puts the cursor back. With `marks`, the character before `from` gains or loses a
   * combining mark: the redraw starts with it.
   */
  #repaint(from: number, marks = false): void {
    from = Math.min(from, this.#changedFrom);
    if (marks && from > 0) from = prevBoundary(this.#text, from, this.#meter);
    this.#screen.repaint(this.#text, from, this.#pos);
  }

  /** Puts the cursor at text offset `pos`. */
  #moveTo(pos: number): void {
    this.#pos = pos;
    this.#screen.moveTo(pos);
  }
}
