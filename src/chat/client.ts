/**
 * One connection as the hub knows it: who they are, where they are, how they see the room, and
 * the bookkeeping of its rules (pace, budget before the token, ignores). Booleans are bits of
 * one number: an idle client's fields are most of what it costs.
 */
import type { Member } from "./commands/mod.ts";
import type { CloseMode } from "./events.ts";
import type { RemoteMember } from "./mirror.ts";
import type { IrcState } from "./irc/state.ts";
import type { AddressState } from "./moderation.ts";
import type { ChatRoom } from "./room.ts";
import type { Outbox } from "./shared_log.ts";

/** When a client's lines came (see Input). */
export interface LinePace {
  lastLine: number;
  lastAccepted: number;
  /** Blank lines in a row, each too soon after the one before. */
  blankRun: number;
}

/** Client's #flags. */
const OP = 1;
const AUTHED = 2;
const GONE = 4;
const SLOW = 8;
const BELL = 16;
const ALERT = 32;
const CHAR_MODE = 64;
const PENDING = 128;
const WARNED_CLEAR = 256;
const SCREEN_READER = 512;
const READER_CHOSEN = 1024;
const DUMB = 2048;

/** A connection the hub holds (admitted; a member once it has joined). */
export class Client implements Member {
  nick = "";
  key = "";
  /** The skeleton of a nick the member chose ("" while they have a guest nick). */
  skeleton = "";
  /** The booleans below, a bit each: an idle client's fields are most of what it costs. */
  #flags = 0;
  lastActive: number;
  lastInput: number;
  /** Made with their first line after the token: a client that only listens costs nothing for it. */
  pace: LinePace | null = null;
  partialSince = 0;
  replyTo = 0;
  /** Bytes and lines received before the room token was given. */
  preauthBytes = 0;
  preauthLines = 0;
  /** Why they are away ("" = here). */
  away = "";
  /** The account they are logged in to (its key, the nick in lower case; "" = none). */
  account = "";
  /** The ticket of the work the shell is doing for them (a password, the store; 0 = none). */
  ticket = 0;
  /**
   * Registered nicks (lower case) they ignore, kept with their account: whoever identifies
   * for one of them is ignored (null when none).
   */
  keptIgnores: Set<string> | null = null;
  /** Where `/history more` goes on from (null = nothing more to show). */
  recall: { room: string; before: number; since: number; left: number } | null = null;
  /** How lines are drawn for them: bits of VIEW_COLOR and VIEW_STAMPS. */
  view = 0;
  /** The room they are in (set when they join). */
  room!: ChatRoom<Client>;
  /**
   * Members whose lines this client does not want to see (null until the first /ignore): this
   * process's clients, or members on other processes.
   */
  ignoring: Set<Client | RemoteMember> | null = null;
  /** Members ignoring this client: their lines skip these recipients. */
  ignoredBy: Set<Client> | null = null;
  /**
   * An IRC session's own state (null for everyone else): it may be in several rooms at once,
   * and it reads IRC messages rather than the rooms' shared logs.
   */
  irc: IrcState<Client> | null = null;

  constructor(
    readonly id: number,
    readonly ip: string,
    /** The key its address's rules and bans are kept under (an IPv6 address's network). */
    readonly addrKey: string,
    readonly port: number,
    readonly outbox: Outbox,
    readonly addr: AddressState,
    readonly connectedAt: number,
    public transport: string,
  ) {
    this.lastActive = connectedAt;
    this.lastInput = connectedAt;
  }

  get op(): boolean {
    return (this.#flags & OP) !== 0;
  }
  set op(on: boolean) {
    this.#flag(OP, on);
  }
  get authed(): boolean {
    return (this.#flags & AUTHED) !== 0;
  }
  set authed(on: boolean) {
    this.#flag(AUTHED, on);
  }
  /** Removed from the hub; nothing more is sent to it. */
  get gone(): boolean {
    return (this.#flags & GONE) !== 0;
  }
  set gone(on: boolean) {
    this.#flag(GONE, on);
  }
  /** Its outbox passed the limit; it is dropped when the current event is done. */
  get slow(): boolean {
    return (this.#flags & SLOW) !== 0;
  }
  set slow(on: boolean) {
    this.#flag(SLOW, on);
  }
  /** The terminal bell rings for a mention or a private message. */
  get bell(): boolean {
    return (this.#flags & BELL) !== 0;
  }
  set bell(on: boolean) {
    this.#flag(BELL, on);
  }
  /** True when colour or bell is on: lines that mention them are drawn for them alone. */
  get alert(): boolean {
    return (this.#flags & ALERT) !== 0;
  }
  set alert(on: boolean) {
    this.#flag(ALERT, on);
  }
  /** The server edits their line (telnet character mode): their own lines are shown back. */
  get charMode(): boolean {
    return (this.#flags & CHAR_MODE) !== 0;
  }
  set charMode(on: boolean) {
    this.#flag(CHAR_MODE, on);
  }
  /** Admitted, but not a chat session yet (a TLS handshake or an HTTP request under way). */
  get pending(): boolean {
    return (this.#flags & PENDING) !== 0;
  }
  set pending(on: boolean) {
    this.#flag(PENDING, on);
  }
  /** They were told once that a password over this plain connection travels in clear. */
  get warnedClear(): boolean {
    return (this.#flags & WARNED_CLEAR) !== 0;
  }
  set warnedClear(on: boolean) {
    this.#flag(WARNED_CLEAR, on);
  }
  /**
   * Screen-reader mode: no prompt, no echo or redraw by the server (the client edits its own
   * line), no colours, no bell; each line arrives once, whole, sender first.
   */
  get screenReader(): boolean {
    return (this.#flags & SCREEN_READER) !== 0;
  }
  set screenReader(on: boolean) {
    this.#flag(SCREEN_READER, on);
  }
  /**
   * The person chose screen-reader mode on or off themselves (/screenreader, or their account
   * kept the choice): it is kept with their account. One their client announced is not.
   */
  get readerChosen(): boolean {
    return (this.#flags & READER_CHOSEN) !== 0;
  }
  set readerChosen(on: boolean) {
    this.#flag(READER_CHOSEN, on);
  }
  /** Their terminal type is `dumb` (TTYPE): no colours unless they ask for them. */
  get dumb(): boolean {
    return (this.#flags & DUMB) !== 0;
  }
  set dumb(on: boolean) {
    this.#flag(DUMB, on);
  }
  /** Their nick is their account's: lines they say are marked identified. */
  get identified(): boolean {
    return this.account !== "" && this.account === this.key;
  }
  /** Whether they are in `room` (an IRC session may be in several rooms). */
  inRoom(room: ChatRoom<Client>): boolean {
    const irc = this.irc;
    return irc ? irc.channels.has(room) : this.room === room;
  }
  #flag(bit: number, on: boolean): void {
    this.#flags = on ? this.#flags | bit : this.#flags & ~bit;
  }
}

/** How a client leaves (see Sessions.drop). */
export interface DropOptions {
  /** Said to the client before it is closed. */
  message?: string;
  /** How to close (default `flush`). */
  mode?: CloseMode;
  /** No "left" notice for the room. */
  quiet?: boolean;
}

/** The prompt a character-mode client is shown: who they are, and in which room. */
export function promptFor(nick: string, room: string): string {
  return `[${nick} #${room}] `;
}
