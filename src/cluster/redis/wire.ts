/**
 * One Redis socket and what is tied to it: its reply parser, its command writer, the commands
 * sent on it and still waiting for replies, and its reader and writer tasks. A reconnect makes a
 * new {@link Wire}; a dead one is never used again.
 */
import { type RedisArg, RespParser, type RespValue, RespWriter } from "./resp.ts";

/** A command on its way: its promise's settlers and what the reply matching needs. */
export class Pending {
  /** Set while the command waits for a connection (it is encoded only when sent). */
  args: readonly RedisArg[] | null = null;
  constructor(
    readonly resolve: (value: RespValue) => void,
    readonly reject: (error: Error) => void,
    readonly bytes: boolean,
    /** Replies still expected (SUBSCRIBE a b c gets one per channel). */
    public replies: number,
    public deadline: number,
  ) {}
}

/** An array queue with O(1) shift (Array#shift is O(n) on long queues). */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 4096 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/** One socket and everything tied to it; a reconnect makes a new Wire. */
export class Wire {
  readonly parser = new RespParser();
  readonly writer = new RespWriter();
  readonly inflight = new Fifo<Pending>();
  dead = false;
  reason = "";
  writing = false;
  flushQueued = false;
  reader: Promise<void> = Promise.resolve();
  writeTask: Promise<void> = Promise.resolve();
  /** Bound once per wire, so scheduling a flush allocates nothing. */
  flush: () => void = () => {};

  constructor(readonly conn: Deno.Conn) {}
}
