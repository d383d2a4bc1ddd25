/**
 * RESP2, the Redis wire protocol: an encoder that writes commands straight into the buffer that
 * goes to the socket, and a streaming parser that reads replies out of a growing buffer by index.
 * The parser keeps half-built arrays on an explicit stack, so a reply split across any number of
 * reads is never re-scanned from its start, and it refuses lengths and depths past its limits
 * before allocating anything for them. The few RESP3 types a RESP2 connection could still meet
 * are mapped to RESP2 shapes; the rest fail clearly instead of desynchronising the stream.
 */

/** One command argument: strings go out as UTF-8, numbers in decimal, bytes as they are. */
export type RedisArg = string | number | Uint8Array;

/**
 * A decoded reply. Bulk strings are strings unless the parser is in bytes mode; integers are
 * numbers (exact up to 2^53); an error reply is a {@link RedisError} value, never thrown.
 */
export type RespValue = string | number | Uint8Array | null | RedisError | RespValue[];

/** An error reply from Redis (`-ERR ...`); `code` is its first word, e.g. `NOSCRIPT`. */
export class RedisError extends Error {
  /** The error's first word: `ERR`, `WRONGTYPE`, `NOSCRIPT`, `NOAUTH`, ... */
  readonly code: string;

  constructor(message: string) {
    super(message);
    this.name = "RedisError";
    const sp = message.indexOf(" ");
    this.code = sp < 0 ? message : message.slice(0, sp);
  }
}

/** The byte stream is not valid RESP (or breaks a limit): the connection must be dropped. */
export class RespProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RespProtocolError";
  }
}

/** Limits that make a hostile or broken peer fail the connection instead of exhausting memory. */
export interface RespLimits {
  /** Longest bulk string (Redis's own proto-max-bulk-len default is 512 MiB). */
  maxBulk: number;
  /** Most elements one array may declare. */
  maxArray: number;
  /** Deepest nesting of arrays. */
  maxDepth: number;
  /** Longest simple string, error or number line, in bytes. */
  maxLine: number;
}

/** Default parser limits. */
export const RESP_LIMITS: Readonly<RespLimits> = {
  maxBulk: 512 * 1024 * 1024,
  maxArray: 1 << 30,
  maxDepth: 64,
  maxLine: 1024 * 1024,
};

const CR = 13;
const LF = 10;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Marks an array header that opened a level on the stack (no value finished yet). */
const OPENED: unique symbol = Symbol("opened");
/** Bytes still to arrive before anything more can be parsed. */
const INCOMPLETE: unique symbol = Symbol("incomplete");

/** Read space kept free at the end of the buffer so each read can fill a useful chunk. */
const MIN_READ = 16 * 1024;
const INITIAL_READ = 64 * 1024;

/**
 * A streaming RESP parser. Either read straight into {@link space} and {@link commit} the count
 * (no copy), or {@link feed} chunks; then call {@link next} until it returns `undefined`. It
 * throws {@link RespProtocolError} on malformed input or a broken limit, after which it must be
 * discarded along with the connection.
 */
export class RespParser {
  /** Decode bulk strings as `Uint8Array` copies instead of strings (read before each value). */
  bytes = false;
  readonly #limits: RespLimits;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  /** Arrays under construction, outermost first, and how many elements each still needs. */
  readonly #arrays: RespValue[][] = [];
  readonly #left: number[] = [];
  /** The number parsed by the last #number call. */
  #num = 0;

  constructor(limits: Partial<RespLimits> = {}) {
    this.#limits = { ...RESP_LIMITS, ...limits };
    this.#buf = new Uint8Array(INITIAL_READ);
  }

  /** Bytes received and not yet consumed by a finished value. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Free space to read into, compacting or growing the buffer first. The view is valid until the
   * next call to {@link commit}, {@link feed} or {@link space}.
   */
  space(): Uint8Array {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      // A big reply grew the buffer; once it is consumed, give the memory back.
      if (this.#buf.length > INITIAL_READ) this.#buf = new Uint8Array(INITIAL_READ);
    }
    if (this.#buf.length - this.#end < MIN_READ) {
      const used = this.#end - this.#start;
      if (this.#start > 0 && used + MIN_READ <= this.#buf.length) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const bigger = new Uint8Array(Math.max(this.#buf.length * 2, used + MIN_READ));
        bigger.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = bigger;
      }
      this.#start = 0;
      this.#end = used;
    }
    return this.#buf.subarray(this.#end);
  }

  /** Records that `n` bytes were read into the view {@link space} returned. */
  commit(n: number): void {
    this.#end += n;
  }

