/**
 * The bench end to end at tiny sizes: it starts the real server, drives every quick scenario
 * and reports every line delivered, none lost or garbled. Timings are printed by the bench,
 * never asserted here.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Row } from "../bench/run.ts";

const RUN = fileURLToPath(new URL("../bench/run.ts", import.meta.url));

Deno.test("bench: the tiny run completes with every line delivered and none lost or garbled", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-run",
      "--allow-read",
      "--allow-env",
      RUN,
      "--tiny",
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `bench failed:\n${stderr}`);
  const rows: Row[] = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.deepEqual(
    rows.map((r) => r.scenario.split(" ")[0]),
    ["S1", "S2", "T", "R", "S3", "join"],
    "every quick scenario ran",
  );
  for (const r of rows) {
    assert.ok(r.expected > 0, `${r.scenario}: something was expected`);
    assert.equal(r.lost, 0, `${r.scenario}: lines lost`);
    assert.equal(r.garbled, 0, `${r.scenario}: lines garbled`);
    assert.equal(r.deliveries, r.expected, `${r.scenario}: deliveries`);
    assert.ok(r.rssMiB > 0, `${r.scenario}: server memory was read`);
  }
  const s1 = rows[0];
  // 4 senders × 20 lines, each to the 19 other clients.
  assert.equal(s1.expected, 4 * 20 * 19);
});
