/**
 * Delivery: what the hub says reaches outboxes. A room line is rendered once per view and
 * appended once to that view's shared log (src/chat/shared_log.ts), whatever the number of
 * readers; only the exceptions cost per person (the author's own copy, someone ignoring the
 * author, a highlighted mention). A client past --max-outbox is marked slow and dropped once the
 * current event is done.
 */
import type { Client } from "./client.ts";
import type { ClientTable } from "./clients.ts";
import type { HubContext } from "./context.ts";
import type { NickTable } from "./names.ts";
import { ircWords, maskOf, messages, roomLine, serverNotices } from "./irc/render.ts";
import { toIrcNick } from "./irc/wire.ts";
import { jsonInfo, mentionWords, render, type RoomLine, VIEW_JSON, VIEWS } from "./render.ts";
import type { ChatRoom } from "./room.ts";
import type { LogReader, Outbox, SharedLog } from "./shared_log.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY_SET: ReadonlySet<Client> = new Set();

/** The hub's way of putting bytes in front of people. */
export class Fanout {
  readonly #ctx: HubContext;
  readonly #clients: ClientTable;
  readonly #nicks: NickTable;
  /** Where the last broadcast went in each view's log: start and end, or -1 (reused). */
  readonly #appended = new Array<number>(VIEWS * 2).fill(-1);
  /** Logs appended to since the last flush: their readers need their writers started. */
  readonly #grownLogs = new Set<SharedLog>();
  /** Clients whose outbox passed the limit, to drop once the current event is done. */
  #slow: Client[] = [];

  constructor(ctx: HubContext, clients: ClientTable, nicks: NickTable) {
    this.#ctx = ctx;
    this.#clients = clients;
    this.#nicks = nicks;
  }

  /**
   * Queues bytes for `c` if it is still being served. Text lines meant for a terminal reach an
   * IRC client as the server's NOTICEs (see {@link ircSend} for IRC messages).
   */
  send(c: Client, bytes: Uint8Array): void {
    if (c.gone || c.slow) return;
    this.#enqueue(c, c.irc ? this.#asNotices(c, bytes) : bytes);
  }

  /** Queues IRC messages (CR LF ended) for an IRC client still being served. */
  ircSend(c: Client, text: string): void {
    if (c.gone || c.slow || text === "") return;
    this.#enqueue(c, encoder.encode(text));
  }

