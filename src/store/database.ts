/**
 * The store's database, as the worker drives it: opening (file mode, lock, check, migrations,
 * what the server starts from), one transaction per write batch, the queries, retention. Every
 * call here blocks on the disk, which is why only the worker (src/store/worker.ts) makes them.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { classify, dirOf, FailureError, type OpenParams, type WriteResult } from "./protocol.ts";
import { META_BANS_IMPORTED, migrate, SchemaError } from "./schema.ts";
import { utf8Length } from "../lib/utf8.ts";
import type {
  AccountRecord,
  KeptBan,
  KeptLine,
  Prefs,
  RoomRecord,
  StoreAnswer,
  StoreQuery,
  StoreStart,
  StoreWrite,
} from "./types.ts";

/** Most lines one query answers, whatever it asks for. */
export const MAX_QUERY_LINES = 10_000;
/**
 * Most lines a search reads: a room's newest lines, for words the index does not keep
 * (punctuation), and the newest matches of the whole index for the others. A search is cheap
 * whatever is typed, at the price of not finding what is older than that.
 */
export const SCAN_LINES = 5_000;
export const SCAN_MATCHES = 10_000;
/** Lines deleted per transaction by retention, so one prune never holds a huge transaction. */
const PRUNE_CHUNK = 5_000;
/** Owner read/write only: the store holds password hashes. */
const FILE_MODE = 0o600;

const LINE_COLUMNS = "room, seq, at, kind, nick, text, identified";

/** A row of `lines` as SQLite returns it. */
interface LineRow {
  room: string;
  seq: number;
  at: number;
  kind: KeptLine["kind"];
  nick: string;
  text: string;
  identified: number;
}

