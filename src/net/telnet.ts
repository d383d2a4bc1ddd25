/**
 * The telnet side of one connection (RFC 854): strips commands from the byte stream, decides
 * whether the peer is a telnet client at all, negotiates character mode, window size and terminal
 * type (TTYPE, with the MTTS convention), and collects the replies the server owes. Pure: no sockets, no clock; the connection feeds it bytes
 * and writes out what {@link TelnetSession.takeReply} hands back. `../shared/TERMINAL.md` holds
 * the measured client behaviour this follows.
 */

const IAC = 255;
const DONT = 254;
const DO = 253;
const WONT = 252;
const WILL = 251;
const SB = 250;
const EL = 248;
const EC = 247;
const IP = 244;
const SE = 240;

const OPT_BINARY = 0;
const OPT_ECHO = 1;
const OPT_SGA = 3;
const OPT_TTYPE = 24;
const OPT_NAWS = 31;

// TTYPE subnegotiation verbs (RFC 1091).
const TTYPE_IS = 0;
const TTYPE_SEND = 1;

/**
 * Times the terminal type is asked for at most. MTTS clients answer their name, then the
 * terminal type, then `MTTS <bits>`; RFC 1091 clients cycle through their names and repeat the
 * last one to say the list is over.
 */
export const TTYPE_ASKS = 3;
/** Characters of a terminal type kept (printable ASCII; the rest is dropped). */
export const TTYPE_MAX = 40;
/** The MTTS bit of a client that announces a screen reader. */
export const MTTS_SCREEN_READER = 64;

/**
 * Most bytes a subnegotiation may take before it is given up: a client that never sends
 * `IAC SE` gets its keyboard back instead of having everything swallowed.
 */
export const MAX_SUBNEG = 64;

// Parser states.
const DATA = 0;
const CMD = 1; // after IAC
const OPTION = 2; // after IAC WILL/WONT/DO/DONT
const SUB = 3; // inside IAC SB …
const SUB_IAC = 4; // IAC inside a subnegotiation

// Detection: is the peer a telnet client?
const UNDECIDED = 0;
const UNDECIDED_CR = 1; // the first line ended in CR; the next byte decides
const RAW = 2;
const TELNET = 3;

// RFC 1143 ("Q method") per option, packed in one byte: bits 0-1 our side, bits 2-3 the
// client's side, plus two bits remembering refusals already sent.
const NO = 0;
const YES = 1;
const WANTYES = 2;
const US = 3;
const HIM = 12;
const HIM_SHIFT = 2;
const REFUSED_DO = 16;
const REFUSED_WILL = 32;

/** Options for {@link TelnetSession}. */
export interface TelnetOptions {
  /**
   * Also offer BINARY both ways (default true). BSD telnet (FreeBSD, and macOS's Homebrew telnet,
   * built from Apple's BSD sources) strips the 8th bit of what the user types unless BINARY is
   * agreed, which turns UTF-8 into wrong ASCII silently. The costs are small: BusyBox refuses it
   * (a refusal of our offer needs no answer), and agreeing clients send Enter as a lone CR, which
   * the framer and the line editor already take as a line end.
   */
  binary?: boolean;
}

/**
 * One connection's telnet state. Feed it every chunk read from the socket; it returns the data
 * bytes (commands removed, in place), and keeps what the client told it (telnet or raw, character
 * mode, window size). Nothing is ever sent to a client that has not shown it speaks telnet.
 */
export class TelnetSession {
  readonly #binary: boolean;
  #state = DATA;
  #detect = UNDECIDED;
  #verb = 0;
  /** Option states, allocated when the client first negotiates (raw clients never pay). */
  #opts: Uint8Array | null = null;
  #reply: Uint8Array | null = null;
  #replyLen = 0;
  // Subnegotiation in progress: raw bytes seen, its option, and NAWS's four value bytes.
  #subLen = 0;
  #subOpt = -1;
  #subN = 0;
  #subVal = 0;
  #width = 0;
  #height = 0;
  #charMode = false;
  /** The server gives up editing the line (screen-reader mode): never offer character mode. */
  #lineOnly = false;
  // TTYPE: requests sent, whether one awaits its answer, the names answered, the reply being read.
  #ttypeAsks = 0;
  #ttypeWaiting = false;
  #ttypeNames: string[] | null = null;
  #subText = "";
  #subIs = false;
  #termType = "";
  #screenReader = false;

