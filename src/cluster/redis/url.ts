/** Redis URLs: where and how to connect, read from `redis://` or `rediss://`. */

/** Where and how to connect, as read from a `redis://` or `rediss://` URL. */
export interface RedisEndpoint {
  tls: boolean;
  hostname: string;
  port: number;
  /** Empty for `AUTH password` (the default user). */
  username: string;
  /** Empty for no AUTH. */
  password: string;
  db: number;
}

const URL_FORM = "redis://[user:pass@]host:port[/db] or rediss://...";

/**
 * Parses `redis://[user:pass@]host[:port][/db]` (or `rediss://` for TLS). Throws a TypeError
 * with a one-line message, which never repeats the URL since it may hold a password.
 */
export function parseRedisUrl(url: string): RedisEndpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`invalid redis URL (expected ${URL_FORM})`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new TypeError(`unsupported redis URL scheme "${u.protocol}" (expected ${URL_FORM})`);
  }
  if (u.search || u.hash) throw new TypeError("redis URL options (?... or #...) are not supported");
  const hostname = u.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
  const port = u.port === "" ? 6379 : Number(u.port);
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  if (username && !password) throw new TypeError("redis URL has a user but no password");
  const path = u.pathname.replace(/^\//, "");
  if (path !== "" && !/^\d{1,9}$/.test(path)) {
    throw new TypeError(`redis URL database must be a number, not "${path.slice(0, 20)}"`);
  }
  return { tls: u.protocol === "rediss:", hostname, port, username, password, db: Number(path) };
}

/** `host:port` as people write it (IPv6 in brackets); never includes credentials. */
export function endpointAddress(ep: RedisEndpoint): string {
  return ep.hostname.includes(":") ? `[${ep.hostname}]:${ep.port}` : `${ep.hostname}:${ep.port}`;
}