/** An open store database. Not thread-safe, not async: the worker owns it. */
export class Database {
  readonly #db: DatabaseSync;
  /** The store's lock (see takeLock), released last. */
  readonly #lock: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  private constructor(db: DatabaseSync, lock: DatabaseSync) {
    this.#db = db;
    this.#lock = lock;
  }

  /**
   * Opens (creating it 0600 when missing) the store at `params.path`, locks it for this process,
   * checks it, migrates it and reads what the server starts from. Throws an error that
   * {@link classify} sorts into the reason a person is told.
   */
  static open(params: OpenParams): { database: Database; start: StoreStart } {
    prepareFile(params.path);
    const lock = takeLock(params.path);
    let db: DatabaseSync;
    try {
      db = openLocked(params.path);
    } catch (e) {
      lock.close();
      throw e;
    }
    try {
      migrate(db);
      const database = new Database(db, lock);
      return { database, start: database.#start(params) };
    } catch (e) {
      db.close();
      lock.close();
      if (e instanceof SchemaError) throw new FailureError(e.kind, e.message);
      throw e;
    }
  }

  /**
   * Writes `batch` in one transaction. A batch the disk refuses (full, read-only, I/O) is
   * rolled back whole and the error thrown, for the caller to try again later. A batch refused
   * for its data is written again write by write, each in a savepoint, so one bad write cannot
   * hold back the others forever; the refused ones are counted in the result.
   */
  write(batch: StoreWrite[]): WriteResult {
    try {
      return this.#transaction(() => {
        let lines = 0;
        for (const w of batch) lines += this.#apply(w);
        return { lines, refused: 0, refusedError: "" };
      });
    } catch (e) {
      if (classify(e).kind !== "data") throw e;
      return this.#writeEach(batch);
    }
  }

  /** Answers a query; see {@link StoreQuery}. */
  query(q: StoreQuery): StoreAnswer {
    switch (q.q) {
      case "lines":
        return this.#lines(q.room, q.limit, q.since, q.beforeSeq);
      case "search":
        return this.#search(q.room, q.words, q.limit);
      case "account":
        return { account: this.#account(q.key) };
      default:
        throw new FailureError("data", `unknown query ${JSON.stringify((q as { q: unknown }).q)}`);
    }
  }

  /**
   * Forgets the room lines said before `before` (epoch ms), and their search entries: room by
   * room (each found in one index step) and a chunk per transaction, along the (room, at)
   * index, so a prune never scans the whole table nor holds one huge transaction.
   */
  prune(before: number): number {
    const del = this.#prep(
      "DELETE FROM lines WHERE id IN (SELECT id FROM lines WHERE room = ? AND at < ? LIMIT ?)",
    );
    const next = this.#prep("SELECT min(room) AS room FROM lines WHERE room > ?");
    let total = 0;
    const first = this.#prep("SELECT min(room) AS room FROM lines");
    let room = (first.get() as { room: string | null }).room;
    while (room !== null) {
      for (let n = PRUNE_CHUNK; n === PRUNE_CHUNK;) {
        n = this.#transaction(() => Number(del.run(room, num(before), PRUNE_CHUNK).changes));
        total += n;
      }
      room = (next.get(room) as { room: string | null }).room;
    }
    return total;
  }

  /** Test hook: makes every write fail as on a read-only database, or lifts that. */
  setReadOnly(on: boolean): void {
    this.#db.exec(`PRAGMA query_only = ${on ? "ON" : "OFF"}`);
  }

  /** Closes the database (checkpointing the WAL into the file) and releases the lock. */
  close(): void {
    this.#statements.clear();
    try {
      this.#db.close();
    } finally {
      this.#lock.close();
    }
  }

  /** A cached prepared statement. */
  #prep(sql: string): StatementSync {
    let s = this.#statements.get(sql);
    if (!s) this.#statements.set(sql, s = this.#db.prepare(sql));
    return s;
  }

  /** Runs `fn` in BEGIN IMMEDIATE … COMMIT, rolling back when anything fails. */
  #transaction<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      return out;
    } catch (e) {
      this.#rollback();
      throw e;
    }
  }

  #rollback(): void {
    try {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
    } catch {
      // SQLite rolls back by itself after the errors that make ROLLBACK fail (I/O, full).
    }
  }

  /** The slow path of {@link write}: one savepoint per write, refused ones skipped. */
  #writeEach(batch: StoreWrite[]): WriteResult {
    return this.#transaction(() => {
      const out: WriteResult = { lines: 0, refused: 0, refusedError: "" };
      for (const w of batch) {
        this.#db.exec("SAVEPOINT one");
        try {
          out.lines += this.#apply(w);
          this.#db.exec("RELEASE one");
        } catch (e) {
          this.#db.exec("ROLLBACK TO one");
          this.#db.exec("RELEASE one");
          const f = classify(e);
          if (f.kind !== "data") throw e;
          if (out.refused++ === 0) out.refusedError = `${w.t}: ${f.detail}`;
        }
      }
      return out;
    });
  }

  /** Applies one write; returns 1 for a room line (they are counted), else 0. */
  #apply(w: StoreWrite): number {
    switch (w.t) {
      case "line":
        this.#putLine(w.line);
        return 1;
      case "account":
        this.#putAccount(w.account);
        return 0;
      case "unaccount":
        this.#prep("DELETE FROM accounts WHERE key = ?").run(str(w.key));
        return 0;
      case "prefs":
        this.#prep("UPDATE accounts SET prefs = ? WHERE key = ?").run(json(w.prefs), str(w.key));
        return 0;
      case "room":
        this.#putRoom(w.room);
        return 0;
      case "unroom":
        this.#prep("DELETE FROM rooms WHERE id = ?").run(str(w.id));
        this.#prep("DELETE FROM lines WHERE room = ?").run(str(w.id));
        return 0;
      case "bans":
        this.#putBans(w.bans);
        return 0;
      default:
        throw new FailureError("data", `unknown write ${JSON.stringify((w as { t: unknown }).t)}`);
    }
  }

  #putLine(l: KeptLine): void {
    // An upsert, not INSERT OR REPLACE: REPLACE deletes without firing the delete trigger,
    // which would leave a stale search entry behind.
    this.#prep(
      `INSERT INTO lines (${LINE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (room, seq) DO UPDATE SET at = excluded.at, kind = excluded.kind,
         nick = excluded.nick, text = excluded.text, identified = excluded.identified`,
    ).run(
      str(l.room),
      num(l.seq),
      num(l.at),
      str(l.kind),
      str(l.nick),
      str(l.text),
      bit(l.identified),
    );
  }

  #putAccount(a: AccountRecord): void {
    this.#prep(
      `INSERT INTO accounts (key, nick, hash, salt, params, created, prefs)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET nick = excluded.nick, hash = excluded.hash,
         salt = excluded.salt, params = excluded.params, created = excluded.created,
         prefs = excluded.prefs`,
    ).run(
      str(a.key),
      str(a.nick),
      str(a.hash),
      str(a.salt),
      str(a.params),
      num(a.created),
      json(a.prefs ?? {}),
    );
  }

  #putRoom(r: RoomRecord): void {
    this.#prep(
      `INSERT INTO rooms (id, name, topic, topic_by, key, owner, kept, extra)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, topic = excluded.topic,
         topic_by = excluded.topic_by, key = excluded.key, owner = excluded.owner,
         kept = excluded.kept, extra = excluded.extra`,
    ).run(
      str(r.id),
      str(r.name),
      str(r.topic),
      str(r.topicBy),
      str(r.key),
      str(r.owner),
      bit(r.kept),
      json(r.extra ?? {}),
    );
  }

  #putBans(bans: KeptBan[]): void {
    this.#prep("DELETE FROM bans").run();
    const put = this.#prep(
      "INSERT OR REPLACE INTO bans (ip, until, reason, by, since) VALUES (?, ?, ?, ?, ?)",
    );
    for (const b of bans) put.run(str(b.ip), num(b.until), str(b.reason), str(b.by), num(b.since));
    this.#prep("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)").run(
      META_BANS_IMPORTED,
      String(Date.now()),
    );
  }

  /** A room's lines, newest first up to `limit` but answered oldest first. */
  /**
   * A room's lines, newest first, walked along the (room, seq) index so that only the lines
   * shown are read, however far back `since` goes: `since` becomes the number of the room's
   * first line at or after it (one step down the (room, at) index), and `at` is still checked
   * on the lines read.
   */
  #lines(room: string, limit: number, since?: number, beforeSeq?: number): StoreAnswer {
    const where = ["room = ?"];
    const args: SQLInputValue[] = [str(room)];
    if (since !== undefined) {
      const first = this.#prep(
        "SELECT seq FROM lines WHERE room = ? AND at >= ? ORDER BY at LIMIT 1",
      ).get(str(room), num(since)) as { seq: number } | undefined;
      if (!first) return { lines: [], more: false };
      where.push("seq >= ?", "+at >= ?");
      args.push(first.seq, num(since));
    }
    if (beforeSeq !== undefined) where.push("seq < ?"), args.push(num(beforeSeq));
    const n = clampLimit(limit);
    const rows = this.#prep(
      `SELECT ${LINE_COLUMNS} FROM lines WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`,
    ).all(...args, n + 1) as unknown as LineRow[];
    return page(rows, n);
  }

  /**
   * The latest lines of `room` holding every word. Each word is matched as a plain word: words
   * with letters or digits go to the full-text index as quoted phrases (so `AND`, `NEAR(`, `*`,
   * `-` or `col:` are words, never query syntax), and words without any (punctuation, which the
   * index does not keep) are matched as substrings of the text.
   */
  #search(room: string, words: string[], limit: number): StoreAnswer {
    const list = [...new Set(words.map((w) => String(w).trim()).filter((w) => w !== ""))];
    if (list.length === 0) return { lines: [], more: false };
    const indexed = list.filter((w) => /[\p{L}\p{N}\p{Co}]/u.test(w));
    const plain = list.filter((w) => !indexed.includes(w));
    const n = clampLimit(limit);
    const substr = plain.map(() => " AND instr(l.text, ?) > 0").join("");
    const cols = LINE_COLUMNS.split(", ").map((c) => `l.${c}`).join(", ");
    if (indexed.length === 0) {
      // Punctuation only: a bounded scan of the room's newest lines.
      const rows = this.#prep(
        `SELECT ${cols} FROM (SELECT * FROM lines WHERE room = ? ORDER BY seq DESC LIMIT ?) l
         WHERE 1${substr} ORDER BY l.seq DESC LIMIT ?`,
      ).all(str(room), SCAN_LINES, ...plain, n + 1) as unknown as LineRow[];
      return page(rows, n);
    }
    // The newest matches in the whole index, a bounded number of them, then the room's (CROSS
    // JOIN keeps the matches the outer loop: left to itself, the planner walks the whole room).
    const match = indexed.map((w) => `"${w.replaceAll('"', '""')}"`).join(" ");
    const rows = this.#prep(
      `SELECT ${cols} FROM (SELECT rowid AS id FROM lines_fts WHERE lines_fts MATCH ?
         ORDER BY rowid DESC LIMIT ?) hits CROSS JOIN lines l ON l.id = hits.id
       WHERE l.room = ?${substr} ORDER BY l.seq DESC LIMIT ?`,
    ).all(match, SCAN_MATCHES, str(room), ...plain, n + 1) as unknown as LineRow[];
    return page(rows, n);
  }

  #account(key: string): AccountRecord | null {
    const row = this.#prep(
      "SELECT key, nick, hash, salt, params, created, prefs FROM accounts WHERE key = ?",
    ).get(str(key)) as (Omit<AccountRecord, "prefs"> & { prefs: string }) | undefined;
    if (!row) return null;
    return { ...row, prefs: parseObject(row.prefs) as Prefs };
  }

  /** What the server starts from. */
  #start(p: OpenParams): StoreStart {
    const accounts = this.#prep("SELECT key, nick FROM accounts ORDER BY key").all() as unknown as {
      key: string;
      nick: string;
    }[];
    const rooms = (this.#prep(
      `SELECT id, name, topic, topic_by, key, owner, kept, extra FROM rooms
       WHERE kept = 1 ORDER BY id`,
    ).all() as unknown as RoomRow[]).map(toRoom);
    const bans = this.#prep("SELECT ip, until, reason, by, since FROM bans ORDER BY ip")
      .all() as unknown as KeptBan[];
    const seqs: Record<string, number> = {};
    const maxima = this.#prep("SELECT room, max(seq) AS seq FROM lines GROUP BY room").all();
    for (const r of maxima as unknown as { room: string; seq: number }[]) seqs[r.room] = r.seq;
    const recentRooms = [...new Set([p.lobby, ...rooms.map((r) => r.id)])];
    const recent = recentRooms
      .map((room) => ({ room, lines: this.#recent(room, p.recentLines, p.recentBytes) }))
      .filter((r) => r.lines.length > 0);
    const imported = this.#prep("SELECT 1 FROM meta WHERE key = ?").get(META_BANS_IMPORTED);
    return { accounts, rooms, bans, seqs, recent, banFileImported: imported !== undefined };
  }

  /** The last lines of `room`, oldest first, at most `max` of them and `budget` bytes. */
  #recent(room: string, max: number, budget: number): KeptLine[] {
    const rows = this.#prep(
      `SELECT ${LINE_COLUMNS} FROM lines WHERE room = ? ORDER BY seq DESC LIMIT ?`,
    ).all(str(room), clampLimit(max)) as unknown as LineRow[];
    const out: KeptLine[] = [];
    let bytes = 0;
    for (const row of rows) {
      bytes += utf8Length(row.nick) + utf8Length(row.text);
      if (bytes > budget) break;
      out.push(toLine(row));
    }
    return out.reverse();
  }
}

