/**
 * Shat's entry point: read the configuration, load the files it names, start the server and
 * wire the signals. Mistakes a person can make end in one line on stderr and an exit code:
 * 2 for a wrong configuration (flag, variable, file), 1 when the server cannot run.
 */
import { dirname, isAbsolute, join } from "node:path";
import { BanStore, loadBans, tempPath } from "./src/ops/ban_store.ts";
import {
  type Config,
  ConfigError,
  ENV_NAMES,
  envName,
  MOTD_MAX_BYTES,
  parseConfig,
  VERSION,
} from "./src/ops/config.ts";
import { Logger } from "./src/ops/log.ts";
import { type BanRecord } from "./src/chat/moderation.ts";
import { BanFileError } from "./src/ops/ban_store.ts";
import { cleanText } from "./src/lib/sanitize.ts";
import { ListenError, Server, type TlsFiles } from "./src/shell/server.ts";
import { checkTls } from "./src/net/tls.ts";
import { MemoryStore } from "./src/store/memory.ts";
import { openRedisStore } from "./src/store/redis.ts";
import { openSqliteStore } from "./src/store/sqlite.ts";
import { type Store, StoreError } from "./src/store/types.ts";
import type { WordFilter } from "./src/chat/filter.ts";
import type { AuditEntry } from "./src/chat/events.ts";
import { FilterFileError, loadFilterFile } from "./src/shell/filter_file.ts";
import { AUDIT_FILE, AuditLog, readAuditTail } from "./src/shell/audit_log.ts";

/**
 * A second SIGINT/SIGTERM this long after the first forces the exit. Sooner, it is the same
 * stop reaching the server twice: Ctrl-C in a terminal signals the whole process group, so
 * under `deno task start` the server gets it from the terminal and again from the task runner.
 */
const FORCE_AFTER_MS = 1_000;

class Exit extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

function readEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of ENV_NAMES) {
    try {
      env[name] = Deno.env.get(name);
    } catch {
      // no permission for this variable: it is simply not set as far as Shat is concerned
    }
  }
  return env;
}

/** Makes sure Deno lets us use `path`, asking on a terminal; explains the fix otherwise. */
function ensureAccess(kinds: ("read" | "write")[], paths: string[], what: string): void {
  for (const kind of kinds) {
    for (const path of paths) {
      const desc: Deno.PermissionDescriptor = { name: kind, path };
      let state = Deno.permissions.querySync(desc).state;
      if (state === "prompt") state = Deno.permissions.requestSync(desc).state;
      if (state !== "granted") {
        const allow = kinds.map((k) => `--allow-${k}=${paths.join(",")}`).join(" ");
        throw new Exit(
          2,
          `${what} ${paths[0]}: Deno has no ${kind} permission for it; run with ${allow} ` +
            `(README: Permissions)`,
        );
      }
    }
  }
}

function fileError(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "it is a directory";
  return e instanceof Error ? e.message.replace(/\s*\(os error \d+\).*$/, "") : String(e);
}

async function loadMotd(path: string): Promise<string[]> {
  ensureAccess(["read"], [path], "cannot read --motd");
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Exit(2, `cannot read --motd ${path}: ${fileError(e)}`);
  }
  if (bytes.length > MOTD_MAX_BYTES) {
    throw new Exit(2, `--motd ${path} is too long (${bytes.length} bytes; at most 16KiB)`);
  }
  const lines = new TextDecoder().decode(bytes).split(/\r?\n/).map(cleanText);
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

async function loadBanFile(path: string): Promise<BanRecord[]> {
  ensureAccess(["read", "write"], [path, tempPath(path)], "cannot use --ban-file");
  try {
    return await loadBans(path, Date.now());
  } catch (e) {
    if (e instanceof BanFileError) {
      throw new Exit(
        2,
        `ban file ${path} is damaged (${e.message}); fix or move it away, it was left untouched`,
      );
    }
    throw new Exit(2, `cannot read ban file ${path}: ${fileError(e)}`);
  }
}