  /** Copies a chunk in (for callers that already hold the bytes elsewhere). */
  feed(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      const room = this.space();
      const n = Math.min(room.length, chunk.length - off);
      room.set(chunk.subarray(off, off + n));
      this.commit(n);
      off += n;
    }
  }

  /** The next complete value, or `undefined` until more bytes arrive. */
  next(): RespValue | undefined {
    const arrays = this.#arrays;
    const left = this.#left;
    for (;;) {
      const element = this.#element();
      if (element === INCOMPLETE) return undefined;
      if (element === OPENED) continue;
      let value: RespValue = element;
      let done = true;
      while (arrays.length > 0) {
        const top = arrays[arrays.length - 1];
        top.push(value);
        if (--left[left.length - 1] > 0) {
          done = false;
          break;
        }
        arrays.pop();
        left.pop();
        value = top;
      }
      if (done) return value;
    }
  }

  /** Drops everything buffered and half-parsed. */
  reset(): void {
    this.#start = this.#end = 0;
    this.#arrays.length = 0;
    this.#left.length = 0;
  }

  /** Parses one element at #start: a scalar, an empty/null aggregate, or an opened array. */
  #element(): RespValue | typeof OPENED | typeof INCOMPLETE {
    const start = this.#start;
    if (start >= this.#end) return INCOMPLETE;
    const type = this.#buf[start];
    switch (type) {
      case 0x24: // $ bulk string
      case 0x3d: // = verbatim string (RESP3)
      case 0x21: // ! bulk error (RESP3)
        return this.#bulk(type, start);
      case 0x2a: // * array
      case 0x3e: // > push (RESP3): same shape as an array
      case 0x7e: // ~ set (RESP3)
      case 0x25: // % map (RESP3): read as a flat key, value, ... array
        return this.#aggregate(type, start);
      case 0x3a: { // : integer
        const eol = this.#number(start + 1, Number.MAX_VALUE, "integer");
        if (eol < 0) return INCOMPLETE;
        this.#start = eol + 2;
        return this.#num;
      }
      case 0x2b: // + simple string
      case 0x2d: // - error
      case 0x2c: // , double (RESP3)
      case 0x28: // ( big number (RESP3)
      case 0x23: // # boolean (RESP3): 1 or 0, as RESP2 replies booleans
        return this.#simple(type, start);
      case 0x5f: { // _ null (RESP3)
        const buf = this.#buf;
        if (this.#end < start + 3) return INCOMPLETE;
        if (buf[start + 1] !== CR || buf[start + 2] !== LF) throw new RespProtocolError("bad null");
        this.#start = start + 3;
        return null;
      }
      default:
        throw new RespProtocolError(
          type === 0x7c
            ? "RESP3 attributes are not supported"
            : `unknown reply type byte 0x${type.toString(16).padStart(2, "0")}`,
        );
    }
  }

  /** A bulk string (or RESP3 verbatim string or bulk error) whose type byte is at `start`. */
  #bulk(type: number, start: number): RespValue | typeof INCOMPLETE {
    const buf = this.#buf;
    const eol = this.#number(start + 1, this.#limits.maxBulk, "bulk string");
    if (eol < 0) return INCOMPLETE;
    const len = this.#num;
    const data = eol + 2;
    if (len === -1) {
      this.#start = data;
      return null;
    }
    if (this.#end < data + len + 2) return INCOMPLETE;
    if (buf[data + len] !== CR || buf[data + len + 1] !== LF) {
      throw new RespProtocolError("bulk string not followed by CRLF");
    }
    this.#start = data + len + 2;
    if (type === 0x21) return new RedisError(decoder.decode(buf.subarray(data, data + len)));
    // A verbatim string starts with its format, e.g. "txt:", which callers do not want.
    const from = type === 0x3d ? Math.min(data + 4, data + len) : data;
    if (this.bytes) return buf.slice(from, data + len);
    return (data + len - from <= SHORT_ASCII ? shortAscii(buf, from, data + len) : null) ??
      decoder.decode(buf.subarray(from, data + len));
  }

  /** An array header (or RESP3 push, set or map): null, `[]`, or a level opened on the stack. */
  #aggregate(type: number, start: number): RespValue | typeof OPENED | typeof INCOMPLETE {
    const eol = this.#number(start + 1, this.#limits.maxArray, "array");
    if (eol < 0) return INCOMPLETE;
    const count = type === 0x25 ? this.#num * 2 : this.#num;
    this.#start = eol + 2;
    if (count === -1 || count === -2) return null;
    if (count === 0) return [];
    if (this.#arrays.length >= this.#limits.maxDepth) {
      throw new RespProtocolError(`arrays nested deeper than ${this.#limits.maxDepth}`);
    }
    this.#arrays.push([]);
    this.#left.push(count);
    return OPENED;
  }

  /** A one-line reply: simple string, error, or RESP3 double, big number or boolean. */
  #simple(type: number, start: number): RespValue | typeof INCOMPLETE {
    const buf = this.#buf;
    const eol = this.#line(start + 1);
    if (eol < 0) return INCOMPLETE;
    this.#start = eol + 2;
    if (type === 0x2b) {
      // The commonest reply by far; skip the decoder for it.
      if (eol === start + 3 && buf[start + 1] === 0x4f && buf[start + 2] === 0x4b) return "OK";
      return decoder.decode(buf.subarray(start + 1, eol));
    }
    const text = decoder.decode(buf.subarray(start + 1, eol));
    if (type === 0x2d) return new RedisError(text);
    if (type === 0x23) {
      if (text !== "t" && text !== "f") throw new RespProtocolError("bad boolean");
      return text === "t" ? 1 : 0;
    }
    const n = type === 0x2c ? parseDouble(text) : Number(text);
    if (Number.isNaN(n) && text.toLowerCase() !== "nan") {
      throw new RespProtocolError(`bad number ${JSON.stringify(text.slice(0, 40))}`);
    }
    return n;
  }

  /**
   * Parses a signed decimal ending in CRLF at `i` into #num; returns the CR's index, or -1 if
   * the line is not complete yet. Lengths (`max` < MAX_VALUE) accept only -1 as a negative (null)
   * and fail as soon as the digits pass `max`, before anything is allocated for them.
   */
  #number(i: number, max: number, what: string): number {
    const buf = this.#buf;
    const end = this.#end;
    const isLength = max !== Number.MAX_VALUE;
    let neg = false;
    if (i < end && buf[i] === MINUS) {
      neg = true;
      i++;
    }
    let n = 0;
    let digits = 0;
    for (; i < end; i++) {
      const c = buf[i];
      if (c >= ZERO && c <= NINE) {
        n = n * 10 + (c - ZERO);
        digits++;
        if (isLength && !neg && n > max) {
          throw new RespProtocolError(`${what} length over the limit of ${max}`);
        }
        if (digits > 20) throw new RespProtocolError(`${what}: number too long`);
        continue;
      }
      if (c !== CR || digits === 0) throw new RespProtocolError(`bad ${what} header`);
      if (i + 1 >= end) return -1;
      if (buf[i + 1] !== LF) throw new RespProtocolError("CR not followed by LF");
      if (neg) {
        if (isLength && n !== 1) throw new RespProtocolError(`negative ${what} length`);
        n = -n;
      }
      this.#num = n;
      return i;
    }
    return -1;
  }

  /** Finds the CRLF ending a line that starts at `i`; returns the CR's index or -1. */
  #line(i: number): number {
    const buf = this.#buf;
    const end = this.#end;
    const limit = Math.min(end, i + this.#limits.maxLine + 1);
    for (; i < limit; i++) {
      if (buf[i] !== CR) continue;
      if (i + 1 >= end) return -1;
      if (buf[i + 1] !== LF) throw new RespProtocolError("CR not followed by LF");
      return i;
    }
    if (limit < end) throw new RespProtocolError(`line longer than ${this.#limits.maxLine} bytes`);
    return -1;
  }
}

