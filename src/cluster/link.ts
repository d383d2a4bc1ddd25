/**
 * The link between this Shat process and the others sharing its rooms through Redis
 * (`--redis`). It turns what the hub asks for (src/bus.ts ClusterOut) into Redis commands and
 * what Redis publishes into hub events (ClusterIn), and it keeps the promises the hub relies on:
 *
 * - A room's events reach the hub in the room's sequence (numbered by Redis in one Lua script
 *   that also claims nicks, keeps the room's recent events and publishes). A gap (a subscriber
 *   Redis cut off, a restart) is filled from that list, or reported as missed lines: never
 *   skipped silently.
 * - This process says it is alive every second (a key that expires in 3 s); every process looks
 *   for dead ones each second, and exactly one of them (SREM decides) frees a dead process's nicks
 *   and tells everyone it is gone, so its members are shown leaving once per room.
 * - When Redis goes away the hub is told (it keeps its own members chatting); when it is back the
 *   link takes a snapshot of the cluster (members, rooms, bans, recent lines) and hands it over,
 *   with `reset` when Redis lost its data meanwhile (a restart without persistence).
 *
 * Keys, under the prefix P (`--redis-prefix`): P:bus (the channel), P:nodes (set of process ids),
 * P:node:ID (heartbeat), P:epoch (changes when Redis lost its data), P:members (hash nick key →
 * member JSON), P:rooms (hash room id → name, key hash, topic), P:bans (hash address → ban JSON),
 * P:seq:ROOM and P:log:ROOM (the room's sequence and its last events), P:strike:ADDR (strikes).
 */
import {
  type BusIn,
  type ClusterIn,
  type ClusterOut,
  type Dropped,
  encodeDirect,
  encodeRoom,
  readBan,
  readBus,
  readMember,
  readRoomMeta,
  type RoomEv,
  SeqTracker,
  type Snapshot,
  TEXT_MAX,
} from "./bus.ts";
import { type Logger, LogThrottle } from "../ops/log.ts";
import { RedisClient, type RedisScript, RedisSubscriber, type RespValue } from "./redis/client.ts";

/** How often this process says it is alive, and how long that lasts. */
export const HEARTBEAT_MS = 1_000;
export const HEARTBEAT_TTL_MS = 3_000;
/** Events kept per room in Redis, to fill gaps and give newcomers history. */
export const ROOM_LOG = 1_000;
/** A room's kept events expire after this long without a new one. */
export const ROOM_LOG_TTL_MS = 24 * 3_600_000;

/**
 * One room event: claim a nick (unless its owner is another live process), release one, number
 * the event, keep it, publish it. Returns the sequence number, or -1 if the claim lost (the
 * release is done either way: its holder here no longer has that nick). KEYS: seq, log,
 * members, channel. ARGV: payload, claim key, claim JSON, release key, node-key prefix, this
 * node, log length, "1" when the event made the room afresh (its old events go), how long a
 * quiet room's events are kept (ms).
 */
const ROOM_SCRIPT = `
local me = ARGV[6]
if ARGV[4] ~= '' then
  local cur = redis.call('HGET', KEYS[3], ARGV[4])
  if cur and cjson.decode(cur).n == me then redis.call('HDEL', KEYS[3], ARGV[4]) end
end
if ARGV[2] ~= '' then
  local cur = redis.call('HGET', KEYS[3], ARGV[2])
  if cur then
    local owner = cjson.decode(cur)
    if owner.n ~= me and redis.call('EXISTS', ARGV[5] .. owner.n) == 1 then return -1 end
  end
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
end
if ARGV[8] == '1' then redis.call('DEL', KEYS[2]) end
local seq = redis.call('INCR', KEYS[1])
local msg = seq .. ' ' .. ARGV[1]
redis.call('RPUSH', KEYS[2], msg)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[7]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[9])
redis.call('PUBLISH', KEYS[4], msg)
return seq
`;

/**
 * Frees a dead process (or this one, closing): only the caller that removes it from the set
 * does the work. KEYS: nodes, members, channel. ARGV: node, gone payload. Returns 1 if it did.
 */
const REAP_SCRIPT = `
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  if cjson.decode(all[i + 1]).n == ARGV[1] then redis.call('HDEL', KEYS[2], all[i]) end
end
redis.call('PUBLISH', KEYS[3], ARGV[2])
return 1
`;