/** The word filter in --filter-file; a file that cannot be used stops the start. */
async function loadFilter(path: string): Promise<WordFilter> {
  ensureAccess(["read"], [path], "cannot read --filter-file");
  try {
    return await loadFilterFile(path);
  } catch (e) {
    if (e instanceof FilterFileError) throw new Exit(2, e.message);
    throw e;
  }
}

/**
 * The audit log (audit.jsonl in --data-dir) and its latest entries, when the store is on; with
 * --store off operator actions go only to the log.
 */
async function openAudit(
  config: Config,
  log: Logger,
): Promise<{ auditLog?: AuditLog; audit?: AuditEntry[] }> {
  if (config.store === "off") return {};
  await checkDataDir(config.dataDir);
  const path = join(config.dataDir, AUDIT_FILE);
  ensureAccess(["read", "write"], [path], "cannot use the audit log");
  let audit: AuditEntry[];
  try {
    audit = await readAuditTail(path);
  } catch (e) {
    throw new Exit(2, `cannot read the audit log ${path}: ${fileError(e)}`);
  }
  return { auditLog: new AuditLog(path, log), audit };
}

/** The data directory, which must exist: the store and the ban file are written there. */
async function checkDataDir(dir: string): Promise<void> {
  ensureAccess(["read", "write"], [dir], "cannot use --data-dir");
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (e) {
    throw new Exit(
      2,
      `cannot use --data-dir ${dir}: ${
        e instanceof Deno.errors.NotFound ? "no such directory" : fileError(e)
      }`,
    );
  }
  if (!info.isDirectory) throw new Exit(2, `cannot use --data-dir ${dir}: not a directory`);
}

/**
 * Reads the TLS certificate and key, and checks that they are PEM and belong together, so a bad
 * pair stops the start with one line naming the flag (or is refused by a reload).
 */
async function loadTls(certPath: string, keyPath: string): Promise<TlsFiles> {
  const read = async (flag: string, path: string) => {
    ensureAccess(["read"], [path], `cannot read ${flag}`);
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      throw new Exit(2, `cannot read ${flag} ${path}: ${fileError(e)}`);
    }
  };
  const cert = await read("--tls-cert", certPath);
  const key = await read("--tls-key", keyPath);
  if (!/-----BEGIN CERTIFICATE-----/.test(cert)) {
    throw new Exit(2, `--tls-cert ${certPath} is not a PEM certificate (no BEGIN CERTIFICATE)`);
  }
  if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(key)) {
    throw new Exit(2, `--tls-key ${keyPath} is not a PEM private key (no BEGIN PRIVATE KEY)`);
  }
  const problem = checkTls({ cert, key });
  if (problem) {
    if (/mismatch|values mismatch|consistent/i.test(problem)) {
      throw new Exit(
        2,
        `--tls-key ${keyPath} does not match the certificate in --tls-cert ${certPath}`,
      );
    }
    if (/key/i.test(problem)) throw new Exit(2, `--tls-key ${keyPath} cannot be used: ${problem}`);
    throw new Exit(2, `--tls-cert ${certPath} cannot be used: ${problem}`);
  }
  return { cert, key };
}

