/**
 * A store that lives in memory only: what `--store off` uses, and where room lines go with
 * `--retention 0` (the rest then goes to the database). It answers like the others (history,
 * search, accounts) until the process stops, and is bounded: a room keeps its latest
 * {@link MEMORY_ROOM_LINES} lines, and all rooms together at most {@link MEMORY_BYTES} of text
 * (the oldest lines of the biggest room give way first).
 */
import type {
  AccountRecord,
  KeptBan,
  KeptLine,
  RoomRecord,
  Store,
  StoreAnswer,
  StoreHealth,
  StoreQuery,
  StoreStart,
  StoreWrite,
} from "./types.ts";

/** Lines one room keeps in memory. */
export const MEMORY_ROOM_LINES = 5_000;
/** Bytes (UTF-16 units, roughly) of line text every room together keeps in memory. */
export const MEMORY_BYTES = 32 * 1024 * 1024;

/** One room's lines, oldest first, with a moving start. */
class RoomLines {
  lines: KeptLine[] = [];
  head = 0;
  bytes = 0;

  get size(): number {
    return this.lines.length - this.head;
  }

  push(line: KeptLine): void {
    this.lines.push(line);
    this.bytes += cost(line);
  }

  /** Drops the oldest line; returns its cost. */
  shift(): number {
    const line = this.lines[this.head++];
    const c = cost(line);
    this.bytes -= c;
    if (this.head > 1_024 && this.head * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.head);
      this.head = 0;
    }
    return c;
  }

  /** The kept lines, oldest first (a view: do not keep it). */
  view(): KeptLine[] {
    return this.head === 0 ? this.lines : this.lines.slice(this.head);
  }
}

function cost(line: KeptLine): number {
  return line.text.length + line.nick.length + 64;
}

/** Everything kept in memory. */
export class MemoryStore implements Store {
  readonly start: StoreStart = { accounts: [], rooms: [], bans: [], seqs: {}, recent: [] };
  readonly #rooms = new Map<string, RoomLines>();
  readonly #accounts = new Map<string, AccountRecord>();
  readonly #roomRecords = new Map<string, RoomRecord>();
  #bans: KeptBan[] = [];
  #bytes = 0;
  #written = 0;

  write(batch: StoreWrite[]): void {
    for (const w of batch) this.#apply(w);
  }

  #apply(w: StoreWrite): void {
    switch (w.t) {
      case "line":
        return this.#line(w.line);
      case "account":
        this.#accounts.set(w.account.key, structuredClone(w.account));
        return;
      case "unaccount":
        this.#accounts.delete(w.key);
        return;
      case "prefs": {
        const a = this.#accounts.get(w.key);
        if (a) a.prefs = structuredClone(w.prefs);
        return;
      }
      case "room":
        if (w.room.kept) this.#roomRecords.set(w.room.id, structuredClone(w.room));
        else this.#roomRecords.delete(w.room.id);
        return;
      case "unroom": {
        this.#roomRecords.delete(w.id);
        const r = this.#rooms.get(w.id);
        if (r) this.#bytes -= r.bytes;
        this.#rooms.delete(w.id);
        return;
      }
      case "bans":
        this.#bans = w.bans.map((b) => ({ ...b }));
        return;
    }
  }

  #line(line: KeptLine): void {
    let r = this.#rooms.get(line.room);
    if (!r) this.#rooms.set(line.room, r = new RoomLines());
    r.push({ ...line });
    this.#bytes += cost(line);
    this.#written++;
    if (r.size > MEMORY_ROOM_LINES) this.#bytes -= r.shift();
    while (this.#bytes > MEMORY_BYTES) {
      let biggest: RoomLines | undefined;
      for (const x of this.#rooms.values()) if (!biggest || x.bytes > biggest.bytes) biggest = x;
      if (!biggest || biggest.size === 0) break;
      this.#bytes -= biggest.shift();
    }
  }

  query(q: StoreQuery): Promise<StoreAnswer> {
    return Promise.resolve(this.answer(q));
  }

  /** The answer to `q`, at once. */
  answer(q: StoreQuery): StoreAnswer {
    switch (q.q) {
      case "account": {
        const a = this.#accounts.get(q.key);
        return { account: a ? structuredClone(a) : null };
      }
      case "lines": {
        const all = this.#rooms.get(q.room)?.view() ?? [];
        const since = q.since ?? 0;
        const before = q.beforeSeq ?? Infinity;
        return newest(all, q.limit, (l) => l.at >= since && l.seq < before);
      }
      case "search": {
        const all = this.#rooms.get(q.room)?.view() ?? [];
        const words = q.words.map((w) => w.toLowerCase());
        return newest(all, q.limit, (l) => {
          const text = l.text.toLowerCase();
          return words.every((w) => text.includes(w));
        });
      }
    }
  }

  prune(before: number): Promise<number> {
    let n = 0;
    for (const r of this.#rooms.values()) {
      while (r.size > 0 && r.lines[r.head].at < before) {
        this.#bytes -= r.shift();
        n++;
      }
    }
    return Promise.resolve(n);
  }

  get health(): StoreHealth {
    return { ok: true, error: "", pending: 0, lost: 0, linesWritten: this.#written };
  }

  /** What is kept, as a store that was reopened would give it (for tests). */
  snapshot(): StoreStart {
    const seqs: Record<string, number> = {};
    const recent: StoreStart["recent"] = [];
    for (const [id, r] of this.#rooms) {
      const v = r.view();
      if (v.length === 0) continue;
      seqs[id] = v[v.length - 1].seq;
      recent.push({ room: id, lines: v.slice(-50).map((l) => ({ ...l })) });
    }
    return {
      accounts: [...this.#accounts.values()].map((a) => ({ key: a.key, nick: a.nick })),
      rooms: [...this.#roomRecords.values()].map((r) => structuredClone(r)),
      bans: this.#bans.map((b) => ({ ...b })),
      seqs,
      recent,
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The newest `limit` lines that pass `keep`, oldest first, and whether older ones passed too. */
function newest(
  all: readonly KeptLine[],
  limit: number,
  keep: (l: KeptLine) => boolean,
): StoreAnswer {
  const found: KeptLine[] = [];
  let more = false;
  for (let i = all.length - 1; i >= 0; i--) {
    if (!keep(all[i])) continue;
    if (found.length === limit) {
      more = true;
      break;
    }
    found.push({ ...all[i] });
  }
  return { lines: found.reverse(), more };
}
