/**
 * The Redis store (`--redis URL`): a {@link Store} that several Shat processes share, so every
 * one of them answers the same /history, /search and /identify.
 *
 * Keys, all under the prefix P (`--redis-prefix`; none collides with the cluster's, see
 * src/cluster/scripts.ts):
 * - `P:acct`: hash, account key → AccountRecord JSON.
 * - `P:kept`: hash, room id → RoomRecord JSON, kept rooms only (a room written with kept=false
 *   is deleted from it).
 * - `P:hist:ROOM`: sorted set of the room's lines, score = seq, member = the KeptLine's JSON
 *   (with the seq the store gave it); at most `maxRoomLines`, the oldest trimmed on write.
 * - `P:hseq:ROOM`: the room's line counter. `P:hrooms`: set of the rooms that have lines.
 * - `P:hw:WRITER`: the last write chunk a store instance applied (expires after a quiet week).
 *
 * Several processes write the same rooms, so the store numbers each line itself: INCR of
 * `P:hseq:ROOM` in the script that also adds, trims and lists the line. The seq the hub passed is
 * ignored; the lines read back carry the store's.
 *
 * Writes never wait: they are queued and sent in order, in chunks, one {@link WRITE_SCRIPT} call
 * per chunk, one chunk at a time. Redis runs a script whole once it has started, so a chunk whose
 * fate is unknown (the connection died under it) is sent again with the same number, which the
 * script recognizes (`P:hw:WRITER`): nothing is written twice, nothing is reordered. A write Redis
 * refuses inside a chunk (a key of the wrong type) is dropped, counted in `lost` and logged. While Redis is down, writes wait and are tried again
 * (1 s doubling to 30 s, and at once when the connection is back); only room lines are ever
 * given up, when too many wait, and that is counted and logged. Bans are not written here: the
 * cluster already shares them in its own hash (P:bans).
 *
 * Queries read the sorted sets newest first (ZREVRANGEBYSCORE, `(beforeSeq` exclusive, LIMIT) and
 * fail at once while Redis is away. `since` ends the walk at the first older line (`at` grows
 * with seq; a clock skew between processes can hide a line said within the skew). /search is a
 * bounded scan of the room's newest {@link SEARCH_SCAN} lines, every word a case-insensitive
 * substring, with no index.
 *
 * Everything read back is untrusted (anything could have written it): records are checked, free
 * text cleaned as typed text is and cut; a malformed record is skipped and logged.
 */
import { IdleWaiters } from "./idle.ts";
import {
  array,
  below,
  type Chunk,
  clampLimit,
  encode,
  type Op,
  readAccount,
  readLine,
  readRoom,
  redisStoreKeys,
  shortError,
  strings,
  WRITE_SCRIPT,
} from "./redis_records.ts";

export { redisStoreKeys, WRITE_SCRIPT } from "./redis_records.ts";
import { describeError } from "../lib/errors.ts";
import { utf8Length } from "../lib/utf8.ts";
import { type Logger, LogThrottle } from "../ops/log.ts";
import {
  endpointAddress,
  parseRedisUrl,
  RedisClient,
  type RedisScript,
  type RespValue,
} from "../cluster/redis/client.ts";
import {
  type AccountRecord,
  type KeptLine,
  type Store,
  type StoreAnswer,
  StoreError,
  type StoreHealth,
  type StoreQuery,
  type StoreStart,
  type StoreWrite,
} from "./types.ts";

/** How to open the Redis store ({@link REDIS_STORE_DEFAULTS} for the optional fields). */
export interface RedisStoreOptions {
  /** As --redis. */
  url: string;
  /** As --redis-prefix: every key starts with `${prefix}:`. */
  prefix: string;
  logger: Logger;
  /** The lobby's room id: its recent lines are loaded at start like a kept room's. */
  lobby: string;
  /** Most lines, and bytes (nick + text, UTF-8), per room in {@link StoreStart.recent}. */
  recentLines: number;
  recentBytes: number;
  /** Most lines a room keeps: the oldest are trimmed on write. */
  maxRoomLines?: number;
  /** Most writes waiting while Redis is down; past it the oldest lines are dropped. */
  maxPending?: number;
  /** The first wait before a failed chunk is tried again; it doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  /** How long close() waits for queued writes. */
  closeWaitMs?: number;
}

/** Longest a query waits for the writes queued before it. */
const READ_AFTER_WRITE_MS = 2_000;

