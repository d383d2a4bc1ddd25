/**
 * The bench end to end at tiny sizes: it starts the real server, drives every quick scenario
 * and reports every line delivered, none lost or garbled. Timings are printed by the bench,
 * never asserted here.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Row } from "../../bench/run.ts";
import { parseReport, rowFromReport } from "../../bench/loadgen.ts";

const RUN = fileURLToPath(new URL("../../bench/run.ts", import.meta.url));

async function bench(...args: string[]): Promise<Row[]> {
  const out = await benchRun(args);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `bench failed:\n${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function benchRun(args: string[], env?: Record<string, string>): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      RUN,
      ...args,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/** Whether `go` runs here (the Go loadgen test needs it). */
function hasGo(): boolean {
  try {
    return new Deno.Command("go", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/**
 * Whether the Go loadgen's source is where `deno task bench --generator go` looks for it
 * (BENCH_LOADGEN_DIR, or ../shared/loadgen next to the repository): a clone without the shared
 * repository beside it skips the Go run, as a machine without Go does.
 */
function hasLoadgen(): boolean {
  const dir = Deno.env.get("BENCH_LOADGEN_DIR") ??
    new URL("../../../shared/loadgen", import.meta.url).pathname;
  try {
    return Deno.statSync(`${dir}/go.mod`).isFile;
  } catch {
    return false;
  }
}

Deno.test("bench: the tiny run completes with every line delivered and none lost or garbled", async () => {
  const rows = await bench("--tiny", "--json");
  assert.deepEqual(
    rows.map((r) => r.scenario.split(" ")[0]),
    ["S1", "S1+store", "S2", "S2+store", "T", "R", "S3", "reconnect", "join"],
    "every quick scenario ran",
  );
  for (const r of rows) {
    assert.ok(r.expected > 0, `${r.scenario}: something was expected`);
    assert.equal(r.lost, 0, `${r.scenario}: lines lost`);
    assert.equal(r.garbled, 0, `${r.scenario}: lines garbled`);
    assert.equal(r.deliveries, r.expected, `${r.scenario}: deliveries`);
    assert.ok(r.rssMiB > 0, `${r.scenario}: server memory was read`);
    assert.ok(r.cpuPerDeliveryNs > 0, `${r.scenario}: server CPU was read`);
    assert.ok(r.v8Sending >= 0 && r.v8Sending < 1, `${r.scenario}: V8 threads' share`);
  }
  const s1 = rows[0];
  // 4 senders × 20 lines, each to the 19 other clients.
  assert.equal(s1.expected, 4 * 20 * 19);
  // With the store on, every line said is in the file once the server has stopped.
  assert.match(rows[1].notes, /store on: 80 lines written/);
  assert.match(rows[3].notes, /store on: \d+ lines written/);
});

Deno.test("bench: with --irc-share, S1's IRC clients get every line, none lost or garbled", async () => {
  const rows = await bench("--tiny", "--json", "--only", "s1", "--irc-share", "0.3");
  assert.deepEqual(rows.map((r) => r.scenario.split(" ")[0]), ["S1", "S1+store"]);
  for (const r of rows) {
    // 4 senders × 20 lines, each to the 19 other clients, 6 of them IRC clients in #lobby.
    assert.equal(r.expected, 4 * 20 * 19, r.scenario);
    assert.equal(r.deliveries, r.expected, `${r.scenario}: deliveries`);
    assert.equal(r.lost + r.garbled, 0, `${r.scenario}: lost or garbled`);
    assert.match(r.notes, /irc 30%: 6 of 20 clients/, r.scenario);
  }
});

Deno.test("bench: both floor servers deliver every line of S1, S2 and S3, none lost or garbled", async () => {
  for (const server of ["floor", "floor-batched"]) {
    const rows = await bench("--tiny", "--json", "--only", "s1,s2,s3", "--server", server);
    assert.deepEqual(rows.map((r) => r.scenario.split(" ")[0]), ["S1", "S2", "S3"], server);
    for (const r of rows) {
      assert.ok(r.expected > 0, `${server} ${r.scenario}: something was expected`);
      assert.equal(r.deliveries, r.expected, `${server} ${r.scenario}: deliveries`);
      assert.equal(r.lost + r.garbled, 0, `${server} ${r.scenario}: lost or garbled`);
      assert.ok(r.cpuPerDeliveryNs > 0, `${server} ${r.scenario}: server CPU was read`);
    }
  }
});

Deno.test({
  name: "bench: the Go loadgen delivers every line of S1, S3 and C to Shat and floor-batched",
  ignore: !hasGo() || !hasLoadgen(),
  async fn() {
    const rows = await bench(
      "--tiny",
      "--json",
      "--generator",
      "go",
      "--only",
      "s1,s3,c",
      "--server",
      "shat,floor-batched",
    );
    assert.deepEqual(
      rows.map((r) => r.scenario.replace(/ .*\[/, " [")),
      [
        "S1 [shat]",
        "S1 [floor-batched]",
        "S3 [shat]",
        "S3 [floor-batched]",
        "C [shat]",
        "C [floor-batched]",
      ],
    );
    for (const r of rows) {
      assert.ok(r.expected > 0, `${r.scenario}: something was expected`);
      assert.equal(r.deliveries, r.expected, `${r.scenario}: deliveries`);
      assert.equal(r.lost + r.garbled, 0, `${r.scenario}: lost or garbled`);
      assert.ok(r.cpuPerDeliveryNs > 0, `${r.scenario}: server CPU was read`);
      assert.ok(r.rssMiB > 0, `${r.scenario}: server memory was read`);
    }
    // 4 senders × 20 lines, each to the 19 other clients (loadgen's count, as load.ts's).
    assert.equal(rows[0].expected, 4 * 20 * 19);
  },
});

Deno.test("bench: --generator go without go on PATH says so in one line and fails", async () => {
  const out = await benchRun(["--generator", "go", "--only", "s1"], { PATH: "/nonexistent" });
  const stderr = new TextDecoder().decode(out.stderr).trim();
  assert.notEqual(out.code, 0);
  assert.equal(stderr.split("\n").length, 1, stderr);
  assert.match(stderr, /go command.*not on PATH.*apt-get install -y golang-go/);
});

Deno.test({
  name: "bench: --warm-up runs a Go scenario first unmeasured on the same server, then measures it",
  ignore: !hasGo() || !hasLoadgen(),
  async fn() {
    const rows = await bench(
      "--tiny",
      "--json",
      "--generator",
      "go",
      "--only",
      "s1",
      "--warm-up",
      "1",
    );
    assert.equal(rows.length, 1);
    const [r] = rows;
    assert.equal(r.deliveries, r.expected, "the measured run got every line");
    assert.equal(r.lost + r.garbled, 0);
    assert.match(r.notes, /after 1 warm-up run\b/);
  },
});

Deno.test("bench: --warm-up is refused without the Go generator, and a bad count too", async () => {
  for (const args of [["--warm-up", "2"], ["--generator", "go", "--warm-up", "x"]]) {
    const out = await benchRun(["--tiny", "--only", "s1", ...args]);
    assert.equal(out.code, 2, args.join(" "));
    assert.match(new TextDecoder().decode(out.stderr), /--warm-up/);
  }
});

Deno.test("bench: a loadgen CPU sum that lost an ended thread's time is not shown as a figure", () => {
  const sc = { key: "s1", name: "S1 burst", args: [] };
  const report = (ns: number, ticks: number) =>
    parseReport(
      "s1 clients=20 live=20 senders=4 msgs=20 connect_s=0.01 delivered=1520 expected=1520 " +
        "lost=0 garbled=0 secs=0.1 deliveries_per_s=15200 p50_ms=1 p99_ms=2 max_ms=3 " +
        "rss_idle_kb=50000 rss_after_kb=50100 rss_per_conn_kb=5\n" +
        `CPU s1 srv_ticks_connect=1 srv_ticks_send=${ticks} srv_ns_connect=9000000 ` +
        `srv_ns_send=${ns} lg_ticks_send=2 sys_busy_send=0.5 rss0_kb=40000\n`,
    );
  const good = rowFromReport(sc, report(45_600_000, 5), []);
  assert.equal(good.cpuPerDeliveryNs, 30_000);
  assert.doesNotMatch(good.notes, /not read/);
  for (const [ns, ticks] of [[-4_000_000, 5], [10_000_000, 9]]) {
    const bad = rowFromReport(sc, report(ns, ticks), []);
    assert(Number.isNaN(bad.cpuPerDeliveryNs), `${ns} ns against ${ticks} ticks`);
    assert.match(bad.notes, /server CPU not read/);
  }
});
