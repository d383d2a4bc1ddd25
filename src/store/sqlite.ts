/**
 * The SQLite store, main-thread side: a {@link Store} whose every disk operation runs in a worker
 * (src/store/worker.ts), so the hub's thread never waits on the disk. Writes are queued and
 * sent one batch at a time, in order; what arrives meanwhile joins one pending batch, so a slow
 * disk makes transactions bigger, not more numerous. A failed batch is kept and tried again
 * with a backoff. Given up are only room lines when too many wait, and writes that can never
 * be stored (refused by the database as bad data, or not cloneable): each is counted in
 * `health.lost` and logged, never silent.
 */
import { IdleWaiters } from "./idle.ts";
import type { Logger } from "../ops/log.ts";
import { describeError } from "../lib/errors.ts";
import {
  type Failure,
  type Op,
  openMessage,
  type Replies,
  type ReplyMessage,
  type Request,
  shortError,
  type WriteResult,
} from "./protocol.ts";
import {
  type Store,
  type StoreAnswer,
  StoreError,
  type StoreHealth,
  type StoreQuery,
  type StoreStart,
  type StoreWrite,
} from "./types.ts";

/** How to open a SQLite store; the tuning fields have defaults ({@link SQLITE_DEFAULTS}). */
export interface SqliteStoreOptions {
  /** Where failures and recoveries are reported. */
  logger: Logger;
  /** The lobby's room id: its recent lines are loaded at start like a kept room's. */
  lobby: string;
  /** Most lines per room in {@link StoreStart.recent}. */
  recentLines: number;
  /** Most bytes per room in {@link StoreStart.recent}. */
  recentBytes: number;
  /** Most writes kept waiting; past it the oldest room lines are dropped (and counted). */
  maxPending?: number;
  /** The first wait before a failed batch is tried again; it doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  /** How long close() waits for queued writes, then for the worker to close the file. */
  closeWaitMs?: number;
}

/** The tuning defaults: 100 000 writes waiting, retry 1 s doubling to 30 s, 2 s to close. */
export const SQLITE_DEFAULTS = {
  maxPending: 100_000,
  retryMs: 1_000,
  maxRetryMs: 30_000,
  closeWaitMs: 2_000,
} as const;

/** Opens the store in file `path` (created 0600 when missing); rejects with a {@link StoreError}. */
export function openSqliteStore(path: string, options: SqliteStoreOptions): Promise<Store> {
  return SqliteStore.open(path, options);
}

/** A failure the worker reported for one request. */
class RequestFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.detail);
  }
}

interface Call {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** The SQLite {@link Store}: see the module comment. Open it with {@link SqliteStore.open}. */
export class SqliteStore implements Store {
  readonly health: StoreHealth = { ok: true, error: "", pending: 0, lost: 0, linesWritten: 0 };
  readonly #worker: Worker;
  readonly #log: Logger;
  readonly #opts: Required<Omit<SqliteStoreOptions, "logger">>;
  readonly #calls = new Map<number, Call>();
  #start: StoreStart | null = null;
  #nextId = 1;
  /** Writes not yet sent, oldest first. */
  #pending: StoreWrite[] = [];
  /** The batch the worker is writing now. */
  #inflight: StoreWrite[] | null = null;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #backoff: number;
  /** A failure streak is on: it was logged, the recovery will be. */
  #failing = false;
  /** Lines dropped in this streak (the first drop is logged, the total with the recovery). */
  #dropped = 0;
  #afterClose = 0;
  /** Why the worker is gone, once it is. */
  #dead: string | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  readonly #idle = new IdleWaiters();
  /** Writes given so far, and how many of them have been tried once (in order). */
  #given = 0;
  #tried = 0;
  /** Queries held until the writes given before them are tried (read after write). */
  #held: { after: number; go: () => void }[] = [];

