/**
 * The link between this Shat process and the others sharing its rooms through Redis
 * (`--redis`). It turns what the hub asks for (src/cluster/bus.ts ClusterOut) into Redis commands
 * and what Redis publishes into hub events (ClusterIn), and it keeps the promises the hub relies
 * on:
 *
 * - A room's events reach the hub in the room's sequence (numbered by Redis in one Lua script
 *   that also claims nicks, keeps the room's recent events and publishes). A gap (a subscriber
 *   Redis cut off, a restart) is filled from that list, or reported as missed lines: never
 *   skipped silently. The bookkeeping is src/cluster/sequence.ts (no I/O); this file reads.
 * - After Redis lost its data its numbering starts again: the lines said since (by processes
 *   that were back sooner) are read back from the rooms' kept events like a gap, not taken for
 *   ones already shown.
 * - This process says it is alive every second (a key that expires in 3 s); every process looks
 *   for dead ones each second, and exactly one of them (SREM decides) frees a dead process's nicks
 *   and tells everyone it is gone, so its members are shown leaving once per room.
 * - When Redis goes away the hub is told (it keeps its own members chatting); when it is back the
 *   link takes a snapshot of the cluster (members, rooms, bans, recent lines) and hands it over,
 *   with `reset` when Redis lost its data meanwhile (a restart without persistence).
 *
 * The keys and the Lua scripts are in src/cluster/scripts.ts; everything read from Redis is
 * checked (src/cluster/decode.ts) against the chat's rules, which the caller passes in.
 */
import {
  type ClusterIn,
  type ClusterOut,
  type DirectEv,
  encodeDirect,
  encodeRoom,
  type RoomBus,
  type RoomEv,
} from "./bus.ts";
import { type BusRules, type Dropped, readBus } from "./decode.ts";
import { type Logger, LogThrottle } from "../ops/log.ts";
import { RedisClient, type RedisScript } from "./redis/client.ts";
import { RedisSubscriber } from "./redis/subscriber.ts";
import { ClusterKeys, META_SCRIPT, REAP_SCRIPT, ROOM_SCRIPT, STRIKE_SCRIPT } from "./scripts.ts";
import { type Fill, RoomOrder, type Step, type SyncKind } from "./sequence.ts";
import { readRoomLog, readRoomSeq, readSnapshot, type StateSource } from "./snapshot.ts";

