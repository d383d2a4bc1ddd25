/**
 * Wrong passwords per account: an account that sees many failures from several addresses is
 * locked for a while (one address alone is stopped by its strikes). Pure bookkeeping: callers
 * pass `now`.
 */
import { formatDuration } from "../lib/units.ts";
import type { HubContext } from "./context.ts";

/**
 * An account is locked for `ms` once it saw `failures` wrong passwords within `window`, from at
 * least `addresses` addresses.
 */
export const LOCKOUT = { failures: 10, addresses: 3, window: 15 * 60_000, ms: 15 * 60_000 };

/** Wrong passwords for one account. */
interface Failures {
  first: number;
  count: number;
  addrs: Set<string>;
  lockedUntil: number;
}

/** The failures of every account that had some lately. */
export class Lockout {
  readonly #ctx: HubContext;
  readonly #failures = new Map<string, Failures>();

  constructor(ctx: HubContext) {
    this.#ctx = ctx;
  }

  /** How long account `key` stays locked (0 = not locked). */
  lockedFor(key: string, now: number): number {
    const f = this.#failures.get(key);
    return f && f.lockedUntil > now ? f.lockedUntil - now : 0;
  }

  /** One more wrong password for `key` from the address `addrKey`; returns the count. */
  failed(key: string, addrKey: string, now: number): number {
    let f = this.#failures.get(key);
    if (!f || now - f.first > LOCKOUT.window) {
      f = { first: now, count: 0, addrs: new Set(), lockedUntil: f?.lockedUntil ?? 0 };
      this.#failures.set(key, f);
    }
    f.count++;
    if (f.addrs.size < 64) f.addrs.add(addrKey);
    if (
      f.count >= LOCKOUT.failures && f.addrs.size >= LOCKOUT.addresses && f.lockedUntil <= now
    ) {
      f.lockedUntil = now + LOCKOUT.ms;
      this.#ctx.stats.lockouts++;
      this.#ctx.log.warn("account locked: many wrong passwords from several addresses", {
        account: key,
        failures: f.count,
        addresses: f.addrs.size,
        for: formatDuration(LOCKOUT.ms),
      });
    }
    return f.count;
  }

  /** The right password for `key` (or it is gone): its failures are forgotten. */
  clear(key: string): void {
    this.#failures.delete(key);
  }

  /** Forgets failures that are old and locks that have ended. */
  tick(now: number): void {
    for (const [key, f] of this.#failures) {
      if (now - f.first > LOCKOUT.window && f.lockedUntil <= now) this.#failures.delete(key);
    }
  }
}
