/**
 * A token bucket kept as two numbers, so it costs nothing until it is used: `at` starts at
 * -Infinity, which reads as "full". One kind refuses what it cannot pay for ({@link take}), the
 * other goes into debt and says how long to wait ({@link charge}).
 */
export interface Bucket {
  tokens: number;
  at: number;
}

/** A bucket that has not been used yet (full, whatever its capacity turns out to be). */
export function fullBucket(): Bucket {
  return { tokens: 0, at: -Infinity };
}

/** Tokens in `b` at `now`, refilled at `perMs` per millisecond up to `cap`. */
function level(b: Bucket, cap: number, perMs: number, now: number): number {
  if (b.at === -Infinity) return cap;
  return Math.min(cap, b.tokens + Math.max(0, now - b.at) * perMs);
}

/**
 * Refills `b` up to time `now` at `perMs` tokens per millisecond, capped at `cap`, then takes
 * `n` tokens if it holds that many. Times that go backwards are treated as no time passing.
 */
export function take(b: Bucket, n: number, cap: number, perMs: number, now: number): boolean {
  const tokens = level(b, cap, perMs, now);
  if (now > b.at) b.at = now;
  if (tokens >= n) {
    b.tokens = tokens - n;
    return true;
  }
  b.tokens = tokens;
  return false;
}

/**
 * Takes `n` tokens from `b` whatever it holds (it may go into debt) and returns the milliseconds
 * until it is out of debt again (0 when it is not in debt).
 */
export function charge(b: Bucket, n: number, cap: number, perMs: number, now: number): number {
  b.tokens = level(b, cap, perMs, now) - n;
  if (now > b.at) b.at = now;
  return b.tokens >= 0 ? 0 : Math.ceil(-b.tokens / perMs);
}

/** Milliseconds until `b` holds `n` tokens again (0 if it already does). */
export function waitFor(b: Bucket, n: number, cap: number, perMs: number, now: number): number {
  if (b.at === -Infinity) return 0;
  const tokens = level(b, cap, perMs, now);
  return tokens >= n ? 0 : Math.ceil((n - tokens) / perMs);
}