/** Up to this many bytes, a char loop beats a TextDecoder call (measured ~3x for 7 bytes). */
const SHORT_ASCII = 16;

/** Decodes a short all-ASCII run without the decoder; null if it holds any other byte. */
function shortAscii(buf: Uint8Array, from: number, to: number): string | null {
  let s = "";
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c >= 0x80) return null;
    s += String.fromCharCode(c);
  }
  return s;
}

function parseDouble(text: string): number {
  const t = text.toLowerCase();
  if (t === "inf" || t === "+inf") return Infinity;
  if (t === "-inf") return -Infinity;
  return Number(text);
}

/** Bytes written before the writer starts a fresh buffer instead of keeping the spare. */
const KEEP_SPARE = 1024 * 1024;
const INITIAL_WRITE = 16 * 1024;
/** Strings at least this long go through TextEncoder.encodeInto rather than a char loop. */
const LONG_STRING = 256;

/**
 * Encodes commands (arrays of bulk strings) directly into one outgoing buffer: a burst of
 * commands becomes one buffer for one write, with no per-argument allocation for ASCII. Two
 * buffers alternate: {@link take} hands the filled one to a write and continues in the spare,
 * and {@link recycle} returns it once the write is done.
 */
export class RespWriter {
  #buf: Uint8Array;
  #len = 0;
  #spare: Uint8Array | null = null;

