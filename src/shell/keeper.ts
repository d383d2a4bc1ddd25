/**
 * The shell's side of the server's memory: it carries the hub's store effects to the store (a
 * batch of events' writes in one go, after the batch), does the work the hub hands it (reading
 * history, hashing and checking passwords) off the hub coroutine and posts the answers back as
 * events, prunes lines older than --retention, and reports how the store is doing.
 *
 * With --retention 0 room lines go to a store in memory and never reach the disk; everything
 * else (accounts, kept rooms, bans) still goes to the database.
 */
import type { AuthOutcome, HubAsk, HubEvent } from "../chat/events.ts";
import type { BanRecord } from "../chat/moderation.ts";
import type { Logger } from "../ops/log.ts";
import type { AccountRecord, Store, StoreHealth, StoreQuery, StoreWrite } from "../store/types.ts";
import { hashPassword, outdatedPassword, passwordQueue, verifyPassword } from "./passwords.ts";

/**
 * Most password hashes waiting for their turn; past it a password is answered `busy` at once
 * (each waits a good part of a second: past this, an answer would come too late to be useful).
 */
export const MAX_PASSWORDS_WAITING = 32;

/** How often lines older than --retention are deleted. */
export const PRUNE_EVERY_MS = 10 * 60_000;

/** What a keeper is built from. */
export interface KeeperOptions {
  /** Where everything is kept. */
  store: Store;
  /** Where room lines are kept instead (--retention 0: in memory), if not in `store`. */
  lines?: Store;
  /** How long lines are kept (ms); 0 = as long as `lines` keeps them. */
  retention: number;
  log: Logger;
  /** Posts an answer to the hub's queue. */
  post: (ev: HubEvent) => void;
  now: () => number;
  /** The scrypt parameters new passwords get (tests pass cheap ones). */
  passwordParams?: string;
}

/** The hub's store effects and asks, carried out. */
export class Keeper {
  readonly #store: Store;
  readonly #lines: Store;
  readonly #retention: number;
  readonly #log: Logger;
  readonly #post: (ev: HubEvent) => void;
  readonly #now: () => number;
  readonly #params: string | undefined;
  #batch: StoreWrite[] = [];
  #lineBatch: StoreWrite[] = [];
  /** Work under way (for tests and a clean stop). */
  readonly #working = new Set<Promise<void>>();
  #pruner: ReturnType<typeof setInterval> | undefined;
  /** Lines deleted for their age, since the start. */
  pruned = 0;

  constructor(opts: KeeperOptions) {
    this.#store = opts.store;
    this.#lines = opts.lines ?? opts.store;
    this.#retention = opts.retention;
    this.#log = opts.log;
    this.#post = opts.post;
    this.#now = opts.now;
    this.#params = opts.passwordParams;
  }

  /** The hub's `remember` effect: kept for the end of the batch. */
  remember(w: StoreWrite): void {
    if (this.#lines === this.#store) {
      this.#batch.push(w);
    } else if (w.t === "line") {
      this.#lineBatch.push(w);
    } else {
      this.#batch.push(w);
      if (w.t === "unroom") this.#lineBatch.push(w);
    }
  }

  /** The hub's `saveBans` effect: the whole list, with the batch. */
  saveBans(bans: BanRecord[]): void {
    this.remember({ t: "bans", bans: bans.map((b) => ({ ...b })) });
  }

  /** After a batch of events: its writes go to the store together. */
  flush(): void {
    if (this.#batch.length > 0) {
      const batch = this.#batch;
      this.#batch = [];
      this.#store.write(batch);
    }
    if (this.#lineBatch.length > 0) {
      const batch = this.#lineBatch;
      this.#lineBatch = [];
      this.#lines.write(batch);
    }
  }

  /** The hub's `ask` effect: the work starts now, its answer is posted when done. */
  ask(work: HubAsk): void {
    // What this batch wrote so far goes first: the answer sees it (read after write).
    this.flush();
    const done = (work.kind === "query" ? this.#query(work) : this.#auth(work)).catch((e) => {
      this.#log.error("internal error in the store's work", { error: String(e) });
    }).finally(() => this.#working.delete(done));
    this.#working.add(done);
  }

