/**
 * The option table: every option the server takes, written once. The {@link Config} type, the
 * {@link DEFAULTS}, the environment variables, the parsing and the `--help` lines all follow
 * from it (config.ts reads flags and variables with it), so they cannot drift apart.
 */
import { MAX_BAN_MS } from "../chat/moderation.ts";

/** The longest --retention: ten years. */
export const MAX_RETENTION_MS = 3_650 * 24 * 3_600_000;
import {
  type Frozen,
  type KindName,
  kindPlaceholder,
  type KindSpec,
  showKind,
  type ValueOf,
} from "./option_kinds.ts";

/** One row of the option table; its default must be a value of its kind. */
export type OptionRow<K extends KindName = KindName> = {
  [P in K]:
    & {
      /** The flag without its dashes; the variable is SHAT_ and this in capitals. */
      readonly flag: string;
      readonly kind: KindSpec<P>;
      readonly default: Frozen<ValueOf<P>>;
      /** What --help says, after the flag and its value placeholder. */
      readonly help: string;
      /** Shown as the default in --help instead of the value itself. */
      readonly defaultText?: string;
      /** Hidden in messages; as a flag it shows in the process list, so it is warned about. */
      readonly secret?: boolean;
      /** A value like this is warned about as a flag although the option is not secret. */
      readonly secretIf?: RegExp;
    }
    // A string could be anything, so its row must say what it is (FILE, ADDR, ...).
    & (P extends "string" ? { readonly value: string } : { readonly value?: string });
}[K];

/**
 * The table of options, one row per flag in --help order: the single source of the
 * {@link Config} type, {@link DEFAULTS}, {@link ENV_NAMES}, the parsing and the `--help` text.
 * Durations are milliseconds; sizes are bytes; a port of -1 is off.
 */
