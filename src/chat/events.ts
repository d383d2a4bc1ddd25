/**
 * What passes between the hub and the shell: the events the hub consumes and the effects it
 * asks for. The shell's adapters (src/net/) know the hub through these types only.
 */
import type { ClusterIn, ClusterOut } from "../cluster/bus.ts";
import type { Prefs, StoreAnswer, StoreQuery, StoreWrite } from "../store/types.ts";
import type { WordFilter } from "./filter.ts";
import type { BanRecord } from "./moderation.ts";
import type { Outbox } from "./shared_log.ts";

export type { Outbox } from "./shared_log.ts";

/**
 * How the shell should close a connection: `flush` sends what is queued first (and waits a
 * little for the client to hang up), `drop` closes at once and discards it, `refuse` makes one
 * attempt to send the queued line and closes at once (a refused connection holds nothing).
 */
export type CloseMode = "flush" | "drop" | "refuse";

/** What a password is for: a new account, logging in, a new password, deleting the account. */
export type AuthOp = "register" | "identify" | "password" | "unregister";

/**
 * Work the hub hands the shell because it takes time (a password hashed or checked, the store
 * read); the answer comes back as an event with the same `ticket`. Passwords travel in these
 * and nowhere else: they are never logged, published or kept.
 */
export type HubAsk =
  | { kind: "query"; ticket: number; q: StoreQuery }
  | {
    kind: "auth";
    ticket: number;
    op: AuthOp;
    /** The account: its nick in lower case. */
    key: string;
    /** The nick as it is to be registered (register). */
    nick: string;
    password: string;
    /** The new password (password). */
    newPassword?: string;
    /** The preferences a new account starts with (register). */
    prefs?: Prefs;
  };

/**
 * How a password check came out: `ok`; `wrong` password; `unknown` account (dropped
 * meanwhile); `taken` (register: the account exists already); `busy` (too many passwords wait
 * to be hashed: nothing was tried); `error` (the store or the hash failed: nothing was changed).
 */
export type AuthOutcome = "ok" | "wrong" | "unknown" | "taken" | "busy" | "error";

/**
 * One operator action (a server operator's or a room operator's: op, kick, ban, mute, a mode
 * changed, an account dropped), as the audit log keeps it.
 */
export interface AuditEntry {
  /** When, epoch ms. */
  at: number;
  /** What was done, in a few words: `kick`, `room ban`, `mute`, `room slow`, `drop account`… */
  action: string;
  /** Who did it: their nick. */
  by: string;
  /** Their account ("" = not identified). */
  account: string;
  /** Their address ("" in safe mode: addresses never reach the audit log then). */
  address: string;
  /** Whom or what it was done to ("" = nothing in particular). */
  target: string;
  /** The room it was done in (`#name`; "" = server-wide). */
  room: string;
  /** The rest: a duration, a reason, a setting's new value ("" = nothing). */
  detail: string;
}

/** What the hub asks of the shell. */
export interface HubEffects {
  /** Client `id`'s outbox has bytes and no writer is draining it: start one. */
  wake(id: number): void;
  /** Close client `id` (see {@link CloseMode}). */
  close(id: number, mode: CloseMode): void;
  /** The ban list changed; persist this snapshot. */
  saveBans(bans: BanRecord[]): void;
  /** The prompt of character-mode client `id` changed (its nick or room did). */
  prompt(id: number, text: string): void;
  /**
   * Screen-reader mode for client `id` (on) or not (off): on, the connection stops editing the
   * line (no prompt, no echo, no redraw) and asks a telnet client back into line mode; off, it
   * offers character mode again (the answer comes back as a `terminal` event).
   */
  lineMode?(id: number, on: boolean): void;
  /** Pending connection `id` (see the "open" event) is admitted: it may go on. */
  admitted?(id: number): void;
  /** Several processes (--redis): carry this to the others (see src/cluster/link.ts). */
  cluster?(out: ClusterOut): void;
  /**
   * Remember this in the store. Writes of one batch of events are written together, in the
   * order given, after the batch.
   */
  remember?(w: StoreWrite): void;
  /** Start this work; its answer comes back as an `answer` or `auth` event. */
  ask?(work: HubAsk): void;
  /** Append this to the audit log (audit.jsonl in --data-dir), after the batch. */
  audit?(entry: AuditEntry): void;
  /**
   * How an API post came out (see the `post` event): an HTTP status (201 posted, 404 no such
   * room, 409 the nick is a person's, 413 too long, 400 a bad nick or text, 429 too fast), a
   * short message, and for a 429 the seconds to wait.
   */
  posted?(ticket: number, status: number, message: string, retryAfter?: number): void;
}

/** Input from one connection: what one or more reads produced. */
export interface InputEvent {
  type: "input";
  id: number;
  /** When the bytes were read (epoch ms): lines are judged by when they arrived. */
  at: number;
  /**
   * The earliest the bytes may have arrived, when the server was stalled before reading them
   * (see the shell's StallClock): the lines are taken as spread over [from, at], not as a burst.
   */
  from?: number;
  /** Bytes read since the connection's last input event. */
  bytes: number;
  /** Whole lines, already cleaned. */
  lines: string[];
  /** An unfinished line is pending. */
  partial: boolean;
  /** Lines refused for their length. */
  overlong: number;
  /** Times the connection went past its budget of telnet commands. */
  telnetFloods: number;
}

/** Events the hub consumes, posted by the shell. */
export type HubEvent =
  | {
    type: "open";
    id: number;
    ip: string;
    port: number;
    outbox: Outbox;
    /** How the client came (`tcp`, `tls`, `http`, `ws`), for metrics. */
    transport?: string;
    /**
     * Admitted now, but not a chat session until {@link HubEvent} `start` (a TLS handshake, an
     * HTTP connection that may upgrade to a WebSocket): it counts against the caps meanwhile.
     */
    pending?: boolean;
  }
  /** A pending connection became a chat session (now over `transport`, when that changed). */
  | { type: "start"; id: number; transport?: string }
  | InputEvent
  /**
   * A telnet client switched to (or out of) character mode: the server now edits its line. With
   * what TTYPE told of the terminal: its type (lower case, "" = not known) and whether it
   * announced a screen reader (MTTS bit 64).
   */
  | {
    type: "terminal";
    id: number;
    charMode: boolean;
    termType?: string;
    screenReader?: boolean;
  }
  /**
   * A line posted through the HTTP API (POST /api/rooms/NAME/messages) as the bot `nick`; the
   * answer comes back through the `posted` effect with the same `ticket`.
   */
  | { type: "post"; ticket: number; ip: string; room: string; nick: string; text: string }
  | { type: "closed"; id: number; reason: string }
  | { type: "tick" }
  /** The store's answer to a query the hub asked (null with `error` when it failed). */
  | { type: "answer"; ticket: number; answer: StoreAnswer | null; error?: string }
  /** How a password check the hub asked for came out. */
  | {
    type: "auth";
    ticket: number;
    outcome: AuthOutcome;
    /** The account's nick as registered and its preferences (identify). */
    nick?: string;
    prefs?: Prefs;
  }
  | { type: "shutdown" }
  /** The word filter (--filter-file) was read again (SIGHUP); null: no filter any more. */
  | { type: "filter"; filter: WordFilter | null }
  /** From the other processes, through the cluster link (src/cluster/link.ts). */
  | { type: "cluster"; msg: ClusterIn };