/**
 * Gets the file ready before SQLite sees it: the directory must exist and be writable (SQLite
 * creates the -wal file beside the database), an existing file and its -wal/-shm are made 0600,
 * a missing one is created 0600 (SQLite gives -wal and -shm the database file's mode).
 */
function prepareFile(path: string): void {
  const dir = dirOf(path);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new FailureError("no-dir", "does not exist");
    throw e;
  }
  if (!info.isDirectory) throw new FailureError("no-dir", "is not a directory");
  let exists = true;
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      Deno.chmodSync(path + suffix, FILE_MODE);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        if (suffix === "") exists = false;
        continue;
      }
      const f = classify(e);
      if (f.kind !== "denied") throw e;
      throw new FailureError("denied", `cannot make ${path + suffix} 0600: ${f.detail}`);
    }
  }
  probeDirectory(dir);
  if (!exists) {
    Deno.openSync(path, { read: true, write: true, create: true, mode: FILE_MODE }).close();
  }
}

/** Fails with `read-only-dir` when no file can be created in `dir`. */
function probeDirectory(dir: string): void {
  let probe: string;
  try {
    probe = Deno.makeTempFileSync({ dir, prefix: ".shat-probe-" });
  } catch (e) {
    const f = classify(e);
    if (f.kind === "denied" || f.kind === "read-only") {
      throw new FailureError("read-only-dir", f.detail);
    }
    throw e;
  }
  Deno.removeSync(probe);
}

