/**
 * The Redis command client ({@link RedisClient}): send any command, get its reply, many in flight
 * at once; and the Lua scripts it runs ({@link RedisScript}). The connection itself (setup,
 * pipelining, timeouts, reconnecting) is src/cluster/redis/connection.ts; the pub/sub connection
 * is src/cluster/redis/subscriber.ts.
 */
import { type HandshakeStep, RedisConnection } from "./connection.ts";
import type { RedisOptions } from "./options.ts";
import { type RedisArg, RedisError, type RespValue } from "./resp.ts";
import { parseRedisUrl, type RedisEndpoint } from "./url.ts";

// The Redis client's other names, importable from here as before the client was split (the test
// support's Redis server and other callers import them from this module).
export {
  type HandshakeStep,
  RedisClientError,
  type RedisClientErrorKind,
  RedisConnection,
  type RedisStatus,
} from "./connection.ts";
export {
  backoffDelay,
  type ReconnectFailure,
  type ReconnectInfo,
  type RedisOptions,
} from "./options.ts";
export { type RedisArg, RedisError, type RespValue } from "./resp.ts";
export { type MessageHandler, RedisSubscriber, type SubscriberOptions } from "./subscriber.ts";
export { endpointAddress, parseRedisUrl, type RedisEndpoint } from "./url.ts";

/** Commands that would turn a command connection into a subscriber and break reply matching. */
const SUBSCRIBER_ONLY = new Set(["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR"]);

/**
 * The command connection: send any command, get its reply. Many commands may be in flight; a
 * burst issued in one event-loop turn goes out in one write. Create it with
 * {@link RedisClient.connect}.
 */
export class RedisClient extends RedisConnection {
  /** Scripts by SHA1, loaded again on every new connection (a restarted Redis forgot them). */
  readonly #scripts = new Map<string, string>();

  private constructor(endpoint: RedisEndpoint, options: RedisOptions) {
    super(endpoint, options, false);
  }

  /**
   * Connects (and AUTHs and SELECTs if the URL says so). Rejects with a RedisClientError whose
   * message is one line, e.g. `cannot reach redis at 127.0.0.1:6390: connection refused`; there
   * is no retry for the first connection, only after it was once established.
   */
  static async connect(
    url = "redis://127.0.0.1:6379",
    options: RedisOptions = {},
  ): Promise<RedisClient> {
    const client = new RedisClient(parseRedisUrl(url), options);
    await client.start();
    return client;
  }

  /** Sends a command; bulk strings in the reply come back as strings. */
  send(args: readonly RedisArg[]): Promise<RespValue> {
    const name = args[0];
    if (typeof name === "string" && name.length <= 11 && SUBSCRIBER_ONLY.has(name.toUpperCase())) {
      return Promise.reject(
        new TypeError(`${name} needs its own connection: use RedisSubscriber`),
      );
    }
    return this.enqueue(args, false);
  }

  /** Sends a command; bulk strings in the reply come back as Uint8Array copies. */
  sendBytes(args: readonly RedisArg[]): Promise<RespValue> {
    return this.enqueue(args, true);
  }

  /** PING; resolves with "PONG". */
  async ping(): Promise<string> {
    return expectString(await this.send(["PING"]), "PING");
  }

  /** PUBLISH; resolves with how many subscribers (on this Redis) received it. */
  async publish(channel: string, message: string | Uint8Array): Promise<number> {
    return expectNumber(await this.send(["PUBLISH", channel, message]), "PUBLISH");
  }

  /** GET; null when the key does not exist. */
  async get(key: string): Promise<string | null> {
    const reply = await this.send(["GET", key]);
    return reply === null ? null : expectString(reply, "GET");
  }

  /** SET with optional flags (`"EX", 60`, `"NX"`); "OK", or null when NX/XX prevented it. */
  async set(key: string, value: RedisArg, ...flags: RedisArg[]): Promise<string | null> {
    const reply = await this.send(["SET", key, value, ...flags]);
    return reply === null ? null : expectString(reply, "SET");
  }

  /** INCR; the new value. */
  async incr(key: string): Promise<number> {
    return expectNumber(await this.send(["INCR", key]), "INCR");
  }

  /** DEL; how many keys existed. */
  async del(...keys: string[]): Promise<number> {
    return expectNumber(await this.send(["DEL", ...keys]), "DEL");
  }

  /**
   * Prepares a Lua script: computes its SHA1, loads it now (so a syntax error surfaces here),
   * and has every later connection load it again before any other command, so a restarted Redis
   * has it before the first EVALSHA reaches it. {@link RedisScript.run} also recovers from
   * NOSCRIPT (a SCRIPT FLUSH) by sending the source with EVAL.
   */
  async script(source: string): Promise<RedisScript> {
    const sha = await sha1Hex(source);
    const loaded = await this.send(["SCRIPT", "LOAD", source]);
    if (loaded !== sha) {
      throw new Error(`redis returned SHA1 ${String(loaded)} for a script whose SHA1 is ${sha}`);
    }
    this.#scripts.set(sha, source);
    return new RedisScript(this, source, sha);
  }

  protected override handshake(): HandshakeStep[] {
    const steps = super.handshake();
    for (const source of this.#scripts.values()) {
      steps.push({
        args: ["SCRIPT", "LOAD", source],
        what: "SCRIPT LOAD",
        replies: 1,
        optional: true,
      });
    }
    return steps;
  }
}

/** A Lua script bound to a client; made by {@link RedisClient.script}. */
export class RedisScript {
  /** The Lua source. */
  readonly source: string;
  /** Its SHA1 in hex, as EVALSHA wants it. */
  readonly sha: string;
  readonly #client: RedisClient;

  /** Use {@link RedisClient.script}, which also loads it. */
  constructor(client: RedisClient, source: string, sha: string) {
    this.#client = client;
    this.source = source;
    this.sha = sha;
  }

  /**
   * EVALSHA with these KEYS and ARGV; on NOSCRIPT, EVAL with the source (which also loads it)
   * and return that reply. Note the retry runs after commands sent behind the first attempt.
   */
  run(keys: readonly RedisArg[] = [], args: readonly RedisArg[] = []): Promise<RespValue> {
    const tail = [keys.length, ...keys, ...args];
    return this.#client.send(["EVALSHA", this.sha, ...tail]).catch((e) => {
      if (!(e instanceof RedisError) || e.code !== "NOSCRIPT") throw e;
      return this.#client.send(["EVAL", this.source, ...tail]);
    });
  }
}

/** Hex SHA1 of a string's UTF-8 bytes, as Redis names scripts. */
export async function sha1Hex(text: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text)),
  );
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

function expectString(reply: RespValue, what: string): string {
  if (typeof reply !== "string") {
    throw new TypeError(`unexpected reply to ${what}: ${describe(reply)}`);
  }
  return reply;
}

function expectNumber(reply: RespValue, what: string): number {
  if (typeof reply !== "number") {
    throw new TypeError(`unexpected reply to ${what}: ${describe(reply)}`);
  }
  return reply;
}

/** A reply's shape in a few words, for an error message (never its content). */
function describe(reply: RespValue): string {
  if (reply === null) return "null";
  if (Array.isArray(reply)) return `an array of ${reply.length}`;
  if (reply instanceof Uint8Array) return `${reply.length} bytes`;
  return typeof reply;
}
