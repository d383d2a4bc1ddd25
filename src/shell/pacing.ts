/**
 * Write pacing. On loopback a write costs 10-20 µs of CPU whatever its size, so a room of 1000
 * at a line per millisecond would spend all its time writing a line at a time. The pacer counts
 * the clients it started a write for in each window of PACE_WINDOW_MS; with D of them, a client
 * written to less than D / WRITES_PER_MS ms ago (at most MAX_WRITE_GAP_MS) waits out the rest of
 * that time, and its next write carries everything that came meanwhile: a busy room of 1000 gets
 * the lines of ~30 ms in each write. Someone not written to lately is written to at once, unless
 * many are woken together (BURST_MIN or more: a line to a big room): then the first write waits
 * BURST_MS, so that it carries the rest of a burst rather than its first line only (a burst of a
 * thousand lines to a thousand people goes out in one or two writes each, not five).
 */

export const WRITES_PER_MS = 30;
/** Writers started in one turn of the event loop; the rest start in the next turns. */
export const START_CHUNK = 1024;
export const MAX_WRITE_GAP_MS = 50;
export const PACE_WINDOW_MS = 50;
/** Writers woken together from which the first write waits BURST_MS. */
export const BURST_MIN = 64;
export const BURST_MS = 10;

/** A client whose writer the pacer starts, and the pacer's bookkeeping on it. */
export interface Paced {
  /** Starts the writer if there is something to write and none is running. */
  kick(): void;
  /** When its writer was last started (performance.now() ms). */
  lastKick: number;
  /** Waiting for its turn to write (and until when). */
  waiting: boolean;
  dueAt: number;
}

/** Starts writers, a client written to just now waiting its turn. */
export class WritePacer {
  /** How long a client just written to waits before the next write. */
  #gap = 0;
  /** The current window: when it started, and the clients written to in it. */
  #windowAt = 0;
  #windowClients = 0;
  /** Clients waiting out the gap, in the order they started waiting, and the one timer. */
  #waiting: Paced[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = 0;
  /** True once the server is stopping: the rest of a big start is left to the closing flush. */
  readonly #stopping: () => boolean;

  constructor(stopping: () => boolean) {
    this.#stopping = stopping;
  }

  /**
   * Starts the writers of `clients`, but a client written to less than the current gap ago
   * waits for the rest of it.
   */
  start(clients: Paced[]): void {
    const now = performance.now();
    this.#closeWindow(now);
    const gap = this.#gap;
    if (clients.length > START_CHUNK) {
      // A write starts at once (the kernel takes it during the call), so thousands of writers
      // started together would all send the first line of a burst before the rest of it is even
      // read. Started a chunk per turn, the later ones get the whole burst in one write.
      const rest = clients.slice(START_CHUNK);
      clients = clients.slice(0, START_CHUNK);
      setTimeout(() => {
        if (!this.#stopping()) this.start(rest);
      }, 0);
    }
    const burst = clients.length >= BURST_MIN;
    const waiting = this.#waiting;
    let sorted = true;
    for (let i = 0; i < clients.length; i++) {
      const c = clients[i];
      if (c.waiting) continue;
      const idle = now - c.lastKick >= gap;
      if (idle && !burst) {
        this.#kick(c, now);
        continue;
      }
      c.waiting = true;
      c.dueAt = idle ? now + BURST_MS : c.lastKick + gap;
      if (waiting.length > 0 && waiting[waiting.length - 1].dueAt > c.dueAt) sorted = false;
      waiting.push(c);
    }
    // The timer serves the list in order of when each is due.
    if (!sorted) waiting.sort((a, b) => a.dueAt - b.dueAt);
    if (waiting.length === 0) return;
    if (this.#timer !== undefined && waiting[0].dueAt < this.#timerDue) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#timer === undefined) this.#arm();
  }

  /** Whoever waits for a turn is left to the closing flush, which writes anyway. */
  stop(): void {
    clearTimeout(this.#timer);
  }

  #kick(c: Paced, now: number): void {
    if (c.lastKick < this.#windowAt) this.#windowClients++;
    c.lastKick = now;
    c.kick();
  }

  /** Closes the pacing window when it is over: the gap follows how many were written to. */
  #closeWindow(now: number): void {
    if (now - this.#windowAt < PACE_WINDOW_MS) return;
    const clients = now - this.#windowAt < 2 * PACE_WINDOW_MS ? this.#windowClients : 0;
    this.#gap = Math.min(MAX_WRITE_GAP_MS, clients / WRITES_PER_MS);
    this.#windowAt = now;
    this.#windowClients = 0;
  }

  /** The one timer, for the first client waiting. */
  #arm(): void {
    this.#timerDue = this.#waiting[0].dueAt;
    const wait = Math.max(0, this.#timerDue - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const now = performance.now();
      this.#closeWindow(now);
      const list = this.#waiting;
      let i = 0;
      for (; i < list.length && list[i].dueAt <= now + 1; i++) {
        list[i].waiting = false;
        this.#kick(list[i], now);
      }
      this.#waiting = i === list.length ? [] : list.slice(i);
      if (this.#waiting.length > 0) this.#arm();
    }, wait);
  }
}
