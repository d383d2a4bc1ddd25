/**
 * The SQLite store on its own (no hub): every write kind and query through a real worker and a
 * real file, retention, file modes, write failures at run time and the bounded queue.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { SqliteStore } from "../../src/store/sqlite.ts";
import type { KeptLine, StoreAnswer } from "../../src/store/types.ts";
import { account, childArgs, line, modeOf, openStore, room, sqlite3, tempDir } from "./helpers.ts";

function linesOf(a: StoreAnswer): KeptLine[] {
  assert.ok("lines" in a, "a lines answer");
  return a.lines;
}

const seqsOf = (a: StoreAnswer) => linesOf(a).map((l) => l.seq);

/** Opens a fresh store in a temporary directory; `run` gets it, the directory goes after. */
async function withStore(
  run: (s: SqliteStore, path: string, log: () => string) => Promise<void>,
  extra: Parameters<typeof openStore>[1] = {},
): Promise<void> {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  const { store, log } = await openStore(path, extra);
  try {
    await run(store, path, () => log.text());
  } finally {
    await store.close();
    t.remove();
  }
}

Deno.test("store: every write kind survives a close and comes back at open", async () => {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  try {
    const { store } = await openStore(path);
    assert.deepEqual(store.start, {
      accounts: [],
      rooms: [],
      bans: [],
      seqs: {},
      recent: [],
      banFileImported: false,
    });
    store.write([
      { t: "account", account },
      { t: "account", account: { ...account, key: "bob", nick: "Bob", prefs: {} } },
      { t: "account", account: { ...account, key: "carol", nick: "carol" } },
      { t: "unaccount", key: "carol" },
      { t: "prefs", key: "bob", prefs: { bell: false, timestamps: true } },
      { t: "room", room: room("kept", true, { ops: ["alice"], modes: "m" }) },
      { t: "room", room: room("fleeting", false) },
      { t: "room", room: room("gone", true) },
      { t: "unroom", id: "gone" },
      { t: "bans", bans: [{ ip: "10.0.0.1", until: 5, reason: "old", by: "x", since: 1 }] },
    ]);
    store.write([{
      t: "bans",
      bans: [{ ip: "10.0.0.2", until: 9_000, reason: "spam", by: "alice", since: 2 }],
    }]);
    store.write([
      ...[1, 2, 3].map((s) => ({ t: "line" as const, line: line("lobby", s, `hello ${s}`) })),
      ...[1, 2].map((s) => ({ t: "line" as const, line: line("kept", s, `kept ${s}`) })),
      ...[1, 2, 3, 4].map((s) => ({ t: "line" as const, line: line("fleeting", s, `f ${s}`) })),
      ...[1].map((s) => ({ t: "line" as const, line: line("gone", s, `g ${s}`) })),
    ]);
    store.write([{ t: "unroom", id: "gone" }]);
    assert.equal(await store.flushed(5_000), true);
    assert.equal(store.health.linesWritten, 10);
    assert.deepEqual(await store.query({ q: "account", key: "bob" }), {
      account: { ...account, key: "bob", nick: "Bob", prefs: { bell: false, timestamps: true } },
    });
    assert.deepEqual(await store.query({ q: "account", key: "carol" }), { account: null });
    await store.close();

    const { store: again } = await openStore(path, { recentLines: 2 });
    const s = again.start;
    assert.deepEqual(s.accounts, [{ key: "alice", nick: "Alice" }, { key: "bob", nick: "Bob" }]);
    assert.deepEqual(s.rooms, [room("kept", true, { ops: ["alice"], modes: "m" })]);
    assert.deepEqual(s.bans, [{
      ip: "10.0.0.2",
      until: 9_000,
      reason: "spam",
      by: "alice",
      since: 2,
    }]);
    assert.deepEqual(s.seqs, { lobby: 3, kept: 2, fleeting: 4 });
    assert.equal(s.banFileImported, true);
    assert.deepEqual(s.recent, [
      { room: "lobby", lines: [line("lobby", 2, "hello 2"), line("lobby", 3, "hello 3")] },
      { room: "kept", lines: [line("kept", 1, "kept 1"), line("kept", 2, "kept 2")] },
    ]);
    assert.deepEqual(await again.query({ q: "account", key: "alice" }), { account });
    await again.close();
  } finally {
    t.remove();
  }
});

