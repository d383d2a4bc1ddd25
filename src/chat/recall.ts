/**
 * Recall: `/history` and `/search`, answered from the store. The hub asks (effects.ask) and
 * shows the answer when it comes back as an event, never waiting for it. Only the asker's own
 * room is ever read, and the answer is shown only if they are still in it: a keyed room's lines
 * reach its members alone. Answers come in pages that fit well inside an outbox, newest page
 * first; `/history more` goes on to older lines.
 */
import type { KeptLine } from "../store/types.ts";
import type { Client } from "./client.ts";
import type { ClientTable } from "./clients.ts";
import type { HubContext } from "./context.ts";
import type { Fanout } from "./fanout.ts";
import { render, type RoomLine, VIEW_COLOR, VIEW_JSON } from "./render.ts";
import type { StoreAnswer, StoreQuery } from "../store/types.ts";

import type { HistoryRequest } from "./commands/types.ts";
import { HISTORY_DEFAULT, HISTORY_MAX, PAGE_LINES, SEARCH_LIMIT } from "./limits.ts";

const encoder = new TextEncoder();

/** A question on its way to the store. */
interface Asked {
  id: number;
  room: string;
  label: string;
  kind: "history" | "search";
  words: string[];
  since: number;
  /** Lines still wanted (history). */
  left: number;
  /** `/history more`: lines before those already shown. */
  older: boolean;
}

/** `/history` and `/search`. */
export class Recall {
  readonly #ctx: HubContext;
  readonly #clients: ClientTable;
  readonly #fanout: Fanout;
  readonly #asked = new Map<number, Asked>();
  #next = 0;

  constructor(ctx: HubContext, clients: ClientTable, fanout: Fanout) {
    this.#ctx = ctx;
    this.#clients = clients;
    this.#fanout = fanout;
  }

  /** Bytes one page may take in an outbox (always at least one line). */
  get pageBytes(): number {
    return Math.min(16 * 1024, Math.floor(this.#ctx.config.maxOutbox / 8));
  }

  /** `/history [N | DURATION | more]` in `c`'s room. */
  history(c: Client, req: HistoryRequest): void {
    const room = c.room;
    let since = 0;
    let left = HISTORY_DEFAULT;
    let before: number | undefined;
    if ("more" in req) {
      const r = c.recall;
      if (!r || r.room !== room.id) {
        return this.#fanout.tell(c, "Nothing more to show: /history [N | DURATION] first.");
      }
      since = r.since;
      left = r.left;
      before = r.before;
    } else if ("since" in req) {
      since = req.since;
      left = HISTORY_MAX;
    } else {
      left = Math.min(req.count, HISTORY_MAX);
    }
    c.recall = null;
    this.#ask(c, { kind: "history", words: [], since, left, older: before !== undefined }, {
      q: "lines",
      room: room.id,
      limit: Math.min(left, PAGE_LINES),
      ...(since > 0 ? { since } : {}),
      ...(before !== undefined ? { beforeSeq: before } : {}),
    });
  }