/**
 * Takes the store's lock: `PATH.lock`, a tiny SQLite file held in exclusive locking mode for as
 * long as the server runs, so a second Shat on the same store fails at once (busy_timeout 0)
 * while the store itself stays open to others: `sqlite3` can read it, export it and back it up
 * (`.backup`) while Shat runs. The lock is SQLite's own (POSIX record locks), released by the
 * system when the process dies, so a crash never leaves a stale lock behind.
 */
function takeLock(path: string): DatabaseSync {
  const lockPath = `${path}.lock`;
  try {
    Deno.chmodSync(lockPath, FILE_MODE);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    Deno.openSync(lockPath, { read: true, write: true, create: true, mode: FILE_MODE }).close();
  }
  const lock = new DatabaseSync(lockPath);
  try {
    lock.exec("PRAGMA busy_timeout = 0");
    lock.exec("PRAGMA locking_mode = EXCLUSIVE");
    lock.exec("PRAGMA journal_mode = MEMORY");
    lock.exec("CREATE TABLE IF NOT EXISTS held (pid INTEGER)");
    lock.exec("BEGIN EXCLUSIVE; DELETE FROM held; COMMIT");
    return lock;
  } catch (e) {
    lock.close();
    throw e;
  }
}

/**
 * Opens the database in WAL mode (readers such as `sqlite3` never block the server's writes),
 * then checks it. A write that meets another program's write waits up to 2 s (this is the
 * worker's thread, never the hub's) and is tried again later if that was not enough.
 */