  /**
   * A private line for `c` alone (`private`: to them; `privateOut`: their own copy), drawn for
   * their view, or on IRC as a PRIVMSG (their own copy only if they asked for `echo-message`).
   */
  privately(c: Client, line: RoomLine): void {
    if (!c.irc) {
      const bell = line.kind === "private" && c.bell;
      // An IRC client's private /me, as a terminal shows an action.
      if (line.ircAction) {
        line = { ...line, text: `* ${line.kind === "private" ? line.nick : "you"} ${line.text}` };
      }
      return this.send(c, encoder.encode(render(line, c.view, this.#ctx.clock, { bell })));
    }
    const command = line.ircNotice ? "NOTICE" : "PRIVMSG";
    const action = line.ircAction === true;
    if (line.kind === "privateOut") {
      if (!c.irc.has("echo-message")) return;
      const to = toIrcNick(line.nick);
      return this.ircSend(c, messages(maskOf(c.nick), command, to, line.text, action));
    }
    this.ircSend(c, messages(maskOf(line.nick), command, toIrcNick(c.nick), line.text, action));
  }

  /** The name the server gives itself on IRC (--irc-name). */
  get ircName(): string {
    return this.#ctx.config.ircName || "shat";
  }

  /** Lines drawn for a terminal, as the server's NOTICEs to an IRC client. */
  #asNotices(c: Client, bytes: Uint8Array): Uint8Array {
    // deno-lint-ignore no-control-regex -- the server's own colours and bell, taken off
    const text = ircWords(decoder.decode(bytes).replace(/\x1b\[[0-9;]*m|\x07/g, ""));
    return encoder.encode(serverNotices(this.ircName, c.nick, text.split("\r\n")));
  }

  /**
   * Queues bytes for a member still being served; one past --max-outbox is marked slow instead
   * (and dropped once the current event is done).
   */
  #enqueue(c: Client, bytes: Uint8Array): void {
    const ob = c.outbox;
    if (ob.bytes + bytes.length > this.#ctx.config.maxOutbox) {
      c.slow = true;
      this.#slow.push(c);
      return;
    }
    ob.push(bytes);
    this.#ctx.stats.deliveries++;
    this.wakeWriter(c.id, ob);
  }

  /** Queues what the server itself must say (a welcome, last words), whatever the limit. */
  push(c: Client, bytes: Uint8Array): void {
    c.outbox.push(c.irc ? this.#asNotices(c, bytes) : bytes);
    this.wakeWriter(c.id, c.outbox);
  }

  /** Asks the shell to start the writer of an outbox that has just got bytes. */
  wakeWriter(id: number, ob: Outbox): void {
    if (!ob.armed) {
      ob.armed = true;
      this.#ctx.effects.wake(id);
    }
  }

  /** The time of the event being handled (the hub sets it): notices and a bot's lines carry it. */
  now = 0;

  /** Lines for `c` alone. */
  tell(c: Client, ...lines: string[]): void {
    this.send(c, encoder.encode(this.words(c, lines)));
  }

  /** The server's own `lines` as `c` reads them: text, or one JSON object each for a bot. */
  words(c: Client, lines: readonly string[]): string {
    return c.view & VIEW_JSON ? jsonInfo(lines, this.now) : lines.join("\r\n") + "\r\n";
  }

  /**
   * A line to every member of `room` but `except`: rendered once per view that someone in the
   * room reads, and appended once to that view's shared log, whatever the number of readers.
   * Only the exceptions cost per person: `except` (the author) is skipped, or shown the line as
   * their own if their screen shows nothing of what they typed; those in `skip` (ignoring the
   * author) are skipped; a reader whose nick the line mentions (with colour or the bell on)
   * gets a highlighted copy in its place. Returns the plain rendering's length in bytes.
   */
  broadcast(
    room: ChatRoom<Client>,
    line: RoomLine,
    except?: Client,
    skip?: Set<Client> | null,
  ): number {
    const clock = this.#ctx.clock;
    const appended = this.#appended;
    let plain = -1;
    let readers = 0;
    for (let v = 0; v < VIEWS; v++) {
      const log = room.logs[v];
      appended[2 * v] = -1;
      if (!log || log.readers.size === 0) continue;
      if (v & VIEW_JSON && line.presence) continue;
      const bytes = encoder.encode(
        render(line, v, clock, v & VIEW_JSON ? { room: room.label } : undefined),
      );
      if (v === 0) plain = bytes.length;
      appended[2 * v] = log.append(bytes);
      appended[2 * v + 1] = log.head;
      readers += log.readers.size;
      this.#grownLogs.add(log);
    }
    this.#ctx.stats.deliveries += readers;
    const mentionable = line.kind === "chat" || line.kind === "action";
    if (room.irc !== null && room.irc.size > 0 && line.irc !== false) {
      this.#ircBroadcast(room, line, except, skip);
    }
    if (except && except.room === room && !except.irc) {
      // Someone whose screen shows nothing of what they sent (the server edits their line, or
      // a browser) sees their own line once, as they'd read it back; others not at all.
      const echo = (except.charMode || except.transport === "ws") && mentionable;
      this.#replaceFor(except, echo ? render(line, except.view, clock, { own: true }) : null);
    }
    if (skip) {
      for (const o of skip) {
        if (o !== except && o.room === room && !o.irc) this.#replaceFor(o, null);
      }
    }
    if (mentionable && room.alerts > 0) {
      for (const word of mentionWords(line.text)) {
        const m = this.#nicks.get(word);
        if (!m || m.room !== room || !m.alert || m === except || skip?.has(m)) continue;
        this.#replaceFor(m, render(line, m.view, clock, { mention: true, bell: m.bell }));
      }
    }
    return plain >= 0 ? plain : encoder.encode(render(line, 0, clock)).length;
  }

  /**
   * A room's line to its IRC members, rendered once for all of them and appended once to the
   * room's IRC log, which those in this room only read; one in several rooms gets it as an entry
   * of its own (an outbox reads one log at a time). The author gets no echo unless it asked for
   * `echo-message`; someone ignoring the author gets nothing.
   */
  #ircBroadcast(
    room: ChatRoom<Client>,
    line: RoomLine,
    except: Client | undefined,
    skip: Set<Client> | null | undefined,
  ): void {
    if (line.presence) return; // IRC clients are told of comings and goings as IRC messages
    const text = roomLine(line, room.label, this.ircName);
    if (text === "") return;
    const bytes = encoder.encode(text);
    // Members in this room only read its IRC log: the line is appended once for all of them,
    // and only those left out of it cost anything (as a telnet line's readers).
    const irc = room.irc!;
    const log = room.ircLog;
    let start = -1;
    if (log !== null && log.readers.size > 0) {
      start = log.append(bytes);
      this.#grownLogs.add(log);
    }
    const apart = room.ircApart ??= [...irc].filter((m) => m.outbox.log !== log);
    const out = (m: Client) => (m === except && !m.irc!.has("echo-message")) || !!skip?.has(m);
    let readers = 0;
    if (start >= 0) {
      readers = irc.size - apart.length;
      const reads = (m: Client) => irc.has(m) && m.outbox.log === log && out(m);
      if (except && reads(except)) {
        except.outbox.skip(start, log!.head);
        readers--;
      }
      for (const m of skip ?? EMPTY_SET) {
        if (m === except || !reads(m)) continue;
        m.outbox.skip(start, log!.head);
        readers--;
      }
    }
    for (const m of apart) if (!out(m) && !m.gone && !m.slow) this.#enqueue(m, bytes);
    this.#ctx.stats.deliveries += readers;
  }

  /**
   * An IRC message (CR LF ended) for the IRC members of `rooms`, each told once however many of
   * the rooms they share, but `except`: appended once to each room's IRC log for those in that
   * room only, queued for each of the others.
   */
  ircTell(
    rooms: Iterable<ChatRoom<Client>>,
    message: string | (() => string),
    except?: Client,
  ): void {
    // Made only when some room has IRC members (most have none: a telnet join costs nothing).
    let text = typeof message === "string" ? message : "";
    let seen: Set<Client> | null = null;
    let bytes: Uint8Array | null = null;
    for (const room of rooms) {
      if (room.irc === null || room.irc.size === 0) continue;
      // Those in this room only read its IRC log (and are in no other room of `rooms`).
      const log = room.ircLog;
      let start = -1;
      if (log !== null && log.readers.size > 0) {
        text ||= (message as () => string)();
        start = log.append(bytes ??= encoder.encode(text));
        this.#grownLogs.add(log);
      }
      for (const m of room.irc) {
        if (start >= 0 && m.outbox.log === log) {
          if (m === except) m.outbox.skip(start, log!.head);
          else this.#ctx.stats.deliveries++;
          continue;
        }
        if (m === except || m.gone || m.slow || seen?.has(m)) continue;
        (seen ??= new Set()).add(m);
        text ||= (message as () => string)();
        this.#enqueue(m, bytes ??= encoder.encode(text));
      }
    }
  }

  /** For `c`, the broadcast just appended is left out, or replaced by `text`. */
  #replaceFor(c: Client, text: string | null): void {
    const v = c.view;
    const start = this.#appended[2 * v];
    const bytes = text === null ? null : encoder.encode(text);
    if (start >= 0) c.outbox.skip(start, this.#appended[2 * v + 1], bytes);
    else if (bytes) c.outbox.push(bytes);
  }

  /**
   * A notice (`*** …`) for everyone in `room` but `except`; a `presence` notice (someone came or
   * went) is not shown to bots or IRC clients, nor one marked not for `irc` (they are told as IRC
   * messages: a topic, a rename).
   */
  notice(
    room: ChatRoom<Client>,
    text: string,
    except?: Client,
    presence = false,
    irc = true,
  ): void {
    const line: RoomLine = { kind: "notice", nick: "", text, at: this.now };
    if (presence) line.presence = true;
    if (!irc) line.irc = false;
    this.broadcast(room, line, except);
  }

  /**
   * After a batch of events: starts the writers of everyone whose log got lines, and marks
   * readers that fell more than --max-outbox behind (see {@link takeSlow}). This is the one place
   * that costs per reader, once per batch rather than once per line.
   */
  flush(): void {
    // forEach rather than for-of: in code not yet optimised (a burst on a fresh server), for-of
    // allocates an object per reader.
    for (const log of this.#grownLogs) log.readers.forEach(this.#check);
    this.#grownLogs.clear();
  }

  /** One reader of a log that grew (see {@link flush}). */
  readonly #check = (r: LogReader): void => {
    const ob = r as Outbox;
    const c = this.#clients.get(ob.owner);
    if (!c || c.gone || c.slow) return;
    if (ob.bytes > this.#ctx.config.maxOutbox) {
      c.slow = true;
      this.#slow.push(c);
    } else if (!ob.armed) {
      ob.armed = true;
      this.#ctx.effects.wake(c.id);
    }
  };

  /** The next client marked slow, most recent first (undefined when there is none). */
  takeSlow(): Client | undefined {
    return this.#slow.pop();
  }
}
