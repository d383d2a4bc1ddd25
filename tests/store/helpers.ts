/** Shared pieces of the store tests: temporary stores, sample records, the child runner. */
import { Logger, MemoryLog } from "../../src/ops/log.ts";
import { SqliteStore, type SqliteStoreOptions } from "../../src/store/sqlite.ts";
import type { AccountRecord, KeptLine, RoomRecord } from "../../src/store/types.ts";

/** The child script the subprocess tests run (open, writer, fill modes). */
export const CHILD = new URL("./child.ts", import.meta.url).pathname;

/** A temporary directory, removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = Deno.makeTempDirSync({ prefix: "shat-store-" });
  return {
    dir,
    remove: () => {
      Deno.chmodSync(dir, 0o700);
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

/** Opens a store at `path` logging into memory; tuning overrides in `extra`. */
export async function openStore(
  path: string,
  extra: Partial<SqliteStoreOptions> = {},
): Promise<{ store: SqliteStore; log: MemoryLog }> {
  const log = new MemoryLog();
  const store = await SqliteStore.open(path, {
    logger: new Logger("debug", false, log.sink),
    lobby: "lobby",
    recentLines: 50,
    recentBytes: 64 * 1024,
    ...extra,
  });
  return { store, log };
}

/** Room line `seq` of `room` with text `text`, said at `at`. */
export function line(room: string, seq: number, text: string, at = 1_000 + seq): KeptLine {
  return { room, seq, at, kind: "chat", nick: `n${seq % 3}`, text, identified: seq % 2 === 0 };
}

/** Runs `sqlite3 path sql` and returns its output (the tests read the file as a person would). */
export async function sqlite3(path: string, sql: string): Promise<string> {
  const out = await new Deno.Command("sqlite3", {
    args: [path, sql],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`sqlite3 failed: ${text}`);
  return text.trim();
}

/** The arguments that run the child script with the permissions the tests have. */
export function childArgs(...args: string[]): string[] {
  return ["run", "--allow-read", "--allow-write", "--allow-env", CHILD, ...args];
}

/** Runs the child to completion; returns its exit code and output. */
export async function runChild(
  args: string[],
  prefix: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = prefix.length > 0 ? prefix[0] : Deno.execPath();
  const all = prefix.length > 0
    ? [...prefix.slice(1), Deno.execPath(), ...childArgs(...args)]
    : childArgs(...args);
  const out = await new Deno.Command(cmd, { args: all, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The permission bits of `path`. */
export function modeOf(path: string): number {
  return Deno.statSync(path).mode! & 0o777;
}

/** An account as tests write it. */
export const account: AccountRecord = {
  key: "alice",
  nick: "Alice",
  hash: "aGFzaA==",
  salt: "c2FsdA==",
  params: "scrypt:16384:8:1",
  created: 1_700_000_000_000,
  prefs: { color: true, ignores: ["bob"] },
};

/** A room record as tests write it. */
export const room = (
  id: string,
  kept: boolean,
  extra: Record<string, unknown> = {},
): RoomRecord => ({
  id,
  name: id.toUpperCase(),
  topic: `about ${id}`,
  topicBy: "alice",
  key: "",
  owner: "alice",
  kept,
  extra,
});
