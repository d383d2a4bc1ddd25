/**
 * The store end to end: the real program (main.ts with the start task's permissions) keeping a
 * SQLite file in a temporary --data-dir, stopped, killed and started again; the file is read
 * with node:sqlite afterwards, as an operator would with the sqlite3 program.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { TestClient, until } from "../support/helpers.ts";
import { type Proc, runShat, startShat } from "../support/proc.ts";

/** Shat with its store in `dir` (the default file name), rate limit off. */
function shat(dir: string, args: string[] = []) {
  return startShat([
    "--host",
    "127.0.0.1",
    "--data-dir",
    dir,
    "--store",
    "shat.db",
    "--ban-file",
    "",
    "--rate-limit",
    "0",
    ...args,
  ]);
}

async function stop(proc: Proc, signal: Deno.Signal = "SIGTERM"): Promise<number> {
  proc.child.kill(signal);
  return (await proc.finish()).code;
}

/** Rows of `sql` in the store at `path` (the server stopped). */
function rows(path: string, sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare(sql).all().map((r) => ({ ...r }));
  } finally {
    db.close();
  }
}

/** Everything on disk next to the store, as one string (to look for what must not be there). */
function bytesOnDisk(dir: string): string {
  let all = "";
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile) all += new TextDecoder().decode(Deno.readFileSync(`${dir}/${e.name}`));
  }
  return all;
}

Deno.test("store e2e: history, accounts and kept rooms survive a restart; a private message never reaches the disk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await shat(dir);
    const alice = await TestClient.join(first.port, "127.0.0.2");
    const bob = await TestClient.join(first.port, "127.0.0.3");
    await bob.send("/nick bob");
    await bob.waitFor("You are now bob.");
    await alice.send("/nick alice");
    await alice.waitFor("You are now alice.");
    await alice.send("/register correct-horse");
    await alice.waitFor("alice is now registered", 15_000);
    await alice.send("/color on");
    await alice.waitFor("Colours on.");
    await alice.send("remember this line");
    await alice.send("/msg bob the vault code is 8675309");
    await alice.send("/me waves goodbye");
    await bob.waitFor("* alice waves goodbye");
    assert.ok(bob.lines.some((l) => l.includes("the vault code is 8675309")));
    await alice.close();
    await bob.close();
    assert.equal(await stop(first.proc), 0);

    const path = `${dir}/shat.db`;
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
    assert.deepEqual(
      rows(path, "SELECT kind, nick, text, identified FROM lines ORDER BY seq"),
      [
        { kind: "chat", nick: "alice", text: "remember this line", identified: 1 },
        { kind: "action", nick: "alice", text: "waves goodbye", identified: 1 },
      ],
    );
    assert.ok(!bytesOnDisk(dir).includes("8675309"), "the private message is nowhere on disk");
    assert.ok(!bytesOnDisk(dir).includes("correct-horse"), "nor the password");

    const second = await shat(dir);
    const carol = await TestClient.join(second.port, "127.0.0.4");
    assert.ok(
      carol.lines.some((l) => /<alice> remember this line$/.test(l)),
      carol.lines.join("\n"),
    );
    await carol.send("/nick alice");
    await carol.waitFor("alice is registered. If it is yours: /identify alice PASSWORD");
    await carol.send("/identify alice correct-horse");
    await carol.waitFor("You are identified as alice.", 15_000);
    await carol.send("/color");
    await carol.waitFor("Colours is on.");
    await carol.send("/history 10");
    await carol.waitFor("-- end of history --");
    assert.ok(carol.lines.some((l) => /\* alice waves goodbye/.test(l)));
    await carol.close();
    assert.equal(await stop(second.proc), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store e2e: kill -9 in the middle of a burst: the file opens, and every line said up to a second before is there", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await shat(dir);
    const talker = await TestClient.join(first.port, "127.0.0.2");
    const sent: { n: number; at: number }[] = [];
    let n = 0;
    const start = Date.now();
    while (Date.now() - start < 1_500) {
      for (let i = 0; i < 10; i++) {
        n++;
        await talker.send(`burst line ${n}`);
        sent.push({ n, at: Date.now() });
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const killedAt = Date.now();
    first.proc.child.kill("SIGKILL");
    await first.proc.finish();
    await talker.close();

    // It starts again on the same file, and the file is whole.
    const second = await shat(dir);
    assert.match(second.proc.stderr, /INFO store opened/);
    assert.equal(await stop(second.proc), 0);
    const path = `${dir}/shat.db`;
    assert.deepEqual(rows(path, "PRAGMA integrity_check"), [{ integrity_check: "ok" }]);
    const kept = new Set(
      rows(path, "SELECT text FROM lines").map((r) => Number(String(r.text).split(" ").pop())),
    );
    const due = sent.filter((s) => s.at < killedAt - 1_000);
    assert.ok(due.length > 100, `a real burst (${due.length} lines due)`);
    const missing = due.filter((s) => !kept.has(s.n)).map((s) => s.n);
    assert.deepEqual(missing, [], `lines said more than a second before the kill are kept`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store e2e: a second Shat on the same store, or a damaged file: one line and exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await shat(dir);
    const second = await runShat([
      "--port",
      "0",
      "--data-dir",
      dir,
      "--store",
      "shat.db",
      "--ban-file",
      "",
    ]);
    assert.equal(second.code, 2);
    assert.equal(
      second.stderr.trim().split("\n").at(-1),
      `shat: store: ${dir}/shat.db is in use by another Shat process`,
    );
    assert.equal(await stop(first.proc), 0);

    const garbage = `${dir}/garbage.db`;
    Deno.writeTextFileSync(garbage, "this is not a database, just some words ".repeat(200));
    const damaged = await runShat(["--port", "0", "--store", garbage, "--ban-file", ""]);
    assert.equal(damaged.code, 2);
    assert.match(
      damaged.stderr,
      /^shat: store: .*garbage\.db is damaged \(file is not a database\); move it away or restore a backup$/m,
    );
    assert.ok(Deno.readTextFileSync(garbage).startsWith("this is not a database"), "untouched");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store e2e: --store off writes no file; --retention 0 keeps lines in memory only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const off = await startShat(["--host", "127.0.0.1", "--data-dir", dir, "--store", "off"]);
    const a = await TestClient.join(off.port, "127.0.0.2");
    await a.waitFor("Room lines are kept in memory only, until the server restarts");
    await a.send("/nick alice");
    await a.waitFor("You are now alice.");
    await a.close();
    assert.equal(await stop(off.proc), 0);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);

    const memory = await shat(dir, ["--retention", "0"]);
    const b = await TestClient.join(memory.port, "127.0.0.2");
    await b.waitFor("Room lines are kept in memory only, until the server restarts");
    await b.send("said in memory");
    await b.send("/history");
    await until(
      () => b.lines.some((l) => l.endsWith("said in memory")),
      `/history from memory: ${b.lines.join("\n")}`,
    );
    await b.close();
    assert.equal(await stop(memory.proc), 0);
    assert.deepEqual(rows(`${dir}/shat.db`, "SELECT count(*) AS n FROM lines"), [{ n: 0 }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
