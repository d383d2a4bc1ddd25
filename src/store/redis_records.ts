/**
 * The Redis store's wire side (see src/store/redis.ts): its keys, the Lua script that applies a
 * chunk of writes, how a write is encoded for it, and how what Redis gives back is read — every
 * record checked, free text cleaned as typed text is and cut, a malformed one refused (null).
 */
import { cleanText } from "../lib/sanitize.ts";
import { fitBytes, utf8Length } from "../lib/utf8.ts";
import { RedisClientError, RedisError, type RespValue } from "../cluster/redis/client.ts";
import type { AccountRecord, KeptLine, Prefs, RoomRecord, StoreWrite } from "./types.ts";

/** Most lines one query answers (as the SQLite store). */
export const MAX_QUERY_LINES = 10_000;
/** Longest text kept or read back, and longest nick or short field read back (UTF-8 bytes). */
export const TEXT_MAX = 64 * 1024;
const SHORT_MAX = 1_024;
/** A record whose JSON is longer is not parsed. */
const RECORD_MAX = 1024 * 1024;

/** The store's keys under `prefix` (see the module comment). */
export function redisStoreKeys(prefix: string) {
  return {
    acct: `${prefix}:acct`,
    kept: `${prefix}:kept`,
    hrooms: `${prefix}:hrooms`,
    hist: (room: string) => `${prefix}:hist:${room}`,
    hseq: (room: string) => `${prefix}:hseq:${room}`,
    writer: (id: string) => `${prefix}:hw:${id}`,
  };
}

/**
 * Applies a chunk of writes. KEYS: the writer's key. ARGV: prefix, chunk number, lines per room,
 * writer TTL (ms), then (op, a, b) triples: L room tail (a line: its JSON without `{`, the seq
 * goes first), A key json, D key, P key prefsJson, R id json, K id (room not kept), U id.
 * Returns {0} for a chunk applied before, else {1, index, error, ...} for refused writes. An OOM
 * comes before any write (Redis checks it at a script's first write) and refuses the whole chunk.
 * Prefs replace the account's `prefs` without re-encoding them (cjson would turn [] into {}).
 */
export const WRITE_SCRIPT = `
local p = ARGV[1]
local n = tonumber(ARGV[2])
if n <= (tonumber(redis.pcall('GET', KEYS[1])) or 0) then return {0} end
local max = tonumber(ARGV[3])
local acct, kept = p .. ':acct', p .. ':kept'
local function line(room, tail)
  local seq = redis.call('INCR', p .. ':hseq:' .. room)
  local key = p .. ':hist:' .. room
  redis.call('ZADD', key, seq, '{"seq":' .. string.format('%d', seq) .. ',' .. tail)
  redis.call('ZREMRANGEBYRANK', key, 0, -(max + 1))
  redis.call('SADD', p .. ':hrooms', room)
end
local function prefs(key, json)
  local cur = redis.call('HGET', acct, key)
  if not cur then return end
  local ok, rec = pcall(cjson.decode, cur)
  if not ok or type(rec) ~= 'table' or not string.find(cur, '^%s*{') then
    error('malformed account record')
  end
  rec.prefs = nil
  local rest = string.sub(cjson.encode(rec), 1, -2)
  if rest ~= '{' then rest = rest .. ',' end
  redis.call('HSET', acct, key, rest .. '"prefs":' .. json .. '}')
end
local ops = {
  L = line,
  A = function(k, v) redis.call('HSET', acct, k, v) end,
  D = function(k) redis.call('HDEL', acct, k) end,
  P = prefs,
  R = function(k, v) redis.call('HSET', kept, k, v) end,
  K = function(k) redis.call('HDEL', kept, k) end,
  U = function(k)
    redis.call('HDEL', kept, k)
    redis.call('DEL', p .. ':hist:' .. k, p .. ':hseq:' .. k)
    redis.call('SREM', p .. ':hrooms', k)
  end,
}
local out = {1}
for i = 5, #ARGV, 3 do
  local ok, err = pcall(ops[ARGV[i]], ARGV[i + 1], ARGV[i + 2])
  if not ok then
    local msg = type(err) == 'table' and tostring(err.err) or tostring(err)
    if string.find(msg, 'OOM', 1, true) then return redis.error_reply(msg) end
    out[#out + 1] = (i - 2) / 3
    out[#out + 1] = msg
  end
end
redis.call('SET', KEYS[1], n, 'PX', ARGV[4])
return out
`;

/** One write as the script takes it: (op, a, b), and whether it is a room line. */
export interface Op {
  args: [string, string, string];
  line: boolean;
}

/** Writes sent in one script call; kept, with its number, until Redis has answered for it. */
export interface Chunk {
  n: number;
  ops: Op[];
}