  /** Command bytes removed by the last {@link feed} (they count toward the caller's budgets). */
  removed = 0;
  /** True when the last {@link feed} changed {@link width} or {@link height}. */
  resized = false;
  /** Window size reports that changed the size, since the start. */
  resizes = 0;
  /** True when the last {@link feed} changed {@link termType} or {@link screenReader}. */
  terminalChanged = false;
  /**
   * Where character mode last switched during the last {@link feed}: an offset into the data it
   * returned (bytes before it were typed in the old mode), or -1 if the mode did not change.
   * `modeChangedAt >= 0 && charMode` means character mode just started.
   */
  modeChangedAt = -1;

  constructor(options: TelnetOptions = {}) {
    this.#binary = options.binary ?? true;
  }

  /** True once the client has shown it speaks telnet (and has been sent our offer). */
  get isTelnet(): boolean {
    return this.#detect === TELNET;
  }

  /** True once the first line ended in a lone LF (or lone CR): this client never sees an IAC. */
  get isRaw(): boolean {
    return this.#detect === RAW;
  }

  /** True while the client lets the server echo: keys arrive one by one for a line editor. */
  get charMode(): boolean {
    return this.#charMode;
  }

  /** Window width in columns from NAWS; 0 when unknown. */
  get width(): number {
    return this.#width;
  }

  /** Window height in rows from NAWS; 0 when unknown. */
  get height(): number {
    return this.#height;
  }

  /**
   * The terminal type the client told (TTYPE), in lower case; "" while unknown. With MTTS (the
   * third name is `MTTS <bits>`) it is the second name, the first being the client's own.
   */
  get termType(): string {
    return this.#termType;
  }

  /** True when the client announced a screen reader (MTTS bit 64). */
  get screenReader(): boolean {
    return this.#screenReader;
  }

