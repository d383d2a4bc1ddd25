/**
 * How a Redis connection behaves: the settings a caller may give (timeouts, the queue bound, what
 * to do with commands while reconnecting, the backoff), their defaults and checks, the lifecycle
 * callbacks, and the reconnect backoff itself.
 */

/**
 * The pause before reconnect attempt `attempt` (0 for the first): `minMs` doubled per attempt,
 * capped at `maxMs`, then "equal jitter" (a random point in its upper half) so that many
 * processes cut off by one Redis restart do not all come back in the same millisecond.
 */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + random() * (base / 2));
}

/** What a reconnect callback is told. */
export interface ReconnectInfo {
  /** Why the previous connection was lost (as passed to onDisconnect). */
  reason: string;
  /** Attempts this took, counting the one that succeeded. */
  attempts: number;
  /** From the loss to the new connection being ready. */
  downtimeMs: number;
}

/** What a failed reconnect attempt callback is told. */
export interface ReconnectFailure {
  reason: string;
  attempt: number;
  /** The pause before the next attempt. */
  retryInMs: number;
}

/** Connection settings and lifecycle callbacks, shared by the client and the subscriber. */
export interface RedisOptions {
  /** Reply deadline per command; 0 disables. Default 5000. */
  commandTimeoutMs?: number;
  /** TCP connect deadline. Default 5000. */
  connectTimeoutMs?: number;
  /** Commands in flight plus waiting before new ones are rejected. Default 10000. */
  maxPending?: number;
  /** Commands issued while reconnecting: wait (bounded by the timeout) or fail at once. */
  whenDisconnected?: "wait" | "fail";
  /** First reconnect pause (before jitter). Default 50. */
  reconnectMinMs?: number;
  /** Longest reconnect pause (before jitter). Default 3000. */
  reconnectMaxMs?: number;
  /** PING an idle connection this often so a silently dead one is noticed; 0 disables. */
  pingIntervalMs?: number;
  /** Extra PEM root certificates for `rediss://` (e.g. a private CA). */
  caCerts?: string[];
  /** The first connection is ready (called once, just before connect() resolves). */
  onConnect?: () => void;
  /** An established connection was lost; reconnecting starts. Not called for close(). */
  onDisconnect?: (reason: string) => void;
  /** A new connection is ready after a loss (for a subscriber: re-subscribed). */
  onReconnect?: (info: ReconnectInfo) => void;
  /** One reconnect attempt failed; another follows after `retryInMs`. */
  onReconnectFailed?: (info: ReconnectFailure) => void;
}

/** The settings of {@link RedisOptions}, every one filled in (no callbacks, no certificates). */
export type Settings = Required<Omit<RedisOptions, `on${string}` | "caCerts">>;

const DEFAULTS: Settings = {
  commandTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  maxPending: 10_000,
  whenDisconnected: "wait",
  reconnectMinMs: 50,
  reconnectMaxMs: 3_000,
  pingIntervalMs: 10_000,
};

/** The options' settings with the defaults filled in; a RangeError for one out of range. */
export function settings(options: RedisOptions): Settings {
  const s: Settings = {
    commandTimeoutMs: options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    maxPending: options.maxPending ?? DEFAULTS.maxPending,
    whenDisconnected: options.whenDisconnected ?? DEFAULTS.whenDisconnected,
    reconnectMinMs: options.reconnectMinMs ?? DEFAULTS.reconnectMinMs,
    reconnectMaxMs: options.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs,
    pingIntervalMs: options.pingIntervalMs ?? DEFAULTS.pingIntervalMs,
  };
  for (const [name, value] of Object.entries(s)) {
    if (typeof value === "number" && !(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`redis option ${name} must be a non-negative number`);
    }
  }
  if (s.maxPending < 1) throw new RangeError("redis option maxPending must be at least 1");
  if (s.whenDisconnected !== "wait" && s.whenDisconnected !== "fail") {
    throw new RangeError(`redis option whenDisconnected must be "wait" or "fail"`);
  }
  return s;
}
