/**
 * Configuration: command-line flags and `SHAT_*` environment variables become one typed,
 * validated {@link Config}. A flag beats its environment variable, which beats the default.
 * Everything here is pure (the environment is passed in), so every refusal is unit-tested.
 */
import { parseRedisUrl } from "../cluster/redis/url.ts";
import { parseArgs } from "node:util";
import { type ConnectRate, MAX_BAN_MS } from "../chat/moderation.ts";
import { parseIp } from "../lib/ip.ts";
import { roomName } from "../chat/room.ts";
import { formatDuration, formatSize, parseDuration, parseSize } from "../lib/units.ts";
import denoJson from "../../deno.json" with { type: "json" };

/** The program version, taken from deno.json so there is one place to bump it. */
export const VERSION: string = denoJson.version;

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Everything the server can be told at start. Durations are milliseconds; sizes are bytes. */
export interface Config {
  host: string;
  /** The plain TCP port; -1 = off (a TLS-only server). */
  port: number;
  /** The TLS port; -1 = off. */
  tlsPort: number;
  tlsCert: string;
  tlsKey: string;
  tlsHandshakeTimeout: number;
  /** The web page (HTTP and WebSocket) port; -1 = off. */
  webPort: number;
  /** Reverse proxies whose X-Forwarded-For is believed (canonical addresses). */
  trustProxy: string[];
  /** Origins besides the page's own that may open the WebSocket. */
  webOrigins: string[];
  /** Host names the web page is served as (lower case); [] = any (no DNS-rebinding check). */
  webHosts: string[];
  /** The metrics and health HTTP port; -1 = off. */
  metricsPort: number;
  metricsHost: string;
  dataDir: string;
  name: string;
  motd: string;
  history: number;
  historyBytes: number;
  announceMax: number;
  maxLine: number;
  maxOutbox: number;
  maxInputRate: number;
  rateLimit: number;
  maxStrikes: number;
  banDuration: number;
  banFile: string;
  adminToken: string;
  token: string;
  authTimeout: number;
  maxClients: number;
  maxPerIp: number;
  connectRate: ConnectRate;
  lobby: string;
  maxRooms: number;
  roomRate: ConnectRate;
  lineTimeout: number;
  idleTimeout: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  safeMode: boolean;
  /** Bits of an IPv6 address that per-address rules key on (one /64 is one address). */
  ipv6Prefix: number;
  /** Several processes share the rooms through this Redis ("" = one process, no Redis). */
  redis: string;
  /** The prefix of every Redis key and channel (several clusters on one Redis). */
  redisPrefix: string;
  /** Share the listening ports with other processes (SO_REUSEPORT, Linux). */
  reusePort: boolean;
}

/** Log line formats: `key=value` text, or one JSON object per line. */
export const LOG_FORMATS = ["text", "json"] as const;
/** One of {@link LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

/** A mistake in the configuration; its message is the one line shown to the person. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

type Kind =
  | {
    type: "string";
    allowEmpty?: boolean;
    maxLength?: number;
    printable?: boolean;
    /** A secret typed at the prompt: no spaces or controls, which could never be typed back. */
    typeable?: boolean;
  }
  | { type: "int"; min: number; max: number }
  | { type: "port"; off?: boolean }
  | { type: "size"; min: number; max: number; zeroMeans?: string }
  | { type: "duration"; min: number; max?: number; zeroMeans?: string }
  | { type: "rate" }
  | { type: "room" }
  | { type: "bool" }
  | { type: "level" }
  | { type: "format" }
  | { type: "ips" }
  | { type: "origins" }
  | { type: "hosts" };

interface OptionSpec {
  key: keyof Config;
  flag: string;
  kind: Kind;
  value?: string;
  help: string;
  defaultText?: string;
  secret?: boolean;
}

