/**
 * The key decoder: the bytes a telnet client sends in character mode (telnet commands already
 * removed) in, keys out. UTF-8 may be split anywhere and escape sequences (CSI, SS3, control
 * strings, in 7-bit or 8-bit form) are consumed whole, across feeds; invalid UTF-8 becomes
 * U+FFFD. Printable text is gathered and handed over in one piece before the next key, so a
 * paste is inserted at once rather than a character at a time.
 */

import type { Meter } from "./meter.ts";

/**
 * An editing key, named for what it asks of the editor; `deleteOrLeave` is Ctrl-D (leave on an
 * empty line, else delete).
 */
export type EditKey =
  | "home"
  | "end"
  | "left"
  | "right"
  | "wordLeft"
  | "wordRight"
  | "up"
  | "down"
  | "backspace"
  | "delete"
  | "deleteOrLeave"
  | "killToStart"
  | "killToEnd"
  | "killWord"
  | "clearLine"
  | "clearScreen"
  | "enter"
  | "tab";

/** What a {@link KeyDecoder} hands its keys to. */
export interface KeyActions {
  /** Inserts text typed since the last key; called before the next key and at a flush. */
  type(text: string): void;
  /** Acts on an editing key. */
  press(key: EditKey): void;
  /** Work done so far in this feed, as the feed's `maxWork` counts it (see {@link KeyDecoder.decode}). */
  spent(): number;
  /** Whether a key ended the input (the user left): nothing after it is read. */
  stopped(): boolean;
}

/** The C0 controls (and DEL) that are keys; CR and ESC are handled apart. */
const CONTROL_KEYS: { readonly [cp: number]: EditKey } = {
  0x01: "home", // Ctrl-A
  0x02: "left", // Ctrl-B
  0x03: "clearLine", // Ctrl-C
  0x04: "deleteOrLeave", // Ctrl-D
  0x05: "end", // Ctrl-E
  0x06: "right", // Ctrl-F
  0x08: "backspace", // Ctrl-H
  0x09: "tab",
  0x0a: "enter",
  0x0b: "killToEnd", // Ctrl-K
  0x0c: "clearScreen", // Ctrl-L
  0x0e: "down", // Ctrl-N
  0x10: "up", // Ctrl-P
  0x15: "killToStart", // Ctrl-U
  0x17: "killWord", // Ctrl-W
  0x7f: "backspace",
};

/** The final bytes of the cursor keys, the same after CSI and SS3 (`ESC [ A`, `ESC O A`). */
const CURSOR_KEYS: { readonly [final: number]: EditKey } = {
  0x41: "up", // A
  0x42: "down", // B
  0x43: "right", // C
  0x44: "left", // D
  0x48: "home", // H
  0x46: "end", // F
};

// Escape parser states.
const GROUND = 0;
const ESC = 1;
const CSI = 2;
const SS3 = 3;
const STR = 4; // OSC, DCS, SOS, PM, APC: up to BEL or ST
const STR_ESC = 5;
const INTER = 6; // ESC + intermediate bytes, up to the final byte

/** Largest CSI parameter kept: a longer number is capped at it. */
const MAX_PARAM = 9999;

const decoder = new TextDecoder();

