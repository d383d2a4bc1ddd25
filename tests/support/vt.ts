/**
 * A tiny VT100/xterm screen for tests: a grid of cells that output is written to, so a test can
 * assert what a person would see rather than which bytes were sent. It keeps xterm's "pending
 * wrap": a character written in the last column leaves the cursor on that column, and only the
 * next printable character wraps; erasing in that state erases from the last column. Anything it
 * does not model throws, so an unexpected byte in the editor's output fails the test.
 */
import { charWidth } from "../../src/terminal/editor.ts";

/** The cell to the right of a wide character. */
const CONT = "";

/** A W×H terminal screen that understands the subset of VT100 the line editor sends. */
export class Screen {
  readonly width: number;
  readonly height: number;
  /** Cursor column and row (0-based). */
  x = 0;
  y = 0;
  /** Set after writing the last column; the next printable character wraps first. */
  pending = false;
  /** Bells rung. */
  bells = 0;
  /** Rows scrolled off the top. */
  scrolled = 0;
  #cells: string[][];
  #esc = "";

  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.#cells = Array.from({ length: height }, () => this.#blank());
  }

  /** Interprets `s` as terminal output. */
  write(s: string): this {
    for (const ch of s) {
      if (this.#esc) {
        this.#escape(ch);
        continue;
      }
      const cp = ch.codePointAt(0)!;
      if (cp === 0x1b) this.#esc = ch;
      else if (cp === 0x0d) this.#cr();
      else if (cp === 0x0a) this.#lf();
      else if (cp === 0x08) {
        this.pending = false;
        if (this.x > 0) this.x--;
      } else if (cp === 0x07) this.bells++;
      else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
        throw new Error(`vt: unexpected control U+${cp.toString(16).padStart(4, "0")}`);
      } else this.#print(ch, charWidth(cp));
    }
    return this;
  }

  /** Each row's text, trailing blanks removed. */
  rows(): string[] {
    return this.#cells.map((r) => r.join("").trimEnd());
  }

  /** The rows up to the last one that is not blank. */
  lines(): string[] {
    const rows = this.rows();
    let n = rows.length;
    while (n > 0 && rows[n - 1] === "") n--;
    return rows.slice(0, n);
  }

  #blank(): string[] {
    return new Array<string>(this.width).fill(" ");
  }

  #cr(): void {
    this.x = 0;
    this.pending = false;
  }

  #lf(): void {
    this.pending = false;
    if (this.y < this.height - 1) {
      this.y++;
    } else {
      this.#cells.shift();
      this.#cells.push(this.#blank());
      this.scrolled++;
    }
  }

  #print(ch: string, w: number): void {
    if (w === 0) {
      // A combining character joins the character before the cursor.
      let x = this.pending ? this.x : this.x - 1;
      if (x < 0) return;
      const row = this.#cells[this.y];
      if (row[x] === CONT && x > 0) x--;
      row[x] += ch;
      return;
    }
    if (this.pending) {
      this.#cr();
      this.#lf();
    }
    if (w === 2 && this.x === this.width - 1) {
      // A wide character does not fit in the last column: it goes to the next row.
      this.#cr();
      this.#lf();
    }
    this.#put(this.x, ch);
    if (w === 2) this.#put(this.x + 1, CONT);
    this.x += w;
    if (this.x >= this.width) {
      this.x = this.width - 1;
      this.pending = true;
    }
  }

  /** Writes one cell, blanking the other half of any wide character it overwrites. */
  #put(x: number, ch: string): void {
    const row = this.#cells[this.y];
    if (row[x] === CONT && x > 0 && ch !== CONT) row[x - 1] = " ";
    if (x + 1 < this.width && row[x + 1] === CONT && row[x] !== CONT) row[x + 1] = " ";
    row[x] = ch;
  }

  #escape(ch: string): void {
    this.#esc += ch;
    const seq = this.#esc;
    if (seq.length === 2) {
      if (ch !== "[") throw new Error(`vt: unexpected escape ${JSON.stringify(seq)}`);
      return;
    }
    const c = ch.charCodeAt(0);
    if (c >= 0x30 && c <= 0x3b) return; // parameters
    this.#esc = "";
    const params = seq.slice(2, -1);
    if (!/^[0-9;]*$/.test(params)) throw new Error(`vt: unexpected ${JSON.stringify(seq)}`);
    const nums = params === "" ? [] : params.split(";").map((p) => (p === "" ? 0 : Number(p)));
    if (ch === "m") return; // colours and bold: no effect on where text goes (nor on pending wrap)
    const n = Math.max(1, nums[0] ?? 1);
    this.pending = false;
    switch (ch) {
      case "A":
        this.y = Math.max(0, this.y - n);
        break;
      case "B":
        this.y = Math.min(this.height - 1, this.y + n);
        break;
      case "C":
        this.x = Math.min(this.width - 1, this.x + n);
        break;
      case "D":
        this.x = Math.max(0, this.x - n);
        break;
      case "H":
        this.y = Math.min(this.height, Math.max(1, nums[0] ?? 1)) - 1;
        this.x = Math.min(this.width, Math.max(1, nums[1] ?? 1)) - 1;
        break;
      case "K":
        if ((nums[0] ?? 0) !== 0) throw new Error(`vt: unexpected ${JSON.stringify(seq)}`);
        this.#clearRow(this.y, this.x);
        break;
      case "J":
        if ((nums[0] ?? 0) === 2) {
          for (let y = 0; y < this.height; y++) this.#clearRow(y, 0);
        } else if ((nums[0] ?? 0) === 0) {
          this.#clearRow(this.y, this.x);
          for (let y = this.y + 1; y < this.height; y++) this.#clearRow(y, 0);
        } else {
          throw new Error(`vt: unexpected ${JSON.stringify(seq)}`);
        }
        break;
      default:
        throw new Error(`vt: unexpected ${JSON.stringify(seq)}`);
    }
  }

  #clearRow(y: number, from: number): void {
    const row = this.#cells[y];
    if (from > 0 && row[from] === CONT) row[from - 1] = " ";
    for (let x = from; x < this.width; x++) row[x] = " ";
  }
}