/** The table of options: one row per flag, the single source for parsing, env and --help. */
const OPTIONS: OptionSpec[] = [
  {
    key: "host",
    flag: "host",
    kind: { type: "string" },
    value: "ADDR",
    help: "address to listen on",
  },
  {
    key: "port",
    flag: "port",
    kind: { type: "port", off: true },
    value: "N",
    help: "TCP port (0 picks a free one; off: no plain port, TLS only)",
  },
  {
    key: "tlsPort",
    flag: "tls-port",
    kind: { type: "port", off: true },
    value: "N",
    help: "TLS port, same room (needs --tls-cert and --tls-key)",
  },
  {
    key: "tlsCert",
    flag: "tls-cert",
    kind: { type: "string", allowEmpty: true },
    value: "FILE",
    help: "TLS certificate chain (PEM); reread on SIGHUP",
    defaultText: "none",
  },
  {
    key: "tlsKey",
    flag: "tls-key",
    kind: { type: "string", allowEmpty: true },
    value: "FILE",
    help: "TLS private key (PEM); reread on SIGHUP",
    defaultText: "none",
  },
  {
    key: "tlsHandshakeTimeout",
    flag: "tls-handshake-timeout",
    kind: { type: "duration", min: 1, max: 15_000 },
    value: "DUR",
    help: "a TLS handshake not done by then is dropped (at most 15s)",
  },
  {
    key: "webPort",
    flag: "web-port",
    kind: { type: "port", off: true },
    value: "N",
    help: "HTTP port for the chat page in a browser (WebSocket, same room)",
  },
  {
    key: "trustProxy",
    flag: "trust-proxy",
    kind: { type: "ips" },
    value: "ADDRS",
    help: "reverse proxies (comma-separated addresses) whose X-Forwarded-For is believed",
    defaultText: "none",
  },
  {
    key: "webOrigins",
    flag: "web-origins",
    kind: { type: "origins" },
    value: "URLS",
    help: "origins besides the page's own that may use the WebSocket (comma-separated)",
    defaultText: "none",
  },
  {
    key: "webHosts",
    flag: "web-hosts",
    kind: { type: "hosts" },
    value: "NAMES",
    help:
      "host names the web page is served as (comma-separated); other Host headers are refused (DNS rebinding)",
    defaultText: "any",
  },
  {
    key: "metricsPort",
    flag: "metrics-port",
    kind: { type: "port", off: true },
    value: "N",
    help: "HTTP port for GET /metrics (Prometheus) and GET /healthz",
  },
  {
    key: "metricsHost",
    flag: "metrics-host",
    kind: { type: "string" },
    value: "ADDR",
    help: "address the metrics port listens on",
  },
  {
    key: "dataDir",
    flag: "data-dir",
    kind: { type: "string" },
    value: "DIR",
    help: "where the server keeps what it writes (the ban file)",
  },
  {
    key: "name",
    flag: "name",
    kind: { type: "string", maxLength: 40, printable: true },
    value: "TEXT",
    help: "server name shown in the welcome banner",
  },
  {
    key: "motd",
    flag: "motd",
    kind: { type: "string", allowEmpty: true },
    value: "FILE",
    help: "file whose text is shown to everyone who joins",
    defaultText: "none",
  },
  {
    key: "history",
    flag: "history",
    kind: { type: "int", min: 0, max: 10_000 },
    value: "N",
    help: "chat lines a newcomer is shown (0 = none)",
  },
  {
    key: "historyBytes",
    flag: "history-bytes",
    kind: { type: "size", min: 1024, max: 64 * 1024 * 1024 },
    value: "BYTES",
    help: "most bytes of history a newcomer is shown (older lines give way)",
  },
  {
    key: "announceMax",
    flag: "announce-max",
    kind: { type: "int", min: 0, max: 10_000_000 },
    value: "N",
    help: "announce joins/leaves only while a room holds at most N people (0 = always)",
  },
  {
    key: "maxLine",
    flag: "max-line",
    kind: { type: "size", min: 16, max: 1024 * 1024 },
    value: "BYTES",
    help: "longest accepted line; longer ones are refused with a notice",
  },
  {
    key: "maxOutbox",
    flag: "max-outbox",
    kind: { type: "size", min: 1024, max: 1024 ** 3 },
    value: "BYTES",
    help: "unsent bytes a client may fall behind before it is disconnected",
  },
  {
    key: "maxInputRate",
    flag: "max-input-rate",
    kind: { type: "size", min: 1024, max: 1024 ** 3, zeroMeans: "no limit" },
    value: "BYTES",
    help: "bytes per second read from one connection; past it reading pauses (0 = no limit)",
  },
  {
    key: "rateLimit",
    flag: "rate-limit",
    kind: { type: "duration", min: 0, zeroMeans: "off" },
    value: "DUR",
    help: "least time between a client's lines; a faster line is dropped and struck",
  },
  {
    key: "maxStrikes",
    flag: "max-strikes",
    kind: { type: "int", min: 1, max: 1_000_000 },
    value: "N",
    help: "strikes that get an address banned",
  },
  {
    key: "banDuration",
    flag: "ban-duration",
    kind: { type: "duration", min: 1, max: MAX_BAN_MS },
    value: "DUR",
    help: "how long a ban lasts (at most 365d)",
  },
  {
    key: "banFile",
    flag: "ban-file",
    kind: { type: "string", allowEmpty: true },
    value: "FILE",
    help: 'where bans are kept across restarts ("" = memory only)',
  },
  {
    key: "adminToken",
    flag: "admin-token",
    kind: { type: "string", allowEmpty: true, typeable: true },
    value: "TOKEN",
    help: "enables operators: /op TOKEN",
    defaultText: "none, operators off",
    secret: true,
  },
  {
    key: "token",
    flag: "token",
    kind: { type: "string", allowEmpty: true, typeable: true },
    value: "TOKEN",
    help: "makes the room private: a client's first line must be this token",
    defaultText: "none, open room",
    secret: true,
  },
  {
    key: "authTimeout",
    flag: "auth-timeout",
    kind: { type: "duration", min: 1 },
    value: "DUR",
    help: "time allowed to send the room token",
  },
  {
    key: "maxClients",
    flag: "max-clients",
    kind: { type: "int", min: 0, max: 10_000_000 },
    value: "N",
    help: "connections served at once (0 = no limit)",
  },
  {
    key: "maxPerIp",
    flag: "max-per-ip",
    kind: { type: "int", min: 0, max: 10_000_000 },
    value: "N",
    help: "connections from one address (0 = no limit)",
  },
  {
    key: "connectRate",
    flag: "connect-rate",
    kind: { type: "rate" },
    value: "N/DUR",
    help: "new connections one address may open at once, earned back over DUR (0 = no limit)",
  },
  {
    key: "lobby",
    flag: "lobby",
    kind: { type: "room" },
    value: "NAME",
    help: "the room everyone starts in",
  },
  {
    key: "maxRooms",
    flag: "max-rooms",
    kind: { type: "int", min: 0, max: 1_000_000 },
    value: "N",
    help: "rooms that may exist at once, the lobby included (0 = no limit)",
  },
  {
    key: "roomRate",
    flag: "room-rate",
    kind: { type: "rate" },
    value: "N/DUR",
    help: "new rooms one address may make at once, earned back over DUR (0 = no limit)",
  },
  {
    key: "lineTimeout",
    flag: "line-timeout",
    kind: { type: "duration", min: 0, zeroMeans: "off" },
    value: "DUR",
    help: "drop a client that starts a line and does not finish it in time",
  },
  {
    key: "idleTimeout",
    flag: "idle-timeout",
    kind: { type: "duration", min: 0, zeroMeans: "off" },
    value: "DUR",
    help: "drop a client that sends nothing for this long",
  },
  {
    key: "logLevel",
    flag: "log-level",
    kind: { type: "level" },
    value: "LEVEL",
    help: "debug, info, warn or error",
  },
  {
    key: "logFormat",
    flag: "log-format",
    kind: { type: "format" },
    value: "FORMAT",
    help: "text (LEVEL message key=value) or json (one object per line)",
  },
  {
    key: "safeMode",
    flag: "safe-mode",
    kind: { type: "bool" },
    help: "keep every client address and port out of the logs",
  },
  {
    key: "ipv6Prefix",
    flag: "ipv6-prefix",
    kind: { type: "int", min: 32, max: 128 },
    value: "BITS",
    help: "IPv6 addresses count as one per network of this many bits (caps, strikes, bans)",
  },
  {
    key: "redis",
    flag: "redis",
    kind: { type: "string", allowEmpty: true },
    value: "URL",
    help:
      "share rooms with other Shat processes through this Redis (redis://[user:pass@]host:port[/db], rediss:// for TLS)",
    defaultText: "none, one process",
  },
  {
    key: "redisPrefix",
    flag: "redis-prefix",
    kind: { type: "string" },
    value: "PREFIX",
    help: "prefix of the Redis keys and channel (several clusters on one Redis)",
  },
  {
    key: "reusePort",
    flag: "reuse-port",
    kind: { type: "bool" },
    help: "let several processes listen on the same ports (Linux SO_REUSEPORT)",
  },
];