  /** `/search WORDS` in `c`'s room. */
  search(c: Client, words: string[]): void {
    this.#ask(c, { kind: "search", words, since: 0, left: SEARCH_LIMIT, older: false }, {
      q: "search",
      room: c.room.id,
      words,
      limit: SEARCH_LIMIT,
    });
  }

  #ask(
    c: Client,
    what: Omit<Asked, "id" | "room" | "label">,
    q: StoreQuery,
  ): void {
    const ask = this.#ctx.effects.ask;
    if (!ask) return this.#fanout.tell(c, "This server keeps no history.");
    if (c.ticket !== 0) {
      return this.#fanout.tell(c, "Still working on your last request; a moment.");
    }
    const ticket = ++this.#next;
    this.#asked.set(ticket, { ...what, id: c.id, room: c.room.id, label: c.room.label });
    c.ticket = -ticket; // negative: a question for the store (a positive one is a password's)
    ask({ kind: "query", ticket, q });
  }

  /** The store's answer. */
  answer(ticket: number, answer: StoreAnswer | null, error: string | undefined, now: number): void {
    const a = this.#asked.get(ticket);
    if (!a) return;
    this.#asked.delete(ticket);
    const c = this.#clients.get(a.id);
    if (!c || c.gone || c.ticket !== -ticket) return;
    c.ticket = 0;
    if (c.room.id !== a.room) {
      return this.#fanout.tell(c, `You left ${a.label}; its lines are not shown here.`);
    }
    if (!answer || !("lines" in answer)) {
      this.#ctx.log.warn("the store could not answer", { client: c.id, error: error ?? "" });
      return this.#fanout.tell(
        c,
        "The history cannot be read right now (the server's store is failing); try again later.",
      );
    }
    this.#ctx.stats.recalls++;
    const lines = this.#visible(c, answer.lines);
    if (a.kind === "search") this.#showSearch(c, a, lines, answer.more, now);
    else this.#showHistory(c, a, answer.lines, lines, answer.more, now);
  }

  /** `lines` without those of people `c` ignores (by their nick now, and kept ignores). */
  #visible(c: Client, lines: KeptLine[]): KeptLine[] {
    if (!c.ignoring && !c.keptIgnores) return lines;
    const hidden = new Set(c.keptIgnores ?? []);
    for (const m of c.ignoring ?? []) hidden.add(m.nick.toLowerCase());
    return lines.filter((l) => !hidden.has(l.nick.toLowerCase()));
  }

  /**
   * A page of history: `read` is what the store gave (it decides where the next page starts),
   * `shown` those of them `c` does not ignore.
   */
  #showHistory(
    c: Client,
    a: Asked,
    read: KeptLine[],
    shown: KeptLine[],
    more: boolean,
    now: number,
  ): void {
    const page = read.length === 0 ? [] : this.#fit(read);
    const cut = page.length < read.length;
    const left = a.left - page.length;
    const again = (more || cut) && left > 0;
    c.recall = again ? { room: a.room, before: page[0].seq, since: a.since, left } : null;
    const visible = page.length === read.length ? shown : shown.filter((l) => page.includes(l));
    if (visible.length === 0 && !again) {
      return this.#fanout.tell(c, `-- no ${a.older ? "older " : ""}lines kept in ${a.label} --`);
    }
    const n = visible.length;
    const head = `-- ${a.label}: ${n} ${n === 1 ? "line" : "lines"} --`;
    const foot = again ? "-- older lines: /history more --" : "-- end of history --";
    this.#show(c, head, visible, foot, now);
  }

  #showSearch(c: Client, a: Asked, lines: KeptLine[], more: boolean, now: number): void {
    const words = a.words.join(" ");
    if (lines.length === 0) {
      return this.#fanout.tell(c, `-- nothing in ${a.label} has all of: ${words} --`);
    }
    const page = this.#fit(lines);
    const head = `-- ${a.label}: the latest ${page.length} ${
      page.length === 1 ? "line" : "lines"
    } with: ${words} --`;
    const foot = more || page.length < lines.length
      ? "-- older matches exist: add words to narrow the search --"
      : "-- end of search --";
    this.#show(c, head, page, foot, now);
  }

  /** The newest of `lines` (oldest first) that fit in a page's bytes; at least one. */
  #fit(lines: KeptLine[]): KeptLine[] {
    const budget = this.pageBytes;
    let bytes = 0;
    let i = lines.length;
    while (i > 0) {
      const size = encoder.encode(lines[i - 1].text).length + lines[i - 1].nick.length + 32;
      if (bytes + size > budget && i < lines.length) break;
      bytes += size;
      i--;
    }
    return lines.slice(i);
  }

  #show(c: Client, head: string, page: KeptLine[], foot: string, now: number): void {
    const clock = this.#ctx.clock;
    if (c.view & VIEW_JSON) {
      // A bot reads the page as the lines were: one JSON object each, between the two notes.
      let text = this.#fanout.words(c, [head]);
      const room = c.room.label;
      for (const kept of page) text += render(asRoomLine(kept), VIEW_JSON, clock, { room });
      return this.#fanout.send(c, encoder.encode(text + this.#fanout.words(c, [foot])));
    }
    const color = c.view & VIEW_COLOR;
    let text = head + "\r\n";
    for (const kept of page) {
      text += `[${when(kept.at, now, clock)}] ${render(asRoomLine(kept), color, clock)}`;
    }
    this.#fanout.send(c, encoder.encode(text + foot + "\r\n"));
  }

  /** `c` left: its questions are answered into the void. */
  left(c: Client): void {
    if (c.ticket < 0) this.#asked.delete(-c.ticket);
  }
}

/** A kept line as the room shows it (a topic change as the notice it was). */
function asRoomLine(kept: KeptLine): RoomLine {
  if (kept.kind === "topic") {
    return {
      kind: "notice",
      nick: kept.nick,
      text: kept.text
        ? `${kept.nick} set the topic: ${kept.text}`
        : `${kept.nick} cleared the topic`,
      at: kept.at,
    };
  }
  return { kind: kept.kind, nick: kept.nick, text: kept.text, at: kept.at };
}

/** A kept line's time: `HH:MM` today, `YYYY-MM-DD HH:MM` before. */
export function when(at: number, now: number, clock: (ms: number) => string): string {
  const day = localDate(at);
  return day === localDate(now) ? clock(at) : `${day} ${clock(at)}`;
}

function localDate(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}