function listenError(e: unknown, host: string, port: number): string {
  const where = `${host}:${port}`;
  if (e instanceof Deno.errors.AddrInUse) {
    return `cannot listen on ${where}: the address is already in use (is another server running?)`;
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`;
  }
  if (e instanceof Deno.errors.AddrNotAvailable) {
    return `cannot listen on ${where}: this machine has no such address`;
  }
  if (e instanceof Deno.errors.NotCapable) {
    return `cannot listen on ${where}: Deno has no network permission (run with --allow-net)`;
  }
  return `cannot listen on ${where}: ${e instanceof Error ? e.message : String(e)}`;
}

/** In the data directory unless absolute. */
function dataPath(config: Config, file: string): string {
  return isAbsolute(file) ? file : join(config.dataDir, file);
}

/** Where the server's memory lives: the store, where lines and bans go, the bans to start with. */
interface Memory {
  store?: Store;
  lines?: Store;
  banStore?: BanStore;
  bansInMemory?: boolean;
  bans: BanRecord[];
  /** Where the bans came from: the ban file (as given), or undefined: the store. */
  banFile?: string;
}

/**
 * Opens the store (--store: a SQLite file in --data-dir, or nothing: memory) and the bans: with
 * a store, the ban file is imported into it on the first start; with --store off the ban file
 * is used as before; --ban-file "" keeps bans in memory only, either way.
 */
async function openMemory(config: Config, log: Logger): Promise<Memory> {
  const needsDir = (file: string) => file !== "" && !isAbsolute(file);
  const banPath = config.banFile ? dataPath(config, config.banFile) : "";
  const storeOn = config.store !== "off" && !config.redis;
  if (needsDir(config.banFile) || (storeOn && needsDir(config.store))) {
    await checkDataDir(config.dataDir);
  }
  if (!storeOn) {
    // With --redis the processes share the bans in Redis, and the ban file seeds them as before.
    const bans = banPath ? await loadBanFile(banPath) : [];
    const banStore = banPath ? new BanStore(banPath, log) : undefined;
    const banFile = config.banFile || undefined;
    if (config.store === "off") return { bans, banStore, banFile };
    const store = await openShared(config, log);
    const lines = config.retention === 0 ? new MemoryStore() : undefined;
    return { store, lines, bans, banStore, banFile };
  }
  const path = dataPath(config, config.store);
  ensureAccess(["read", "write"], [dirname(path)], "cannot use the --store directory");
  let store: Store;
  try {
    store = await openSqliteStore(path, {
      logger: log,
      lobby: config.lobby.toLowerCase(),
      recentLines: config.history,
      recentBytes: config.historyBytes,
    });
  } catch (e) {
    if (e instanceof StoreError) throw new Exit(2, e.message);
    throw e;
  }
  const start = store.start;
  log.info("store opened", {
    file: path,
    accounts: start.accounts.length,
    kept: start.rooms.filter((r) => r.kept).length,
  });
  let bans: BanRecord[] = start.bans;
  if (banPath && !start.banFileImported) {
    const exists = await Deno.stat(banPath).then(() => true, () => false);
    const imported = exists ? await loadBanFile(banPath) : [];
    store.write([{ t: "bans", bans: imported }]);
    if (exists) {
      log.info("ban file imported into the store (once; the store keeps the bans from now on)", {
        file: banPath,
        bans: imported.length,
      });
    }
    bans = imported;
  }
  const lines = config.retention === 0 ? new MemoryStore() : undefined;
  return { store, lines, bans, bansInMemory: config.banFile === "" };
}

/** With --redis: the store the processes share (accounts, kept rooms, history) in Redis. */
async function openShared(config: Config, log: Logger): Promise<Store> {
  try {
    const store = await openRedisStore({
      url: config.redis,
      prefix: config.redisPrefix,
      logger: log,
      lobby: config.lobby.toLowerCase(),
      recentLines: config.history,
      recentBytes: config.historyBytes,
    });
    log.info("store opened in Redis", {
      prefix: config.redisPrefix,
      accounts: store.start.accounts.length,
      kept: store.start.rooms.filter((r) => r.kept).length,
    });
    return store;
  } catch (e) {
    if (e instanceof StoreError) throw new Exit(1, `${e.message} (--redis)`);
    throw e;
  }
}

/**
 * The machine's host name, for --irc-name: read from /etc/hostname (needs no permission beyond
 * --allow-read), "shat" when it cannot be read or is not a usable name.
 */
async function hostName(): Promise<string> {
  try {
    const name = (await Deno.readTextFile("/etc/hostname")).trim();
    return /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(name) ? name : "shat";
  } catch {
    return "shat";
  }
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseConfig(Deno.args, readEnv());
  } catch (e) {
    if (e instanceof ConfigError) throw new Exit(2, e.message);
    throw e;
  }
  if (parsed.action !== "run") {
    console.log(parsed.text);
    return 0;
  }
  const config = parsed.config;
  if (!config.ircName && (config.ircPort !== -1 || config.ircTlsPort !== -1)) {
    config.ircName = await hostName();
  }
  const log = new Logger(config.logLevel, config.safeMode, undefined, config.logFormat);
  log.info("starting", { version: VERSION, pid: Deno.pid });
  for (const flag of parsed.secretFlags) {
    log.warn(`${flag} was given on the command line`, {
      hint: `other users can see it in the process list and deno task prints it; set ${
        envName(flag.slice(2))
      } instead`,
    });
  }

  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    const r = e.reason;
    log.error("unexpected error", {
      error: r instanceof Error ? (r.stack ?? r.message) : String(r),
    });
  });

  const motd = config.motd ? await loadMotd(config.motd) : [];
  const filter = config.filterFile ? await loadFilter(config.filterFile) : null;
  if (filter) {
    log.info("word filter loaded", { file: config.filterFile, patterns: filter.patterns });
  }
  const memory = await openMemory(config, log);
  const audit = await openAudit(config, log);
  const tls = config.tlsPort !== -1 || config.ircTlsPort !== -1
    ? await loadTls(config.tlsCert, config.tlsKey)
    : undefined;
  const server = new Server({ config, log, motd, tls, filter, ...audit, ...memory });
  try {
    await server.joinCluster();
  } catch (e) {
    throw new Exit(1, `${(e as Error).message} (--redis)`);
  }
  // The signals are taken before anything listens: a SIGTERM as soon as the log says
  // "listening" is a clean stop, not the runtime's default kill (exit 143).
  const stopped = new Promise<void>((resolve) => {
    let first = 0;
    const onSignal = () => {
      const now = Date.now();
      if (first === 0) {
        first = now;
        server.shutdown().then(resolve, resolve);
      } else if (now - first > FORCE_AFTER_MS) {
        log.warn("second signal: exiting without waiting");
        Deno.exit(130);
      }
    };
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
  });
  try {
    server.listen();
    await server.listenTls();
  } catch (e) {
    if (e instanceof ListenError) {
      await server.shutdown();
      throw new Exit(1, `${listenError(e.cause, e.host, e.port)} (${e.flag})`);
    }
    throw e;
  }
  if (memory.bans.length > 0) {
    log.info("bans loaded", { file: memory.banFile, bans: memory.bans.length });
  }

  if (tls) {
    // A renewed certificate is picked up without a restart: SIGHUP rereads both files.
    Deno.addSignalListener("SIGHUP", () => {
      loadTls(config.tlsCert, config.tlsKey).then((files) => {
        const problem = server.reloadTls(files);
        if (problem) log.error("TLS certificate not reloaded; the old one stays", { problem });
        else log.info("TLS certificate reloaded", { file: config.tlsCert });
      }, (e) => {
        log.error("TLS certificate not reloaded; the old one stays", {
          problem: e instanceof Error ? e.message : String(e),
        });
      });
    });
  }

  if (filter) {
    // An edited word list is taken without a restart; a bad one leaves the old filter in place.
    Deno.addSignalListener("SIGHUP", () => {
      loadFilterFile(config.filterFile).then((next) => {
        server.reloadFilter(next);
        log.info("word filter reloaded", { file: config.filterFile, patterns: next.patterns });
      }, (e) => {
        log.error("word filter not reloaded; the old one stays", {
          problem: e instanceof Error ? e.message : String(e),
        });
      });
    });
  }

  await stopped;
  return 0;
}

try {
  Deno.exit(await main());
} catch (e) {
  if (e instanceof Exit) {
    console.error(`shat: ${e.message}`);
    Deno.exit(e.code);
  }
  console.error(`shat: ${e instanceof Error ? e.message : String(e)}`);
  Deno.exit(1);
}