/** The defaults every option starts from. */
export const DEFAULTS: Readonly<Config> = Object.freeze({
  host: "0.0.0.0",
  port: 4567,
  tlsPort: -1,
  tlsCert: "",
  tlsKey: "",
  tlsHandshakeTimeout: 10_000,
  webPort: -1,
  trustProxy: Object.freeze([]) as unknown as string[],
  webOrigins: Object.freeze([]) as unknown as string[],
  webHosts: Object.freeze([]) as unknown as string[],
  metricsPort: -1,
  metricsHost: "127.0.0.1",
  dataDir: ".",
  name: "Shat",
  motd: "",
  history: 20,
  historyBytes: 16 * 1024,
  announceMax: 200,
  maxLine: 4096,
  maxOutbox: 1024 * 1024,
  maxInputRate: 32 * 1024,
  rateLimit: 500,
  maxStrikes: 5,
  banDuration: 10 * 60_000,
  banFile: "shat-bans.json",
  adminToken: "",
  token: "",
  authTimeout: 10_000,
  maxClients: 10_000,
  maxPerIp: 32,
  connectRate: Object.freeze({ burst: 32, per: 60_000 }),
  lobby: "lobby",
  maxRooms: 100,
  roomRate: Object.freeze({ burst: 5, per: 10 * 60_000 }),
  lineTimeout: 30_000,
  idleTimeout: 0,
  logLevel: "info",
  logFormat: "text",
  safeMode: false,
  ipv6Prefix: 64,
  redis: "",
  redisPrefix: "shat",
  reusePort: false,
});

