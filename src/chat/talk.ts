/**
 * Talk: a member's line or action in their room, and private messages across rooms and
 * processes. With others linked (--redis), a room line is proposed to the cluster and shown when
 * it comes back, so every process shows a room's lines in one order.
 */
import type { DirectEv } from "../cluster/bus.ts";
import type { Client } from "./client.ts";
import type { HubContext } from "./context.ts";
import type { Fanout } from "./fanout.ts";
import type { Keep } from "./keep.ts";
import type { RemoteMember } from "./mirror.ts";
import type { RoomLine } from "./render.ts";
import type { HistoryLimits } from "./room.ts";
import type { Outbound } from "./sync.ts";

/** How an IRC client sent a private line: as a NOTICE, or a CTCP ACTION. */
export type WhisperHow = Pick<RoomLine, "ircNotice" | "ircAction">;

/** Lines people say. */
export class Talk {
  readonly #ctx: HubContext;
  readonly #fanout: Fanout;
  readonly #sync: Outbound;
  readonly #keep: Keep;
  /** What a room keeps for newcomers. */
  readonly limits: HistoryLimits;

  constructor(ctx: HubContext, fanout: Fanout, sync: Outbound, keep: Keep) {
    this.#ctx = ctx;
    this.#fanout = fanout;
    this.#sync = sync;
    this.#keep = keep;
    this.limits = { lines: ctx.config.history, bytes: ctx.config.historyBytes };
  }

  /** A chat line (`<nick> text`) or an action (`* nick text`) from `c` to its room. */
  speak(c: Client, kind: "chat" | "action", text: string, now: number, ircNotice = false): void {
    const ctx = this.#ctx;
    ctx.stats.lines++;
    if (this.#sync.linked) {
      // Everyone sees a room's lines in one order: this one is shown when it comes back.
      this.#sync.propose(c.room.id, { t: "say", kind, id: c.id, nick: c.nick, text, at: now });
    } else {
      const line: RoomLine = { kind, nick: c.nick, text, at: now };
      if (ircNotice) line.ircNotice = true;
      c.room.remember(line, this.#fanout.broadcast(c.room, line, c, c.ignoredBy), this.limits);
    }
    this.#keep.line(c.room, kind, c.nick, text, now, c.identified);
    if (ctx.log.enabled("debug")) {
      ctx.log.debug(kind, { nick: c.nick, room: c.room.label, text });
    }
  }

  /**
   * A private message, across rooms: `to` sees `[private] <from> text` (unless ignoring
   * `from`), `from` sees `[private to nick] text`, each drawn in their own view.
   */
  whisper(
    a: Client,
    to: Client | RemoteMember | undefined,
    text: string,
    now: number,
    how: WhisperHow = {},
  ): void {
    if (!to) return;
    const fanout = this.#fanout;
    if (to.id < 0) {
      const r = to as RemoteMember;
      const ev: DirectEv = {
        t: "msg",
        to: r.node,
        toId: r.info.id,
        id: a.id,
        nick: a.nick,
        text: how.ircAction ? `* ${a.nick} ${text}` : text,
        at: now,
      };
      if (!this.#sync.direct(ev)) {
        fanout.tell(a, `${r.nick} is on another server, which cannot be reached right now.`);
        return;
      }
      fanout.privately(a, { kind: "privateOut", nick: r.nick, text, at: now, ...how });
      return;
    }
    const b = to as Client;
    // Someone who ignores the sender does not get it; the sender is not told (ignoring is
    // private), so their own copy looks the same either way.
    if (!b.ignoring?.has(a)) {
      fanout.privately(b, { kind: "private", nick: a.nick, text, at: now, ...how });
      b.replyTo = a.id;
    }
    fanout.privately(a, { kind: "privateOut", nick: b.nick, text, at: now, ...how });
  }
}
