/**
 * A second process for the store tests (run with `deno run`, never as a test):
 * - `open PATH`: opens the store and closes it; prints `OPENED`, or `REFUSED <the one line>`
 *   and exits 2.
 * - `modes PATH`: opens the store, writes, prints the modes of the file, -wal, -shm and .lock.
 * - `writer PATH`: writes a batch of room lines every 50 ms, forever, and prints
 *   `acked N` each time lines up to seq N are known written (until it is killed).
 * - `fill DIR`: on a small file system at DIR: fills the disk, writes lines (which fail), frees
 *   the disk and checks that the kept lines are written; prints what it saw.
 */
import { Logger } from "../../src/ops/log.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { StoreError, type StoreWrite } from "../../src/store/types.ts";
import { line } from "./helpers.ts";

/** The room the writer writes to, and the text of its line `seq` (checked after the kill). */
export const WRITER_ROOM = "burst";
/** Lines per writer batch. */
export const WRITER_BATCH = 40;
/** The text of writer line `seq`: long enough that a batch takes real disk work. */
export function writerText(seq: number): string {
  return `line ${seq} ${"abcdefghij".repeat(60)} end ${seq}`;
}

function open(path: string, retryMs = 1_000): Promise<SqliteStore> {
  return SqliteStore.open(path, {
    logger: new Logger("info"),
    lobby: "lobby",
    recentLines: 10,
    recentBytes: 10_000,
    retryMs,
    maxRetryMs: retryMs,
  });
}

async function openOnce(path: string): Promise<void> {
  try {
    const store = await open(path);
    console.log("OPENED");
    await store.close();
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    console.log(`REFUSED ${e.message}`);
    Deno.exit(2);
  }
}

/** Opens, writes a line, and prints the modes of the file, its -wal and -shm while open. */
async function modes(path: string): Promise<void> {
  const store = await open(path);
  store.write([{ t: "line", line: line("lobby", 1, "hi") }]);
  await store.flushed(5_000);
  const mode = (p: string) => {
    try {
      return (Deno.statSync(p).mode! & 0o777).toString(8);
    } catch {
      return "none";
    }
  };
  console.log(
    `db=${mode(path)} wal=${mode(`${path}-wal`)} shm=${mode(`${path}-shm`)} ` +
      `lock=${mode(`${path}.lock`)}`,
  );
  await store.close();
}

async function writer(path: string): Promise<void> {
  const store = await open(path);
  const base = store.start.seqs[WRITER_ROOM] ?? 0;
  let seq = base;
  let acked = base;
  console.log(`start ${base}`);
  setInterval(() => {
    const batch: StoreWrite[] = [];
    for (let i = 0; i < WRITER_BATCH; i++) {
      seq++;
      batch.push({ t: "line", line: line(WRITER_ROOM, seq, writerText(seq)) });
    }
    store.write(batch);
  }, 50);
  setInterval(() => {
    const n = base + store.health.linesWritten;
    if (n > acked) console.log(`acked ${acked = n}`);
  }, 2);
  await new Promise(() => {});
}

/** Writes until the file system is full (a tmpfs with a size: ENOSPC, not a slow disk). */
function fillDisk(path: string): void {
  const f = Deno.openSync(path, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024);
  try {
    for (;;) f.writeSync(chunk);
  } catch {
    // full
  } finally {
    f.close();
  }
}

async function fill(dir: string): Promise<void> {
  const store = await open(`${dir}/shat.db`, 50);
  fillDisk(`${dir}/filler`);
  const total = 200;
  for (let seq = 1; seq <= total; seq++) {
    store.write([{ t: "line", line: line("room", seq, writerText(seq)) }]);
  }
  const early = await store.flushed(2_000);
  console.log(`flushed-while-full ${early} ok=${store.health.ok} error=${store.health.error}`);
  Deno.removeSync(`${dir}/filler`);
  const later = await store.flushed(5_000);
  console.log(
    `flushed-after-freeing ${later} ok=${store.health.ok} pending=${store.health.pending}`,
  );
  await store.close();
  const again = await open(`${dir}/shat.db`);
  const answer = await again.query({ q: "lines", room: "room", limit: 1_000 });
  const seqs = "lines" in answer ? answer.lines.map((l) => l.seq) : [];
  const whole = seqs.length === total && seqs.every((s, i) => s === i + 1);
  console.log(`reopened lines=${seqs.length} whole=${whole}`);
  await again.close();
}

if (import.meta.main) {
  const [mode, arg] = Deno.args;
  if (mode === "open") await openOnce(arg);
  else if (mode === "modes") await modes(arg);
  else if (mode === "writer") await writer(arg);
  else if (mode === "fill") await fill(arg);
  else throw new Error(`unknown mode ${mode}`);
}