function isBidiControl(cp: number): boolean {
  return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/**
 * Decodes one connection's keys; its state (a partial character, a partial sequence, a CR
 * waiting for its LF) carries over from one {@link decode} to the next. Keys: text; Enter (CR,
 * LF, CR LF, CR NUL, keypad Enter); Backspace (DEL, ^H); Tab; the cursor keys in CSI and SS3
 * form, with a modifier (Ctrl, Alt) moving by words; Home/End/Delete as `CSI n ~`; Alt-b/f/
 * Backspace; and the Ctrl keys of {@link CONTROL_KEYS}. Other sequences and Alt-keys are
 * consumed; controls that are no key are ignored, bidi controls never typed.
 */
export class KeyDecoder {
  readonly #actions: KeyActions;
  readonly #meter: Meter;

  // UTF-8 decoding across feeds: the bits so far, how many continuation bytes are still to
  // come, and the range the next one must be in (narrower after some lead bytes).
  #codePoint = 0;
  #need = 0;
  #low = 0x80;
  #high = 0xbf;

  // Escape sequences across feeds: the state, the first two CSI parameters, the index of the
  // parameter being read, and whether the sequence is one no key sends (private, intermediate).
  #state = GROUND;
  #param1 = 0;
  #param2 = 0;
  #paramIndex = 0;
  #foreign = false;
  /** The last key was CR: a NUL or LF right after it belongs to the same Enter. */
  #afterCr = false;

  /** Text typed but not yet handed to {@link KeyActions.type}. */
  #typed = "";

  /**
   * Keys go to `actions`; one step is counted in `meter` for each code point that is not text (a
   * key, a byte of a sequence, a bidi control dropped).
   */
  constructor(actions: KeyActions, meter: Meter) {
    this.#actions = actions;
    this.#meter = meter;
  }

  /**
   * Decodes `data` and hands the keys to the actions as they come. Stops after the byte at which
   * the work done (the actions' {@link KeyActions.spent}, and the text held back) passes
   * `maxWork`, or once the actions say {@link KeyActions.stopped}; returns how many bytes it
   * took. Text typed last is held back: {@link flush} hands it over.
   */
  decode(data: Uint8Array, maxWork = Infinity): number {
    const n = data.length;
    let i = 0;
    while (i < n && !this.#actions.stopped()) {
      const b = data[i];
      if (this.#need > 0 && b >= this.#low && b <= this.#high) {
        this.#codePoint = (this.#codePoint << 6) | (b & 0x3f);
        this.#low = 0x80;
        this.#high = 0xbf;
        i++;
        if (--this.#need === 0) this.#key(this.#codePoint);
      } else {
        if (this.#need > 0) {
          this.#need = 0; // cut short: the partial character is invalid, b starts afresh
          this.#low = 0x80;
          this.#high = 0xbf;
          this.#key(0xfffd); // which is text, or swallowed by a sequence: never a key
        }
        i = this.#lead(data, i, maxWork - this.#spent());
      }
      if (this.#spent() > maxWork) break;
    }
    return i;
  }

  /** Hands over the text typed since the last key. */
  flush(): void {
    const text = this.#typed;
    if (text.length === 0) return;
    this.#typed = "";
    this.#actions.type(text);
  }

  /** Work so far in this feed, counting the text held back. */
  #spent(): number {
    return this.#actions.spent() + this.#typed.length;
  }

  /**
   * Takes the byte at `data[i]` that is not a UTF-8 continuation, and with it a run of plain
   * ASCII of at most `room` bytes (at least the one); returns the index after what it took.
   */
  #lead(data: Uint8Array, i: number, room: number): number {
    const b = data[i];
    if (b < 0x80) {
      if (b >= 0x20 && b < 0x7f && this.#state === GROUND) {
        // A run of plain ASCII, the bulk of any paste, is taken in one piece.
        const end = Math.min(data.length, i + Math.max(1, room));
        let j = i + 1;
        while (j < end && data[j] >= 0x20 && data[j] < 0x7f) j++;
        this.#afterCr = false;
        this.#typed += decoder.decode(data.subarray(i, j));
        return j;
      }
      this.#key(b);
    } else if (b >= 0xc2 && b <= 0xdf) {
      this.#need = 1;
      this.#codePoint = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      // The bounds on the next byte refuse overlong forms and surrogates (as WHATWG does).
      this.#need = 2;
      this.#codePoint = b & 0x0f;
      if (b === 0xe0) this.#low = 0xa0;
      if (b === 0xed) this.#high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      this.#need = 3;
      this.#codePoint = b & 0x07;
      if (b === 0xf0) this.#low = 0x90;
      if (b === 0xf4) this.#high = 0x8f;
    } else {
      this.#key(0xfffd);
    }
    return i + 1;
  }

  /** One decoded code point through the escape-sequence parser. */
  #key(cp: number): void {
    if (this.#afterCr) {
      this.#afterCr = false;
      if (cp === 0 || cp === 0x0a) return; // CR NUL and CR LF are one Enter
    }
    if (this.#state === GROUND && cp >= 0x20 && cp !== 0x7f && (cp < 0x80 || cp >= 0xa0)) {
      if (isBidiControl(cp)) this.#meter.steps++;
      else this.#typed += String.fromCodePoint(cp);
      return;
    }
    this.#meter.steps++;
    switch (this.#state) {
      case GROUND:
        this.flush();
        if (cp < 0x80) this.#control(cp);
        else this.#c1(cp);
        return;
      case ESC:
        return this.#escape(cp);
      case CSI:
        return this.#csi(cp);
      case SS3:
        return this.#ss3(cp);
      case STR:
        return this.#controlString(cp);
      case STR_ESC:
        this.#state = cp === 0x5c ? GROUND : ESC;
        if (cp !== 0x5c) this.#key(cp);
        return;
      case INTER:
        if (cp >= 0x20 && cp <= 0x2f) return;
        this.#state = GROUND;
        if (cp < 0x30 || cp > 0x7e) this.#key(cp);
        return;
    }
  }

  /** A C0 control or DEL, outside any sequence. */
  #control(cp: number): void {
    if (cp === 0x0d) {
      this.#actions.press("enter");
      this.#afterCr = true;
    } else if (cp === 0x1b) {
      this.#state = ESC;
    } else {
      const key = CONTROL_KEYS[cp];
      if (key !== undefined) this.#actions.press(key);
    }
  }

  /** A C1 control: the 8-bit forms of CSI, SS3 and the control strings; the rest do nothing. */
  #c1(cp: number): void {
    if (cp === 0x9b) this.#startCsi(CSI);
    else if (cp === 0x8f || cp === 0x8e) this.#startCsi(SS3);
    else if (cp === 0x90 || cp === 0x98 || cp === 0x9d || cp === 0x9e || cp === 0x9f) {
      this.#state = STR;
    }
  }

  /** The code point after ESC: a sequence starts, or it is an Alt-key. */
  #escape(cp: number): void {
    this.#state = GROUND;
    if (cp === 0x5b) this.#startCsi(CSI);
    else if (cp === 0x4f) this.#startCsi(SS3);
    else if (cp === 0x5d || cp === 0x50 || cp === 0x58 || cp === 0x5e || cp === 0x5f) {
      this.#state = STR;
    } else if (cp === 0x1b) this.#state = ESC; // the first ESC was alone
    else if (cp >= 0x20 && cp <= 0x2f) this.#state = INTER;
    else if (cp === 0x62) this.#actions.press("wordLeft"); // Alt-b
    else if (cp === 0x66) this.#actions.press("wordRight"); // Alt-f
    else if (cp === 0x7f || cp === 0x08) this.#actions.press("killWord"); // Alt-Backspace
    else if (cp < 0x20 || cp >= 0x80) this.#key(cp); // not a sequence: the key itself counts
    // other Alt-keys are consumed
  }

  #startCsi(state: number): void {
    this.#state = state;
    this.#param1 = 0;
    this.#param2 = 0;
    this.#paramIndex = 0;
    this.#foreign = false;
  }

  /** A code point inside a CSI sequence: parameters, then the final byte. */
  #csi(cp: number): void {
    if (cp >= 0x30 && cp <= 0x39) {
      const digit = cp - 0x30;
      if (this.#paramIndex === 0) this.#param1 = Math.min(this.#param1 * 10 + digit, MAX_PARAM);
      else if (this.#paramIndex === 1) {
        this.#param2 = Math.min(this.#param2 * 10 + digit, MAX_PARAM);
      }
    } else if (cp === 0x3b) {
      this.#paramIndex++;
    } else if ((cp >= 0x3c && cp <= 0x3f) || (cp >= 0x20 && cp <= 0x2f)) {
      this.#foreign = true; // private or intermediate: a sequence no key sends, consumed
    } else if (cp >= 0x40 && cp <= 0x7e) {
      this.#state = GROUND;
      if (!this.#foreign) this.#csiKey(cp);
    } else if (cp === 0x1b) {
      this.#state = ESC;
    } else if (cp !== 0x3a) {
      this.#state = GROUND;
      this.#key(cp);
    }
  }

  #csiKey(final: number): void {
    const word = this.#param2 >= 3; // Alt (3), Ctrl (5) and the like move by words
    if (word && final === 0x43) return this.#actions.press("wordRight");
    if (word && final === 0x44) return this.#actions.press("wordLeft");
    const key = CURSOR_KEYS[final];
    if (key !== undefined) return this.#actions.press(key);
    if (final !== 0x7e) return; // ~: Home (1, 7), End (4, 8), Delete (3)
    const n = this.#param1;
    if (n === 1 || n === 7) this.#actions.press("home");
    else if (n === 4 || n === 8) this.#actions.press("end");
    else if (n === 3) this.#actions.press("delete");
  }

  /** A code point after SS3: modifier parameters, then the final byte. */
  #ss3(cp: number): void {
    if (cp >= 0x30 && cp <= 0x3f) return; // modifier parameters
    this.#state = GROUND;
    if (cp >= 0x40 && cp <= 0x7e) {
      const key = cp === 0x4d ? "enter" : CURSOR_KEYS[cp]; // M: keypad Enter in application mode
      if (key !== undefined) this.#actions.press(key);
    } else if (cp === 0x1b) this.#state = ESC;
    else this.#key(cp);
  }

  /** A code point inside a control string (OSC, DCS, …), which ends at BEL or ST. */
  #controlString(cp: number): void {
    if (cp === 0x07 || cp === 0x9c) this.#state = GROUND;
    else if (cp === 0x1b) this.#state = STR_ESC;
    else if (cp < 0x20) {
      // A control string never holds C0 controls: the user pressed a key (Enter, Ctrl-C).
      this.#state = GROUND;
      this.#key(cp);
    }
  }
}