Deno.test("store: recent lines keep within the byte budget, newest first", async () => {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  try {
    const { store } = await openStore(path);
    // Each line is its nick (2 bytes) and 98 bytes of text: 100 bytes.
    const text = (s: number) => `${String(s).padStart(2, "0")}${"é".repeat(48)}`;
    store.write([1, 2, 3, 4, 5].map((s) => ({ t: "line", line: line("lobby", s, text(s)) })));
    await store.close();
    const { store: again } = await openStore(path, { recentBytes: 350 });
    assert.deepEqual(again.start.recent.map((r) => r.lines.map((l) => l.seq)), [[3, 4, 5]]);
    await again.close();
  } finally {
    t.remove();
  }
});

Deno.test("store: history pages newest first, answered oldest first, with more", async () => {
  await withStore(async (store) => {
    // 25 lines, line n said at 1000 + 10 n.
    store.write(
      Array.from({ length: 25 }, (_, i) => ({
        t: "line" as const,
        line: line("r", i + 1, `t${i + 1}`, 1_000 + 10 * (i + 1)),
      })),
    );
    store.write([{ t: "line", line: line("other", 1, "elsewhere") }]);
    const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
    let a = await store.query({ q: "lines", room: "r", limit: 10 });
    assert.deepEqual(seqsOf(a), range(16, 25));
    assert.equal("more" in a && a.more, true);
    a = await store.query({ q: "lines", room: "r", limit: 10, beforeSeq: 16 });
    assert.deepEqual(seqsOf(a), range(6, 15));
    assert.equal("more" in a && a.more, true);
    a = await store.query({ q: "lines", room: "r", limit: 10, beforeSeq: 6 });
    assert.deepEqual(seqsOf(a), range(1, 5));
    assert.equal("more" in a && a.more, false);
    // since: at or after the time of line 20.
    a = await store.query({ q: "lines", room: "r", limit: 100, since: 1_200 });
    assert.deepEqual(seqsOf(a), range(20, 25));
    assert.equal("more" in a && a.more, false);
    a = await store.query({ q: "lines", room: "r", limit: 3, since: 1_200, beforeSeq: 24 });
    assert.deepEqual(seqsOf(a), [21, 22, 23]);
    assert.equal("more" in a && a.more, true);
    a = await store.query({ q: "lines", room: "r", limit: 0 });
    assert.deepEqual(a, { lines: [], more: true });
    a = await store.query({ q: "lines", room: "nowhere", limit: 10 });
    assert.deepEqual(a, { lines: [], more: false });
    assert.deepEqual(linesOf(await store.query({ q: "lines", room: "r", limit: 1 }))[0], {
      ...line("r", 25, "t25", 1_250),
    });
  });
});