const OPTIONS = {
  host: {
    flag: "host",
    kind: { type: "string" },
    default: "0.0.0.0",
    value: "ADDR",
    help: "address to listen on",
  },
  /** The plain TCP port; -1 = off (a TLS-only server). */
  port: {
    flag: "port",
    kind: { type: "port", off: true },
    default: 4567,
    help: "TCP port (0 picks a free one; off: no plain port, TLS only)",
  },
  /** The TLS port; -1 = off. */
  tlsPort: {
    flag: "tls-port",
    kind: { type: "port", off: true },
    default: -1,
    help: "TLS port, same room (needs --tls-cert and --tls-key)",
  },
  tlsCert: {
    flag: "tls-cert",
    kind: { type: "string", allowEmpty: true },
    default: "",
    value: "FILE",
    help: "TLS certificate chain (PEM); reread on SIGHUP",
    defaultText: "none",
  },
  tlsKey: {
    flag: "tls-key",
    kind: { type: "string", allowEmpty: true },
    default: "",
    value: "FILE",
    help: "TLS private key (PEM); reread on SIGHUP",
    defaultText: "none",
  },
  tlsHandshakeTimeout: {
    flag: "tls-handshake-timeout",
    kind: { type: "duration", min: 1, max: 15_000 },
    default: 10_000,
    help: "a TLS handshake not done by then is dropped (at most 15s)",
  },
  /** The IRC port; -1 = off. */
  ircPort: {
    flag: "irc-port",
    kind: { type: "port", off: true },
    default: -1,
    help: "IRC port for IRC clients and bots (same rooms as channels #name)",
  },
  /** The IRC-over-TLS port; -1 = off. */
  ircTlsPort: {
    flag: "irc-tls-port",
    kind: { type: "port", off: true },
    default: -1,
    help: "IRC over TLS port (needs --tls-cert and --tls-key)",
  },
  /** The server's name on IRC (the prefix of its numerics); "" = the machine's host name. */
  ircName: {
    flag: "irc-name",
    kind: { type: "string", allowEmpty: true },
    default: "",
    value: "NAME",
    help: "the server's name on IRC (numerics come from it)",
    defaultText: "the host name",
  },
  ircPing: {
    flag: "irc-ping",
    kind: { type: "duration", min: 1_000, max: 3_600_000 },
    default: 120_000,
    help: "an IRC client silent this long is sent PING; no answer within as long again: dropped",
  },
  /** The web page (HTTP and WebSocket) port; -1 = off. */
  webPort: {
    flag: "web-port",
    kind: { type: "port", off: true },
    default: -1,
    help: "HTTP port for the chat page in a browser (WebSocket, same room)",
  },
  /** Reverse proxies whose X-Forwarded-For is believed (canonical addresses). */
  trustProxy: {
    flag: "trust-proxy",
    kind: { type: "ips" },
    default: [],
    help: "reverse proxies (comma-separated addresses) whose X-Forwarded-For is believed",
  },
  /** Origins besides the page's own that may open the WebSocket. */
  webOrigins: {
    flag: "web-origins",
    kind: { type: "origins" },
    default: [],
    help: "origins besides the page's own that may use the WebSocket (comma-separated)",
  },
  /** Host names the web page is served as (lower case); [] = any (no DNS-rebinding check). */
  webHosts: {
    flag: "web-hosts",
    kind: { type: "hosts" },
    default: [],
    help:
      "host names the web page is served as (comma-separated); other Host headers are refused (DNS rebinding)",
    defaultText: "any",
  },
  /** The metrics and health HTTP port; -1 = off. */
  metricsPort: {
    flag: "metrics-port",
    kind: { type: "port", off: true },
    default: -1,
    help: "HTTP port for GET /metrics (Prometheus) and GET /healthz",
  },
  metricsHost: {
    flag: "metrics-host",
    kind: { type: "string" },
    default: "127.0.0.1",
    value: "ADDR",
    help: "address the metrics port listens on",
  },
  dataDir: {
    flag: "data-dir",
    kind: { type: "string" },
    default: ".",
    value: "DIR",
    help: "where the server keeps what it writes (the store, the ban file)",
  },
  name: {
    flag: "name",
    kind: { type: "string", maxLength: 40, printable: true },
    default: "Shat",
    value: "TEXT",
    help: "server name shown in the welcome banner",
  },
  motd: {
    flag: "motd",
    kind: { type: "string", allowEmpty: true },
    default: "",
    value: "FILE",
    help: "file whose text is shown to everyone who joins",
    defaultText: "none",
  },
  /** Words and /regular expressions/ masked in what people say ("" = no filter). */
  filterFile: {
    flag: "filter-file",
    kind: { type: "string", allowEmpty: true },
    default: "",
    value: "FILE",
    help: "words and /regular expressions/ masked as **** in what people say; reread on SIGHUP",
    defaultText: "none",
  },
  history: {
    flag: "history",
    kind: { type: "int", min: 0, max: 10_000 },
    default: 20,
    help: "chat lines a newcomer is shown (0 = none)",
  },
  historyBytes: {
    flag: "history-bytes",
    kind: { type: "size", min: 1024, max: 64 * 1024 * 1024 },
    default: 16 * 1024,
    help: "most bytes of history a newcomer is shown (older lines give way)",
  },
  announceMax: {
    flag: "announce-max",
    kind: { type: "int", min: 0, max: 10_000_000 },
    default: 200,
    help: "announce joins/leaves only while a room holds at most N people (0 = always)",
  },
  maxLine: {
    flag: "max-line",
    kind: { type: "size", min: 16, max: 1024 * 1024 },
    default: 4096,
    help: "longest accepted line; longer ones are refused with a notice",
  },
  maxOutbox: {
    flag: "max-outbox",
    kind: { type: "size", min: 1024, max: 1024 ** 3 },
    default: 1024 * 1024,
    help: "unsent bytes a client may fall behind before it is disconnected",
  },
  maxInputRate: {
    flag: "max-input-rate",
    kind: { type: "size", min: 1024, max: 1024 ** 3, zeroMeans: "no limit" },
    default: 32 * 1024,
    help: "bytes per second read from one connection; past it reading pauses (0 = no limit)",
  },
  rateLimit: {
    flag: "rate-limit",
    kind: { type: "duration", min: 0, zeroMeans: "off" },
    default: 500,
    help: "least time between a client's lines; a faster line is dropped and struck",
  },
  maxStrikes: {
    flag: "max-strikes",
    kind: { type: "int", min: 1, max: 1_000_000 },
    default: 5,
    help: "strikes that get an address banned",
  },
  banDuration: {
    flag: "ban-duration",
    kind: { type: "duration", min: 1, max: MAX_BAN_MS },
    default: 10 * 60_000,
    help: "how long a ban lasts (at most 365d)",
  },
  banFile: {
    flag: "ban-file",
    kind: { type: "string", allowEmpty: true },
    default: "shat-bans.json",
    value: "FILE",
    help:
      'ban file imported into the store once; with --store off, where bans are kept ("" = memory only)',
  },
  /** The database file (relative to --data-dir), or "off": everything in memory. */
  store: {
    flag: "store",
    kind: { type: "string" },
    default: "shat.db",
    value: "FILE",
    help:
      "SQLite file for history, accounts, kept rooms and bans (off = memory only; with --redis the store is Redis)",
  },
  /** How long room lines are kept; 0 = never written to disk (memory only). */
  retention: {
    flag: "retention",
    kind: { type: "duration", min: 0, max: MAX_RETENTION_MS, zeroMeans: "memory only" },
    default: 7 * 24 * 3_600_000,
    help: "how long room lines are kept (at most 3650d; 0 = never written to disk)",
  },
  adminToken: {
    flag: "admin-token",
    kind: { type: "string", allowEmpty: true, typeable: true },
    default: "",
    value: "TOKEN",
    help: "enables operators: /op TOKEN",
    defaultText: "none, operators off",
    secret: true,
  },
  token: {
    flag: "token",
    kind: { type: "string", allowEmpty: true, typeable: true },
    default: "",
    value: "TOKEN",
    help: "makes the room private: a client's first line must be this token",
    defaultText: "none, open room",
    secret: true,
  },
  /** The HTTP API's bearer token ("" = the API is off: its paths answer 404). */
  apiToken: {
    flag: "api-token",
    kind: { type: "string", allowEmpty: true, typeable: true },
    default: "",
    value: "TOKEN",
    help:
      "turns on the HTTP API on --web-port: POST /api/rooms/NAME/messages with Authorization: Bearer TOKEN",
    defaultText: "none, API off",
    secret: true,
  },
  authTimeout: {
    flag: "auth-timeout",
    kind: { type: "duration", min: 1 },
    default: 10_000,
    help: "time allowed to send the room token",
  },
  maxClients: {
    flag: "max-clients",
    kind: { type: "int", min: 0, max: 10_000_000 },
    default: 10_000,
    help: "connections served at once (0 = no limit)",
  },
  maxPerIp: {
    flag: "max-per-ip",
    kind: { type: "int", min: 0, max: 10_000_000 },
    default: 32,
    help: "connections from one address (0 = no limit)",
  },
  connectRate: {
    flag: "connect-rate",
    kind: { type: "rate" },
    default: { burst: 32, per: 60_000 },
    help: "new connections one address may open at once, earned back over DUR (0 = no limit)",
  },
  lobby: {
    flag: "lobby",
    kind: { type: "room" },
    default: "lobby",
    help: "the room everyone starts in",
  },
  maxRooms: {
    flag: "max-rooms",
    kind: { type: "int", min: 0, max: 1_000_000 },
    default: 100,
    help: "rooms that may exist at once, the lobby included (0 = no limit)",
  },
  roomRate: {
    flag: "room-rate",
    kind: { type: "rate" },
    default: { burst: 5, per: 10 * 60_000 },
    help: "new rooms one address may make at once, earned back over DUR (0 = no limit)",
  },
  lineTimeout: {
    flag: "line-timeout",
    kind: { type: "duration", min: 0, zeroMeans: "off" },
    default: 30_000,
    help: "drop a client that starts a line and does not finish it in time",
  },
  idleTimeout: {
    flag: "idle-timeout",
    kind: { type: "duration", min: 0, zeroMeans: "off" },
    default: 0,
    help: "drop a client that sends nothing for this long",
  },
  logLevel: {
    flag: "log-level",
    kind: { type: "level" },
    default: "info",
    help: "debug, info, warn or error",
  },
  logFormat: {
    flag: "log-format",
    kind: { type: "format" },
    default: "text",
    help: "text (LEVEL message key=value) or json (one object per line)",
  },
  safeMode: {
    flag: "safe-mode",
    kind: { type: "bool" },
    default: false,
    help: "keep every client address and port out of the logs",
  },
  /** Bits of an IPv6 address that per-address rules key on (one /64 is one address). */
  ipv6Prefix: {
    flag: "ipv6-prefix",
    kind: { type: "int", min: 32, max: 128 },
    default: 64,
    value: "BITS",
    help: "IPv6 addresses count as one per network of this many bits (caps, strikes, bans)",
  },
  /** Several processes share the rooms through this Redis ("" = one process, no Redis). */
  redis: {
    flag: "redis",
    kind: { type: "string", allowEmpty: true },
    default: "",
    value: "URL",
    help:
      "share rooms with other Shat processes through this Redis (redis://[user:pass@]host:port[/db], rediss:// for TLS)",
    defaultText: "none, one process",
    secretIf: /^rediss?:\/\/[^/@]*:[^/@]*@/, // a URL with a password
  },
  /** The prefix of every Redis key and channel (several clusters on one Redis). */
  redisPrefix: {
    flag: "redis-prefix",
    kind: { type: "string" },
    default: "shat",
    value: "PREFIX",
    help: "prefix of the Redis keys and channel (several clusters on one Redis)",
  },
  /** Share the listening ports with other processes (SO_REUSEPORT, Linux). */
  reusePort: {
    flag: "reuse-port",
    kind: { type: "bool" },
    default: false,
    help: "let several processes listen on the same ports (Linux SO_REUSEPORT)",
  },
} as const satisfies Record<string, OptionRow>;