/** The tuning defaults. */
export const REDIS_STORE_DEFAULTS = {
  maxRoomLines: 10_000,
  maxPending: 100_000,
  retryMs: 1_000,
  maxRetryMs: 30_000,
  closeWaitMs: 2_000,
};

/** /search reads at most this many of a room's newest lines: a bounded scan, not an index. */
export const SEARCH_SCAN = 5_000;
/** Most lines a `lines` query reads. */
const LINES_SCAN = 20_000;
/** Writes per script call, and about how many bytes of them; lines read per pruning step. */
const CHUNK_WRITES = 500;
const CHUNK_BYTES = 512 * 1024;
const PRUNE_CHUNK = 1_000;
/** How long a writer's last chunk number is remembered. */
const WRITER_TTL_MS = 7 * 24 * 3_600_000;

/** Opens the Redis store; rejects with a one-line {@link StoreError} if Redis cannot be read. */
export function openRedisStore(opts: RedisStoreOptions): Promise<RedisStore> {
  return RedisStore.open(opts);
}

/** The Redis {@link Store}: see the module comment. Open it with {@link openRedisStore}. */
export class RedisStore implements Store {
  readonly health: StoreHealth = { ok: true, error: "", pending: 0, lost: 0, linesWritten: 0 };
  readonly #o: Required<Omit<RedisStoreOptions, "logger" | "url">>;
  readonly #log: Logger;
  readonly #keys: ReturnType<typeof redisStoreKeys>;
  readonly #writer = crypto.randomUUID();
  readonly #drops = new LogThrottle(60_000);
  #client!: RedisClient;
  #script!: RedisScript;
  #start!: StoreStart;
  #pending: Op[] = [];
  /** The chunk on its way, or sent and not answered for (it goes again, with its number). */
  #chunk: Chunk | null = null;
  #chunks = 0;
  #sending = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #backoff: number;
  /** An outage is on: it was logged, the recovery will be. */
  #failing = false;
  /** Lines dropped in this outage. */
  #dropped = 0;
  #closed = false;
  /** The connection is closed: nothing more is sent or tried again. */
  #shut = false;
  #closing: Promise<void> | null = null;
  readonly #idle = new IdleWaiters();
  #afterClose = 0;

