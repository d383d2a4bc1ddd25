/**
 * Accepting connections, for every port alike. Running out of file descriptors is survived: a
 * spare descriptor is given up to accept the waiting client, tell it the server is full and
 * close it, and accepting goes on once descriptors come back. A client that reset before it was
 * accepted is no reason to back off. A storm of arrivals is taken {@link ACCEPT_BURST} at a
 * time, the rest of the server running in between.
 */
import { type Logger, LogThrottle } from "../ops/log.ts";

/**
 * Every this many connections accepted, the loop lets the rest of the server run a turn. An
 * accept never waits while clients are queued in the kernel, so a storm used to be taken whole
 * (the hub got 10 000 quick connects in batches of 128): every newcomer's welcome, and the hub's
 * work on it, stayed in flight until the last of its batch was in, long enough to outlive the
 * young generation, and ~2 KB per connection of garbage was left in the old heap until the next
 * full collection. Taken a few dozen at a time, the welcomes go out while the next ones wait.
 */
export const ACCEPT_BURST = 32;

function isFdExhaustion(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === "EMFILE" || code === "ENFILE" ||
    (e instanceof Error && /too many open files/i.test(e.message));
}

/** An accept error that is about one connection (its client gave up), not the listener. */
function isGoneBeforeAccept(e: unknown): boolean {
  return e instanceof Deno.errors.NotConnected || e instanceof Deno.errors.ConnectionAborted ||
    e instanceof Deno.errors.ConnectionReset;
}

/** Closes `conn`, which may be closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** The accept loops of a server, with the spare descriptor they share. */
export class Acceptor {
  readonly #log: Logger;
  readonly #now: () => number;
  /** How many sockets the server holds (for the log line about running out). */
  readonly #held: () => number;
  /** A spare descriptor, given up to accept-and-refuse when the process runs out. */
  #reserve: Deno.TcpListener | null = null;
  readonly #errors = new LogThrottle(10_000);
  /** Sleeping loops (after an accept error), woken at {@link stop}. */
  readonly #sleepers = new Set<() => void>();
  #stopping = false;

  constructor(log: Logger, now: () => number, held: () => number) {
    this.#log = log;
    this.#now = now;
    this.#held = held;
    this.#reserve = spare();
  }

  /**
   * Accepts on `listener` until {@link stop}, handing each socket to `adopt`; a client refused
   * for want of descriptors is told `full` first.
   */
  async loop(
    listener: Deno.TcpListener,
    full: Uint8Array,
    adopt: (conn: Deno.TcpConn) => void,
  ): Promise<void> {
    let backoff = 5;
    let sinceYield = 0;
    while (!this.#stopping) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
        backoff = 5;
      } catch (e) {
        if (this.#stopping || e instanceof Deno.errors.BadResource) break;
        // A client that reset its connection before it was accepted: nothing is wrong with the
        // listener, so no backing off (that would let anyone stall accepting for everyone).
        if (isGoneBeforeAccept(e)) continue;
        const fds = isFdExhaustion(e);
        if (this.#errors.first(fds ? "fds" : "other", this.#now())) {
          this.#log.warn(
            fds ? "out of file descriptors: refusing new connections" : "accept failed",
            { error: e instanceof Error ? e.message : String(e), clients: this.#held() },
          );
        }
        this.#report();
        if (fds && this.#reserve && await this.#shed(listener, full)) continue;
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, 1_000);
        continue;
      }
      this.#report();
      try {
        conn.setNoDelay(true);
      } catch {
        // not fatal: only latency
      }
      adopt(conn);
      if (++sinceYield >= ACCEPT_BURST) {
        sinceYield = 0;
        await this.#sleep(0);
      }
    }
  }

  /** Stops every loop (their listeners are closed by the caller) and gives up the spare. */
  stop(): void {
    this.#stopping = true;
    for (const wake of [...this.#sleepers]) wake();
    try {
      this.#reserve?.close();
    } catch {
      // already closed
    }
    this.#reserve = null;
  }

  /**
   * Out of descriptors: frees the spare one, accepts the waiting client, tells it the server
   * is full and closes it, then takes the spare back. Keeps a full server from spinning on the
   * same pending connection, and the client learns why instead of hanging.
   */
  async #shed(listener: Deno.Listener, full: Uint8Array): Promise<boolean> {
    try {
      this.#reserve?.close();
    } catch {
      // ignore
    }
    this.#reserve = null;
    try {
      const conn = await listener.accept();
      await conn.write(full).catch(() => 0);
      closeQuietly(conn);
    } catch {
      // nothing to shed after all
    }
    if (this.#stopping) return false;
    this.#reserve = spare();
    return this.#reserve !== null;
  }

  #report(): void {
    for (const { key, count } of this.#errors.sweep(this.#now())) {
      this.#log.warn(
        key === "fds" ? "connections refused for lack of file descriptors" : "accept failures",
        { times: count, within: "10s" },
      );
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }
}

/** A spare descriptor (a listener on a free loopback port), or null if none can be had. */
function spare(): Deno.TcpListener | null {
  try {
    return Deno.listen({ hostname: "127.0.0.1", port: 0 });
  } catch {
    return null;
  }
}