/** The environment variable that feeds an option: `max-line` → `SHAT_MAX_LINE`. */
export function envName(flag: string): string {
  return "SHAT_" + flag.toUpperCase().replaceAll("-", "_");
}

/** Every environment variable the server reads, for callers that must ask for each by name. */
export const ENV_NAMES: readonly string[] = OPTIONS.map((o) => envName(o.flag));

/** Largest message-of-the-day file accepted. */
export const MOTD_MAX_BYTES = 16 * 1024;
/** Room left in a newcomer's welcome for the banner lines around the history and motd. */
const BANNER_BYTES = 1024;
/** Full-length lines a reader's outbox must be able to hold. */
const OUTBOX_LINES = 4;

/** What the command line asked for. */
export type ParseResult =
  | {
    action: "run";
    config: Config;
    /** Secrets given as flags (visible in the process list): the caller warns about them. */
    secretFlags: string[];
  }
  | { action: "help"; text: string }
  | { action: "version"; text: string };

/**
 * Turns arguments and environment into a Config, or throws {@link ConfigError} with one line
 * that names the flag (or variable), the bad value, and what is allowed.
 */
export function parseConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ParseResult {
  const options: Record<string, { type: "string" | "boolean" }> = {
    help: { type: "boolean" },
    version: { type: "boolean" },
  };
  for (const o of OPTIONS) {
    options[o.flag] = { type: o.kind.type === "bool" ? "boolean" : "string" };
  }

  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...args], options, strict: true, allowPositionals: false })
      .values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new ConfigError(redactSecrets(describeArgsError(e, args), args));
  }
  if (values.help) return { action: "help", text: helpText() };
  if (values.version) return { action: "version", text: `shat ${VERSION}` };

  const config: Config = { ...DEFAULTS };
  const target = config as unknown as Record<string, unknown>;
  const secretFlags: string[] = [];
  for (const o of OPTIONS) {
    const fromFlag = values[o.flag];
    const name = envName(o.flag);
    const fromEnv = env[name];
    if (fromFlag !== undefined) {
      target[o.key] = convert(o, fromFlag, `--${o.flag}`);
      if (o.secret && fromFlag !== "") secretFlags.push(`--${o.flag}`);
      // A Redis URL is a secret only when it carries a password.
      if (o.key === "redis" && /^rediss?:\/\/[^/@]*:[^/@]*@/.test(String(fromFlag))) {
        secretFlags.push(`--${o.flag}`);
      }
    } else if (fromEnv !== undefined) {
      target[o.key] = convert(o, fromEnv, name);
    }
  }
  checkLimits(config);
  return { action: "run", config, secretFlags };
}

