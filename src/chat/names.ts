/**
 * Who holds which nick: this process's members by nick (any case) and by the skeleton of a nick
 * they chose, so look-alikes are refused; members elsewhere come from the mirror. Guest nicks are
 * drawn here so that none is in use anywhere.
 */
import type { Member } from "./commands/mod.ts";
import type { Client } from "./client.ts";
import type { Mirror } from "./mirror.ts";
import { skeleton } from "./nicks.ts";

/** The nicks of this process's members, with the others' through the mirror. */
export class NickTable {
  readonly #byKey = new Map<string, Client>();
  /**
   * Members who chose their nick, by its skeleton, so lookalike nicks are refused. Guest nicks
   * need no entry: nobody may choose a name of the guest form, and two guest nicks look alike
   * only when they are equal.
   */
  readonly #bySkeleton = new Map<string, Client>();
  readonly #mirror: Mirror;
  readonly #random: () => number;

  constructor(mirror: Mirror, random: () => number) {
    this.#mirror = mirror;
    this.#random = random;
  }

  /** This process's member with the nick whose lower case is `key`. */
  get(key: string): Client | undefined {
    return this.#byKey.get(key);
  }

  /** `c` (just joined, with a guest nick) holds its nick. */
  add(c: Client): void {
    this.#byKey.set(c.key, c);
  }

  /** `c` no longer holds its nick. */
  remove(c: Client): void {
    this.#byKey.delete(c.key);
    if (c.skeleton) this.#bySkeleton.delete(c.skeleton);
  }

  /** `c` now holds `nick` instead. */
  rename(c: Client, nick: string): void {
    this.remove(c);
    c.nick = nick;
    c.key = nick.toLowerCase();
    this.#byKey.set(c.key, c);
    c.skeleton = skeleton(nick);
    this.#bySkeleton.set(c.skeleton, c);
  }

  /** The member with this nick, any case, here or elsewhere. */
  holder(nick: string): Member | undefined {
    const key = nick.toLowerCase();
    return this.#byKey.get(key) ?? this.#mirror.byKey(key);
  }

  /** The member whose nick looks like `nick` (same skeleton), here or elsewhere. */
  lookalike(nick: string): Member | undefined {
    const sk = skeleton(nick);
    const key = nick.toLowerCase();
    return this.#bySkeleton.get(sk) ?? this.#byKey.get(key) ?? this.#mirror.bySkeleton(sk) ??
      this.#mirror.byKey(key);
  }

  /** A guest nick nobody holds, here or elsewhere. */
  guest(): string {
    // Enough digits that most draws are free: at least four times as many numbers as nicks.
    let digits = 4;
    while (9 * 10 ** (digits - 1) < 4 * this.#byKey.size) digits++;
    for (;; digits++) {
      const lo = 10 ** (digits - 1);
      for (let attempt = 0; attempt < 20; attempt++) {
        const nick = `guest-${lo + Math.floor(this.#random() * (9 * lo))}`;
        if (!this.#byKey.has(nick) && !this.#mirror.byKey(nick)) return nick;
      }
    }
  }
}
