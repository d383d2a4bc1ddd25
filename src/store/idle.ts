/** Waiting until a store has written everything given to it (both backends' `flushed`). */

/** Callers waiting for a store to be idle. */
export class IdleWaiters {
  #waiting: (() => void)[] = [];

  /** Resolves true at the next {@link wake}, or false after `ms`. */
  wait(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiting = this.#waiting.filter((f) => f !== done);
        resolve(false);
      }, ms);
      this.#waiting.push(done);
    });
  }

  /** The store is idle: every waiter resolves true. */
  wake(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const f of waiting) f();
  }
}
