/**
 * The Redis pub/sub connection ({@link RedisSubscriber}): Redis needs one apart from the command
 * connection. It is a {@link RedisConnection} like the client, so it reconnects the same way,
 * and it subscribes again to everything on every new connection.
 */
import { type HandshakeStep, RedisClientError, RedisConnection } from "./connection.ts";
import type { RedisOptions } from "./options.ts";
import type { RespValue } from "./resp.ts";
import { parseRedisUrl, type RedisEndpoint } from "./url.ts";

/** How a subscriber receives messages: as strings, or (with `bytes: true`) as raw bytes. */
export type MessageHandler =
  | {
    bytes?: false;
    /**
     * Each message, in order, called synchronously as replies are parsed (no promise per
     * message). `pattern` is set for messages matched by psubscribe.
     */
    onMessage: (channel: string, payload: string, pattern: string | null) => void;
  }
  | {
    bytes: true;
    /** As above, with the payload as a Uint8Array the callee may keep. */
    onMessage: (channel: string, payload: Uint8Array, pattern: string | null) => void;
  };

/** Options for {@link RedisSubscriber.connect}. */
export type SubscriberOptions = RedisOptions & MessageHandler;

const textDecoder = new TextDecoder();

function text(value: RespValue): string {
  if (typeof value === "string") return value;
  return value instanceof Uint8Array ? textDecoder.decode(value) : String(value);
}

/** Whether a pub/sub reply's first element names `kind` (string or, in bytes mode, bytes). */
function isKind(value: RespValue, kind: string): boolean {
  if (typeof value === "string") return value === kind;
  if (!(value instanceof Uint8Array) || value.length !== kind.length) return false;
  for (let i = 0; i < value.length; i++) if (value[i] !== kind.charCodeAt(i)) return false;
  return true;
}

/**
 * The pub/sub connection (Redis needs one apart from the command connection). It remembers what
 * it is subscribed to and subscribes to all of it again on every new connection, before
 * calling `onReconnect`: messages published in between are lost, and that callback is the
 * caller's cue to look for what it missed. Create it with {@link RedisSubscriber.connect}.
 */
export class RedisSubscriber extends RedisConnection {
  readonly #channels = new Set<string>();
  readonly #patterns = new Set<string>();
  readonly #bytes: boolean;
  readonly #handler: MessageHandler;

  private constructor(endpoint: RedisEndpoint, options: SubscriberOptions) {
    super(endpoint, options, options.bytes === true);
    this.#bytes = options.bytes === true;
    this.#handler = options;
  }

  /** Connects; rejects like {@link RedisClient.connect}. Subscribe afterwards. */
  static async connect(url: string, options: SubscriberOptions): Promise<RedisSubscriber> {
    const sub = new RedisSubscriber(parseRedisUrl(url), options);
    await sub.start();
    return sub;
  }

  /** Channels subscribed to (or to be, once reconnected). */
  get channels(): string[] {
    return [...this.#channels];
  }

  /** Patterns subscribed to (or to be, once reconnected). */
  get patterns(): string[] {
    return [...this.#patterns];
  }

  /**
   * Subscribes; resolves when Redis has confirmed every channel. The channels are remembered at
   * once: even if this rejects (timeout, connection lost) they are subscribed on reconnect, until
   * unsubscribed.
   */
  subscribe(...channels: string[]): Promise<void> {
    return this.#change("SUBSCRIBE", this.#channels, channels, true);
  }

  /** Unsubscribes from these channels (all of them when none are named). */
  unsubscribe(...channels: string[]): Promise<void> {
    return this.#change("UNSUBSCRIBE", this.#channels, channels, false);
  }

  /** Subscribes to glob patterns (`room:*`); messages then carry the matching pattern. */
  psubscribe(...patterns: string[]): Promise<void> {
    return this.#change("PSUBSCRIBE", this.#patterns, patterns, true);
  }

  /** Unsubscribes from these patterns (all of them when none are named). */
  punsubscribe(...patterns: string[]): Promise<void> {
    return this.#change("PUNSUBSCRIBE", this.#patterns, patterns, false);
  }

  async #change(cmd: string, set: Set<string>, names: string[], add: boolean): Promise<void> {
    if (this.status === "closed") throw new RedisClientError("closed", "redis client closed");
    const unique = [...new Set(names.length === 0 && !add ? set : names)];
    if (unique.length === 0) return;
    for (const n of unique) add ? set.add(n) : set.delete(n);
    await this.enqueue([cmd, ...unique], this.#bytes, unique.length);
  }

  protected override handshake(): HandshakeStep[] {
    const steps = super.handshake();
    if (this.#channels.size > 0) {
      const channels = [...this.#channels];
      steps.push({ args: ["SUBSCRIBE", ...channels], what: "SUBSCRIBE", replies: channels.length });
    }
    if (this.#patterns.size > 0) {
      const patterns = [...this.#patterns];
      steps.push({
        args: ["PSUBSCRIBE", ...patterns],
        what: "PSUBSCRIBE",
        replies: patterns.length,
      });
    }
    return steps;
  }

  protected override onPush(reply: RespValue): boolean {
    if (!Array.isArray(reply)) return false;
    let channel: RespValue;
    let payload: RespValue;
    let pattern: string | null = null;
    if (reply.length === 3 && isKind(reply[0], "message")) {
      channel = reply[1];
      payload = reply[2];
    } else if (reply.length === 4 && isKind(reply[0], "pmessage")) {
      pattern = text(reply[1]);
      channel = reply[2];
      payload = reply[3];
    } else {
      return false;
    }
    try {
      const handler = this.#handler;
      if (handler.bytes === true) {
        handler.onMessage(
          text(channel),
          payload instanceof Uint8Array ? payload : new Uint8Array(0),
          pattern,
        );
      } else {
        handler.onMessage(
          text(channel),
          typeof payload === "string" ? payload : text(payload),
          pattern,
        );
      }
    } catch (e) {
      // A bug in the callback must not cost the other messages or the connection.
      reportError(e);
    }
    return true;
  }
}