Deno.test("store: search matches words as plain words, in one room only", async () => {
  await withStore(async (store) => {
    const texts = [
      "the quick brown fox",
      'she said "hello" AND left',
      "near the NEAR( river - maybe",
      "stars * and more stars",
      "brown bread",
      "café crème",
      "text: col filter text",
      "the quick brown fox again",
    ];
    store.write(texts.map((text, i) => ({ t: "line", line: line("a", i + 1, text) })));
    store.write([{ t: "line", line: line("b", 1, "the quick brown fox in b") }]);
    const search = (words: string[], limit = 10) =>
      store.query({ q: "search", room: "a", words, limit }).then(seqsOf);

    assert.deepEqual(await search(["quick", "fox"]), [1, 8]);
    assert.deepEqual(await search(["QUICK"], 1), [8], "the latest match, case-insensitive");
    assert.deepEqual(await search(["brown"]), [1, 5, 8]);
    assert.deepEqual(await search(["brown", "bread"]), [5]);
    assert.deepEqual(await search(["cafe"]), [6], "diacritics do not matter");
    // FTS5 syntax is only ever a word.
    assert.deepEqual(await search(["AND"]), [2, 4]);
    assert.deepEqual(await search(["NEAR("]), [3]);
    assert.deepEqual(await search(['"hello"']), [2]);
    assert.deepEqual(await search(['"']), [2]);
    assert.deepEqual(await search(["*"]), [4]);
    assert.deepEqual(await search(["-"]), [3]);
    assert.deepEqual(await search(["stars", "*"]), [4]);
    assert.deepEqual(await search(["brown", "-"]), []);
    assert.deepEqual(await search(["text:"]), [7]);
    assert.deepEqual(await search(["fox*"]), [1, 8]);
    for (
      const words of [
        ["OR"],
        ["NOT"],
        ["fox", "OR", "bread"],
        ['x" OR "fox'],
        ["(", ")"],
        ["^the"],
        ['NEAR("quick" "fox")'],
        ["{text}:", "fox"],
        ["", " "],
        [],
      ]
    ) {
      const got = await search(words);
      assert.ok(Array.isArray(got), `no error for ${JSON.stringify(words)}`);
    }
    assert.deepEqual(await search(["fox", "OR", "bread"]), [], "OR is a word, not an operator");
    assert.deepEqual(await search(["^the"]), [1, 3, 8]);
    // Nothing from room b, whatever the words.
    assert.deepEqual(await search(["in", "b"]), []);
    const b = await store.query({ q: "search", room: "b", words: ["quick"], limit: 10 });
    assert.deepEqual(linesOf(b).map((l) => l.room), ["b"]);
    // more, with a limit.
    const two = await store.query({ q: "search", room: "a", words: ["brown"], limit: 2 });
    assert.deepEqual(two, {
      lines: [line("a", 5, "brown bread"), line("a", 8, "the quick brown fox again")],
      more: true,
    });
  });
});

/** Reads the closed store file directly: rows left and search entries left for `word`. */
function inspect(path: string, word: string): { lines: number; hits: number } {
  const db = new DatabaseSync(path);
  try {
    // Fails (malformed) if the index holds anything the lines table does not.
    db.exec("INSERT INTO lines_fts (lines_fts, rank) VALUES ('integrity-check', 1)");
    const lines = (db.prepare("SELECT count(*) AS n FROM lines").get() as { n: number }).n;
    const hits = (db.prepare("SELECT count(*) AS n FROM lines_fts WHERE lines_fts MATCH ?")
      .get(`"${word}"`) as { n: number }).n;
    return { lines, hits };
  } finally {
    db.close();
  }
}

Deno.test("store: unroom forgets the room's lines and their search entries", async () => {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  try {
    const { store } = await openStore(path);
    store.write([
      { t: "room", room: room("doomed", true) },
      { t: "line", line: line("doomed", 1, "zebra one") },
      { t: "line", line: line("doomed", 2, "zebra two") },
      { t: "line", line: line("stays", 1, "zebra three") },
    ]);
    assert.deepEqual(
      await store.query({ q: "search", room: "doomed", words: ["zebra"], limit: 9 }).then(seqsOf),
      [1, 2],
    );
    store.write([{ t: "unroom", id: "doomed" }]);
    assert.deepEqual(
      await store.query({ q: "search", room: "doomed", words: ["zebra"], limit: 9 }),
      { lines: [], more: false },
    );
    assert.deepEqual(await store.query({ q: "lines", room: "doomed", limit: 9 }), {
      lines: [],
      more: false,
    });
    await store.close();
    assert.deepEqual(inspect(path, "zebra"), { lines: 1, hits: 1 });
    assert.equal(await sqlite3(path, "SELECT count(*) FROM rooms"), "0");
  } finally {
    t.remove();
  }
});

