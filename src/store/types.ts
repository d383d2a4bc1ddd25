/**
 * What the server remembers across restarts, as the shell and a store backend speak of it: room
 * lines, accounts (registered nicks), rooms kept, bans. The hub states what to remember (effects)
 * and asks for what it needs (answers come back as events); a backend (SQLite in a worker, or
 * Redis with --redis) keeps it. Plain data only: this module has no code.
 */

/** One room line as kept (chat, an action, a topic change). Private lines are never kept. */
export interface KeptLine {
  /** The room's id (its lower-case name). */
  room: string;
  /** The line's number in its room, increasing. */
  seq: number;
  /** When it was said, epoch ms. */
  at: number;
  kind: "chat" | "action" | "topic";
  nick: string;
  text: string;
  /** The nick was identified (an account) when the line was said. */
  identified: boolean;
}

/** What an identified person keeps of how they see the room. */
export interface Prefs {
  color?: boolean;
  bell?: boolean;
  timestamps?: boolean;
  /** Screen-reader mode, when the person chose it on or off (absent: never chose). */
  screenReader?: boolean;
  /** Nicks (lower case) whose lines they do not want to see. */
  ignores?: string[];
}

/** A registered nick. The hash and salt never leave the shell and the store. */
export interface AccountRecord {
  /** The nick in lower case: the account's name. */
  key: string;
  /** The nick as registered. */
  nick: string;
  /** The derived key, base64. */
  hash: string;
  /** The per-account salt, base64. */
  salt: string;
  /** How `hash` was derived (e.g. `scrypt:16384:8:1`), so the parameters can change later. */
  params: string;
  /** When it was registered, epoch ms. */
  created: number;
  prefs: Prefs;
}

/** A room the store knows: a kept one (it stays when its last member leaves, and at restarts). */
export interface RoomRecord {
  /** Lower-case name. */
  id: string;
  /** As first typed. */
  name: string;
  topic: string;
  topicBy: string;
  /** Its key as the hub keeps it ("" = none). */
  key: string;
  /** The account that owns it ("" = nobody). */
  owner: string;
  kept: boolean;
  /** Everything else about the room (its operators, modes, mutes …) as JSON-able data. */
  extra: Record<string, unknown>;
}

/** A ban as kept (the same fields as the ban file's). */
export interface KeptBan {
  ip: string;
  until: number;
  reason: string;
  by: string;
  since: number;
}

/** One change to remember. A batch of them is written in one transaction. */
export type StoreWrite =
  | { t: "line"; line: KeptLine }
  | { t: "account"; account: AccountRecord }
  | { t: "unaccount"; key: string }
  | { t: "prefs"; key: string; prefs: Prefs }
  | { t: "room"; room: RoomRecord }
  /** The room is gone: its record and its lines are forgotten. */
  | { t: "unroom"; id: string }
  /** The ban list, whole (it replaces what was kept). */
  | { t: "bans"; bans: KeptBan[] };

/** A question for the store. */
export type StoreQuery =
  /**
   * A room's lines, newest first up to `limit` (answered oldest first): those at or after
   * `since` (epoch ms), and/or numbered below `beforeSeq`.
   */
  | { q: "lines"; room: string; limit: number; since?: number; beforeSeq?: number }
  /** The latest `limit` lines of a room that hold every one of `words` (answered oldest first). */
  | { q: "search"; room: string; words: string[]; limit: number }
  /** An account, for checking a password. */
  | { q: "account"; key: string };

/** What a query answers. */
export type StoreAnswer =
  | { lines: KeptLine[]; more: boolean }
  | { account: AccountRecord | null };

/** What the store gives the server when it opens. */
export interface StoreStart {
  /** Every registered nick: its key and spelling. */
  accounts: { key: string; nick: string }[];
  /** The rooms kept. */
  rooms: RoomRecord[];
  bans: KeptBan[];
  /** The highest line number kept, per room. */
  seqs: Record<string, number>;
  /** The last lines of each kept room and of the lobby, oldest first, for newcomers. */
  recent: { room: string; lines: KeptLine[] }[];
  /**
   * True once a ban list was written to the store: the store, not the ban file, now holds the
   * bans, so the file is not imported again. (Absent: the backend does not track it.)
   */
  banFileImported?: boolean;
}

/** How the store is doing, for /healthz and the metrics page. */
export interface StoreHealth {
  /** False while writes fail (they are kept and tried again). */
  ok: boolean;
  /** Why the last write failed, in a few words ("" when it did not). */
  error: string;
  /** Writes waiting to be written. */
  pending: number;
  /** Writes given up on (the queue was full while the store failed), since the start. */
  lost: number;
  /** Room lines written, since the start. */
  linesWritten: number;
}

/** A place the server's memory lives in. */
export interface Store {
  /** What is in it now (the accounts, kept rooms, bans, recent lines). */
  readonly start: StoreStart;
  /** Queues `batch` to be written in one transaction (a write never waits for the disk). */
  write(batch: StoreWrite[]): void;
  /** Answers `q` (rejects when the store cannot be read). */
  query(q: StoreQuery): Promise<StoreAnswer>;
  /** Forgets room lines said before `before` (epoch ms); resolves with how many. */
  prune(before: number): Promise<number>;
  readonly health: StoreHealth;
  /** Writes what is queued and closes. */
  close(): Promise<void>;
}

/** A store that cannot be opened: one line for the person starting the server (exit 2). */
export class StoreError extends Error {
  override name = "StoreError";
}
