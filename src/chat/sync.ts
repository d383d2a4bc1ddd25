/**
 * What this process tells the others (--redis), as the hub's parts ask: room events proposed to
 * the cluster (shown when they come back in order), direct messages, strikes, bans. Alone, the
 * hub talks to {@link Alone}, which says nothing and keeps nothing, so no part of the hub asks
 * whether there are others.
 */
import type { ClusterOut, DirectEv, MemberInfo, RoomEv } from "../cluster/bus.ts";
import type { Client } from "./client.ts";
import type { BanRecord } from "./moderation.ts";
import type { ChatRoom } from "./room.ts";

/** The other processes, as the hub speaks to them. */
export interface Outbound {
  /** This process's id among several; null alone. */
  readonly node: string | null;
  /** Room events go through the others (and come back in order) while linked. */
  readonly linked: boolean;
  /** The link to the others went down or came back. */
  setLinked(up: boolean): void;
  /**
   * Sends a room event to the others (when linked); `claim` takes (or refreshes) `claim`'s nick
   * in the cluster and `release` gives one up.
   */
  propose(room: string, ev: RoomEv, claim?: Client | null, release?: string): void;
  /** Tells the others `c` is now in `room` (holding its nick). */
  enter(c: Client, room: ChatRoom<Client>, notice: string, created?: boolean): void;
  /** A message for one process or all, when linked; false when it could not be sent. */
  direct(ev: DirectEv): boolean;
  /** Whatever the link's state (a resync, once the link is back). */
  send(out: ClusterOut): void;
  /** An address's strikes across the cluster change by `delta` (0: cleared). */
  strike(key: string, delta: number): void;
  /** A ban made here: sent to the others, or kept for when the link is back. */
  banned(ban: BanRecord): void;
  /** A ban lifted here: likewise. */
  unbanned(key: string): void;
  /** Bans and unbans made here while the link was down (for the resync), then forgotten. */
  takeOffline(): { bans: Set<string>; unbans: Set<string> };
}

/** One process alone: nothing to tell, nothing to keep. */
export class Alone implements Outbound {
  readonly node = null;
  readonly linked = false;
  setLinked(): void {}
  propose(): void {}
  enter(): void {}
  direct(): boolean {
    return false;
  }
  send(): void {}
  strike(): void {}
  banned(): void {}
  unbanned(): void {}
  takeOffline(): { bans: Set<string>; unbans: Set<string> } {
    return { bans: new Set(), unbans: new Set() };
  }
}

/** One of several processes: what the hub says goes to the cluster link. */
export class ClusterSync implements Outbound {
  readonly node: string;
  readonly #send: (out: ClusterOut) => void;
  readonly #canSend: boolean;
  #up = false;
  /** Proposals sent to the cluster, numbered. */
  #proposals = 0;
  /** Bans and unbans made here while the link was down, for Redis when it is back. */
  #offlineBans = new Set<string>();
  #offlineUnbans = new Set<string>();

  /** `send` carries what the hub says to the cluster link (absent: nothing is carried). */
  constructor(node: string, send: ((out: ClusterOut) => void) | undefined) {
    this.node = node;
    this.#send = send ?? (() => {});
    this.#canSend = send !== undefined;
  }

  get linked(): boolean {
    return this.#up && this.#canSend;
  }

  setLinked(up: boolean): void {
    this.#up = up;
  }

  propose(room: string, ev: RoomEv, claim?: Client | null, release?: string): void {
    if (!this.linked) return;
    this.#send({
      op: "room",
      room,
      ev,
      u: ++this.#proposals,
      claim: claim ? { key: claim.key, info: memberInfo(claim) } : undefined,
      release,
    });
  }

  enter(c: Client, room: ChatRoom<Client>, notice: string, created = false): void {
    this.propose(room.id, {
      t: "enter",
      m: memberInfo(c),
      name: room.name,
      notice,
      created: created || room.secret || room.owner
        ? { key: room.secret, fresh: created, ...(room.owner ? { owner: room.owner } : {}) }
        : undefined,
    }, c);
  }

  direct(ev: DirectEv): boolean {
    if (!this.linked) return false;
    this.#send({ op: "direct", ev });
    return true;
  }

  send(out: ClusterOut): void {
    this.#send(out);
  }

  strike(key: string, delta: number): void {
    if (this.linked) this.#send({ op: "strike", ip: key, delta });
  }

  banned(ban: BanRecord): void {
    if (this.linked) {
      this.#send({ op: "direct", ev: { t: "ban", ...ban } });
      this.#send({ op: "strike", ip: ban.ip, delta: 0 });
    } else {
      this.#offlineBans.add(ban.ip);
      this.#offlineUnbans.delete(ban.ip);
    }
  }

  unbanned(key: string): void {
    if (this.linked) {
      this.#send({ op: "direct", ev: { t: "unban", ip: key } });
      this.#send({ op: "strike", ip: key, delta: 0 });
    } else {
      this.#offlineUnbans.add(key);
      this.#offlineBans.delete(key);
    }
  }

  takeOffline(): { bans: Set<string>; unbans: Set<string> } {
    const taken = { bans: this.#offlineBans, unbans: this.#offlineUnbans };
    this.#offlineBans = new Set();
    this.#offlineUnbans = new Set();
    return taken;
  }
}

/** What the others know of `c`. */
export function memberInfo(c: Client): MemberInfo {
  const info: MemberInfo = {
    id: c.id,
    nick: c.nick,
    ip: c.ip,
    room: c.room.id,
    away: c.away,
    op: c.op,
    active: c.lastActive,
    ...(c.account ? { acct: c.account } : {}),
  };
  // An IRC session in several rooms is in all of them for the others too.
  if (c.irc && c.irc.channels.size > 1) {
    info.also = [...c.irc.channels].filter((r) => r !== c.room).map((r) => r.id);
  }
  return info;
}