Deno.test("store: retention prunes old lines and their search entries", async () => {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  try {
    const { store } = await openStore(path);
    // 12 000 lines (more than one prune chunk), line n said at n; the old ones say "ancient".
    for (let start = 1; start <= 12_000; start += 1_000) {
      store.write(Array.from({ length: 1_000 }, (_, i) => {
        const s = start + i;
        return {
          t: "line" as const,
          line: line(s % 2 ? "x" : "y", s, s <= 11_000 ? `ancient ${s}` : `fresh ${s}`, s),
        };
      }));
    }
    assert.equal(await store.flushed(10_000), true);
    assert.equal(await store.prune(11_001), 11_000);
    assert.equal(await store.prune(11_001), 0);
    assert.deepEqual(
      await store.query({ q: "search", room: "x", words: ["ancient"], limit: 9 }),
      { lines: [], more: false },
    );
    const left = await store.query({ q: "lines", room: "y", limit: 10_000 });
    assert.equal(linesOf(left).length, 500);
    assert.ok(linesOf(left).every((l) => l.at >= 11_001));
    await store.close();
    assert.deepEqual(inspect(path, "ancient"), { lines: 1_000, hits: 0 });
    assert.deepEqual(inspect(path, "fresh"), { lines: 1_000, hits: 1_000 });
  } finally {
    t.remove();
  }
});

Deno.test("store: the file and its -wal are 0600, also when they existed with another mode", async () => {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  try {
    const { store } = await openStore(path);
    store.write([{ t: "line", line: line("lobby", 1, "hi") }]);
    assert.equal(await store.flushed(5_000), true);
    assert.equal(modeOf(path), 0o600);
    assert.equal(modeOf(`${path}-wal`), 0o600, "SQLite gives -wal the database's mode");
    assert.equal(modeOf(`${path}-shm`), 0o600, "and -shm too");
    assert.equal(modeOf(`${path}.lock`), 0o600, "and the lock file");
    await store.close();

    // Left behind with wide modes (a copy, a restore, another tool): made 0600 at open.
    Deno.chmodSync(path, 0o644);
    Deno.writeFileSync(`${path}-wal`, new Uint8Array(0), { mode: 0o644 });
    Deno.chmodSync(`${path}-wal`, 0o644);
    const { store: again } = await openStore(path);
    assert.equal(modeOf(path), 0o600);
    again.write([{ t: "line", line: line("lobby", 2, "again") }]);
    assert.equal(await again.flushed(5_000), true);
    assert.equal(modeOf(`${path}-wal`), 0o600);
    assert.deepEqual(seqsOf(await again.query({ q: "lines", room: "lobby", limit: 5 })), [1, 2]);
    await again.close();
  } finally {
    t.remove();
  }
});

