/**
 * The people on other Shat processes, as this process knows them from the bus (src/bus.ts):
 * who they are, where they are, and the indexes the hub needs to treat them like its own
 * members in commands (/who, /msg, /kick, nick checks, per-address caps). Pure state; the hub
 * updates it as room events and snapshots arrive.
 */
import type { MemberInfo } from "../cluster/bus.ts";
import type { Member } from "./commands/types.ts";
import { skeleton } from "./nicks.ts";

/** A member on another process. Its `id` is a local handle (negative, never a client id). */
export class RemoteMember implements Member {
  replyTo = 0;
  /** This process's clients ignoring them (their lines skip these). */
  ignoredBy: Set<object> | null = null;
  key: string;
  skeleton: string;

  constructor(readonly id: number, readonly node: string, public info: MemberInfo) {
    this.key = info.nick.toLowerCase();
    this.skeleton = skeleton(info.nick);
  }

  get nick(): string {
    return this.info.nick;
  }
  get ip(): string {
    return this.info.ip;
  }
  get op(): boolean {
    return this.info.op;
  }
  get lastActive(): number {
    return this.info.active;
  }
  get away(): string {
    return this.info.away;
  }
  /** Its room (an IRC session's latest, when it is in several). */
  get room(): string {
    return this.info.room;
  }

  /** Every room it is in. */
  get rooms(): string[] {
    return this.info.also ? [this.info.room, ...this.info.also] : [this.info.room];
  }

  /** Whether it is in room `id`. */
  isIn(id: string): boolean {
    return this.info.room === id || (this.info.also?.includes(id) ?? false);
  }
}

/** Everyone on the other processes. */
export class Mirror {
  /** By `node id`. */
  readonly #byRef = new Map<string, RemoteMember>();
  readonly #byHandle = new Map<number, RemoteMember>();
  readonly #byKey = new Map<string, RemoteMember>();
  readonly #bySkeleton = new Map<string, RemoteMember>();
  /** Members by the key of their address (see ipKey: an IPv6 address counts as its network). */
  readonly #ips = new Map<string, number>();
  readonly #keyOf: (ip: string) => string;
  readonly #rooms = new Map<string, number>();
  #nextHandle = -1;

  /** `keyOf` gives the key per-address rules use for an address (the identity by default). */
  constructor(keyOf: (ip: string) => string = (ip) => ip) {
    this.#keyOf = keyOf;
  }

  get size(): number {
    return this.#byRef.size;
  }

  /** The member `id` of process `node`. */
  get(node: string, id: number): RemoteMember | undefined {
    return this.#byRef.get(`${node} ${id}`);
  }

  byHandle(handle: number): RemoteMember | undefined {
    return this.#byHandle.get(handle);
  }

  byKey(key: string): RemoteMember | undefined {
    return this.#byKey.get(key);
  }

  bySkeleton(sk: string): RemoteMember | undefined {
    return this.#bySkeleton.get(sk);
  }

  /** Members on other processes whose address has this key. */
  fromIp(key: string): number {
    return this.#ips.get(key) ?? 0;
  }

  /** Members of the room (by id) on other processes. */
  inRoom(room: string): number {
    return this.#rooms.get(room) ?? 0;
  }

  members(): RemoteMember[] {
    return [...this.#byRef.values()];
  }

  /** Members of `room` on other processes. */
  membersOf(room: string): RemoteMember[] {
    const out: RemoteMember[] = [];
    for (const m of this.#byRef.values()) if (m.isIn(room)) out.push(m);
    return out;
  }

  /**
   * Adds or updates member `info.id` of `node`; returns it and the room it was in before
   * (undefined when new).
   */
  upsert(node: string, info: MemberInfo): { member: RemoteMember; was?: string } {
    const ref = `${node} ${info.id}`;
    const old = this.#byRef.get(ref);
    if (!old) {
      const m = new RemoteMember(this.#nextHandle--, node, { ...info });
      this.#byRef.set(ref, m);
      this.#byHandle.set(m.id, m);
      this.#index(m, 1);
      return { member: m };
    }
    const was = old.info.room;
    this.#index(old, -1);
    old.info = { ...info };
    old.key = info.nick.toLowerCase();
    old.skeleton = skeleton(info.nick);
    this.#index(old, 1);
    return { member: old, was };
  }

  /**
   * Member `m` left room `id`: true when that was its last room (it is to be forgotten); an IRC
   * session in other rooms stays in those.
   */
  leftRoom(m: RemoteMember, id: string): boolean {
    const rooms = m.rooms;
    const rest = rooms.filter((r) => r !== id);
    if (rest.length === 0) return true;
    if (rest.length < rooms.length) {
      const { also: _, ...info } = m.info;
      this.upsert(m.node, {
        ...info,
        room: rest[0],
        ...(rest.length > 1 ? { also: rest.slice(1) } : {}),
      });
    }
    return false;
  }

  /** Changes some of a member's fields (room, nick, away, activity). */
  update(m: RemoteMember, change: Partial<MemberInfo>): void {
    this.upsert(m.node, { ...m.info, ...change });
  }

  remove(node: string, id: number): RemoteMember | undefined {
    const m = this.#byRef.get(`${node} ${id}`);
    if (!m) return undefined;
    this.#byRef.delete(`${node} ${id}`);
    this.#byHandle.delete(m.id);
    this.#index(m, -1);
    return m;
  }

  /** Removes every member of process `node`; returns them. */
  removeNode(node: string): RemoteMember[] {
    const gone = [...this.#byRef.values()].filter((m) => m.node === node);
    for (const m of gone) this.remove(m.node, m.info.id);
    return gone;
  }

  #index(m: RemoteMember, delta: 1 | -1): void {
    const key = m.key;
    if (delta > 0) {
      this.#byKey.set(key, m);
      if (!/^guest-\d+$/.test(key)) this.#bySkeleton.set(m.skeleton, m);
    } else {
      if (this.#byKey.get(key) === m) this.#byKey.delete(key);
      if (this.#bySkeleton.get(m.skeleton) === m) this.#bySkeleton.delete(m.skeleton);
    }
    bump(this.#ips, this.#keyOf(m.info.ip), delta);
    bump(this.#rooms, m.info.room, delta);
    for (const room of m.info.also ?? []) bump(this.#rooms, room, delta);
  }
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const n = (map.get(key) ?? 0) + delta;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}
