/**
 * What the cluster keeps in Redis: its keys ({@link ClusterKeys}) and the Lua scripts that change
 * several of them at once, atomically. Every process of a cluster must agree on both: they are
 * part of the wire format, like the bus messages (src/cluster/bus.ts).
 */

/**
 * The keys of one cluster, all under the prefix P (`--redis-prefix`): P:bus (the channel),
 * P:nodes (set of process ids), P:node:ID (heartbeat), P:epoch (changes when Redis lost its
 * data), P:members (hash nick key → member JSON), P:rooms (hash room id → name, key hash, topic),
 * P:bans (hash address → ban JSON), P:seq:ROOM and P:log:ROOM (the room's sequence and its last
 * events), P:strike:ADDR (strikes).
 */
export class ClusterKeys {
  /** The pub/sub channel every process listens on. */
  readonly bus: string;
  /** The set of live process ids. */
  readonly nodes: string;
  /** What a process's heartbeat key starts with (the room script checks a claim's owner). */
  readonly nodePrefix: string;
  /** Changes when Redis lost its data (a restart without persistence). */
  readonly epoch: string;
  /** Hash: nick key → member JSON (with `n`, its process). */
  readonly members: string;
  /** Hash: room id → its description (name, key hash, topic). */
  readonly rooms: string;
  /** Hash: address → ban JSON. */
  readonly bans: string;
  readonly #prefix: string;

  constructor(prefix: string) {
    this.#prefix = prefix;
    this.bus = `${prefix}:bus`;
    this.nodes = `${prefix}:nodes`;
    this.nodePrefix = `${prefix}:node:`;
    this.epoch = `${prefix}:epoch`;
    this.members = `${prefix}:members`;
    this.rooms = `${prefix}:rooms`;
    this.bans = `${prefix}:bans`;
  }

  /** Process `node`'s heartbeat: it expires unless renewed. */
  node(node: string): string {
    return `${this.nodePrefix}${node}`;
  }

  /** The room's sequence: the number of its last event. */
  seq(room: string): string {
    return `${this.#prefix}:seq:${room}`;
  }

  /** The room's last events, as published (`SEQ JSON`). */
  log(room: string): string {
    return `${this.#prefix}:log:${room}`;
  }

  /** Strikes against an address, counted across the cluster. */
  strike(ip: string): string {
    return `${this.#prefix}:strike:${ip}`;
  }
}

/**
 * One room event: claim a nick (unless its owner is another live process), release one, number
 * the event, keep it, publish it. Returns the sequence number, or -1 if the claim lost (the
 * release is done either way: its holder here no longer has that nick). KEYS: seq, log,
 * members, channel. ARGV: payload, claim key, claim JSON, release key, node-key prefix, this
 * node, log length, "1" when the event made the room afresh (its old events go), how long a
 * quiet room's events are kept (ms).
 */
export const ROOM_SCRIPT = `
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
export const REAP_SCRIPT = `
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  if cjson.decode(all[i + 1]).n == ARGV[1] then redis.call('HDEL', KEYS[2], all[i]) end
end
redis.call('PUBLISH', KEYS[3], ARGV[2])
return 1
`;

/** Changes some fields of a room's description (name, key hash, topic), keeping the others. */
export const META_SCRIPT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local meta = cur and cjson.decode(cur) or {}
local patch = cjson.decode(ARGV[2])
for k, v in pairs(patch) do meta[k] = v end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(meta))
return 1
`;

/** Strikes against an address, shared: add DELTA (never below 0), keep them TTL ms. */
export const STRIKE_SCRIPT = `
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n <= 0 then redis.call('DEL', KEYS[1]) return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
`;
