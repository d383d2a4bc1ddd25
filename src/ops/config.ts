/**
 * Configuration: command-line flags and `SHAT_*` environment variables become one typed,
 * validated {@link Config}. A flag beats its environment variable, which beats the default.
 * Which options there are, and their types and defaults, is the option table's (options.ts);
 * this reads the command line and environment with it, checks limits that involve several
 * options, and prints `--help` from it.
 * Everything here is pure (the environment is passed in), so every refusal is unit-tested.
 */
import { parseRedisUrl } from "../cluster/redis/url.ts";
import { parseArgs } from "node:util";
import { formatSize } from "../lib/units.ts";
import { parseKind } from "./option_kinds.ts";
import {
  buildConfig,
  type Config,
  DEFAULTS,
  envName,
  OPTION_ROWS,
  type OptionRow,
  placeholder,
  shownDefault,
} from "./options.ts";
import denoJson from "../../deno.json" with { type: "json" };

// Re-exported so that importers keep one place to get the options from.
export { type Config, DEFAULTS, ENV_NAMES, envName } from "./options.ts";
// Re-exported: they lived here before log.ts became a leaf, and importers still look here.
export { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./log.ts";

/** The program version, taken from deno.json so there is one place to bump it. */
export const VERSION: string = denoJson.version;

/** A mistake in the configuration; its message is the one line shown to the person. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

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

/** Reads a flag's or variable's value; a switch given as a bare flag is already a boolean. */
function convert(o: OptionRow, raw: string | boolean, source: string): unknown {
  if (typeof raw === "boolean") return raw;
  const shown = o.secret ? "" : ` ${JSON.stringify(raw)}`;
  return parseKind(o.kind, raw, (why) => new ConfigError(`invalid ${source}${shown}: ${why}`));
}

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
  for (const o of OPTION_ROWS) {
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

  const secretFlags: string[] = [];
  const config = buildConfig((o, key) => {
    const fromFlag = values[o.flag];
    const name = envName(o.flag);
    const fromEnv = env[name];
    if (fromFlag !== undefined) {
      const value = convert(o, fromFlag, `--${o.flag}`);
      if ((o.secret && fromFlag !== "") || o.secretIf?.test(String(fromFlag))) {
        secretFlags.push(`--${o.flag}`);
      }
      return value;
    }
    return fromEnv !== undefined ? convert(o, fromEnv, name) : DEFAULTS[key];
  });
  // `off` in any case, as the port flags take it; a file really called OFF: ./OFF.
  if (config.store.toLowerCase() === "off") config.store = "off";
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
  if (c.redis && c.store !== "off" && c.store !== DEFAULTS.store) {
    throw new ConfigError(
      `--store ${c.store} cannot be used with --redis: the processes share their memory in ` +
        "Redis (leave --store out, or --store off to remember nothing)",
    );
  }
  if (c.port === -1 && c.tlsPort === -1) {
    throw new ConfigError("--port off needs --tls-port: with neither, nobody could connect");
  }
  if (c.tlsPort !== -1 && (!c.tlsCert || !c.tlsKey)) {
    throw new ConfigError("--tls-port needs --tls-cert FILE and --tls-key FILE");
  }
  if (c.ircTlsPort !== -1 && (!c.tlsCert || !c.tlsKey)) {
    throw new ConfigError("--irc-tls-port needs --tls-cert FILE and --tls-key FILE");
  }
  if (c.tlsPort === -1 && c.ircTlsPort === -1 && (c.tlsCert || c.tlsKey)) {
    throw new ConfigError(
      `${c.tlsCert ? "--tls-cert" : "--tls-key"} is set but --tls-port is not: add --tls-port N`,
    );
  }
  const ports: [string, number][] = [
    ["--port", c.port],
    ["--tls-port", c.tlsPort],
    ["--irc-port", c.ircPort],
    ["--irc-tls-port", c.ircTlsPort],
  ];
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      const [a, pa] = ports[i];
      const [b, pb] = ports[j];
      if (pa > 0 && pa === pb) {
        throw new ConfigError(`${a} and ${b} are both ${pa}: they need different ports`);
      }
    }
  }
  if (c.ircName && !/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(c.ircName)) {
    throw new ConfigError(
      "--irc-name must be 1 to 63 letters, digits, dots and dashes (a host name), starting " +
        "with a letter or digit",
    );
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
  for (const o of OPTION_ROWS) {
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

/** Turns a parseArgs error into one line that says how to fix it. */
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
        const secret = OPTION_ROWS.some((o) => o.secret && `--${o.flag}` === flag);
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

/** The `--help` text: every option with its environment variable and default. */
export function helpText(): string {
  const lines = [
    `shat ${VERSION}: a chat room you reach with telnet or nc`,
    "",
    "Usage: shat [options]          (or: deno task start [options])",
    "",
    "Options (each also read from the environment variable shown; a flag wins):",
  ];
  for (const o of OPTION_ROWS) {
    const value = placeholder(o);
    const left = `  --${o.flag}${value ? " " + value : ""}`;
    const env = o.secret
      ? `better: env ${envName(o.flag)} (a flag shows in the process list)`
      : `env ${envName(o.flag)}`;
    lines.push(
      `${left.padEnd(29)} ${o.help}`,
      `${" ".repeat(30)}${env}, default ${shownDefault(o)}`,
    );
  }
  lines.push(
    "  --help                      show this text",
    "  --version                   show the version",
    "",
    "Durations take a unit: 500ms, 2s, 10m, 1h (or 1h30m). Sizes: 4096, 64KiB, 1MiB.",
    "Connect with: telnet HOST PORT   or   nc HOST PORT",
  );
  return lines.join("\n");
}