  /** Resolves once the work asked so far is answered. */
  async settled(): Promise<void> {
    while (this.#working.size > 0) await Promise.all([...this.#working]);
  }

  async #query(work: HubAsk & { kind: "query" }): Promise<void> {
    const store = work.q.q === "account" ? this.#store : this.#lines;
    try {
      const answer = await store.query(work.q);
      this.#post({ type: "answer", ticket: work.ticket, answer });
    } catch (e) {
      this.#post({ type: "answer", ticket: work.ticket, answer: null, error: describe(e) });
    }
  }

  async #auth(work: HubAsk & { kind: "auth" }): Promise<void> {
    if (passwordQueue() >= MAX_PASSWORDS_WAITING) {
      this.#post({ type: "auth", ticket: work.ticket, outcome: "busy" });
      return;
    }
    let outcome: AuthOutcome;
    let account: AccountRecord | null = null;
    try {
      account = await this.#account(work.key);
      outcome = await this.#decide(work, account);
    } catch (e) {
      this.#log.warn("password work failed", { op: work.op, error: describe(e) });
      outcome = "error";
    }
    this.#post({
      type: "auth",
      ticket: work.ticket,
      outcome,
      ...(account && outcome === "ok" ? { nick: account.nick, prefs: account.prefs } : {}),
      ...(account && outcome === "taken" ? { nick: account.nick } : {}),
    });
  }

  async #account(key: string): Promise<AccountRecord | null> {
    const q: StoreQuery = { q: "account", key };
    const answer = await this.#store.query(q);
    return "account" in answer ? answer.account : null;
  }

  /** What a password decides (and the write it makes, when it is right). */
  async #decide(
    work: HubAsk & { kind: "auth" },
    account: AccountRecord | null,
  ): Promise<AuthOutcome> {
    if (work.op === "register") {
      if (account) return "taken";
      const stored = await hashPassword(work.password, this.#params);
      this.#write({
        t: "account",
        account: {
          key: work.key,
          nick: work.nick,
          ...stored,
          created: this.#now(),
          prefs: work.prefs ?? {},
        },
      });
      return "ok";
    }
    if (!account) return "unknown";
    if (!await verifyPassword(work.password, account)) return "wrong";
    switch (work.op) {
      case "identify":
        if (this.#params === undefined && outdatedPassword(account)) {
          // Made with older parameters: hashed again with today's, now that we have it.
          const stored = await hashPassword(work.password);
          this.#write({ t: "account", account: { ...account, ...stored } });
        }
        return "ok";
      case "password": {
        const stored = await hashPassword(work.newPassword ?? "", this.#params);
        this.#write({ t: "account", account: { ...account, ...stored } });
        return "ok";
      }
      case "unregister":
        this.#write({ t: "unaccount", key: work.key });
        return "ok";
    }
  }

  #write(w: StoreWrite): void {
    this.#store.write([w]);
  }

  /** Starts deleting lines older than --retention every {@link PRUNE_EVERY_MS}. */
  startPruning(): void {
    if (this.#retention <= 0 || this.#pruner !== undefined) return;
    void this.prune();
    this.#pruner = setInterval(() => void this.prune(), PRUNE_EVERY_MS);
  }

  /** Deletes lines older than --retention now; resolves with how many went. */
  async prune(): Promise<number> {
    if (this.#retention <= 0) return 0;
    try {
      const n = await this.#lines.prune(this.#now() - this.#retention);
      this.pruned += n;
      if (n > 0) this.#log.info("old lines deleted", { lines: n });
      return n;
    } catch (e) {
      this.#log.warn("old lines could not be deleted; will try again", { error: describe(e) });
      return 0;
    }
  }

  /** How the store is doing (the lines' store's troubles included). */
  get health(): StoreHealth {
    const a = this.#store.health;
    if (this.#lines === this.#store) return a;
    const b = this.#lines.health;
    return {
      ok: a.ok && b.ok,
      error: a.error || b.error,
      pending: a.pending + b.pending,
      lost: a.lost + b.lost,
      linesWritten: b.linesWritten,
    };
  }

  /** Writes what is queued, waits for work under way, and closes the store(s). */
  async close(): Promise<void> {
    clearInterval(this.#pruner);
    this.flush();
    await this.settled();
    await this.#store.close();
    if (this.#lines !== this.#store) await this.#lines.close();
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