/**
 * Refuses limits that contradict each other: a newcomer's welcome (banner, motd and history)
 * must fit in half an outbox, so nobody is ever dropped for what the server itself sends, and
 * an outbox must hold a few full-length lines.
 */
function checkLimits(c: Config): void {
  if (c.redis) {
    try {
      parseRedisUrl(c.redis);
    } catch (e) {
      throw new ConfigError(`--redis: ${(e as Error).message}`);
    }
  }
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(c.redisPrefix)) {
    throw new ConfigError("--redis-prefix must be 1 to 64 letters, digits or _ . : -");
  }
  if (c.port === -1 && c.tlsPort === -1) {
    throw new ConfigError("--port off needs --tls-port: with neither, nobody could connect");
  }
  if (c.tlsPort !== -1 && (!c.tlsCert || !c.tlsKey)) {
    throw new ConfigError("--tls-port needs --tls-cert FILE and --tls-key FILE");
  }
  if (c.tlsPort === -1 && (c.tlsCert || c.tlsKey)) {
    throw new ConfigError(
      `${c.tlsCert ? "--tls-cert" : "--tls-key"} is set but --tls-port is not: add --tls-port N`,
    );
  }
  if (c.tlsPort !== -1 && c.port !== -1 && c.tlsPort === c.port && c.port !== 0) {
    throw new ConfigError(`--port and --tls-port are both ${c.port}: they need different ports`);
  }
  const welcome = c.historyBytes + MOTD_MAX_BYTES + BANNER_BYTES;
  if (welcome * 2 > c.maxOutbox) {
    throw new ConfigError(
      `--max-outbox ${formatSize(c.maxOutbox)} is too small for --history-bytes ` +
        `${formatSize(c.historyBytes)}: a newcomer's welcome (history, motd and banner, up to ` +
        `${formatSize(welcome)}) must fit in half of it; raise --max-outbox to at least ` +
        `${formatSize(welcome * 2)} or lower --history-bytes`,
    );
  }
  if (c.maxLine * OUTBOX_LINES > c.maxOutbox) {
    throw new ConfigError(
      `--max-outbox ${formatSize(c.maxOutbox)} is too small for --max-line ` +
        `${formatSize(c.maxLine)}: it must hold at least ${OUTBOX_LINES} full lines; raise ` +
        `--max-outbox to at least ${formatSize(c.maxLine * OUTBOX_LINES)} or lower --max-line`,
    );
  }
}

