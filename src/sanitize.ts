/**
 * Input hygiene: nothing one client sends may take over another's terminal.
 *
 * 1. {@link TelnetFilter} removes telnet negotiation from the raw byte stream, before framing
 *    (a subnegotiation may carry bytes that look like CR or LF).
 * 2. {@link cleanLine} turns one framed line into safe text: invalid UTF-8 becomes U+FFFD,
 *    ANSI/VT escape sequences (CSI, OSC, DCS, …) and their 8-bit C1 forms are removed, other
 *    control characters are dropped, tab becomes a space, and backspace/DEL erase the character
 *    before them, the way the sender's terminal showed it.
 */

const IAC = 255;
const SB = 250;
const SE = 240;
const WILL = 251;

// Filter states.
const T = { Data: 0, Iac: 1, Option: 2, Sub: 3, SubIac: 4 } as const;

/**
 * Streaming removal of telnet commands (RFC 854): `IAC WILL/WONT/DO/DONT opt`, `IAC SB … IAC SE`
 * and two-byte commands. State carries over between chunks, and nothing is buffered, so an
 * endless subnegotiation costs no memory. `IAC IAC` (a literal 0xFF) is dropped too: 0xFF never
 * occurs in UTF-8 text.
 */
export class TelnetFilter {
  #state: number = T.Data;
  /** Bytes removed by the last {@link filter} call. */
  dropped = 0;

  /** Removes telnet commands from `chunk` in place and returns the data part. */
  filter(chunk: Uint8Array): Uint8Array {
    if (this.#state === T.Data && chunk.indexOf(IAC) < 0) {
      this.dropped = 0;
      return chunk;
    }
    let w = 0;
    let state: number = this.#state;
    for (let r = 0; r < chunk.length; r++) {
      const b = chunk[r];
      switch (state) {
        case T.Data:
          if (b === IAC) state = T.Iac;
          else chunk[w++] = b;
          break;
        case T.Iac:
          if (b >= WILL && b !== IAC) state = T.Option;
          else if (b === SB) state = T.Sub;
          else state = T.Data;
          break;
        case T.Option:
          state = T.Data;
          break;
        case T.Sub:
          if (b === IAC) state = T.SubIac;
          break;
        case T.SubIac:
          state = b === SE ? T.Data : T.Sub;
          break;
      }
    }
    this.#state = state;
    this.dropped = chunk.length - w;
    return chunk.subarray(0, w);
  }
}

const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: false });

/** Decodes a byte line to a string: plain printable ASCII takes a fast path. */
function decode(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n <= 256) {
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const b = bytes[i];
      if (b < 0x20 || b > 0x7e) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  return decoder.decode(bytes);
}

/** True for characters that need the slow path: controls, C1, bidi overrides/isolates. */
function special(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069);
}

/** Turns one line of bytes (without its line end) into text that is safe to show others. */
export function cleanLine(bytes: Uint8Array): string {
  return cleanText(decode(bytes));
}

/** The text half of {@link cleanLine}, for input that is already a string. */
export function cleanText(s: string): string {
  let i = 0;
  while (i < s.length && !special(s.charCodeAt(i))) i++;
  if (i === s.length) return s.trimEnd();

  const out: string[] = [s.slice(0, i)];
  let pendingOut = "";
  const flush = () => {
    if (pendingOut) {
      out.push(pendingOut);
      pendingOut = "";
    }
  };
  const erase = () => {
    flush();
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
  };

  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (!special(c)) {
      let j = i + 1;
      while (j < n && !special(s.charCodeAt(j))) j++;
      pendingOut += s.slice(i, j);
      i = j;
      continue;
    }
    if (c === 0x1b) {
      i = skipEscape(s, i + 1);
    } else if (c === 0x9b) {
      i = skipCsi(s, i + 1);
    } else if (c === 0x9d || c === 0x90 || c === 0x98 || c === 0x9e || c === 0x9f) {
      i = skipString(s, i + 1);
    } else if (c === 0x09) {
      pendingOut += " ";
      i++;
    } else if (c === 0x08 || c === 0x7f) {
      erase();
      i++;
    } else {
      i++; // other C0/C1 controls and bidi overrides are dropped
    }
  }
  flush();
  return out.join("").trimEnd();
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