Deno.test("store: the modes do not depend on the umask (a process with umask 000)", async () => {
  const t = tempDir();
  try {
    const child = [Deno.execPath(), ...childArgs("modes", `${t.dir}/shat.db`)];
    const out = await new Deno.Command("sh", {
      args: ["-c", 'umask 000 && exec "$@"', "sh", ...child],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.equal(stdout, "db=600 wal=600 shm=600 lock=600");
  } finally {
    t.remove();
  }
});

Deno.test("store: the file reads plainly with the sqlite3 program", async () => {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  try {
    const { store } = await openStore(path);
    store.write([
      { t: "account", account },
      { t: "line", line: line("lobby", 1, "hi there", 1_700_000_000_123) },
    ]);
    await store.close();
    assert.equal(await sqlite3(path, "SELECT value FROM meta WHERE key = 'schema_version'"), "1");
    assert.equal(
      await sqlite3(path, "SELECT room, seq, at, kind, nick, text, identified FROM lines"),
      "lobby|1|1700000000123|chat|n1|hi there|0",
    );
    assert.equal(
      await sqlite3(path, "SELECT prefs, typeof(created) FROM accounts"),
      `{"color":true,"ignores":["bob"]}|integer`,
    );
    const tables = await sqlite3(path, "SELECT name FROM sqlite_schema WHERE type = 'table'");
    for (const name of ["meta", "lines", "lines_fts", "accounts", "rooms", "bans"]) {
      assert.ok(tables.split("\n").includes(name), `table ${name}`);
    }
    assert.equal(await sqlite3(path, "PRAGMA integrity_check"), "ok");
  } finally {
    t.remove();
  }
});

Deno.test("store: while Shat runs, sqlite3 reads the store and backs it up (.backup)", async () => {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  try {
    const { store } = await openStore(path);
    store.write([{ t: "line", line: line("lobby", 1, "live and kicking") }]);
    assert.equal(await store.flushed(5_000), true);
    assert.equal(await sqlite3(path, "SELECT text FROM lines"), "live and kicking");
    await sqlite3(path, `.backup ${t.dir}/copy.db`);
    store.write([{ t: "line", line: line("lobby", 2, "after the backup") }]);
    assert.equal(await store.flushed(5_000), true, "the server still writes");
    assert.equal(await sqlite3(`${t.dir}/copy.db`, "SELECT text FROM lines"), "live and kicking");
    assert.equal(await sqlite3(`${t.dir}/copy.db`, "PRAGMA integrity_check"), "ok");
    await store.close();
  } finally {
    t.remove();
  }
});

Deno.test("store: a write error keeps the batch, reports it and writes it when it clears", async () => {
  await withStore(async (store, _path, log) => {
    store.write([{ t: "line", line: line("r", 1, "before") }]);
    assert.equal(await store.flushed(5_000), true);
    await store.simulateWriteFault(true);
    store.write([{ t: "line", line: line("r", 2, "during") }, { t: "account", account }]);
    store.write([{ t: "line", line: line("r", 3, "during too") }]);
    assert.equal(await store.flushed(300), false, "not written while the fault lasts");
    assert.equal(store.health.ok, false);
    assert.equal(store.health.error, "read-only");
    assert.equal(store.health.pending, 3);
    assert.equal(store.health.linesWritten, 1);
    // Several retries (every 20 ms here), one log line.
    await new Promise((r) => setTimeout(r, 200));
    const failed = log().split("\n").filter((l) => l.includes("writes failed"));
    assert.deepEqual(failed, [
      "ERROR store: writes failed; kept in memory and tried again error=read-only pending=3",
    ]);
    // Reads still work meanwhile.
    assert.deepEqual(seqsOf(await store.query({ q: "lines", room: "r", limit: 9 })), [1]);

    await store.simulateWriteFault(false);
    assert.equal(await store.flushed(5_000), true);
    assert.deepEqual(store.health, { ok: true, error: "", pending: 0, lost: 0, linesWritten: 3 });
    assert.ok(log().includes("INFO store: writes resumed"));
    assert.deepEqual(seqsOf(await store.query({ q: "lines", room: "r", limit: 9 })), [1, 2, 3]);
    assert.deepEqual(await store.query({ q: "account", key: "alice" }), { account });
  }, { retryMs: 20, maxRetryMs: 20 });
});

Deno.test("store: past the bound, the oldest room lines are dropped and counted, nothing else", async () => {
  await withStore(async (store, _path, log) => {
    await store.simulateWriteFault(true);
    store.write([{ t: "account", account }]);
    for (let s = 1; s <= 30; s++) store.write([{ t: "line", line: line("r", s, `l${s}`) }]);
    store.write([{ t: "room", room: room("r", true) }]);
    assert.equal(await store.flushed(200), false);
    assert.ok(store.health.pending <= 10, `pending ${store.health.pending}`);
    const lost = store.health.lost;
    assert.ok(lost >= 21, `lost ${lost}`);
    const drops = log().split("\n").filter((l) => l.includes("oldest room lines are dropped"));
    assert.equal(drops.length, 1, log());
    await store.simulateWriteFault(false);
    assert.equal(await store.flushed(5_000), true);
    assert.ok(log().includes(`INFO store: writes resumed lost=${lost}`), log());
    const kept = seqsOf(await store.query({ q: "lines", room: "r", limit: 99 }));
    assert.equal(kept.length, 30 - lost);
    assert.deepEqual(
      kept,
      Array.from({ length: kept.length }, (_, i) => lost + 1 + i),
      "newest kept",
    );
    assert.deepEqual(await store.query({ q: "account", key: "alice" }), { account });
    assert.equal(store.health.linesWritten, 30 - lost);
  }, { maxPending: 10, retryMs: 20, maxRetryMs: 20 });
});

Deno.test("store: a write the database refuses for its data is dropped, counted and logged", async () => {
  await withStore(async (store, _path, log) => {
    const bad = { ...line("r", 2, "bad"), seq: Number.NaN }; // NOT NULL refuses it
    store.write([
      { t: "line", line: line("r", 1, "good") },
      { t: "line", line: bad },
      { t: "line", line: line("r", 3, "good too") },
    ]);
    assert.equal(await store.flushed(5_000), true);
    assert.deepEqual(seqsOf(await store.query({ q: "lines", room: "r", limit: 9 })), [1, 3]);
    assert.equal(store.health.lost, 1);
    assert.equal(store.health.linesWritten, 2);
    assert.equal(store.health.ok, true);
    assert.match(log(), /ERROR store: writes refused by the database and dropped error=.*count=1/);
  });
});

Deno.test("store: a write that cannot cross to the worker is dropped, counted and logged", async () => {
  await withStore(async (store, _path, log) => {
    store.write([{ t: "line", line: line("r", 1, "good") }]);
    store.write([
      { t: "room", room: room("odd", true, { hook: () => 1 }) }, // a function: not cloneable
      { t: "line", line: line("r", 2, "good too") },
    ]);
    assert.equal(await store.flushed(5_000), true);
    assert.deepEqual(seqsOf(await store.query({ q: "lines", room: "r", limit: 9 })), [1, 2]);
    assert.equal(store.health.lost, 1);
    assert.equal(store.health.ok, true);
    assert.match(
      log(),
      /ERROR store: writes that cannot be stored were dropped error="not cloneable" count=1 kinds=room/,
    );
  });
});

Deno.test("store: close writes what is queued; what it cannot write is counted", async () => {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  try {
    const { store } = await openStore(path);
    for (let s = 1; s <= 2_000; s++) store.write([{ t: "line", line: line("r", s, `q${s}`) }]);
    await store.close();
    assert.equal(store.health.linesWritten, 2_000);
    store.write([{ t: "line", line: line("r", 2_001, "late") }]);
    assert.equal(store.health.lost, 1, "a write after close is counted, not silently gone");
    await assert.rejects(store.query({ q: "lines", room: "r", limit: 1 }));

    const { store: again, log } = await openStore(path, { closeWaitMs: 100, retryMs: 20 });
    assert.deepEqual(again.start.seqs, { r: 2_000 });
    await again.simulateWriteFault(true);
    again.write([{ t: "line", line: line("r", 2_001, "never") }]);
    await again.close();
    assert.equal(again.health.lost, 1);
    assert.match(
      log.text(),
      /ERROR store: closed with writes not stored pending=1 error=read-only/,
    );
  } finally {
    t.remove();
  }
});

Deno.test("store: a query sees every write given before it, even one still waiting behind another batch", async () => {
  await withStore(async (store) => {
    const account = (key: string) => ({
      key,
      nick: key,
      hash: "aGFzaA==",
      salt: "c2FsdA==",
      params: "scrypt:16:1:1:16",
      created: 1,
      prefs: {},
    });
    for (let round = 0; round < 20; round++) {
      // The first write goes to the worker at once; the second waits for it as a pending batch.
      store.write([{ t: "line", line: line("lobby", 2 * round + 1, `a${round}`) }]);
      store.write([{ t: "account", account: account(`user${round}`) }]);
      const found = await store.query({ q: "account", key: `user${round}` });
      assert.ok("account" in found && found.account?.key === `user${round}`, `round ${round}`);
    }
  });
});