/** Replaces the values given to secret flags wherever they appear in `message`. */
function redactSecrets(message: string, args: readonly string[]): string {
  const secrets: string[] = [];
  for (const o of OPTIONS) {
    if (!o.secret) continue;
    const flag = `--${o.flag}`;
    args.forEach((a, i) => {
      if (a === flag && i + 1 < args.length) secrets.push(args[i + 1]);
      else if (a.startsWith(flag + "=")) secrets.push(a.slice(flag.length + 1));
    });
  }
  let out = message;
  for (const v of secrets.filter((v) => v.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.replaceAll(v, "(hidden)");
  }
  return out;
}

function describeArgsError(e: unknown, args: readonly string[]): string {
  const code = (e as { code?: string }).code;
  const message = e instanceof Error ? e.message : String(e);
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${quoted.split("=")[0]} (see --help)`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument '${quoted}': options look like --port 4567 (see --help)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const flag = quoted.split(" ")[0];
      if (message.includes("does not take an argument")) {
        return `${flag} takes no value (see --help)`;
      }
      if (message.includes("ambiguous")) {
        const i = args.indexOf(flag);
        const v = i >= 0 ? args[i + 1] : undefined;
        const secret = OPTIONS.some((o) => o.secret && `--${o.flag}` === flag);
        if (secret) return `${flag}: a value cannot start with '-' (write ${flag}=VALUE)`;
        return `${flag} ${
          v ?? ""
        }: a value cannot start with '-' (negative numbers are not allowed)`
          .replace("  ", " ");
      }
      return `${flag} needs a value (see --help)`;
    }
    default:
      return message.split("\n")[0];
  }
}

function convert(o: OptionSpec, raw: string | boolean, source: string): unknown {
  const kind = o.kind;
  const bad = (why: string) => {
    const shown = o.secret ? "" : ` ${JSON.stringify(raw)}`;
    return new ConfigError(`invalid ${source}${shown}: ${why}`);
  };
  if (kind.type === "bool") {
    if (typeof raw === "boolean") return raw;
    const v = raw.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off", ""].includes(v)) return false;
    throw bad("expected 1/0, true/false, yes/no or on/off");
  }
  const text = String(raw);
  switch (kind.type) {
    case "string": {
      if (!kind.allowEmpty && text.trim() === "") throw bad("must not be empty");
      if (kind.maxLength !== undefined && [...text].length > kind.maxLength) {
        throw bad(`at most ${kind.maxLength} characters`);
      }
      if (kind.typeable && /[\s\p{Cc}\p{Cf}]/u.test(text)) {
        throw bad("spaces and control characters cannot be typed at the prompt");
      }
      if (kind.printable && /[\p{Cc}\p{Cf}]/u.test(text)) {
        throw bad("control characters are not allowed");
      }
      return text;
    }
    case "port": {
      const range = `expected a port number 0-65535${kind.off ? ", or off" : ""}`;
      if (kind.off && text.trim().toLowerCase() === "off") return -1;
      if (!/^\d+$/.test(text.trim())) throw bad(range);
      const n = Number(text);
      if (n > 65535) throw bad(range);
      return n;
    }
    case "ips": {
      const out: string[] = [];
      for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
        const ip = parseIp(part);
        if ("error" in ip) throw bad(`${JSON.stringify(part)} is not an IP address (${ip.error})`);
        out.push(ip.ip);
      }
      return out;
    }
    case "origins": {
      const out: string[] = [];
      for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
        let origin: string;
        try {
          origin = new URL(part).origin;
        } catch {
          origin = "null";
        }
        if (origin === "null") {
          throw bad(`${JSON.stringify(part)} is not an origin like https://chat.example.org`);
        }
        out.push(origin);
      }
      return out;
    }
    case "hosts": {
      const out: string[] = [];
      for (const part of text.split(",").map((p) => p.trim().toLowerCase()).filter(Boolean)) {
        const name = part.replace(/\.$/, "");
        if (
          !/^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*$/.test(name)
        ) {
          throw bad(`${JSON.stringify(part)} is not a host name like chat.example.org`);
        }
        out.push(name);
      }
      return out;
    }
    case "format": {
      const v = text.trim().toLowerCase();
      if (!(LOG_FORMATS as readonly string[]).includes(v)) {
        throw bad(`expected one of ${LOG_FORMATS.join(", ")}`);
      }
      return v;
    }
    case "int": {
      if (!/^\d+$/.test(text.trim())) {
        throw bad(`expected a whole number ${kind.min}-${kind.max}`);
      }
      const n = Number(text);
      if (n < kind.min || n > kind.max) {
        throw bad(`expected a whole number ${kind.min}-${kind.max}`);
      }
      return n;
    }
    case "size": {
      const n = parseSize(text);
      const zero = kind.zeroMeans ? `, or 0 for ${kind.zeroMeans}` : "";
      const range = `${formatSize(kind.min)}-${formatSize(kind.max)}${zero}`;
      if (n === undefined) throw bad(`expected a byte count like 4096, 64KiB or 1MiB (${range})`);
      if (n === 0 && kind.zeroMeans) return 0;
      if (n < kind.min || n > kind.max) throw bad(`must be ${range}`);
      return n;
    }
    case "duration": {
      const n = parseDuration(text);
      const zero = kind.zeroMeans ? `, or 0 for ${kind.zeroMeans}` : "";
      if (n === undefined) throw bad(`expected a duration like 500ms, 2s, 10m or 1h${zero}`);
      if (n < kind.min) throw bad(kind.min > 0 ? "must be longer than 0" : "must not be negative");
      if (kind.max !== undefined && n > kind.max) {
        throw bad(`must be at most ${formatDuration(kind.max)}`);
      }
      return n;
    }
    case "room": {
      const name = roomName(text.trim());
      if (!name) throw bad("a room name is 1-24 letters, digits, - and _");
      return name;
    }
    case "rate": {
      if (text.trim() === "0") return { burst: 0, per: 0 };
      const m = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(text);
      const per = m ? parseDuration(m[2]) : undefined;
      const burst = m ? Number(m[1]) : NaN;
      if (!m || per === undefined || per <= 0 || !(burst >= 1 && burst <= 1_000_000)) {
        throw bad("expected N/DURATION like 32/1m (N at once, earned back over DURATION), or 0");
      }
      return { burst, per };
    }
    case "level": {
      const v = text.trim().toLowerCase();
      if (!(LOG_LEVELS as readonly string[]).includes(v)) {
        throw bad(`expected one of ${LOG_LEVELS.join(", ")}`);
      }
      return v;
    }
  }
}