  /**
   * Screen-reader mode: `on` hands line editing back to the client (WONT ECHO, WONT SGA: the
   * measured clients then edit and echo the line themselves, like nc) and keeps it there, a later
   * DO ECHO being refused; off offers character mode again. Nothing is sent to a client that has
   * not shown it speaks telnet (the offer made once it does leaves character mode out).
   */
  setLineOnly(on: boolean): void {
    if (this.#lineOnly === on) return;
    this.#lineOnly = on;
    if (this.#detect !== TELNET) return;
    if (on) {
      this.#withdraw(OPT_ECHO);
      this.#withdraw(OPT_SGA);
      this.#charMode = false;
    } else {
      this.#ask(WILL, OPT_ECHO);
      this.#ask(WILL, OPT_SGA);
    }
  }

  /**
   * Removes telnet commands from `chunk` and returns the data bytes, usually a view of `chunk`
   * itself (it is rewritten in place). Keys sent as commands become their control bytes: IAC EC
   * → DEL (0x7F), IAC EL → Ctrl-U, IAC IP → Ctrl-C. `IAC IAC`, and an IAC before a byte that is
   * no command, are invalid text: they arrive as a 0xFF byte (and the byte after it).
   */
  feed(chunk: Uint8Array): Uint8Array {
    this.resized = false;
    this.terminalChanged = false;
    this.modeChangedAt = -1;
    const n = chunk.length;
    if (this.#state === DATA && this.#detect >= RAW && chunk.indexOf(IAC) < 0) {
      this.removed = 0;
      return chunk;
    }
    let out = chunk;
    // An IAC that ended the last chunk turns out to be data followed by data: the one case where
    // the output is longer than the input, so it cannot be written in place.
    if (this.#state === CMD && n > 0 && chunk[0] < SE) out = new Uint8Array(n + 1);
    let state = this.#state;
    let w = 0;
    // Data bytes stay inline (they are nearly all of them); the rarer states are methods that
    // leave the next state in #state.
    for (let r = 0; r < n; r++) {
      const b = chunk[r];
      switch (state) {
        case DATA:
          if (b === IAC) {
            state = CMD;
          } else {
            out[w++] = b;
            if (this.#detect < RAW) this.#detectByte(b);
          }
          break;
        case CMD:
          w = this.#command(b, out, w);
          state = this.#state;
          break;
        case OPTION:
          state = DATA;
          this.#negotiate(this.#verb, b, w);
          break;
        default: // SUB, SUB_IAC
          r = this.#subnegotiation(chunk, r, state) - 1;
          state = this.#state;
          break;
      }
    }
    this.#state = state;
    this.removed = n > w ? n - w : 0;
    return out.subarray(0, w);
  }

  /**
   * The byte `b` after an IAC: writes what it stands for at `out[w]` and returns the new write
   * position; the next state is left in #state.
   */
  #command(b: number, out: Uint8Array, w: number): number {
    this.#state = DATA;
    // Only a real command shows the client speaks telnet: a 0xFF that is data (a Latin-1 "ÿ"
    // from a raw client) must not earn it a probe full of IAC bytes.
    if (b < SE) {
      out[w++] = IAC;
      out[w++] = b;
      if (this.#detect < RAW) {
        this.#detectByte(IAC);
        this.#detectByte(b);
      }
      return w;
    }
    if (b === IAC) {
      out[w++] = IAC;
      if (this.#detect < RAW) this.#detectByte(IAC);
      return w;
    }
    if (this.#detect < RAW) this.#startTelnet();
    if (b >= WILL) {
      this.#verb = b;
      this.#state = OPTION;
    } else if (b === SB) {
      this.#subLen = 0;
      this.#subOpt = -1;
      this.#subN = 0;
      this.#subVal = 0;
      this.#subText = "";
      this.#subIs = false;
      this.#state = SUB;
    } else if (b === EC) {
      out[w++] = 0x7f;
    } else if (b === EL) {
      out[w++] = 0x15;
    } else if (b === IP) {
      out[w++] = 0x03;
    } // NOP, DM, BRK, AO, AYT, GA and a stray SE vanish
    return w;
  }

  /**
   * Reads a subnegotiation's bytes from `chunk[r]` on, starting in `state` (SUB or SUB_IAC), up to
   * its end or the chunk's. Leaves the next state in #state and returns where reading goes on: a
   * byte that ends the subnegotiation without belonging to it is read again in the new state.
   */
  #subnegotiation(chunk: Uint8Array, r: number, state: number): number {
    const n = chunk.length;
    for (; r < n; r++) {
      const b = chunk[r];
      if (state === SUB) {
        if (++this.#subLen > MAX_SUBNEG) {
          state = DATA; // given up: this byte and what follows are input again
          break;
        }
        if (b === IAC) state = SUB_IAC;
        else this.#subByte(b);
        continue;
      }
      this.#subLen++;
      if (b === SE) {
        this.#subEnd();
        state = DATA;
        r++;
        break;
      } else if (b === IAC) {
        this.#subByte(IAC);
        state = SUB;
      } else if (b < SE) {
        state = SUB; // malformed; the lone IAC is ignored and the bytes stay in the body
        this.#subByte(b);
      } else {
        state = CMD; // a command: the client abandoned the subnegotiation
        break;
      }
    }
    this.#state = state;
    return r;
  }

  /** Bytes the server owes the client (our offer, answers), or null; taking them clears them. */
  takeReply(): Uint8Array | null {
    if (this.#replyLen === 0) return null;
    const bytes = this.#reply!.slice(0, this.#replyLen);
    this.#replyLen = 0;
    return bytes;
  }

  /** Watches the first line's end: CR LF or CR NUL is a telnet client, a lone LF or CR is not. */
  #detectByte(b: number): void {
    if (this.#detect === UNDECIDED_CR) {
      if (b === 0x0a || b === 0) this.#startTelnet();
      else this.#detect = RAW;
    } else if (b === 0x0d) {
      this.#detect = UNDECIDED_CR;
    } else if (b === 0x0a) {
      this.#detect = RAW;
    }
  }

  /**
   * The client speaks telnet: offer character mode (unless in screen-reader mode), ask for the
   * window size and the terminal type, once.
   */
  #startTelnet(): void {
    this.#detect = TELNET;
    if (!this.#lineOnly) {
      this.#ask(WILL, OPT_ECHO);
      this.#ask(WILL, OPT_SGA);
    }
    this.#ask(DO, OPT_NAWS);
    this.#ask(DO, OPT_TTYPE);
    if (this.#binary) {
      this.#ask(WILL, OPT_BINARY);
      this.#ask(DO, OPT_BINARY);
    }
    // Wipes whatever a non-telnet client that sent CR LF might have drawn for our IAC bytes.
    this.#put(0x0d, 0x1b, 0x5b, 0x4b);
  }

  #ask(verb: number, opt: number): void {
    const opts = this.#opts ??= new Uint8Array(256);
    const v = opts[opt];
    if (verb === WILL) {
      if ((v & US) !== NO) return;
      opts[opt] = (v & ~US) | WANTYES;
    } else {
      if ((v & HIM) !== 0) return;
      opts[opt] = (v & ~HIM) | (WANTYES << HIM_SHIFT);
    }
    this.#put(IAC, verb, opt);
  }

  /**
   * We stop performing `opt`: `WONT` if it was agreed. Its acknowledgement (`DONT`) then finds
   * the option off and is not answered; an offer still unanswered is refused when the answer
   * comes (see #negotiate).
   */
  #withdraw(opt: number): void {
    const opts = this.#opts ??= new Uint8Array(256);
    const v = opts[opt];
    opts[opt] = v & ~US;
    if ((v & US) === YES) this.#put(IAC, WONT, opt);
  }

  /** What we do when asked: the options we perform, and those we let the client perform. */
  #weWill(opt: number): boolean {
    if (opt === OPT_ECHO || opt === OPT_SGA) return !this.#lineOnly;
    return opt === OPT_BINARY && this.#binary;
  }

