/**
 * What the hub asks the store to remember (src/store/): room lines, numbered per room; the rooms
 * kept (their topic, key and owner); a room that is gone, whose lines are forgotten with it. The
 * hub never waits for the store: each of these is an effect, written after the event batch.
 * Private messages never come here.
 */
import type { KeptLine, RoomRecord, StoreWrite } from "../store/types.ts";
import { authData } from "./authority.ts";
import type { HubContext } from "./context.ts";
import type { ChatRoom } from "./room.ts";

/** The store's side of the rooms. */
export class Keep {
  readonly #remember: ((w: StoreWrite) => void) | undefined;

  constructor(ctx: HubContext) {
    this.#remember = ctx.effects.remember?.bind(ctx.effects);
  }

  /** A line said in `room` (a chat line, an action, a topic change), numbered in its room. */
  line(
    room: ChatRoom<unknown>,
    kind: KeptLine["kind"],
    nick: string,
    text: string,
    at: number,
    identified: boolean,
  ): void {
    const seq = ++room.seq;
    this.#remember?.({ t: "line", line: { room: room.id, seq, at, kind, nick, text, identified } });
  }

  /** `room`'s settings changed (kept or not, topic, key, owner). */
  room(room: ChatRoom<unknown>): void {
    if (room.kept) this.#remember?.({ t: "room", room: roomRecord(room) });
  }

  /** `room` is no longer kept: its record goes (its lines stay while it is in use). */
  unkept(room: ChatRoom<unknown>): void {
    this.#remember?.({ t: "room", room: roomRecord(room) });
  }

  /** `room` is gone: its record and its lines are forgotten. */
  gone(id: string): void {
    this.#remember?.({ t: "unroom", id });
  }

  /** Writes any other change (accounts, preferences). */
  write(w: StoreWrite): void {
    this.#remember?.(w);
  }
}

/** What the store keeps of a room. */
export function roomRecord(room: ChatRoom<unknown>): RoomRecord {
  return {
    id: room.id,
    name: room.name,
    topic: room.topic,
    topicBy: room.topicBy,
    key: room.secret,
    owner: room.owner,
    kept: room.kept,
    // Who runs it and its modes, as far as they outlive a restart (accounts, not sessions).
    extra: { auth: authData(room.auth, 0, true) },
  };
}