function showDefault(o: OptionSpec): string {
  if (o.defaultText) return o.defaultText;
  const v = DEFAULTS[o.key];
  switch (o.kind.type) {
    case "duration":
      return v === 0 ? (o.kind.zeroMeans ?? "0") : formatDuration(v as number).replace(" ", "");
    case "size":
      return v === 0 ? (o.kind.zeroMeans ?? "0") : formatSize(v as number);
    case "port":
      return v === -1 ? "off" : String(v);
    case "ips":
    case "origins":
    case "hosts":
      return (v as string[]).length ? (v as string[]).join(",") : "none";
    case "rate": {
      const r = v as ConnectRate;
      return r.burst === 0 ? "0" : `${r.burst}/${formatDuration(r.per).replace(" ", "")}`;
    }
    case "bool":
      return v ? "on" : "off";
    case "string":
      return v === "" ? '""' : String(v);
    default:
      return String(v);
  }
}

/** The `--help` text: every option with its environment variable and default. */
export function helpText(): string {
  const rows = OPTIONS.map((o) => {
    const left = `  --${o.flag}${o.value ? " " + o.value : ""}`;
    const env = o.secret
      ? `better: env ${envName(o.flag)} (a flag shows in the process list)`
      : `env ${envName(o.flag)}`;
    return {
      left,
      right: `${o.help}\n${" ".repeat(30)}${env}, default ${showDefault(o)}`,
    };
  });
  const lines = [
    `shat ${VERSION}: a chat room you reach with telnet or nc`,
    "",
    "Usage: shat [options]          (or: deno task start [options])",
    "",
    "Options (each also read from the environment variable shown; a flag wins):",
  ];
  for (const r of rows) lines.push(`${r.left.padEnd(29)} ${r.right}`);
  lines.push(
    "  --help                      show this text",
    "  --version                   show the version",
    "",
    "Durations take a unit: 500ms, 2s, 10m, 1h (or 1h30m). Sizes: 4096, 64KiB, 1MiB.",
    "Connect with: telnet HOST PORT   or   nc HOST PORT",
  );
  return lines.join("\n");
}
