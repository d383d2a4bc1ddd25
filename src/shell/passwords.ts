/**
 * Password hashing for registered nicks: scrypt from `node:crypto`, the asynchronous form, which
 * runs in the runtime's thread pool and never blocks the event loop. Each password gets a random
 * 16-byte salt; the parameters are stored with the hash (`scrypt:N:r:p:keylen`), so they can be
 * raised later and the hashes made before still verify.
 *
 * One derivation with N = 2^15, r = 8 takes 32 MiB and a good fraction of a second of a core.
 * At most {@link MAX_DERIVATIONS} run at once; the others wait their turn in a queue, so a crowd
 * guessing passwords costs time, never the machine's memory.
 */
import { Buffer } from "node:buffer";
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** A password as stored: base64 hash and salt, and the parameters that made the hash. */
export interface StoredPassword {
  hash: string;
  salt: string;
  params: string;
}

/** The parameters new passwords are hashed with: N = 2^15, r = 8, p = 1, a 32-byte key. */
export const PASSWORD_PARAMS = "scrypt:32768:8:1:32";

/** Derivations that may run at once (each takes 128 × N × r bytes: 32 MiB by default). */
export const MAX_DERIVATIONS = 2;

/** Bytes of salt drawn for each password. */
const SALT_BYTES = 16;

/**
 * Bounds on parameters read back from the store: anything else is unknown and verifies as
 * false, so a damaged or hostile record cannot ask for gigabytes or hours.
 */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY = 256 * 1024 * 1024;
const MIN_KEY = 16;
const MAX_KEY = 64;

/** scrypt's parameters, parsed. */
interface ScryptParams {
  N: number;
  r: number;
  p: number;
  keylen: number;
}

/**
 * Parses `scrypt:N:r:p:keylen`; null when it is not that, or asks for more than the bounds
 * allow (N a power of two from 2 to 2^20, r up to 32, p up to 16, at most 256 MiB, a key of 16
 * to 64 bytes).
 */
function parseParams(params: string): ScryptParams | null {
  const m = /^scrypt:(\d{1,8}):(\d{1,3}):(\d{1,3}):(\d{1,3})$/.exec(params);
  if (!m) return null;
  const [N, r, p, keylen] = m.slice(1).map(Number);
  const powerOfTwo = N >= 2 && N <= MAX_N && (N & (N - 1)) === 0;
  if (!powerOfTwo || r < 1 || r > MAX_R || p < 1 || p > MAX_P) return null;
  if (128 * N * r > MAX_MEMORY || keylen < MIN_KEY || keylen > MAX_KEY) return null;
  return { N, r, p, keylen };
}

/**
 * One derivation, off the event loop. `maxmem` is raised to twice what it takes: scrypt's
 * default (32 MiB) refuses N = 2^15, r = 8 by a hair.
 */
function derive(password: string, salt: Uint8Array, s: ScryptParams): Promise<Uint8Array> {
  const maxmem = 2 * 128 * s.N * s.r;
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFC"),
      salt,
      s.keylen,
      { N: s.N, r: s.r, p: s.p, maxmem },
      (err, key) => err ? reject(err) : resolve(key),
    );
  });
}

/**
 * Runs at most `limit` tasks at once; the others wait, first come first served. Exported so a
 * test can count what runs at once with tasks of its own.
 */
export class TaskGate {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Tasks waiting their turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  /** Runs `task` when a place is free, and gives its result. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) {
      await new Promise<void>((go) => this.#waiting.push(go));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      // The place passes straight to the next in line, so no newcomer can slip in before it.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}

const gate = new TaskGate(MAX_DERIVATIONS);

/** Password derivations waiting their turn (for a metric). */
export function passwordQueue(): number {
  return gate.waiting;
}

/**
 * Hashes `password` (NFC-normalized: the same word typed on any keyboard) with a fresh random
 * salt and `params` (default {@link PASSWORD_PARAMS}; tests pass cheaper ones).
 */
export async function hashPassword(
  password: string,
  params: string = PASSWORD_PARAMS,
): Promise<StoredPassword> {
  const parsed = parseParams(params);
  if (!parsed) throw new RangeError(`unknown password parameters: ${params}`);
  const salt = randomBytes(SALT_BYTES);
  const key = await gate.run(() => derive(password, salt, parsed));
  return { hash: base64(key), salt: base64(salt), params };
}

/**
 * Whether `password` is the one `stored` was made from, with the parameters it was made with.
 * Unknown parameters, or a hash or salt that does not decode, verify as false.
 */
export async function verifyPassword(password: string, stored: StoredPassword): Promise<boolean> {
  const parsed = parseParams(stored.params);
  if (!parsed) return false;
  const salt = fromBase64(stored.salt);
  const hash = fromBase64(stored.hash);
  if (!salt || salt.length === 0 || !hash || hash.length !== parsed.keylen) return false;
  const key = await gate.run(() => derive(password, salt, parsed));
  return timingSafeEqual(key, hash);
}

/** Whether `stored` was made with other parameters than new passwords get (hash it again). */
export function outdatedPassword(stored: StoredPassword): boolean {
  return stored.params !== PASSWORD_PARAMS;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/** Decodes strict base64; null when `text` is not that. */
function fromBase64(text: string): Uint8Array | null {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return null;
  return Buffer.from(text, "base64");
}