type Table = typeof OPTIONS;
/** Every option's name, in table order. */
const KEYS = Object.keys(OPTIONS) as (keyof Table)[];
/** The rows in table order, each seen as a plain {@link OptionRow}. */
export const OPTION_ROWS: readonly OptionRow[] = KEYS.map((k) => OPTIONS[k]);

/**
 * Everything the server can be told at start, one field per row of the option table, typed by
 * the row's kind. Durations are milliseconds; sizes are bytes.
 */
export type Config = { -readonly [K in keyof Table]: ValueOf<Table[K]["kind"]["type"]> };

/**
 * Builds a Config field by field from the table. The one cast of the options: TypeScript cannot
 * follow each field's type through a loop over keys; the table's `satisfies OptionRow` check is
 * what ties each row's default and kind to its field's type.
 */
export function buildConfig(pick: (row: OptionRow, key: keyof Config) => unknown): Config {
  return Object.fromEntries(KEYS.map((k) => [k, pick(OPTIONS[k], k)])) as Config;
}

/** The defaults every option starts from (frozen all the way down). */
export const DEFAULTS: Readonly<Config> = Object.freeze(
  buildConfig((row) => typeof row.default === "object" ? Object.freeze(row.default) : row.default),
);

/** The environment variable that feeds an option: `max-line` → `SHAT_MAX_LINE`. */
export function envName(flag: string): string {
  return "SHAT_" + flag.toUpperCase().replaceAll("-", "_");
}

/** Every environment variable the server reads, for callers that must ask for each by name. */
export const ENV_NAMES: readonly string[] = OPTION_ROWS.map((o) => envName(o.flag));

/** The placeholder --help shows after a row's flag (`FILE`, `N`); a switch has none. */
export function placeholder(o: OptionRow): string | undefined {
  return o.value ?? kindPlaceholder(o.kind);
}

/** A row's default as --help shows it. */
export function shownDefault(o: OptionRow): string {
  return o.defaultText ?? showKind(o.kind, o.default);
}
