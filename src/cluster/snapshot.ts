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
  /** Only commands are sent (a stub will do in tests). */
  readonly client: Pick<RedisClient, "send">;
  readonly keys: ClusterKeys;
  readonly rules: BusRules;
  /** A record or kept event was left out (`source` names where it was). */
  dropped(source: string, dropped: Dropped): void;
}

/** A room's recent lines, oldest first. */
type Lines = Snapshot["history"][number]["lines"];

/**
 * The members hash and the sequences of some rooms, read in one step: KEYS[1] the members hash,
 * KEYS[2..] room sequence keys; returns the hash's field/value pairs, then each sequence ("0"
 * for none). It only reads, so processes of different versions need not agree on it (unlike the
 * scripts in src/cluster/scripts.ts, which are part of the wire format).
 */
export const SNAPSHOT_SCRIPT = `
local out = {redis.call('HGETALL', KEYS[1])}
for i = 2, #KEYS do out[i] = redis.call('GET', KEYS[i]) or '0' end
return out
`;

/** Rounds of {@link SNAPSHOT_SCRIPT} before rooms that keep appearing are left untracked. */
const SNAPSHOT_ROUNDS = 5;

/**
 * Everyone and every room someone is in as Redis has them, with each room's sequence, and the
 * sequences of the rooms in `followed` too (rooms this process followed that Redis may no
 * longer list: their sequences still count). Expired bans are deleted on the way.
 *
 * The members and the sequences are read in one step: an event numbered by then is in the
 * members, one numbered later is not and comes through the bus. Read apart, a member who entered
 * in between was in neither (the entry was judged already seen: a Redis restart lost everyone
 * who came back meanwhile). A room's history is cut at its sequence for the same reason.
 */
export async function readSnapshot(
  from: StateSource,
  followed: Iterable<string>,
): Promise<{ snap: Snapshot; seqs: Map<string, number> }> {
  const snap: Snapshot = { members: [], rooms: [], bans: [], history: [] };
  const seqs = await readMembersAndSeqs(from, snap, followed);
  const wanted = new Set(snap.members.map((m) => m.info.room));
  await readRooms(from, snap, wanted);
  await readBans(from, snap);
  for (const room of wanted) {
    const upTo = seqs.get(room) ?? Infinity;
    const lines = await readHistory(from, room, upTo);
    if (lines.length > 0) snap.history.push({ room, lines });
  }
  return { snap, seqs };
}

/**
 * The members (into `snap`) and the sequences of their rooms and of `followed`, in one step. The
 * rooms the members are in are known only once they are read: a room not asked for is asked for
 * in another round, all of it again in one step. A room still missing after a few rounds (rooms
 * appearing faster than they can be read) is left out of the sequences: its events are then
 * taken from the first that arrives, so none is lost (an entry may be shown twice).
 */
async function readMembersAndSeqs(
  from: StateSource,
  snap: Snapshot,
  followed: Iterable<string>,
): Promise<Map<string, number>> {
  const rooms = new Set(followed);
  for (let round = 1;; round++) {
    const asked = [...rooms];
    const reply = await from.client.send([
      "EVAL",
      SNAPSHOT_SCRIPT,
      1 + asked.length,
      from.keys.members,
      ...asked.map((room) => from.keys.seq(room)),
    ]);
    if (!Array.isArray(reply)) throw new Error("redis: unexpected reply to the snapshot script");
    const members: Snapshot["members"] = [];
    for (const [, json] of hashPairs(reply[0])) {
      const member = readMember(json, from.rules);
      if ("dropped" in member) from.dropped("members", member);
      else members.push(member);
    }
    const missing = members.map((m) => m.info.room).filter((room) => !rooms.has(room));
    if (missing.length === 0 || round === SNAPSHOT_ROUNDS) {
      snap.members = members;
      return new Map(asked.map((room, i) => [room, Number(reply[i + 1] ?? 0) || 0]));
    }
    for (const room of missing) rooms.add(room);
  }
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

/** The room's recent lines from its kept events, up to event `upTo`. */
async function readHistory(from: StateSource, room: string, upTo: number): Promise<Lines> {
  const lines: Lines = [];
  for (const bus of await readRoomLog(from, room)) {
    if (bus.ev.t === "say" && bus.seq <= upTo) {
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
