/**
 * Durability: a process writing room lines through the store is killed (SIGKILL) in the middle
 * of its bursts, several times over the same file; every time, the file opens cleanly, passes
 * a full integrity check (search index included) and holds every line the killed process had
 * been told was written, as an unbroken run. And a disk that fills at run time: the writes
 * wait in memory and all land once space is back.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SCHEMA_VERSION } from "../../src/store/schema.ts";
import { WRITER_ROOM, writerText } from "./child.ts";
import { childArgs, openStore, tempDir } from "./helpers.ts";

/** Checks the closed file at `path` and returns the writer's lines in it (seq order). */
function inspect(path: string): { seq: number; text: string }[] {
  const db = new DatabaseSync(path);
  try {
    const check = db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[];
    assert.deepEqual(check.map((r) => r.integrity_check), ["ok"]);
    db.exec("INSERT INTO lines_fts (lines_fts, rank) VALUES ('integrity-check', 1)");
    const meta = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get();
    assert.equal(meta?.value, String(SCHEMA_VERSION));
    return db.prepare("SELECT seq, text FROM lines WHERE room = ? ORDER BY seq")
      .all(WRITER_ROOM) as { seq: number; text: string }[];
  } finally {
    db.close();
  }
}

/** Runs the writer child on `path` and SIGKILLs it `afterMs` after its first acknowledgement. */
async function killWriter(
  path: string,
  afterMs: number,
): Promise<{ start: number; acked: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: childArgs("writer", path),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const dec = new TextDecoder();
  const pumps = [
    (async () => {
      for await (const c of child.stdout) out += dec.decode(c, { stream: true });
    })(),
    (async () => {
      for await (const c of child.stderr) err += dec.decode(c, { stream: true });
    })(),
  ];
  const deadline = Date.now() + 20_000;
  while (!/acked \d+/.test(out) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, afterMs));
  child.kill("SIGKILL");
  const status = await child.status;
  await Promise.all(pumps);
  assert.equal(status.signal, "SIGKILL", `killed, not ended: ${err}`);
  const start = Number(/start (\d+)/.exec(out)?.[1]);
  const acks = [...out.matchAll(/acked (\d+)/g)].map((m) => Number(m[1]));
  assert.ok(acks.length > 0, `the writer acknowledged something: ${out} ${err}`);
  return { start, acked: Math.max(...acks) };
}

Deno.test("durability: SIGKILL mid-burst keeps every acknowledged line, file intact", async () => {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  try {
    let present = 0;
    for (let round = 0; round < 4; round++) {
      // Somewhere in 0.4–1.2 s of writing: not aligned with the 50 ms batches.
      const { start, acked } = await killWriter(path, 400 + Math.floor(Math.random() * 800));
      assert.equal(start, present, "the writer went on from the last line kept");
      // The store is the first to open the file after the kill: it recovers the WAL.
      const { store } = await openStore(path);
      const top = store.start.seqs[WRITER_ROOM];
      await store.close();
      const rows = inspect(path);
      assert.ok(top >= acked, `round ${round}: kept up to ${top}, acknowledged ${acked}`);
      assert.equal(rows.length, top, "an unbroken run of lines, no holes");
      rows.forEach((r, i) => {
        assert.equal(r.seq, i + 1);
        assert.equal(r.text, writerText(r.seq));
      });
      present = top;
    }
  } finally {
    t.remove();
  }
});

Deno.test({
  name: "durability: a disk that fills at run time keeps the writes and lands them later",
  ignore: !(await new Deno.Command("unshare", {
    args: ["-Urm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
    stdout: "null",
    stderr: "null",
  }).output().then((o) => o.success, () => false)),
  async fn() {
    // A 2 MB tmpfs of its own (user + mount namespace): filled up by a filler file while the
    // store is open, freed after the store reported the failure.
    const t = tempDir();
    try {
      const child = [Deno.execPath(), ...childArgs("fill", t.dir)].map((a) => `'${a}'`).join(" ");
      const out = await new Deno.Command("unshare", {
        args: ["-Urm", "sh", "-c", `mount -t tmpfs -o size=2m tmpfs "$0" && exec ${child}`, t.dir],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.deepEqual(stdout.trim().split("\n"), [
        "flushed-while-full false ok=false error=disk full",
        "flushed-after-freeing true ok=true pending=0",
        "reopened lines=200 whole=true",
      ]);
      assert.deepEqual(stderr.trim().split("\n"), [
        'ERROR store: writes failed; kept in memory and tried again error="disk full" pending=200',
        "INFO store: writes resumed",
      ]);
    } finally {
      t.remove();
    }
  },
});