/** How often this process says it is alive, and how long that lasts. */
export const HEARTBEAT_MS = 1_000;
export const HEARTBEAT_TTL_MS = 3_000;
/** Events kept per room in Redis, to fill gaps and give newcomers history. */
export const ROOM_LOG = 1_000;
/** A room's kept events expire after this long without a new one. */
export const ROOM_LOG_TTL_MS = 24 * 3_600_000;

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
   * What is taken from the others: nicks and room names as the chat allows them, and the
   * longest topic, away message and line (`textMax`: the process's `--max-line`); longer text
   * is cut, anything else wrong drops the message.
   */
  rules: BusRules;
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
  readonly #options: ClusterOptions;
  readonly #node: string;
  readonly #keys: ClusterKeys;
  readonly #rules: BusRules;
  /** Dropped messages and records are logged once a minute per fault; the rest are counted. */
  readonly #drops = new LogThrottle(60_000);
  #client!: RedisClient;
  /** What reading the cluster's state needs (src/cluster/snapshot.ts). */
  #state!: StateSource;
  #subscriber!: RedisSubscriber;
  #roomScript!: RedisScript;
  #reapScript!: RedisScript;
  #strikeScript!: RedisScript;
  #metaScript!: RedisScript;
  /**
   * Where each room stands, and its events held back while a gap is filled or a snapshot is
   * taken (src/cluster/sequence.ts): everything until the first snapshot is in.
   */
  readonly #order = new RoomOrder();
  /** A resync is running (at most one at a time). */
  #resyncing = false;
  /** Connected and synced: this process is part of the cluster (the hub was told "up"). */
  #joined = false;
  /** Redis's epoch when last synced: another value means Redis lost its data meanwhile. */
  #epoch = "";
  #closed = false;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Proposals on their way, by number: bounced to the hub if the link fails under them. */
  readonly #inflight = new Map<number, { room: string; ev: RoomEv }>();

  private constructor(options: ClusterOptions) {
    this.#options = options;
    this.#node = options.node;
    this.#keys = new ClusterKeys(options.prefix);
    this.#rules = options.rules;
  }

  /**
   * Connects both Redis connections, registers this process and takes the first snapshot
   * (delivered to the hub before this resolves). Rejects with a one-line error if Redis cannot
   * be reached or refuses (AUTH): the caller exits.
   */
  static async start(options: ClusterOptions): Promise<ClusterLink> {
    const link = new ClusterLink(options);
    await link.#connect();
    return link;
  }

  async #connect(): Promise<void> {
    const { url } = this.#options;
    const common = {
      // Long enough that a Redis pausing for a few seconds (a fork, a slow disk) delays lines
      // rather than cutting the link; a Redis that is gone closes the connection at once.
      commandTimeoutMs: this.#options.commandTimeoutMs ?? 10_000,
      connectTimeoutMs: 3_000,
      pingIntervalMs: 2_000,
      reconnectMaxMs: 2_000,
      whenDisconnected: "fail" as const,
      // A burst of lines from thousands of people is that many scripts in flight at once.
      maxPending: 100_000,
      onDisconnect: (reason: string) => this.#lost(reason),
      onReconnect: () => this.#maybeBack(),
    };
    this.#client = await RedisClient.connect(url, common);
    this.#state = {
      client: this.#client,
      keys: this.#keys,
      rules: this.#rules,
      dropped: (source, dropped) => this.#dropped(source, dropped),
    };
    try {
      this.#subscriber = await RedisSubscriber.connect(url, {
        ...common,
        onMessage: (_channel, payload) => this.#message(payload),
      });
    } catch (e) {
      await this.#client.close();
      throw e;
    }
    this.#roomScript = await this.#client.script(ROOM_SCRIPT);
    this.#reapScript = await this.#client.script(REAP_SCRIPT);
    this.#strikeScript = await this.#client.script(STRIKE_SCRIPT);
    this.#metaScript = await this.#client.script(META_SCRIPT);
    await this.#subscriber.subscribe(this.#keys.bus);
    await this.#sync(false);
    this.#heartbeat = setInterval(() => this.#beat(), HEARTBEAT_MS);
  }

  /** Registers this process, reads everything, and lets held events through. */
  async #sync(again: boolean, wasDown = true): Promise<void> {
    const keys = this.#keys;
    const client = this.#client;
    this.#order.hold();
    await this.#sayAlive();
    // A missing epoch means Redis lost its data (or this is the first process ever).
    const made = crypto.randomUUID();
    const fresh = await client.send(["SET", keys.epoch, made, "NX"]) === "OK";
    const epoch = String(await client.send(["GET", keys.epoch]));
    const lost = again && epoch !== this.#epoch;
    this.#epoch = epoch;
    const { snap, seqs } = await readSnapshot(this.#state, this.#order.rooms());
    // A room whose sequence is behind what this process saw: Redis went back in time (restored
    // from an older snapshot). That is a loss of data too.
    const rewound = again && !lost && [...seqs].some(([room, seq]) => seq < this.#order.last(room));
    const kind: SyncKind = !again ? "first" : lost ? "lost" : rewound ? "rewound" : "resumed";
    const step = this.#order.synced(seqs, kind);
    if (kind === "lost") {
      // Those rooms' lines since the loss come as events (read back): not as history too.
      const replayed = new Set(step.fills.map((f) => f.room));
      snap.history = snap.history.filter((h) => !replayed.has(h.room));
    }
    this.#joined = true;
    this.stats.connected = true;
    if (again && wasDown) this.#options.deliver({ kind: "link", up: true });
    this.#options.deliver({ kind: "snapshot", snap, reset: lost || rewound, fresh });
    // Events that came while reading: those past the snapshot go through in order.
    this.#run(step);
  }

  /** Heartbeat key and membership of the process set: this process is alive. */
  async #sayAlive(): Promise<void> {
    await this.#client.send(["SET", this.#keys.node(this.#node), "1", "PX", HEARTBEAT_TTL_MS]);
    await this.#client.send(["SADD", this.#keys.nodes, this.#node]);
  }

  /** Heartbeat, and the search for dead processes. */
  async #beat(): Promise<void> {
    for (const { key, count } of this.#drops.sweep(Date.now())) {
      this.#options.log.warn("cluster: dropped more of what Redis gave", {
        what: key,
        times: count,
        within: "60s",
      });
    }
    if (!this.#joined || this.#closed) return;
    try {
      // Listed again every time: another process may have taken this one for dead (a stall).
      await this.#sayAlive();
      const epoch = await this.#client.send(["GET", this.#keys.epoch]);
      if (epoch !== this.#epoch && this.#joined && !this.#resyncing) {
        await this.#rejoin();
        return;
      }
      await this.#reapDead();
    } catch {
      // The link's own callbacks report a lost connection; a slow reply waits for the next beat.
    }
  }

  /**
   * Redis lost its data under a live connection (FLUSHALL, a failover to an empty replica):
   * starts again from what it has, as after a restart.
   */
  async #rejoin(): Promise<void> {
    this.#options.log.warn("cluster: Redis lost its data; rejoining the others");
    this.#resyncing = true;
    this.#joined = false;
    this.#order.hold();
    try {
      await this.#sync(true, false);
      this.#resyncing = false;
    } catch (e) {
      // Half done: tell the hub the link is down and start over as after a loss.
      this.#resyncing = false;
      this.#joined = true;
      this.#lost(e instanceof Error ? e.message : String(e));
      setTimeout(() => this.#maybeBack(), 1_000);
    }
  }

  /** Frees every process whose heartbeat expired (only one process does each: see REAP). */
  async #reapDead(): Promise<void> {
    const keys = this.#keys;
    const nodes = await this.#client.send(["SMEMBERS", keys.nodes]);
    if (!Array.isArray(nodes)) return;
    for (const node of nodes.map(String)) {
      if (node === this.#node) continue;
      if (await this.#client.send(["EXISTS", keys.node(node)]) === 1) continue;
      const did = await this.#reapScript.run(
        [keys.nodes, keys.members, keys.bus],
        [node, encodeDirect(this.#node, { t: "gone", node })],
      );
      if (did === 1) {
        this.stats.reaped++;
        this.#options.log.warn("cluster: a process stopped answering; its members were freed", {
          node,
        });
      }
    }
  }

  /** Carries what the hub asks for. */
  send(out: ClusterOut): void {
    if (this.#closed) return;
    switch (out.op) {
      case "room":
        this.#propose(out);
        break;
      case "direct":
        this.#sendDirect(out.ev);
        break;
      case "strike":
        this.#strike(out.ip, out.delta);
        break;
    }
  }

  /**
   * A room event, through the room script (claim, release, number, keep, publish); a refused
   * claim or a failure on the way is told to the hub. The room's description follows it.
   */
  #propose(out: ClusterOut & { op: "room" }): void {
    const keys = this.#keys;
    const node = this.#node;
    const { room, ev, u: proposal } = out;
    this.#inflight.set(proposal, { room, ev });
    const claim = out.claim ? JSON.stringify({ n: node, ...out.claim.info }) : "";
    const fresh = ev.t === "enter" && ev.created?.fresh;
    this.stats.published++;
    this.#roomScript.run(
      [keys.seq(room), keys.log(room), keys.members, keys.bus],
      [
        encodeRoom(node, room, ev, proposal),
        out.claim?.key ?? "",
        claim,
        out.release ?? "",
        keys.nodePrefix,
        node,
        ROOM_LOG,
        fresh ? "1" : "0",
        ROOM_LOG_TTL_MS,
      ],
    ).then((seq) => {
      this.#inflight.delete(proposal);
      if (seq === -1) this.#options.deliver({ kind: "refused", room, ev });
    }, () => {
      if (!this.#inflight.delete(proposal)) return;
      this.#options.deliver({ kind: "bounced", room, ev, u: proposal });
    });
    if (ev.t === "enter" && ev.created?.fresh) {
      // A room made afresh: nothing of an earlier room of that name (its topic) stays.
      this.#roomMeta(room, {
        name: ev.name,
        key: ev.created.key,
        topic: "",
        topicBy: "",
        auth: {},
      });
    } else if (ev.t === "enter" && ev.created) {
      this.#roomMeta(room, { name: ev.name, key: ev.created.key });
    } else if (ev.t === "topic") {
      this.#roomMeta(room, { topic: ev.topic, topicBy: ev.by });
    } else if (ev.t === "auth") {
      this.#roomMeta(room, { key: ev.key, auth: ev.a });
    }
  }

  /** A direct message, published; a ban or unban also changes the bans hash. */
  #sendDirect(ev: DirectEv): void {
    const keys = this.#keys;
    if (ev.t === "ban") {
      const { ip: _ip, ...rest } = ev;
      this.#hset(keys.bans, ev.ip, rest);
    } else if (ev.t === "unban") {
      this.#client.send(["HDEL", keys.bans, ev.ip]).catch(() => {});
    }
    this.stats.published++;
    this.#client.publish(keys.bus, encodeDirect(this.#node, ev)).catch(() => {});
  }

  /** Adds `delta` strikes against an address (0 clears them); the count goes to the hub. */
  #strike(ip: string, delta: number): void {
    if (delta === 0) {
      // Banned or unbanned: the count starts again.
      this.#client.send(["DEL", this.#keys.strike(ip)]).catch(() => {});
      return;
    }
    this.#strikeScript.run([this.#keys.strike(ip)], [delta, this.#options.strikeMemoryMs]).then(
      (count) => {
        if (typeof count === "number" && delta > 0) {
          this.#options.deliver({ kind: "strikes", ip, count });
        }
      },
      () => {},
    );
  }

  #roomMeta(room: string, patch: Record<string, unknown>): void {
    this.#metaScript.run([this.#keys.rooms], [room, JSON.stringify(patch)]).catch(() => {});
  }

  #hset(key: string, field: string, value: unknown): void {
    this.#client.send(["HSET", key, field, JSON.stringify(value)]).catch(() => {});
  }

  /**
   * Logs what was dropped from Redis (a forgery, or a message no Shat would send): its source,
   * the field at fault and the start of its value, escaped; once a minute per fault, so a flood
   * of them cannot flood the log (the repeats are counted at the next heartbeat).
   */
  #dropped(source: string, dropped: Dropped): void {
    if (!this.#drops.first(`${source}: ${dropped.dropped}`, Date.now())) return;
    const log = this.#options.log;
    log.warn("cluster: dropped what Redis gave", {
      from: source,
      why: dropped.dropped,
      value: dropped.address ? log.addr(dropped.sample) : dropped.sample,
    });
  }

  /** A message from the channel. */
  #message(payload: string): void {
    this.stats.received++;
    const bus = readBus(payload, this.#rules);
    if ("dropped" in bus) {
      this.#dropped("bus", bus);
      return;
    }
    if (bus.kind === "direct") {
      this.#options.deliver({ kind: "bus", bus });
      return;
    }
    this.#run(this.#order.arrive(bus));
  }

  /** Hands a room event to the hub, with its proposal number when this process proposed it. */
  #apply(bus: RoomBus): void {
    this.#options.deliver({ kind: "bus", bus, u: bus.node === this.#node ? bus.u : undefined });
  }

  /** Applies what the room order lets through, and starts the read-backs it asks for. */
  #run(step: Step): void {
    for (const bus of step.apply) this.#apply(bus);
    for (const fill of step.fills) {
      if (!fill.linesOnly) this.stats.gaps++;
      void this.#fill(fill);
    }
  }

  /** Reads the room's kept events for the missing ones; reports what is gone. */
  async #fill(fill: Fill): Promise<void> {
    const { room } = fill;
    let kept: RoomBus[] | null = null;
    let current: number | undefined;
    try {
      current = await readRoomSeq(this.#state, room);
      kept = await readRoomLog(this.#state, room);
    } catch {
      // Redis went away again: what is missing is reported below.
    }
    const done = this.#order.filled(fill, kept, current);
    if (done === null) return; // a later snapshot took the room over
    if (done.ignored > 0) {
      this.#options.log.warn("cluster: an event numbered past its room's sequence was ignored", {
        room,
        events: done.ignored,
      });
    }
    for (const bus of done.recovered) this.#apply(bus);
    if (done.lost > 0) {
      this.stats.missed += done.lost;
      this.#options.deliver({ kind: "missed", room, count: done.lost });
      this.#options.log.warn("cluster: events of a room were lost", { room, count: done.lost });
    }
    this.#run(done.then);
  }

  #lost(reason: string): void {
    if (this.#closed || !this.#joined) return;
    this.#joined = false;
    this.stats.connected = false;
    this.#order.hold();
    this.#options.log.warn("cluster: lost Redis; members here keep chatting among themselves", {
      reason,
    });
    this.#options.deliver({ kind: "link", up: false });
    for (const [proposal, { room, ev }] of this.#inflight) {
      this.#options.deliver({ kind: "bounced", room, ev, u: proposal });
    }
    this.#inflight.clear();
  }

  #maybeBack(): void {
    if (this.#closed || this.#joined || this.#resyncing) return;
    if (this.#client.status !== "ready" || this.#subscriber.status !== "ready") return;
    this.#resyncing = true;
    this.#sync(true).then(() => {
      this.#resyncing = false;
      this.#options.log.info("cluster: Redis is back; rejoined the others");
    }, (e) => {
      // Room events stay held: none can be judged before a snapshot says where rooms stand
      // (after a Redis restart numbering starts again, and a new event may look old).
      this.#resyncing = false;
      this.#options.log.warn("cluster: could not resync with Redis; will try again", {
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
    clearInterval(this.#heartbeat);
    const keys = this.#keys;
    if (this.#joined) {
      try {
        await this.#client.send(["DEL", keys.node(this.#node)]);
        await this.#reapScript.run(
          [keys.nodes, keys.members, keys.bus],
          [this.#node, encodeDirect(this.#node, { t: "gone", node: this.#node })],
        );
      } catch {
        // The others will find this process dead within seconds instead.
      }
    }
    this.#closed = true;
    await Promise.allSettled([this.#client.close(), this.#subscriber.close()]);
  }
}
