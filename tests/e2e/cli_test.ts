/** main.ts as a person runs it: exit codes, one-line errors, the ban file across restarts. */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { TestClient } from "../support/helpers.ts";
import { Proc, ROOT, runShat, startShat } from "../support/proc.ts";

function assertOneLine(stderr: string): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${stderr}`);
  assert.ok(!/\bat (file|ext):/.test(stderr), "no stack trace");
}

Deno.test("cli: bad configuration ends with one line and exit 2", async () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--port", "70000"], {}, /--port "70000"/],
    [["--rate-limit", "banana"], {}, /--rate-limit "banana"/],
    [["--no-such-flag"], {}, /unknown option --no-such-flag/],
    [["--max-per-ip", "-3"], {}, /--max-per-ip.*negative/],
    [[], { SHAT_PORT: "-1" }, /SHAT_PORT "-1"/],
  ];
  for (const [args, env, pattern] of cases) {
    const r = await runShat(args, { env });
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, pattern);
    assert.match(r.stderr, /^shat: /);
    assertOneLine(r.stderr);
  }
});

Deno.test("cli: --help and --version", async () => {
  const help = await runShat(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--rate-limit DUR\s+.*\n\s+env SHAT_RATE_LIMIT, default 500ms/);
  const version = await runShat(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^shat \d+\.\d+\.\d+\n$/);
});

Deno.test("cli: a port already in use is one line and exit 1", async () => {
  const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (holder.addr as Deno.NetAddr).port;
    const r = await runShat(["--host", "127.0.0.1", "--port", String(port), "--ban-file", ""]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+: the address is already in use/);
    assertOneLine(r.stderr.split("\n").filter((l) => !l.startsWith("INFO")).join("\n"));
  } finally {
    holder.close();
  }
});

Deno.test("cli: an unreadable --motd stops the start with exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runShat(["--motd", `${dir}/missing.txt`], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--motd/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: a damaged ban file stops the start and is left untouched", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const damaged = '{"bans": [ {"ip": "10.0.0.1", "until": ';
    await Deno.writeTextFile(`${dir}/shat-bans.json`, damaged);
    const r = await runShat(["--host", "127.0.0.1", "--port", "0"], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ban file shat-bans\.json is damaged/);
    assert.equal(await Deno.readTextFile(`${dir}/shat-bans.json`), damaged);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: bans survive a restart; expired ones are dropped on load", async () => {
  const dir = await Deno.makeTempDir();
  const args = ["--host", "127.0.0.1", "--rate-limit", "200ms", "--max-strikes", "2"];
  try {
    const past = new Date(Date.now() - 60_000).toISOString();
    await Deno.writeTextFile(
      `${dir}/shat-bans.json`,
      JSON.stringify({ version: 1, bans: [{ ip: "127.0.0.9", until: past }] }),
    );
    const first = await startShat(args, { cwd: dir });
    const spammer = await TestClient.join(first.port, "127.0.0.2");
    for (let i = 0; i < 4; i++) await spammer.send(`spam ${i}`);
    await spammer.waitFor("You have been banned for spamming.");
    await spammer.close();
    const expired = await TestClient.join(first.port, "127.0.0.9");
    await expired.close();
    first.proc.child.kill("SIGTERM");
    assert.equal((await first.proc.finish()).code, 0);

    const saved = JSON.parse(await Deno.readTextFile(`${dir}/shat-bans.json`));
    assert.deepEqual(saved.bans.map((b: { ip: string }) => b.ip), ["127.0.0.2"]);
    assert.equal(saved.bans[0].reason, "spamming");

    const second = await startShat(args, { cwd: dir });
    try {
      const back = await TestClient.connect(second.port, "127.0.0.2");
      await back.waitFor("You are still temporarily banned. Try again in");
      await back.close();
      assert.match(second.proc.stderr, /INFO bans loaded file=shat-bans\.json bans=1/);
    } finally {
      second.proc.child.kill("SIGTERM");
      assert.equal((await second.proc.finish()).code, 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: SHAT_SAFE_MODE=1 keeps addresses out of the real log", async () => {
  const { proc, port } = await startShat(["--host", "127.0.0.1", "--ban-file", ""], {
    env: { SHAT_SAFE_MODE: "1" },
  });
  const c = await TestClient.join(port, "127.0.0.4");
  const clientPort = String(c.socket.localPort);
  await c.close();
  await proc.waitFor("disconnect client=1", "stderr");
  proc.child.kill("SIGINT");
  assert.equal((await proc.finish()).code, 0);
  assert.match(proc.stderr, /connect client=1 addr=hidden/);
  assert.ok(!proc.stderr.includes("127.0.0.4"), proc.stderr);
  assert.ok(!proc.stderr.includes(clientPort), proc.stderr);
});

Deno.test("cli: Ctrl-C to the whole process group under deno task start is one graceful stop", async () => {
  // A terminal's Ctrl-C signals every process in the foreground group: the task runner, which
  // passes it on, and the server itself. The server must take the two as one stop: exit 0,
  // and everyone told.
  const proc = new Proc("setsid", [
    Deno.execPath(),
    "task",
    "--quiet",
    "start",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--ban-file",
    "",
    "--store",
    "off",
  ], { cwd: ROOT });
  try {
    const m = await proc.waitFor(/INFO listening host=\S+ port=(\d+)/, "stderr");
    const member = await TestClient.join(Number(m[1]), "127.0.0.5");
    Deno.kill(-proc.child.pid, "SIGINT");
    await member.waitFor("Server is shutting down.");
    await member.waitClosed();
    await member.close();
    const status = await proc.finish();
    assert.equal(status.code, 0, proc.stderr);
    assert.match(proc.stderr, /INFO stopped/);
    assert.ok(!proc.stderr.includes("second signal"), proc.stderr);
  } finally {
    try {
      Deno.kill(-proc.child.pid, "SIGKILL");
    } catch {
      // gone already
    }
    await proc.finish();
  }
});

Deno.test("cli: a second signal well after the first forces the exit", async () => {
  const { proc, port } = await startShat(["--host", "127.0.0.1", "--ban-file", ""]);
  const member = await TestClient.join(port, "127.0.0.6");
  member.socket.pause(); // never reads: the graceful stop waits for it
  try {
    proc.child.kill("SIGTERM");
    await proc.waitFor("INFO shutting down", "stderr");
    await new Promise((r) => setTimeout(r, 1_200));
    proc.child.kill("SIGTERM");
    const status = await proc.finish();
    assert.ok(status.code === 0 || status.code === 130, `exit ${status.code}`);
  } finally {
    await member.close();
    await proc.finish();
  }
});

Deno.test("cli: the ban file is written readable by its owner only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/shat-bans.json`, '{"version":1,"bans":[]}');
    await Deno.chmod(`${dir}/shat-bans.json`, 0o644);
    const { proc, port } = await startShat(
      ["--host", "127.0.0.1", "--rate-limit", "200ms", "--max-strikes", "2"],
      { cwd: dir },
    );
    const spammer = await TestClient.join(port, "127.0.0.2");
    for (let i = 0; i < 4; i++) await spammer.send(`spam ${i}`);
    await spammer.waitFor("You have been banned for spamming.");
    await spammer.close();
    proc.child.kill("SIGTERM");
    assert.equal((await proc.finish()).code, 0);
    const info = await Deno.stat(`${dir}/shat-bans.json`);
    assert.equal(info.mode! & 0o777, 0o600);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/shat-bans.json`));
    assert.equal(saved.bans[0].ip, "127.0.0.2");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: tokens on the command line are warned about and never echoed", async () => {
  const bad = await runShat(["--admin-token", "-s3cret"]);
  assert.equal(bad.code, 2);
  assert.ok(!bad.stderr.includes("s3cret"), bad.stderr);
  assertOneLine(bad.stderr);
  const { proc } = await startShat(
    ["--host", "127.0.0.1", "--ban-file", "", "--admin-token", "hunter2"],
  );
  proc.child.kill("SIGTERM");
  await proc.finish();
  assert.match(proc.stderr, /WARN --admin-token was given on the command line .*SHAT_ADMIN_TOKEN/);
  assert.ok(!proc.stderr.includes("hunter2"), proc.stderr);
});

Deno.test("cli: --log-format json writes one JSON object per line; safe mode still hides addresses", async () => {
  const { proc, port } = await startShat(["--host", "127.0.0.1", "--ban-file", ""], {
    env: { SHAT_LOG_FORMAT: "json", SHAT_SAFE_MODE: "1" },
  });
  const c = await TestClient.join(port, "127.0.0.4");
  await c.close();
  await proc.waitFor('"msg":"disconnect"', "stderr");
  proc.child.kill("SIGTERM");
  assert.equal((await proc.finish()).code, 0);
  const lines = proc.stderr.trim().split("\n");
  const objects = lines.map((l) => JSON.parse(l));
  const connect = objects.find((o) => o.msg === "connect");
  assert.equal(connect.level, "info");
  assert.equal(connect.client, 1);
  assert.equal(connect.addr, "hidden");
  assert.ok(!Number.isNaN(Date.parse(connect.time)));
  assert.ok(objects.some((o) => o.msg === "stopped"));
  assert.ok(!proc.stderr.includes("127.0.0.4"));
});

Deno.test("cli: files anywhere with deno task start: a motd outside the project, the store in --data-dir", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/etc`);
    await Deno.mkdir(`${dir}/var`);
    await Deno.writeTextFile(`${dir}/etc/motd.txt`, "Welcome to the lab.\n");
    const proc = new Proc(Deno.execPath(), [
      "task",
      "--quiet",
      "start",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--motd",
      `${dir}/etc/motd.txt`,
      "--data-dir",
      `${dir}/var`,
      "--rate-limit",
      "100ms",
      "--max-strikes",
      "2",
    ], { cwd: ROOT });
    try {
      const m = await proc.waitFor(/INFO listening host=\S+ port=(\d+)/, "stderr");
      const c = await TestClient.join(Number(m[1]), "127.0.0.2");
      await c.waitFor("Welcome to the lab.");
      for (let i = 0; i < 4; i++) await c.send(`spam ${i}`);
      await c.waitFor("You have been banned for spamming.");
      await c.close();
    } finally {
      proc.child.kill("SIGTERM");
      await proc.finish();
    }
    // The default store is in --data-dir, and keeps the ban (the ban file is only imported).
    const db = new DatabaseSync(`${dir}/var/shat.db`, { readOnly: true });
    try {
      const bans = db.prepare("SELECT ip, reason FROM bans").all();
      assert.deepEqual(bans.map((b) => ({ ...b })), [{ ip: "127.0.0.2", reason: "spamming" }]);
    } finally {
      db.close();
    }
    assert.equal((await Deno.stat(`${dir}/var/shat.db`)).mode! & 0o777, 0o600);
    assert.equal(await Deno.stat(`${dir}/var/shat-bans.json`).then(() => true, () => false), false);
    const missing = await runShat(["--data-dir", `${dir}/nowhere`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^shat: cannot use --data-dir .*nowhere: no such directory$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: --port off with TLS is a TLS-only server; with neither port the start is refused", async () => {
  const r = await runShat(["--port", "off"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--port off needs --tls-port/);
  const help = await runShat(["--help"]);
  for (
    const flag of [
      "--tls-port",
      "--tls-cert",
      "--tls-key",
      "--metrics-port",
      "--log-format",
      "--data-dir",
    ]
  ) {
    assert.ok(help.stdout.includes(flag), flag);
  }
});