  constructor(initial = INITIAL_WRITE) {
    this.#buf = new Uint8Array(initial);
  }

  /** Bytes encoded and not yet taken. */
  get length(): number {
    return this.#len;
  }

  /**
   * Appends one command. Throws TypeError (leaving the buffer as it was) for an empty command or
   * an argument that is not a string, a finite-or-infinite number, or a Uint8Array.
   */
  command(args: readonly RedisArg[]): void {
    const mark = this.#len;
    try {
      if (args.length === 0) throw new TypeError("a redis command needs at least a name");
      this.#ensure(16);
      this.#buf[this.#len++] = 0x2a;
      this.#int(args.length);
      this.#crlf();
      for (let i = 0; i < args.length; i++) {
        const a = args[i];
        if (typeof a === "string") this.#string(a);
        else if (typeof a === "number") this.#number(a);
        else if (a instanceof Uint8Array) this.#bytes(a);
        else throw new TypeError(`redis argument ${i} is a ${typeof a}`);
      }
    } catch (e) {
      this.#len = mark;
      throw e;
    }
  }

  /** Removes and returns everything encoded so far (null if nothing). */
  take(): Uint8Array | null {
    if (this.#len === 0) return null;
    const out = this.#buf.subarray(0, this.#len);
    this.#buf = this.#spare ?? new Uint8Array(INITIAL_WRITE);
    this.#spare = null;
    this.#len = 0;
    return out;
  }

  /** Gives back a buffer from {@link take} whose write has finished, to be reused. */
  recycle(out: Uint8Array): void {
    if (out.buffer.byteLength <= KEEP_SPARE && out.byteOffset === 0) {
      this.#spare = new Uint8Array(out.buffer, 0, out.buffer.byteLength);
    }
  }

  /** Drops everything encoded and not yet taken. */
  clear(): void {
    this.#len = 0;
  }

  #ensure(extra: number): void {
    const need = this.#len + extra;
    if (need <= this.#buf.length) return;
    const bigger = new Uint8Array(Math.max(need, this.#buf.length * 2));
    bigger.set(this.#buf.subarray(0, this.#len));
    this.#buf = bigger;
  }

  #crlf(): void {
    this.#buf[this.#len++] = CR;
    this.#buf[this.#len++] = LF;
  }

  /** Writes a non-negative safe integer in decimal (room must be ensured). */
  #int(n: number): void {
    const buf = this.#buf;
    const d = digitCount(n);
    let p = this.#len + d;
    this.#len = p;
    do {
      buf[--p] = ZERO + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
  }

  #header(len: number): void {
    this.#buf[this.#len++] = 0x24;
    this.#int(len);
    this.#crlf();
  }

  #bytes(b: Uint8Array): void {
    this.#ensure(b.length + 24);
    this.#header(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    this.#crlf();
  }

  #number(n: number): void {
    if (Number.isSafeInteger(n)) {
      this.#ensure(48);
      const neg = n < 0;
      const abs = neg ? -n : n;
      this.#header(digitCount(abs) + (neg ? 1 : 0));
      if (neg) this.#buf[this.#len++] = MINUS;
      this.#int(abs);
      this.#crlf();
      return;
    }
    if (Number.isNaN(n)) throw new TypeError("redis argument is NaN");
    // Redis spells infinity the way its sorted-set commands accept it.
    this.#string(n === Infinity ? "+inf" : n === -Infinity ? "-inf" : String(n));
  }

  #string(s: string): void {
    const n = s.length;
    if (n < LONG_STRING) {
      // Optimistically ASCII: the byte length is then the string length, known up front.
      this.#ensure(n + 24);
      const mark = this.#len;
      this.#header(n);
      const buf = this.#buf;
      let p = this.#len;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        this.#len = p;
        this.#crlf();
        return;
      }
      this.#len = mark;
    }
    // Reserve room for the longest possible length header, encode, then close any gap.
    const max = n * 3;
    this.#ensure(max + 24);
    const reserved = digitCount(max);
    const data = this.#len + 1 + reserved + 2;
    const { written } = encoder.encodeInto(s, this.#buf.subarray(data));
    const actual = digitCount(written);
    this.#header(written);
    if (actual !== reserved) this.#buf.copyWithin(this.#len, data, data + written);
    this.#len += written;
    this.#crlf();
  }
}

function digitCount(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Encodes one command into a fresh buffer (the client encodes into its write buffer instead). */
export function encodeCommand(args: readonly RedisArg[]): Uint8Array {
  const w = new RespWriter(64);
  w.command(args);
  return w.take()!;
}