/** Changes some fields of a room's description (name, key hash, topic), keeping the others. */
const META_SCRIPT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local meta = cur and cjson.decode(cur) or {}
local patch = cjson.decode(ARGV[2])
for k, v in pairs(patch) do meta[k] = v end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(meta))
return 1
`;

/** Strikes against an address, shared: add DELTA (never below 0), keep them TTL ms. */
const STRIKE_SCRIPT = `
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n <= 0 then redis.call('DEL', KEYS[1]) return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
`;

/** What the link needs to know. */
export interface ClusterOptions {
  url: string;
  prefix: string;
  /** This process's id (unique in the cluster; a random one per start). */
  node: string;
  log: Logger;
  /** Where the hub's events go (the central queue). */
  deliver(msg: ClusterIn): void;
  /** How long strikes are remembered (the hub's strike memory). */
  strikeMemoryMs: number;
  /** Redis reply deadline. */
  commandTimeoutMs?: number;
  /**
   * Longest line, notice or reason taken from the others, in characters (the process's
   * `--max-line`; {@link TEXT_MAX} when not given): longer text is cut.
   */
  maxText?: number;
}

/** Counters for the metrics page. */
export interface ClusterStats {
  connected: boolean;
  published: number;
  received: number;
  gaps: number;
  missed: number;
  reaped: number;
}

/** The link. Create it with {@link ClusterLink.start}; it connects before the server listens. */
export class ClusterLink {
  readonly stats: ClusterStats = {
    connected: false,
    published: 0,
    received: 0,
    gaps: 0,
    missed: 0,
    reaped: 0,
  };
  readonly #o: ClusterOptions;
  readonly #p: string;
  readonly #maxText: number;
  /** Dropped messages and records are logged once a minute per fault; the rest are counted. */
  readonly #drops = new LogThrottle(60_000);
  #client!: RedisClient;
  #sub!: RedisSubscriber;
  #room!: RedisScript;
  #reap!: RedisScript;
  #strike!: RedisScript;
  #meta!: RedisScript;
  readonly #seq = new SeqTracker();
  /** Events held back per room while a gap is filled, or until the first snapshot is in. */
  readonly #held = new Map<string, { seq: number; bus: BusIn; u?: number }[]>();
  #syncing = true;
  /** A resync is running (at most one at a time). */
  #resyncing = false;
  #up = false;
  #epoch = "";
  #closed = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Proposals on their way, by number: bounced to the hub if the link fails under them. */
  readonly #inflight = new Map<number, { room: string; ev: RoomEv }>();

  private constructor(o: ClusterOptions) {
    this.#o = o;
    this.#p = o.prefix;
    this.#maxText = o.maxText ?? TEXT_MAX;
  }

  /**
   * Connects both Redis connections, registers this process and takes the first snapshot
   * (delivered to the hub before this resolves). Rejects with a one-line error if Redis cannot
   * be reached or refuses (AUTH): the caller exits.
   */
  static async start(o: ClusterOptions): Promise<ClusterLink> {
    const link = new ClusterLink(o);
    await link.#connect();
    return link;
  }

  async #connect(): Promise<void> {
    const o = this.#o;
    const common = {
      // Long enough that a Redis pausing for a few seconds (a fork, a slow disk) delays lines
      // rather than cutting the link; a Redis that is gone closes the connection at once.
      commandTimeoutMs: o.commandTimeoutMs ?? 10_000,
      connectTimeoutMs: 3_000,
      pingIntervalMs: 2_000,
      reconnectMaxMs: 2_000,
      whenDisconnected: "fail" as const,
      // A burst of lines from thousands of people is that many scripts in flight at once.
      maxPending: 100_000,
      onDisconnect: (reason: string) => this.#lost(reason),
      onReconnect: () => this.#maybeBack(),
    };
    this.#client = await RedisClient.connect(o.url, common);
    try {
      this.#sub = await RedisSubscriber.connect(o.url, {
        ...common,
        onMessage: (_channel, payload) => this.#message(payload),
      });
    } catch (e) {
      await this.#client.close();
      throw e;
    }
    this.#room = await this.#client.script(ROOM_SCRIPT);
    this.#reap = await this.#client.script(REAP_SCRIPT);
    this.#strike = await this.#client.script(STRIKE_SCRIPT);
    this.#meta = await this.#client.script(META_SCRIPT);
    await this.#sub.subscribe(`${this.#p}:bus`);
    await this.#sync(false);
    this.#timer = setInterval(() => this.#beat(), HEARTBEAT_MS);
  }

  /** Registers this process, reads everything, and lets held events through. */
  async #sync(again: boolean, wasDown = true): Promise<void> {
    const p = this.#p;
    const c = this.#client;
    this.#syncing = true;
    await c.send(["SET", `${p}:node:${this.#o.node}`, "1", "PX", HEARTBEAT_TTL_MS]);
    await c.send(["SADD", `${p}:nodes`, this.#o.node]);
    // A missing epoch means Redis lost its data (or this is the first process ever).
    const made = crypto.randomUUID();
    const fresh = await c.send(["SET", `${p}:epoch`, made, "NX"]) === "OK";
    const epoch = String(await c.send(["GET", `${p}:epoch`]));
    let reset = again && epoch !== this.#epoch;
    this.#epoch = epoch;
    const { snap, seqs } = await this.#snapshot();
    // A room whose sequence is behind what this process saw: Redis went back in time (restored
    // from an older snapshot). That is a loss of data too.
    if (again && [...seqs].some(([room, seq]) => seq < this.#seq.last(room))) reset = true;
    if (reset) this.#seq.clear();
    // Rooms whose events went on while the link was down: their lines are read back from the
    // room's kept events (membership is in the snapshot already).
    const gaps: [string, number, number][] = [];
    for (const [room, seq] of seqs) {
      const last = this.#seq.last(room);
      if (again && !reset && last > 0 && last < seq) {
        gaps.push([room, last + 1, seq]);
        if (!this.#held.has(room)) this.#held.set(room, []);
      } else if (last < seq) {
        this.#seq.set(room, seq);
      }
    }
    this.#syncing = false;
    this.#up = true;
    this.stats.connected = true;
    if (again && wasDown) this.#o.deliver({ kind: "link", up: true });
    this.#o.deliver({ kind: "snapshot", snap, reset, fresh });
    // Events that came while reading: those past the snapshot go through in order.
    for (const [room, from, to] of gaps) void this.#fill(room, from, to, true);
    for (const room of [...this.#held.keys()]) {
      if (!gaps.some(([r]) => r === room)) this.#release(room);
    }
  }

  async #snapshot(): Promise<{ snap: Snapshot; seqs: Map<string, number> }> {
    const p = this.#p;
    const c = this.#client;
    const pairs = (v: RespValue): [string, string][] => {
      const out: [string, string][] = [];
      if (Array.isArray(v)) {
        for (let i = 0; i + 1 < v.length; i += 2) out.push([String(v[i]), String(v[i + 1])]);
      }
      return out;
    };
    const snap: Snapshot = { members: [], rooms: [], bans: [], history: [] };
    const seqs = new Map<string, number>();
    // Every record is checked and cleaned as a bus message is (src/bus.ts); one that cannot be
    // is left out whole.
    for (const [, json] of pairs(await c.send(["HGETALL", `${p}:members`]))) {
      const m = readMember(json);
      if ("dropped" in m) this.#dropped("members", m);
      else snap.members.push(m);
    }
    const wanted = new Set(snap.members.map((m) => m.info.room));
    for (const [id, json] of pairs(await c.send(["HGETALL", `${p}:rooms`]))) {
      if (!wanted.has(id)) continue;
      const r = readRoomMeta(id, json);
      if ("dropped" in r) this.#dropped("rooms", r);
      else snap.rooms.push(r);
    }
    const now = Date.now();
    for (const [ip, json] of pairs(await c.send(["HGETALL", `${p}:bans`]))) {
      const b = readBan(ip, json, this.#maxText);
      if ("dropped" in b) {
        this.#dropped("bans", b);
      } else if (b.until <= now) {
        await c.send(["HDEL", `${p}:bans`, ip]);
      } else {
        snap.bans.push(b);
      }
    }
    for (const room of wanted) {
      const entries = await c.send(["LRANGE", `${p}:log:${room}`, 0, -1]);
      const seq = Number(await c.send(["GET", `${p}:seq:${room}`]) ?? 0) || 0;
      const lines: Snapshot["history"][number]["lines"] = [];
      if (Array.isArray(entries)) {
        for (const e of entries) {
          const bus = this.#kept(room, e);
          if (bus?.ev.t === "say") {
            const { kind, nick, text, at } = bus.ev;
            lines.push({ kind, nick, text, at });
          }
        }
      }
      if (lines.length > 0) snap.history.push({ room, lines });
      seqs.set(room, seq);
    }
    // Rooms this process followed that Redis no longer lists: their sequences still count.
    for (const [room] of this.#seq.entries()) {
      if (seqs.has(room)) continue;
      const seq = Number(await c.send(["GET", `${p}:seq:${room}`]) ?? 0) || 0;
      seqs.set(room, seq);
    }
    return { snap, seqs };
  }

  /** Heartbeat, and the search for dead processes. */
  async #beat(): Promise<void> {
    for (const { key, count } of this.#drops.sweep(Date.now())) {
      this.#o.log.warn("cluster: dropped more of what Redis gave", {
        what: key,
        times: count,
        within: "60s",
      });
    }
    if (!this.#up || this.#closed) return;
    const p = this.#p;
    try {
      await this.#client.send(["SET", `${p}:node:${this.#o.node}`, "1", "PX", HEARTBEAT_TTL_MS]);
      // Listed again every time: another process may have taken this one for dead (a stall).
      await this.#client.send(["SADD", `${p}:nodes`, this.#o.node]);
      const epoch = await this.#client.send(["GET", `${p}:epoch`]);
      if (epoch !== this.#epoch && this.#up && !this.#resyncing) {
        // Redis lost its data under a live connection (FLUSHALL, a failover to an empty
        // replica): start again from what it has, as after a restart.
        this.#o.log.warn("cluster: Redis lost its data; rejoining the others");
        this.#resyncing = true;
        this.#up = false;
        this.#syncing = true;
        try {
          await this.#sync(true, false);
          this.#resyncing = false;
        } catch (e) {
          // Half done: tell the hub the link is down and start over as after a loss.
          this.#resyncing = false;
          this.#up = true;
          this.#lost(e instanceof Error ? e.message : String(e));
          setTimeout(() => this.#maybeBack(), 1_000);
        }
        return;
      }
      const nodes = await this.#client.send(["SMEMBERS", `${p}:nodes`]);
      if (!Array.isArray(nodes)) return;
      for (const n of nodes.map(String)) {
        if (n === this.#o.node) continue;
        if (await this.#client.send(["EXISTS", `${p}:node:${n}`]) === 1) continue;
        const did = await this.#reap.run(
          [`${p}:nodes`, `${p}:members`, `${p}:bus`],
          [n, encodeDirect(this.#o.node, { t: "gone", node: n })],
        );
        if (did === 1) {
          this.stats.reaped++;
          this.#o.log.warn("cluster: a process stopped answering; its members were freed", {
            node: n,
          });
        }
      }
    } catch {
      // The link's own callbacks report a lost connection; a slow reply waits for the next beat.
    }
  }

  /** Carries what the hub asks for. */
  send(out: ClusterOut): void {
    if (this.#closed) return;
    const p = this.#p;
    const node = this.#o.node;
    switch (out.op) {
      case "room": {
        const { room, ev, u } = out;
        this.#inflight.set(u, { room, ev });
        const claim = out.claim ? JSON.stringify({ n: node, ...out.claim.info }) : "";
        this.stats.published++;
        this.#room.run(
          [`${p}:seq:${room}`, `${p}:log:${room}`, `${p}:members`, `${p}:bus`],
          [
            encodeRoom(node, room, ev, u),
            out.claim?.key ?? "",
            claim,
            out.release ?? "",
            `${p}:node:`,
            node,
            ROOM_LOG,
            ev.t === "enter" && ev.created?.fresh ? "1" : "0",
            ROOM_LOG_TTL_MS,
          ],
        ).then((seq) => {
          this.#inflight.delete(u);
          if (seq === -1) this.#o.deliver({ kind: "refused", room, ev });
        }, () => {
          if (!this.#inflight.delete(u)) return;
          this.#o.deliver({ kind: "bounced", room, ev, u });
        });
        if (ev.t === "enter" && ev.created?.fresh) {
          // A room made afresh: nothing of an earlier room of that name (its topic) stays.
          this.#roomMeta(room, { name: ev.name, key: ev.created.key, topic: "", topicBy: "" });
        } else if (ev.t === "enter" && ev.created) {
          this.#roomMeta(room, { name: ev.name, key: ev.created.key });
        } else if (ev.t === "topic") {
          this.#roomMeta(room, { topic: ev.topic, topicBy: ev.by });
        }
        break;
      }
      case "direct": {
        const ev = out.ev;
        if (ev.t === "ban") {
          const { ip: _ip, ...rest } = ev;
          this.#hset(`${p}:bans`, ev.ip, rest);
        } else if (ev.t === "unban") {
          this.#client.send(["HDEL", `${p}:bans`, ev.ip]).catch(() => {});
        }
        this.stats.published++;
        this.#client.publish(`${p}:bus`, encodeDirect(node, ev)).catch(() => {});
        break;
      }
      case "strike":
        if (out.delta === 0) {
          // Banned or unbanned: the count starts again.
          this.#client.send(["DEL", `${p}:strike:${out.ip}`]).catch(() => {});
          break;
        }
        this.#strike.run([`${p}:strike:${out.ip}`], [out.delta, this.#o.strikeMemoryMs]).then(
          (n) => {
            if (typeof n === "number" && out.delta > 0) {
              this.#o.deliver({ kind: "strikes", ip: out.ip, count: n });
            }
          },
          () => {},
        );
        break;
    }
  }

  #roomMeta(room: string, patch: Record<string, string>): void {
    this.#meta.run([`${this.#p}:rooms`], [room, JSON.stringify(patch)]).catch(() => {});
  }

  #hset(key: string, field: string, value: unknown): void {
    this.#client.send(["HSET", key, field, JSON.stringify(value)]).catch(() => {});
  }

  /**
   * Logs what was dropped from Redis (a forgery, or a message no Shat would send): its source,
   * the field at fault and the start of its value, escaped; once a minute per fault, so a flood
   * of them cannot flood the log (the repeats are counted at the next heartbeat).
   */
  #dropped(source: string, d: Dropped): void {
    if (!this.#drops.first(`${source}: ${d.dropped}`, Date.now())) return;
    const log = this.#o.log;
    log.warn("cluster: dropped what Redis gave", {
      from: source,
      why: d.dropped,
      value: d.address ? log.addr(d.sample) : d.sample,
    });
  }

  /** A room event kept in `room`'s list (for history, or to fill a gap), checked. */
  #kept(room: string, entry: RespValue): (BusIn & { kind: "room" }) | null {
    const bus = readBus(String(entry), this.#maxText);
    if ("dropped" in bus) {
      this.#dropped("room log", bus);
    } else if (bus.kind !== "room" || bus.room !== room) {
      const sample = bus.kind === "room" ? bus.room : "(a direct message)";
      this.#dropped("room log", { dropped: "r: not the list's room", sample });
    } else {
      return bus;
    }
    return null;
  }

  /** A message from the channel. */
  #message(payload: string): void {
    this.stats.received++;
    const bus = readBus(payload, this.#maxText);
    if ("dropped" in bus) {
      this.#dropped("bus", bus);
      return;
    }
    if (bus.kind === "direct") {
      this.#o.deliver({ kind: "bus", bus });
      return;
    }
    const queue = this.#held.get(bus.room);
    if (this.#syncing || queue) {
      (queue ?? this.#held.set(bus.room, []).get(bus.room)!).push({ seq: bus.seq, bus });
      return;
    }
    this.#ordered(bus);
  }

  /** A room event in sequence: applied, dropped as old, or held while the gap is filled. */
  #ordered(bus: BusIn & { kind: "room" }): void {
    const v = this.#seq.check(bus.room, bus.seq);
    if (v === "next") {
      this.#o.deliver({ kind: "bus", bus, u: bus.node === this.#o.node ? bus.u : undefined });
    } else if (v !== "old") {
      this.stats.gaps++;
      this.#held.set(bus.room, [{ seq: bus.seq, bus }]);
      this.#fill(bus.room, v.gap.from, v.gap.to);
    }
  }

  /** Reads the room's kept events for the missing ones; reports what is gone. */
  async #fill(room: string, from: number, to: number, linesOnly = false): Promise<void> {
    let found = 0;
    try {
      // Redis numbers a room's events in the same script that publishes them, so an event
      // numbered past the room's sequence did not come from it: it is dropped, not a gap.
      const cur = Number(await this.#client.send(["GET", `${this.#p}:seq:${room}`]) ?? 0) || 0;
      if (cur < to + 1 && !linesOnly) {
        const held = this.#held.get(room) ?? [];
        const kept = held.filter((e) => e.seq <= cur);
        this.#held.set(room, kept);
        this.#o.log.warn("cluster: an event numbered past its room's sequence was ignored", {
          room,
          events: held.length - kept.length,
        });
        to = Math.min(to, cur);
      }
      const entries = await this.#client.send(["LRANGE", `${this.#p}:log:${room}`, 0, -1]);
      if (Array.isArray(entries)) {
        for (const e of entries) {
          const bus = this.#kept(room, e);
          if (!bus || bus.seq < from || bus.seq > to) continue;
          if (this.#seq.check(room, bus.seq) !== "next") continue;
          found++;
          if (linesOnly && bus.ev.t !== "say") continue;
          this.#o.deliver({ kind: "bus", bus, u: bus.node === this.#o.node ? bus.u : undefined });
        }
      }
    } catch {
      // Redis went away again: what is missing is reported below.
    }
    const lost = Math.max(0, to - from + 1 - found);
    if (lost > 0) {
      this.stats.missed += lost;
      this.#o.deliver({ kind: "missed", room, count: lost });
      this.#o.log.warn("cluster: events of a room were lost", { room, count: lost });
    }
    if (this.#seq.last(room) < to) this.#seq.set(room, to);
    this.#release(room);
  }

  /** Lets held events of `room` through, in order. */
  #release(room: string): void {
    const queue = this.#held.get(room);
    this.#held.delete(room);
    if (!queue) return;
    queue.sort((a, b) => a.seq - b.seq);
    for (let i = 0; i < queue.length; i++) {
      const bus = queue[i].bus as BusIn & { kind: "room" };
      if (this.#held.has(room)) {
        this.#held.get(room)!.push(...queue.slice(i));
        return;
      }
      this.#ordered(bus);
    }
  }

  #lost(reason: string): void {
    if (this.#closed || !this.#up) return;
    this.#up = false;
    this.stats.connected = false;
    this.#syncing = true;
    this.#o.log.warn("cluster: lost Redis; members here keep chatting among themselves", {
      reason,
    });
    this.#o.deliver({ kind: "link", up: false });
    for (const [u, { room, ev }] of this.#inflight) {
      this.#o.deliver({ kind: "bounced", room, ev, u });
    }
    this.#inflight.clear();
  }

  #maybeBack(): void {
    if (this.#closed || this.#up || this.#resyncing) return;
    if (this.#client.status !== "ready" || this.#sub.status !== "ready") return;
    this.#resyncing = true;
    this.#sync(true).then(() => {
      this.#resyncing = false;
      this.#o.log.info("cluster: Redis is back; rejoined the others");
    }, (e) => {
      this.#resyncing = false;
      this.#syncing = false;
      this.#o.log.warn("cluster: could not resync with Redis; will try again", {
        error: e instanceof Error ? e.message : String(e),
      });
      setTimeout(() => this.#maybeBack(), 1_000);
    });
  }

  /**
   * Leaves the cluster: lets the hub's last events (leaves) reach Redis, frees this process's
   * nicks and tells the others it is gone, then closes both connections.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    const p = this.#p;
    if (this.#up) {
      try {
        await this.#client.send(["DEL", `${p}:node:${this.#o.node}`]);
        await this.#reap.run(
          [`${p}:nodes`, `${p}:members`, `${p}:bus`],
          [this.#o.node, encodeDirect(this.#o.node, { t: "gone", node: this.#o.node })],
        );
      } catch {
        // The others will find this process dead within seconds instead.
      }
    }
    this.#closed = true;
    await Promise.allSettled([this.#client.close(), this.#sub.close()]);
  }
}