  private constructor(options: SqliteStoreOptions) {
    this.#log = options.logger;
    this.#opts = {
      lobby: options.lobby,
      recentLines: options.recentLines,
      recentBytes: options.recentBytes,
      maxPending: options.maxPending ?? SQLITE_DEFAULTS.maxPending,
      retryMs: options.retryMs ?? SQLITE_DEFAULTS.retryMs,
      maxRetryMs: options.maxRetryMs ?? SQLITE_DEFAULTS.maxRetryMs,
      closeWaitMs: options.closeWaitMs ?? SQLITE_DEFAULTS.closeWaitMs,
    };
    this.#backoff = this.#opts.retryMs;
    this.#worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
    this.#worker.onmessage = (e: MessageEvent<ReplyMessage>) => this.#reply(e.data);
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#stop(`store worker failed: ${e.message}`);
    };
    this.#worker.onmessageerror = () => this.#stop("store worker sent an unreadable message");
  }

  /**
   * Starts the worker and opens `path` in it. Rejects with a {@link StoreError} of one line
   * naming the cause: in use by another process, read-only, disk full, damaged, permission.
   */
  static async open(path: string, options: SqliteStoreOptions): Promise<SqliteStore> {
    const store = new SqliteStore(options);
    const { lobby, recentLines, recentBytes } = store.#opts;
    try {
      store.#start = await store.#ask({
        op: "open",
        params: { path, lobby, recentLines, recentBytes },
      });
    } catch (e) {
      store.#stop("not opened");
      if (e instanceof RequestFailure) throw new StoreError(openMessage(path, e.failure));
      throw new StoreError(`store: ${path} cannot be opened (${describeError(e)})`);
    }
    return store;
  }

  /** What the store held when it opened. */
  get start(): StoreStart {
    return this.#start!;
  }

  /**
   * Queues `batch`; it never blocks and never throws (see the module comment). The records are
   * not copied here but when their batch leaves for the worker: hand over records that are no
   * longer changed.
   */
  write(batch: StoreWrite[]): void {
    if (batch.length === 0) return;
    if (this.#closed) return this.#refuseAfterClose(batch.length);
    for (const w of batch) this.#pending.push(w);
    this.#given += batch.length;
    this.#bound();
    this.#count();
    if (this.#retry === undefined) this.#send();
  }

  /**
   * Answers `q` from the worker; rejects when the database cannot be read. It sees every write
   * given before it (it is sent once they have been tried), unless writes are failing: then it
   * goes at once and sees what is on disk.
   */
  async query(q: StoreQuery): Promise<StoreAnswer> {
    try {
      await this.#writesBefore();
      return await this.#ask({ op: "query", q });
    } catch (e) {
      throw new Error(`store: query failed (${this.#why(e)})`);
    }
  }

  /** Forgets room lines said before `before` (epoch ms) and their search entries. */
  async prune(before: number): Promise<number> {
    try {
      return await this.#ask({ op: "prune", before });
    } catch (e) {
      throw new Error(`store: pruning failed (${this.#why(e)})`);
    }
  }

  /**
   * Resolves true once every write given so far is written, or false after `ms` (writes keep
   * being tried). For tests and for a caller that wants to know the disk has caught up.
   */
  flushed(ms: number): Promise<boolean> {
    return this.#isIdle() ? Promise.resolve(true) : this.#idle.wait(ms);
  }

  /** Test hook: makes the database refuse writes as a read-only one would, or lifts that. */
  async simulateWriteFault(readOnly: boolean): Promise<void> {
    await this.#ask({ op: "fault", readOnly });
  }

  /**
   * Writes what is queued (waiting at most `closeWaitMs`), closes the file and stops the
   * worker. Writes that could not be written by then are counted in `lost` and logged.
   */
  close(): Promise<void> {
    return this.#closing ??= this.#shutdown();
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    if (this.#retry !== undefined) {
      clearTimeout(this.#retry);
      this.#retry = undefined;
      this.#send();
    }
    await this.flushed(this.#opts.closeWaitMs);
    clearTimeout(this.#retry);
    this.#retry = undefined;
    if (!this.#dead) {
      // Answered after any write still in the worker's hands (requests are handled in order).
      await withTimeout(this.#ask({ op: "close" }), this.#opts.closeWaitMs).catch(() => {});
    }
    const left = this.#pending.length + (this.#inflight?.length ?? 0);
    if (left > 0) {
      this.health.lost += left;
      this.#log.error("store: closed with writes not stored", {
        pending: left,
        error: this.health.error || undefined,
      });
    }
    this.#stop("closed");
  }

  /** Resolves once the writes given so far have been tried (at once while writes fail). */
  #writesBefore(): Promise<void> {
    const after = this.#given;
    if (this.#tried >= after || this.#retry !== undefined || this.#dead) return Promise.resolve();
    return new Promise((go) => this.#held.push({ after, go }));
  }

  /** Lets the held queries go whose writes have been tried (all of them while writes fail). */
  #release(all: boolean): void {
    if (this.#held.length === 0) return;
    const waiting = this.#held;
    this.#held = [];
    for (const h of waiting) {
      if (all || this.#tried >= h.after) h.go();
      else this.#held.push(h);
    }
  }

  /** Sends the pending writes as one batch, unless a batch is in flight or none wait. */
  #send(): void {
    if (this.#inflight || this.#pending.length === 0 || this.#dead) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#inflight = batch;
    // Every write given so far is in this batch or was in one before it.
    const upTo = this.#given;
    const tried = () => {
      this.#tried = Math.max(this.#tried, upTo);
    };
    this.#ask({ op: "write", batch }).then((r) => {
      tried();
      this.#written(r);
      this.#release(false);
    }, (e) => {
      tried();
      this.#failed(e);
      this.#release(this.#retry !== undefined || this.#dead !== null);
    });
  }

  #written(r: WriteResult): void {
    this.#inflight = null;
    this.health.linesWritten += r.lines;
    if (r.refused > 0) {
      this.health.lost += r.refused;
      this.#log.error("store: writes refused by the database and dropped", {
        error: r.refusedError,
        count: r.refused,
      });
    }
    if (this.#failing) {
      this.#log.info("store: writes resumed", { lost: this.#dropped || undefined });
    }
    this.#failing = false;
    this.#dropped = 0;
    this.#backoff = this.#opts.retryMs;
    this.health.ok = this.#dead === null;
    if (this.health.ok) this.health.error = "";
    this.#count();
    if (this.#pending.length > 0) this.#send();
    else this.#wake();
  }

  #failed(e: unknown): void {
    const batch = this.#inflight ?? [];
    this.#inflight = null;
    const kept = isCloneError(e) ? this.#dropUncloneable(batch) : batch;
    this.#pending = kept.concat(this.#pending);
    if (kept.length < batch.length && !this.#dead) return this.#send();
    this.#bound();
    this.#count();
    if (this.#closed && this.#dead) return; // close() has counted and logged what is left
    const error = e instanceof RequestFailure ? shortError(e.failure) : this.#why(e);
    this.health.ok = false;
    this.health.error = error;
    if (!this.#failing) {
      this.#failing = true;
      this.#log.error("store: writes failed; kept in memory and tried again", {
        error,
        pending: this.health.pending,
      });
    }
    if (this.#dead) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#send();
    }, this.#backoff);
    this.#backoff = Math.min(this.#backoff * 2, this.#opts.maxRetryMs);
  }

  /**
   * A batch that cannot cross to the worker (a value structured clone refuses, such as a
   * function in a room's `extra`) is a bug that retrying cannot fix: the writes that cannot be
   * cloned are dropped, counted and logged, so they do not hold back the others forever.
   */
  #dropUncloneable(batch: StoreWrite[]): StoreWrite[] {
    const kept: StoreWrite[] = [];
    const kinds = new Set<string>();
    for (const w of batch) {
      try {
        structuredClone(w);
        kept.push(w);
      } catch {
        kinds.add(w.t);
      }
    }
    const dropped = batch.length - kept.length;
    if (dropped === 0) return batch;
    this.health.lost += dropped;
    this.#log.error("store: writes that cannot be stored were dropped", {
      error: "not cloneable",
      count: dropped,
      kinds: [...kinds].join(","),
    });
    return kept;
  }

  /**
   * Keeps the pending writes within `maxPending` by dropping the oldest room lines, down to
   * nine tenths of it, so a long failure costs one pass per tenth, not one per write. Other
   * writes (accounts, rooms, bans) are never dropped: they are few and each one matters.
   */
  #bound(): void {
    const max = this.#opts.maxPending;
    if (this.#pending.length <= max) return;
    let drop = this.#pending.length - Math.floor(max * 0.9);
    const kept: StoreWrite[] = [];
    for (const w of this.#pending) {
      if (drop > 0 && w.t === "line") drop--, this.#dropped++, this.health.lost++;
      else kept.push(w);
    }
    const dropped = this.#pending.length - kept.length;
    this.#pending = kept;
    if (dropped > 0 && this.#dropped === dropped) {
      this.#log.error("store: too many writes waiting; the oldest room lines are dropped", {
        max,
        dropped,
      });
    }
  }

  #refuseAfterClose(n: number): void {
    this.health.lost += n;
    if (this.#afterClose++ === 0) this.#log.error("store: writes after close are not stored");
  }

  #count(): void {
    this.health.pending = this.#pending.length + (this.#inflight?.length ?? 0);
  }

  #isIdle(): boolean {
    return this.#pending.length === 0 && this.#inflight === null;
  }

  #wake(): void {
    this.#idle.wake();
  }

  #why(e: unknown): string {
    return e instanceof RequestFailure ? `${shortError(e.failure)}: ${e.failure.detail}` : (
      describeError(e)
    );
  }

  /** Sends a request to the worker; resolves with its answer. */
  #ask<K extends Op>(req: Extract<Request, { op: K }>): Promise<Replies[K]> {
    if (this.#dead) {
      return Promise.reject(new RequestFailure({ kind: "other", detail: this.#dead }));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        this.#worker.postMessage({ ...req, id });
      } catch (e) {
        this.#calls.delete(id);
        reject(e);
      }
    });
  }

  #reply(m: ReplyMessage): void {
    const call = this.#calls.get(m.id);
    if (!call) return;
    this.#calls.delete(m.id);
    if (m.ok) call.resolve(m.value);
    else call.reject(new RequestFailure(m.failure));
  }

  /** Stops the worker; everything still waiting for it fails with `why`. */
  #stop(why: string): void {
    if (this.#dead) return;
    this.#dead = why;
    this.#worker.terminate();
    if (this.#start !== null && why !== "closed") {
      this.health.ok = false;
      this.health.error = "store worker stopped";
      this.#log.error("store: the database worker stopped; writes are kept in memory", {
        error: why,
        pending: this.health.pending,
      });
    }
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const c of calls) c.reject(new RequestFailure({ kind: "other", detail: why }));
    this.#release(true);
  }
}

/** `p`, or a rejection after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** True for the error postMessage throws for a value it cannot clone. */
function isCloneError(e: unknown): boolean {
  return e instanceof DOMException && e.name === "DataCloneError";
}
