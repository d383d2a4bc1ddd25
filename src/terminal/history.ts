/** Input history: the lines a connection sent, for Up and Down to recall, bounded in size. */

import { utf8Length } from "../lib/utf8.ts";

/** Lines of input history kept per connection. */
export const HISTORY_LINES = 50;
/** UTF-8 bytes of input history kept per connection. */
export const HISTORY_BYTES = 16 * 1024;

/**
 * The lines sent, oldest first, at most {@link HISTORY_LINES} and {@link HISTORY_BYTES}, and
 * how far back Up has gone. The line being typed when Up first leaves it is kept for Down to
 * give back.
 */
export class History {
  #lines: string[] | null = null;
  #bytes = 0;
  /** Which line is shown, counting back from the latest (0); -1 while typing a new one. */
  #back = -1;
  /** The line being typed when Up first left it. */
  #draft = "";

  /** Keeps `line` (unless it is empty or the same as the last), dropping the oldest lines. */
  add(line: string): void {
    if (line.length === 0) return;
    const h = this.#lines ??= [];
    if (h[h.length - 1] === line) return;
    h.push(line);
    this.#bytes += utf8Length(line);
    while (h.length > HISTORY_LINES || this.#bytes > HISTORY_BYTES) {
      this.#bytes -= utf8Length(h.shift()!);
    }
  }

  /** Up, from the line `current`: the line sent before the one shown, or null at the oldest. */
  older(current: string): string | null {
    const h = this.#lines;
    if (!h || this.#back + 1 >= h.length) return null;
    if (this.#back < 0) this.#draft = current;
    this.#back++;
    return h[h.length - 1 - this.#back];
  }

  /** Down: the line sent after the one shown, or the draft; null when typing a new line. */
  newer(): string | null {
    const h = this.#lines;
    if (!h || this.#back < 0) return null;
    this.#back--;
    if (this.#back >= 0) return h[h.length - 1 - this.#back];
    const draft = this.#draft;
    this.#draft = "";
    return draft;
  }

  /** Back to typing a new line (after Enter or Ctrl-C): the draft is dropped. */
  reset(): void {
    this.#back = -1;
    this.#draft = "";
  }
}