/** A write as the script takes it; null for what is not kept here (bans). */
export function encode(w: StoreWrite): Op | null {
  switch (w.t) {
    case "line": {
      const { room, at, kind, nick, identified } = w.line;
      const text = fitBytes(w.line.text, TEXT_MAX);
      const tail = JSON.stringify({ room, at, kind, nick, text, identified }).slice(1);
      return { args: ["L", room, tail], line: true };
    }
    case "account": {
      const { prefs, ...rest } = w.account;
      return {
        args: ["A", rest.key, JSON.stringify({ ...rest, prefs: prefs ?? {} })],
        line: false,
      };
    }
    case "unaccount":
      return { args: ["D", w.key, ""], line: false };
    case "prefs":
      return { args: ["P", w.key, JSON.stringify(w.prefs ?? {})], line: false };
    case "room":
      return w.room.kept
        ? { args: ["R", w.room.id, JSON.stringify(w.room)], line: false }
        : { args: ["K", w.room.id, ""], line: false };
    case "unroom":
      return { args: ["U", w.id, ""], line: false };
    case "bans":
      return null; // shared by the cluster in P:bans already
  }
}

type Json = Record<string, unknown>;

/** A JSON object from Redis, or null. */
function object(raw: RespValue): Json | null {
  if (typeof raw !== "string" || raw.length > RECORD_MAX) return null;
  try {
    const v = JSON.parse(raw);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** Free text as typed text is cleaned, cut to `max` bytes; null if not a string. */
function clean(v: unknown, max: number): string | null {
  return typeof v === "string" ? fitBytes(cleanText(fitBytes(v, max * 2)), max) : null;
}

/** A plain string field (a key, a hash) within `max` bytes; null otherwise. */
function plain(v: unknown, max = SHORT_MAX): string | null {
  return typeof v === "string" && utf8Length(v) <= max ? v : null;
}

export function readLine(raw: RespValue, room: string, seq: number): KeptLine | null {
  const o = object(raw);
  if (!o || !Number.isSafeInteger(seq)) return null;
  const { at, kind } = o;
  const nick = clean(o.nick, SHORT_MAX);
  const text = clean(o.text, TEXT_MAX);
  if (kind !== "chat" && kind !== "action" && kind !== "topic") return null;
  if (typeof at !== "number" || !Number.isFinite(at) || nick === null || text === null) return null;
  return { room, seq, at, kind, nick, text, identified: o.identified === true };
}

export function readAccount(raw: RespValue, key: string): AccountRecord | null {
  const o = object(raw);
  if (!o) return null;
  const nick = clean(o.nick, SHORT_MAX);
  const [hash, salt, params] = [plain(o.hash), plain(o.salt), plain(o.params)];
  const created = o.created;
  if (!nick || hash === null || salt === null || params === null) return null;
  if (typeof created !== "number" || !Number.isFinite(created)) return null;
  return { key, nick, hash, salt, params, created, prefs: readPrefs(o.prefs) };
}

function readPrefs(v: unknown): Prefs {
  const o = v !== null && typeof v === "object" && !Array.isArray(v) ? v as Json : {};
  const prefs: Prefs = {};
  for (const k of ["color", "bell", "timestamps", "screenReader"] as const) {
    if (typeof o[k] === "boolean") prefs[k] = o[k];
  }
  if (Array.isArray(o.ignores)) {
    prefs.ignores = o.ignores.filter((x): x is string => plain(x) !== null).slice(0, 1_000);
  }
  return prefs;
}

export function readRoom(raw: RespValue, id: string): RoomRecord | null {
  const o = object(raw);
  const name = o && clean(o.name, SHORT_MAX);
  if (!o || !name) return null;
  const extra = o.extra !== null && typeof o.extra === "object" && !Array.isArray(o.extra)
    ? o.extra as Json
    : {};
  return {
    id,
    name,
    topic: clean(o.topic, TEXT_MAX) ?? "",
    topicBy: clean(o.topicBy, SHORT_MAX) ?? "",
    key: plain(o.key) ?? "",
    owner: plain(o.owner) ?? "",
    kept: true,
    extra,
  };
}

// ---- small helpers

export function array(reply: RespValue): RespValue[] {
  if (!Array.isArray(reply)) throw new TypeError("unexpected reply from redis");
  return reply;
}

export function strings(reply: RespValue): string[] {
  return array(reply).filter((x): x is string => typeof x === "string");
}

/** The ZREVRANGEBYSCORE bound for "seq < beforeSeq". */
export function below(beforeSeq: number | undefined): string {
  if (beforeSeq === undefined || Number.isNaN(beforeSeq) || beforeSeq === Infinity) return "+inf";
  return beforeSeq === -Infinity ? "-inf" : `(${beforeSeq}`;
}

export function clampLimit(limit: number): number {
  const n = Math.floor(Number(limit));
  return Number.isFinite(n) ? Math.max(0, Math.min(n, MAX_QUERY_LINES)) : 0;
}

/** Why a write failed, in a few words for /healthz. */
export function shortError(e: unknown): string {
  if (e instanceof RedisError) return `redis error ${e.code.slice(0, 20)}`;
  if (e instanceof RedisClientError) {
    return e.kind === "timeout"
      ? "redis timed out"
      : e.kind === "unavailable"
      ? "redis unavailable"
      : "redis connection lost";
  }
  return "redis write failed";
}