function openLocked(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA busy_timeout = 2000");
    const row = db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string };
    if (row.journal_mode !== "wal") {
      throw new FailureError("other", `cannot use WAL (journal mode stays ${row.journal_mode})`);
    }
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("BEGIN IMMEDIATE; COMMIT");
    const problems = (db.prepare("PRAGMA quick_check").all() as { quick_check: string }[])
      .map((r) => r.quick_check).filter((r) => r !== "ok");
    if (problems.length > 0) {
      const more = problems.length > 1 ? ` and ${problems.length - 1} more problems` : "";
      throw new FailureError("corrupt", `${problems[0]}${more}`);
    }
    return db;
  } catch (e) {
    db.close();
    // The lock file was ours: whoever holds the database is not a Shat.
    if (classify(e).kind === "busy") throw new FailureError("locked", classify(e).detail);
    throw e;
  }
}

/** A row of `rooms` as SQLite returns it. */
interface RoomRow {
  id: string;
  name: string;
  topic: string;
  topic_by: string;
  key: string;
  owner: string;
  kept: number;
  extra: string;
}

function toRoom(r: RoomRow): RoomRecord {
  return {
    id: r.id,
    name: r.name,
    topic: r.topic,
    topicBy: r.topic_by,
    key: r.key,
    owner: r.owner,
    kept: r.kept !== 0,
    extra: parseObject(r.extra),
  };
}

/** Rows fetched newest first with one extra: the page oldest first, and whether more exist. */
function page(rows: LineRow[], n: number): StoreAnswer {
  const more = rows.length > n;
  return { lines: rows.slice(0, n).reverse().map(toLine), more };
}

function toLine(r: LineRow): KeptLine {
  return {
    room: r.room,
    seq: r.seq,
    at: r.at,
    kind: r.kind,
    nick: r.nick,
    text: r.text,
    identified: r.identified !== 0,
  };
}

function clampLimit(limit: number): number {
  const n = Math.floor(Number(limit));
  return Number.isFinite(n) ? Math.max(0, Math.min(n, MAX_QUERY_LINES)) : 0;
}

/** Values as SQLite must hold them, whatever came over the wire. */
const str = (v: unknown): string => (typeof v === "string" ? v : String(v ?? ""));
const num = (v: unknown): number => Number(v);
const bit = (v: unknown): number => (v ? 1 : 0);
const json = (v: unknown): string => JSON.stringify(v ?? {});

/** A JSON object column; anything else (hand-edited into something odd) reads as `{}`. */
function parseObject(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}
