/**
 * Reading the cluster's state from Redis: everyone and every room (a snapshot, taken at start
 * and whenever the link comes back), and a room's kept events. Every record is checked and
 * cleaned as a bus message is (src/cluster/decode.ts); one that cannot be is left out whole, and
 * the caller is told why.
 */
import type { RoomBus, Snapshot } from "./bus.ts";
import {
  type BusRules,
  type Dropped,
  readBan,
  readBus,
  readMember,
  readRoomMeta,
} from "./decode.ts";
import type { RedisClient } from "./redis/client.ts";
import type { RespValue } from "./redis/resp.ts";
import type { ClusterKeys } from "./scripts.ts";

/** Where the state is read from, how it is checked, and who hears of what was left out. */
export interface StateSource {
  readonly client: RedisClient;
  readonly keys: ClusterKeys;
  readonly rules: BusRules;
  /** A record or kept event was left out (`source` names where it was). */
  dropped(source: string, dropped: Dropped): void;
}

/** A room's recent lines, oldest first. */
type Lines = Snapshot["history"][number]["lines"];

/**
 * Everyone and every room someone is in as Redis has them, with each room's sequence, and the
 * sequences of the rooms in `followed` too (rooms this process followed that Redis may no
 * longer list: their sequences still count). Expired bans are deleted on the way.
 */
export async function readSnapshot(
  from: StateSource,
  followed: Iterable<string>,
): Promise<{ snap: Snapshot; seqs: Map<string, number> }> {
  const snap: Snapshot = { members: [], rooms: [], bans: [], history: [] };
  await readMembers(from, snap);
  const wanted = new Set(snap.members.map((m) => m.info.room));
  await readRooms(from, snap, wanted);
  await readBans(from, snap);
  const seqs = new Map<string, number>();
  for (const room of wanted) {
    const lines = await readHistory(from, room);
    if (lines.length > 0) snap.history.push({ room, lines });
    seqs.set(room, await readRoomSeq(from, room));
  }
  for (const room of followed) {
    if (!seqs.has(room)) seqs.set(room, await readRoomSeq(from, room));
  }
  return { snap, seqs };
}

/** The number of the room's last event, as Redis has it (0 for none). */
export async function readRoomSeq(from: StateSource, room: string): Promise<number> {
  return Number(await from.client.send(["GET", from.keys.seq(room)]) ?? 0) || 0;
}

/** The room's kept events (for history, or to fill a gap), checked, in the list's order. */
export async function readRoomLog(from: StateSource, room: string): Promise<RoomBus[]> {
  const entries = await from.client.send(["LRANGE", from.keys.log(room), 0, -1]);
  const events: RoomBus[] = [];
  if (!Array.isArray(entries)) return events;
  for (const entry of entries) {
    const bus = readBus(String(entry), from.rules);
    if ("dropped" in bus) {
      from.dropped("room log", bus);
    } else if (bus.kind !== "room" || bus.room !== room) {
      const sample = bus.kind === "room" ? bus.room : "(a direct message)";
      from.dropped("room log", { dropped: "r: not the list's room", sample });
    } else {
      events.push(bus);
    }
  }
  return events;
}

async function readMembers(from: StateSource, snap: Snapshot): Promise<void> {
  for (const [, json] of hashPairs(await from.client.send(["HGETALL", from.keys.members]))) {
    const member = readMember(json, from.rules);
    if ("dropped" in member) from.dropped("members", member);
    else snap.members.push(member);
  }
}

/** The descriptions of the rooms someone is in (`wanted`). */
async function readRooms(from: StateSource, snap: Snapshot, wanted: Set<string>): Promise<void> {
  for (const [id, json] of hashPairs(await from.client.send(["HGETALL", from.keys.rooms]))) {
    if (!wanted.has(id)) continue;
    const room = readRoomMeta(id, json, from.rules);
    if ("dropped" in room) from.dropped("rooms", room);
    else snap.rooms.push(room);
  }
}

/** The bans in force; expired ones are deleted on the way. */
async function readBans(from: StateSource, snap: Snapshot): Promise<void> {
  const now = Date.now();
  for (const [ip, json] of hashPairs(await from.client.send(["HGETALL", from.keys.bans]))) {
    const ban = readBan(ip, json, from.rules);
    if ("dropped" in ban) {
      from.dropped("bans", ban);
    } else if (ban.until <= now) {
      await from.client.send(["HDEL", from.keys.bans, ip]);
    } else {
      snap.bans.push(ban);
    }
  }
}

/** The room's recent lines from its kept events. */
async function readHistory(from: StateSource, room: string): Promise<Lines> {
  const lines: Lines = [];
  for (const bus of await readRoomLog(from, room)) {
    if (bus.ev.t === "say") {
      const { kind, nick, text, at } = bus.ev;
      lines.push({ kind, nick, text, at });
    }
  }
  return lines;
}

/** The field/value pairs of an HGETALL reply. */
function hashPairs(reply: RespValue): [string, string][] {
  const pairs: [string, string][] = [];
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) {
      pairs.push([String(reply[i]), String(reply[i + 1])]);
    }
  }
  return pairs;
}
