/**
 * One chat room as hub state: its members, topic, key and history. The hub decides who is where
 * and what they see; a room only keeps what belongs to it, so it goes away whole when it empties.
 */
import { createHash } from "node:crypto";
import { RoomAuthority } from "./authority.ts";
import { render, type RoomLine, VIEWS } from "./render.ts";
import { SharedLog } from "./shared_log.ts";

/** Bytes a history line adds to a welcome besides its rendering: the `[HH:MM] ` stamp. */
const STAMP_BYTES = 8;

/** What a room's history may hold. */
export interface HistoryLimits {
  /** Lines (0 = no history). */
  lines: number;
  /** Bytes of the welcome they make. */
  bytes: number;
}

interface HistoryEntry {
  line: RoomLine;
  /** What it adds to a newcomer's welcome, in bytes. */
  size: number;
}

/** Room names: 1–24 letters, digits, `-` and `_` (a leading `#` is optional when typing). */
export const ROOM_NAME = /^[A-Za-z0-9_-]{1,24}$/;

/** A room name as typed, without its `#`; undefined when it is not a valid name. */
export function roomName(text: string): string | undefined {
  const name = text.startsWith("#") ? text.slice(1) : text;
  return ROOM_NAME.test(name) ? name : undefined;
}

const encoder = new TextEncoder();

/**
 * A room key as the hub keeps it: its SHA-256, so neither the store nor the other processes
 * ever hold the key itself ("" stays "": no key).
 */
export function keyDigest(key: string): string {
  return key ? createHash("sha256").update(key).digest("hex") : key;
}

/** A room: members (of type M), topic, key, and its history for newcomers. */
export class ChatRoom<M> {
  /** The name as first typed (shown as `#name`). */
  readonly name: string;
  /** The name in lower case: rooms are found regardless of case. */
  readonly id: string;
  readonly members = new Set<M>();
  topic = "";
  /** Who set the topic, and when (epoch ms; 0 = not known). */
  topicBy = "";
  topicAt = 0;
  /** The key needed to enter ("" = open). Never logged. */
  secret: string;
  /** What the room says, one shared log per view (plain, colour, timestamps…), made on use. */
  readonly logs: (SharedLog | null)[] = new Array(VIEWS).fill(null);
  /** Its IRC members (they read IRC messages, not the shared logs; null until the first). */
  irc: Set<M> | null = null;
  /**
   * Its lines as IRC messages, read by the IRC members in this room only (one in several rooms
   * gets them as its own entries: an outbox reads one log at a time); made on use.
   */
  ircLog: SharedLog | null = null;
  /**
   * Its IRC members who do not read {@link ircLog} (they are in other rooms too), found on the
   * first line after a change (null: not known; the hub clears it when one comes, goes or reads
   * another log).
   */
  ircApart: M[] | null = null;
  /** Members who want mentions drawn for them (colour or bell on). */
  alerts = 0;
  /** The number of the room's last kept line (lines are numbered for the store). */
  seq = 0;
  /** Kept: it stays when its last member leaves, and across restarts (`/room keep`). */
  kept = false;
  /** Who runs it and how: owner, operators, voice, modes, mutes, bans, invitations. */
  readonly auth = new RoomAuthority();
  /**
   * Everyone in the room (here and elsewhere) sorted by nick key, for Tab: made on the first
   * Tab after a change (the hub's change counter `epoch` says when it is stale).
   */
  nickIndex: { epoch: number; keys: string[]; nicks: string[] } | null = null;
  #history: HistoryEntry[] = [];
  #head = 0;
  #bytes = 0;
  /** The history as a newcomer is sent it, encoded once per view (plain, colour). */
  #blocks: (Uint8Array | null)[] = [null, null];

  constructor(name: string, secret = "") {
    this.name = name;
    this.id = name.toLowerCase();
    this.secret = secret;
  }

  /** The account that owns it: the identified person who made it ("" = nobody). */
  get owner(): string {
    return this.auth.owner;
  }
  set owner(account: string) {
    this.auth.owner = account;
  }

  /** The log that readers with `view` read. */
  logFor(view: number): SharedLog {
    return this.logs[view] ??= new SharedLog();
  }

  /** The log its IRC members read while it is their only room. */
  ircLogFor(): SharedLog {
    return this.ircLog ??= new SharedLog();
  }

  /** `#name`, as a room is always shown. */
  get label(): string {
    return `#${this.name}`;
  }

  /**
   * Keeps a chat line for newcomers, within `limits` (older lines give way; a line bigger than
   * the whole byte budget is not kept). `encoded` is its plain rendering's size.
   */
  remember(line: RoomLine, encoded: number, limits: HistoryLimits): void {
    if (limits.lines === 0) return;
    const size = encoded + STAMP_BYTES;
    if (size > limits.bytes) return;
    this.#history.push({ line, size });
    this.#bytes += size;
    this.#blocks = [null, null];
    const h = this.#history;
    while (h.length - this.#head > limits.lines || this.#bytes > limits.bytes) {
      this.#bytes -= h[this.#head++].size;
    }
    if (this.#head > 64 && this.#head * 2 > h.length) {
      this.#history = h.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The lines kept for newcomers, oldest first. */
  recentLines(): RoomLine[] {
    const out: RoomLine[] = [];
    for (let i = this.#head; i < this.#history.length; i++) out.push(this.#history[i].line);
    return out;
  }

  /** Lines of history kept. */
  get historyLength(): number {
    return this.#history.length - this.#head;
  }

  /**
   * The history part of a welcome (plain, or in colour), built once for every newcomer until
   * the history changes; null when there is none.
   */
  historyBlock(color: number, clock: (ms: number) => string): Uint8Array | null {
    const n = this.historyLength;
    if (n === 0) return null;
    const slot = color ? 1 : 0;
    let block = this.#blocks[slot];
    if (!block) {
      const count = n === 1 ? "message" : `${n} messages`;
      let text = `-- history: the last ${count} --\r\n`;
      for (let i = this.#head; i < this.#history.length; i++) {
        const line = this.#history[i].line;
        text += `[${clock(line.at)}] ${render(line, color, clock)}`;
      }
      block = encoder.encode(text + "-- end of history --\r\n");
      this.#blocks[slot] = block;
    }
    return block;
  }
}