  private constructor(opts: RedisStoreOptions) {
    const d = REDIS_STORE_DEFAULTS;
    this.#o = {
      prefix: opts.prefix,
      lobby: opts.lobby,
      recentLines: opts.recentLines,
      recentBytes: opts.recentBytes,
      maxRoomLines: Math.max(1, opts.maxRoomLines ?? d.maxRoomLines),
      maxPending: Math.max(1, opts.maxPending ?? d.maxPending),
      retryMs: opts.retryMs ?? d.retryMs,
      maxRetryMs: opts.maxRetryMs ?? d.maxRetryMs,
      closeWaitMs: opts.closeWaitMs ?? d.closeWaitMs,
    };
    this.#log = opts.logger;
    this.#keys = redisStoreKeys(opts.prefix);
    this.#backoff = this.#o.retryMs;
  }

  /** Connects, loads the script and reads what the server starts from. */
  static async open(opts: RedisStoreOptions): Promise<RedisStore> {
    const store = new RedisStore(opts);
    try {
      store.#client = await RedisClient.connect(opts.url, {
        commandTimeoutMs: 10_000,
        connectTimeoutMs: 3_000,
        pingIntervalMs: 2_000,
        reconnectMaxMs: 2_000,
        // Queries fail at once while Redis is away; writes wait in this store's own queue.
        whenDisconnected: "fail",
        onDisconnect: (reason) => store.#down(`redis connection lost (${reason})`),
        onReconnect: () => store.#up(),
      });
    } catch (e) {
      throw new StoreError(`store: ${describeError(e)}`);
    }
    try {
      store.#script = await store.#client.script(WRITE_SCRIPT);
      store.#start = await store.#readStart();
    } catch (e) {
      await store.#client.close();
      const at = endpointAddress(parseRedisUrl(opts.url));
      throw new StoreError(`store: cannot read redis at ${at} (${describeError(e)})`);
    }
    return store;
  }

  /** What Redis held when the store opened. */
  get start(): StoreStart {
    return this.#start;
  }

  /** Queues `batch`; it never blocks and never throws. Bans are not kept here (see above). */
  write(batch: StoreWrite[]): void {
    if (this.#closed) return this.#refuseAfterClose(batch.length);
    for (const w of batch) {
      const op = encode(w);
      if (op) this.#pending.push(op);
    }
    this.#bound();
    this.#count();
    if (this.#retry === undefined) this.#send();
  }

  /**
   * Answers `q`; rejects when Redis cannot be read. Writes given before it are sent first (it
   * waits for them up to {@link READ_AFTER_WRITE_MS}, not while Redis is failing), so a
   * process reads what it has just written (an account just registered, a line just said).
   */
  async query(q: StoreQuery): Promise<StoreAnswer> {
    if (!this.#failing && !this.#isIdle()) await this.flushed(READ_AFTER_WRITE_MS);
    try {
      switch (q.q) {
        case "lines":
          return await this.#lines(q.room, q.limit, q.since, q.beforeSeq);
        case "search":
          return await this.#search(q.room, q.words, q.limit);
        case "account":
          return { account: await this.#account(q.key) };
      }
    } catch (e) {
      throw new Error(`store: query failed (${describeError(e)})`);
    }
  }

  /** Forgets room lines said before `before` (epoch ms), in every room; resolves with how many. */
  async prune(before: number): Promise<number> {
    try {
      let n = 0;
      for (const room of strings(await this.#client.send(["SMEMBERS", this.#keys.hrooms]))) {
        n += await this.#pruneRoom(room, before);
      }
      return n;
    } catch (e) {
      throw new Error(`store: pruning failed (${describeError(e)})`);
    }
  }

  /** Resolves true once every write given so far is in Redis, or false after `ms`. */
  flushed(ms: number): Promise<boolean> {
    return this.#isIdle() ? Promise.resolve(true) : this.#idle.wait(ms);
  }

  /** Sends what is queued (waiting at most `closeWaitMs`), then closes the connection. */
  close(): Promise<void> {
    return this.#closing ??= this.#shutdown();
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    this.#retryNow();
    await this.flushed(this.#o.closeWaitMs);
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#shut = true;
    const left = this.#pending.length + (this.#chunk?.ops.length ?? 0);
    await this.#client.close();
    if (left > 0) {
      this.health.lost += left;
      this.#log.error("store: closed with writes not stored", { pending: left });
    }
  }

  // ---- writing

  /** Sends the next chunk, unless one is on its way or none waits. */
  #send(): void {
    if (this.#sending || this.#shut) return;
    const chunk = this.#chunk ??= this.#take();
    if (!chunk) return this.#wake();
    this.#sending = true;
    const args = [this.#o.prefix, chunk.n, this.#o.maxRoomLines, WRITER_TTL_MS];
    for (const op of chunk.ops) args.push(...op.args);
    this.#script.run([this.#keys.writer(this.#writer)], args).then(
      (reply) => this.#sent(chunk, reply),
      (e) => this.#failed(e),
    );
  }

  /** The oldest pending writes, as a numbered chunk. */
  #take(): Chunk | null {
    let i = 0;
    for (let bytes = 0; i < this.#pending.length && i < CHUNK_WRITES && bytes < CHUNK_BYTES; i++) {
      const [, a, b] = this.#pending[i].args;
      bytes += a.length + b.length;
    }
    if (i === 0) return null;
    return { n: ++this.#chunks, ops: this.#pending.splice(0, i) };
  }

  #sent(chunk: Chunk, reply: RespValue): void {
    this.#sending = false;
    this.#chunk = null;
    const refused = Array.isArray(reply) ? reply.slice(1) : [];
    let lines = chunk.ops.filter((op) => op.line).length;
    for (let i = 0; i + 1 < refused.length; i += 2) {
      if (chunk.ops[Number(refused[i]) - 1]?.line) lines--;
    }
    this.health.linesWritten += lines;
    if (refused.length > 0) {
      this.health.lost += refused.length / 2;
      this.#log.error("store: writes refused by redis and dropped", {
        count: refused.length / 2,
        error: String(refused[1]).slice(0, 200),
      });
    }
    this.#recovered();
    this.#count();
    this.#send();
  }

  #failed(e: unknown): void {
    this.#sending = false;
    this.#count();
    if (this.#shut) return;
    this.#down(describeError(e), shortError(e));
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#send();
    }, this.#backoff);
    this.#backoff = Math.min(this.#backoff * 2, this.#o.maxRetryMs);
  }

  /** Redis went away or refused a chunk: said once per outage. */
  #down(detail: string, error = "redis connection lost"): void {
    this.health.ok = false;
    this.health.error = error;
    if (this.#failing) return;
    this.#failing = true;
    this.#log.warn("store: redis unavailable; writes are kept and tried again", {
      error: detail,
      pending: this.health.pending,
    });
  }

  /** The connection is back: a waiting chunk goes now; with none, the outage is over. */
  #up(): void {
    if (this.#isIdle()) this.#recovered();
    else this.#retryNow();
  }

  #recovered(): void {
    this.#backoff = this.#o.retryMs;
    this.health.ok = true;
    this.health.error = "";
    if (!this.#failing) return;
    this.#failing = false;
    this.#log.info("store: redis writes resumed", { lost: this.#dropped || undefined });
    this.#dropped = 0;
  }

  #retryNow(): void {
    if (this.#retry === undefined) return;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#send();
  }

  /** Keeps the queue within `maxPending` by dropping the oldest room lines, down to 90 %. */
  #bound(): void {
    const max = this.#o.maxPending;
    if (this.#pending.length <= max) return;
    let drop = this.#pending.length - Math.floor(max * 0.9);
    const kept: Op[] = [];
    for (const op of this.#pending) {
      if (op.line && drop > 0) drop--;
      else kept.push(op);
    }
    const dropped = this.#pending.length - kept.length;
    this.#pending = kept;
    this.health.lost += dropped;
    if (dropped > 0 && this.#dropped === 0) {
      this.#log.error("store: too many writes waiting; the oldest room lines are dropped", {
        max,
        dropped,
      });
    }
    this.#dropped += dropped;
  }

  #refuseAfterClose(n: number): void {
    this.health.lost += n;
    if (this.#afterClose++ === 0) this.#log.error("store: writes after close are not stored");
  }

  #count(): void {
    this.health.pending = this.#pending.length + (this.#chunk?.ops.length ?? 0);
  }

  #isIdle(): boolean {
    return this.#pending.length === 0 && this.#chunk === null && !this.#sending;
  }

  #wake(): void {
    this.#idle.wake();
  }

  // ---- reading

  /** A page of a room's lines and their seqs: newest first below `from`, or oldest above it. */
  async #range(key: string, rev: boolean, from: string, count: number) {
    const cmd = rev
      ? ["ZREVRANGEBYSCORE", key, from, "-inf"]
      : ["ZRANGEBYSCORE", key, from, "+inf"];
    const a = array(await this.#client.send([...cmd, "WITHSCORES", "LIMIT", 0, count]));
    const out: [RespValue, number][] = [];
    for (let i = 0; i + 1 < a.length; i += 2) out.push([a[i], Number(a[i + 1])]);
    return out;
  }

  /** A room's lines newest first below `beforeSeq`, `scan` at most, malformed ones skipped. */
  async *#newest(room: string, beforeSeq: number | undefined, scan: number, page: number) {
    const key = this.#keys.hist(room);
    let from = below(beforeSeq);
    for (let left = scan; left > 0 && from !== "-inf";) {
      const got = await this.#range(key, true, from, Math.min(page, left));
      for (const [raw, seq] of got) {
        from = `(${seq}`;
        const line = readLine(raw, room, seq);
        if (line) yield line;
        else this.#malformed(key, String(seq));
      }
      if (got.length < Math.min(page, left)) return;
      left -= got.length;
    }
  }

  /**
   * The newest `limit` lines below `beforeSeq` that `keep` takes, oldest first, and whether one
   * more was taken; `keep` may end the walk ("stop"). At most `scan` lines are read.
   */
  async #collect(
    room: string,
    limit: number,
    scan: number,
    keep: (l: KeptLine) => boolean | "stop",
    beforeSeq?: number,
  ): Promise<{ lines: KeptLine[]; more: boolean }> {
    const n = clampLimit(limit);
    const found: KeptLine[] = [];
    let more = false;
    const page = Math.min(Math.max(n + 1, 32), 500);
    for await (const line of this.#newest(room, beforeSeq, scan, page)) {
      const k = keep(line);
      if (k === "stop") break;
      if (!k) continue;
      if (found.length === n) {
        more = true;
        break;
      }
      found.push(line);
    }
    return { lines: found.reverse(), more };
  }

  #lines(room: string, limit: number, since?: number, beforeSeq?: number) {
    // Lines are in seq order and `at` grows with seq: the first older line ends the walk.
    const keep = (l: KeptLine) => since === undefined || l.at >= since || "stop";
    return this.#collect(room, limit, LINES_SCAN, keep, beforeSeq);
  }

  #search(room: string, words: string[], limit: number) {
    const lower = words.map((w) => String(w).toLowerCase());
    const keep = (l: KeptLine) => {
      const text = l.text.toLowerCase();
      return lower.every((w) => text.includes(w));
    };
    return this.#collect(room, limit, SEARCH_SCAN, keep);
  }

  /** The last lines of `room`, oldest first, at most `recentLines` and `recentBytes`. */
  async #recent(room: string): Promise<KeptLine[]> {
    let bytes = 0;
    const keep = (l: KeptLine) => {
      bytes += utf8Length(l.nick) + utf8Length(l.text);
      return bytes <= this.#o.recentBytes || "stop";
    };
    const max = this.#o.recentLines;
    return (await this.#collect(room, max, clampLimit(max) * 2 + 16, keep)).lines;
  }

  async #account(key: string): Promise<AccountRecord | null> {
    const raw = await this.#client.send(["HGET", this.#keys.acct, key]);
    const account = raw === null ? null : readAccount(raw, key);
    if (raw !== null && !account) this.#malformed(this.#keys.acct, key);
    return account;
  }

  /** Lines said before `before`, oldest first, removed by name; stops at the first newer one. */
  async #pruneRoom(room: string, before: number): Promise<number> {
    const key = this.#keys.hist(room);
    let removed = 0;
    for (let from = "-inf";;) {
      const got = await this.#range(key, false, from, PRUNE_CHUNK);
      const old: string[] = [];
      let done = got.length < PRUNE_CHUNK;
      for (const [raw, seq] of got) {
        from = `(${seq}`;
        const line = readLine(raw, room, seq);
        if (!line) continue; // malformed: left alone
        if (line.at >= before) {
          done = true;
          break;
        }
        old.push(String(raw));
      }
      if (old.length > 0) removed += Number(await this.#client.send(["ZREM", key, ...old]));
      if (done) return removed;
    }
  }

  async #readStart(): Promise<StoreStart> {
    const accounts = (await this.#hash(this.#keys.acct, readAccount))
      .map(({ key, nick }) => ({ key, nick }));
    const rooms = await this.#hash(this.#keys.kept, readRoom);
    const recent: StoreStart["recent"] = [];
    for (const room of new Set([this.#o.lobby, ...rooms.map((r) => r.id)])) {
      const lines = await this.#recent(room);
      if (lines.length > 0) recent.push({ room, lines });
    }
    return { accounts, rooms, bans: [], seqs: await this.#readSeqs(), recent };
  }

  /** Every record of a hash that `read` accepts, in field order. */
  async #hash<T>(key: string, read: (raw: RespValue, field: string) => T | null): Promise<T[]> {
    const a = array(await this.#client.send(["HGETALL", key]));
    const fields: [string, T][] = [];
    for (let i = 0; i + 1 < a.length; i += 2) {
      const field = String(a[i]);
      const rec = read(a[i + 1], field);
      if (rec) fields.push([field, rec]);
      else this.#malformed(key, field);
    }
    return fields.sort(([x], [y]) => x < y ? -1 : x > y ? 1 : 0).map(([, rec]) => rec);
  }

  /** The current counter of every room with lines. */
  async #readSeqs(): Promise<Record<string, number>> {
    const rooms = strings(await this.#client.send(["SMEMBERS", this.#keys.hrooms]));
    const seqs: Record<string, number> = {};
    for (let i = 0; i < rooms.length; i += 1_000) {
      const some = rooms.slice(i, i + 1_000);
      const values = array(await this.#client.send(["MGET", ...some.map(this.#keys.hseq)]));
      some.forEach((room, j) => {
        const seq = Number(values[j]);
        if (Number.isSafeInteger(seq) && seq > 0) seqs[room] = seq;
        else if (values[j] !== null) this.#malformed(this.#keys.hseq(room), "");
      });
    }
    return seqs;
  }

  /** A record that could not be read: logged once a minute per key, the repeats counted. */
  #malformed(key: string, field: string): void {
    const now = Date.now();
    for (const { key: k, count } of this.#drops.sweep(now)) {
      this.#log.warn("store: skipped more malformed records in redis", { key: k, times: count });
    }
    if (this.#drops.first(key, now)) {
      this.#log.warn("store: skipped a malformed record in redis", {
        key,
        field: field.slice(0, 64) || undefined,
      });
    }
  }
}

// ---- encoding what is written, checking what is read