  #weAccept(opt: number): boolean {
    return opt === OPT_SGA || opt === OPT_NAWS || opt === OPT_TTYPE ||
      (opt === OPT_BINARY && this.#binary);
  }

  /**
   * RFC 1143 without the queue bits (we never withdraw an option ourselves): an answer to our
   * own request is never answered, a state change is acknowledged once, and an option we do not
   * support is refused once per direction however often the client repeats it.
   */
  #negotiate(verb: number, opt: number, at: number): void {
    if (this.#detect !== TELNET) return; // raw clients are never sent an IAC
    const opts = this.#opts ??= new Uint8Array(256);
    let v = opts[opt];
    const us = v & US;
    const him = (v & HIM) >> HIM_SHIFT;
    switch (verb) {
      case DO:
        if (us === YES) break;
        if (us === WANTYES) {
          v = (v & ~US) | YES;
        } else if (this.#weWill(opt)) {
          v = (v & ~US) | YES;
          this.#put(IAC, WILL, opt);
        } else if (!(v & REFUSED_DO) || (this.#lineOnly && (opt === OPT_ECHO || opt === OPT_SGA))) {
          // In screen-reader mode a DO ECHO is always refused: left unanswered, the client
          // would stop echoing and its user would type blind.
          v |= REFUSED_DO;
          this.#put(IAC, WONT, opt);
        }
        if ((v & US) === YES && opt === OPT_ECHO) this.#setCharMode(true, at);
        break;
      case DONT:
        if (us === NO) break;
        if (us === YES) this.#put(IAC, WONT, opt);
        v &= ~US;
        if (opt === OPT_ECHO) this.#setCharMode(false, at);
        break;
      case WILL:
        if (him === YES) break;
        if (him === WANTYES) {
          v = (v & ~HIM) | (YES << HIM_SHIFT);
        } else if (this.#weAccept(opt)) {
          v = (v & ~HIM) | (YES << HIM_SHIFT);
          this.#put(IAC, DO, opt);
        } else if (!(v & REFUSED_WILL)) {
          v |= REFUSED_WILL;
          this.#put(IAC, DONT, opt);
        }
        if (opt === OPT_TTYPE && ((v & HIM) >> HIM_SHIFT) === YES) this.#askTtype();
        break;
      case WONT:
        if (him === NO) break;
        if (him === YES) this.#put(IAC, DONT, opt);
        v &= ~HIM;
        break;
    }
    opts[opt] = v;
  }

  #setCharMode(on: boolean, at: number): void {
    if (this.#charMode === on) return;
    this.#charMode = on;
    this.modeChangedAt = at;
  }

  #subByte(b: number): void {
    if (this.#subOpt < 0) {
      this.#subOpt = b;
    } else if (this.#subOpt === OPT_NAWS && this.#subN < 4) {
      this.#subVal = this.#subVal * 256 + b;
      this.#subN++;
    } else if (this.#subOpt === OPT_TTYPE) {
      if (this.#subN++ === 0) this.#subIs = b === TTYPE_IS;
      else if (b >= 0x20 && b < 0x7f && this.#subText.length < TTYPE_MAX) {
        this.#subText += String.fromCharCode(b);
      }
    }
  }

  #subEnd(): void {
    if (this.#detect !== TELNET) return;
    if (this.#subOpt === OPT_TTYPE) return this.#ttypeIs();
    if (this.#subOpt !== OPT_NAWS || this.#subN !== 4) return;
    const width = Math.floor(this.#subVal / 65536);
    const height = this.#subVal % 65536;
    if (width === this.#width && height === this.#height) return;
    this.#width = width;
    this.#height = height;
    this.resized = true;
    this.resizes++;
  }

  /** Asks for the (next) terminal type: `IAC SB TTYPE SEND IAC SE`, {@link TTYPE_ASKS} times at most. */
  #askTtype(): void {
    if (this.#ttypeAsks >= TTYPE_ASKS || this.#ttypeWaiting) return;
    this.#ttypeAsks++;
    this.#ttypeWaiting = true;
    this.#put(IAC, SB, OPT_TTYPE, TTYPE_SEND);
    this.#put(IAC, SE, -1);
  }

  /**
   * A `TTYPE IS name` reply. Only an answer to our request counts (a flood of unasked replies
   * changes nothing, and its bytes count toward the caller's telnet budget as any command's).
   * A name that repeats the one before ends the list; an `MTTS` one ends it too.
   */
  #ttypeIs(): void {
    if (!this.#ttypeWaiting || !this.#subIs) return;
    this.#ttypeWaiting = false;
    const names = this.#ttypeNames ??= [];
    const name = this.#subText;
    if (names.length > 0 && names[names.length - 1] === name) return;
    names.push(name);
    const mtts = names.length >= 2 ? /^MTTS (\d{1,10})$/i.exec(name) : null;
    const bits = mtts ? Number(mtts[1]) : 0;
    // MTTS: the client's name, the terminal type, then the bits; otherwise the first name is
    // the terminal's (RFC 1091 lists the most specific first).
    const type = (mtts && names.length >= 3 ? names[1] : names[0]).toLowerCase();
    const reader = (bits & MTTS_SCREEN_READER) !== 0;
    if (type !== this.#termType || reader !== this.#screenReader) {
      this.#termType = type;
      this.#screenReader = reader;
      this.terminalChanged = true;
    }
    if (!mtts) this.#askTtype();
  }

  #put(a: number, b: number, c: number, d = -1): void {
    let buf = this.#reply;
    const need = this.#replyLen + 4;
    if (!buf || buf.length < need) {
      const grown = new Uint8Array(Math.max(32, need * 2));
      if (buf) grown.set(buf.subarray(0, this.#replyLen));
      this.#reply = buf = grown;
    }
    buf[this.#replyLen++] = a;
    buf[this.#replyLen++] = b;
    if (c >= 0) buf[this.#replyLen++] = c;
    if (d >= 0) buf[this.#replyLen++] = d;
  }
}
