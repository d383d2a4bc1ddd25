/** The audit log (src/shell/audit_log.ts): audit.jsonl written, read back, and failing. */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { AuditEntry } from "../../src/chat/events.ts";
import {
  AUDIT_FILE,
  auditLine,
  AuditLog,
  parseAuditLine,
  readAuditTail,
} from "../../src/shell/audit_log.ts";
import { Logger, MemoryLog } from "../../src/ops/log.ts";

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

function entry(over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    at: T0,
    action: "kick",
    by: "alice",
    account: "alice",
    address: "203.0.113.9",
    target: "bob",
    room: "#lobby",
    detail: "spamming",
    ...over,
  };
}

function logger(): { log: Logger; mem: MemoryLog } {
  const mem = new MemoryLog();
  return { log: new Logger("debug", false, mem.sink), mem };
}

Deno.test("audit log: one JSON object a line, empty fields left out, mode 0600", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, AUDIT_FILE);
    const { log } = logger();
    const audit = new AuditLog(path, log);
    audit.append(entry());
    audit.append(entry({ at: T0 + 1_000, action: "mute", account: "", address: "", detail: "" }));
    audit.append(entry({ at: T0 + 2_000, action: "drop account", target: "", room: "" }));
    await audit.close();
    const lines = (await Deno.readTextFile(path)).split("\n");
    assert.equal(lines.pop(), "", "the file ends in a newline");
    assert.deepEqual(lines.map((l) => JSON.parse(l)), [
      {
        time: "2025-01-02T03:04:05.678Z",
        action: "kick",
        by: "alice",
        account: "alice",
        address: "203.0.113.9",
        target: "bob",
        room: "#lobby",
        detail: "spamming",
      },
      {
        time: "2025-01-02T03:04:06.678Z",
        action: "mute",
        by: "alice",
        target: "bob",
        room: "#lobby",
      },
      {
        time: "2025-01-02T03:04:07.678Z",
        action: "drop account",
        by: "alice",
        account: "alice",
        address: "203.0.113.9",
        detail: "spamming",
      },
    ]);
    assert.equal(Object.keys(JSON.parse(lines[0]))[0], "time", "time comes first");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal(audit.failures, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: appends to what is there, in order, across writes and restarts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, AUDIT_FILE);
    const first = new AuditLog(path, logger().log);
    first.append(entry({ detail: "1" }));
    await first.flush();
    first.append(entry({ detail: "2" }));
    first.append(entry({ detail: "3" }));
    await first.close();
    const second = new AuditLog(path, logger().log);
    second.append(entry({ detail: "4" }));
    await second.close();
    const details = (await readAuditTail(path)).map((e) => e.detail);
    assert.deepEqual(details, ["1", "2", "3", "4"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: the tail reader returns the last entries oldest first, skipping junk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, AUDIT_FILE);
    assert.deepEqual(await readAuditTail(path), [], "no file: no entries");
    const lines = [];
    for (let i = 0; i < 300; i++) {
      lines.push(auditLine(entry({ at: T0 + i, detail: String(i) })));
      if (i === 250) lines.push("{not json", "[1,2]", '{"time":"never","action":"x","by":"y"}', "");
    }
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    const tail = await readAuditTail(path);
    assert.equal(tail.length, 200);
    assert.deepEqual(tail[0], entry({ at: T0 + 100, detail: "100" }));
    assert.deepEqual(tail[199], entry({ at: T0 + 299, detail: "299" }));
    assert.deepEqual(tail.map((e) => e.at), tail.map((e) => e.at).toSorted((a, b) => a - b));
    // Only the end of a big file is read; the line cut in half at its start is skipped.
    const few = await readAuditTail(path, 200, 1_000);
    assert.ok(few.length > 0 && few.length < 10, `${few.length}`);
    assert.equal(few.at(-1)?.detail, "299");
    // Fields left out come back empty.
    assert.deepEqual(parseAuditLine('{"time":"2025-01-02T03:04:05.678Z","action":"op","by":"a"}'), {
      at: T0,
      action: "op",
      by: "a",
      account: "",
      address: "",
      target: "",
      room: "",
      detail: "",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: a failed write is logged once, counted, and retried later", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = join(dir, "later");
    const path = join(missing, AUDIT_FILE);
    const { log, mem } = logger();
    const audit = new AuditLog(path, log, 3);
    audit.append(entry({ detail: "a" }));
    await audit.flush();
    audit.append(entry({ detail: "b" }));
    await audit.flush();
    assert.equal(audit.failures, 2);
    assert.equal(audit.pending, 2);
    assert.equal(mem.lines.filter((l) => l.startsWith("ERROR audit log not written")).length, 1);
    // Past the cap the oldest give way, counted and logged.
    audit.append(entry({ detail: "c" }));
    audit.append(entry({ detail: "d" }));
    await audit.flush();
    assert.equal(audit.dropped, 1);
    assert.equal(audit.pending, 3);
    assert.match(mem.text(), /ERROR audit log entries dropped/);
    // The directory appears: the next write carries everything still waiting.
    await Deno.mkdir(missing);
    audit.append(entry({ detail: "e" }));
    await audit.close();
    assert.equal(audit.pending, 0);
    assert.match(mem.text(), /INFO audit log written again .*dropped=2/);
    assert.deepEqual((await readAuditTail(path)).map((e) => e.detail), ["c", "d", "e"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
