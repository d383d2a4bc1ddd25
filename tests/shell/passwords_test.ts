/**
 * Password hashing: a hash verifies its password and no other, every hash gets its own salt, the
 * parameters are recorded and used again to verify, unknown ones verify as false, and no more
 * than two derivations ever run at once. Cheap parameters keep the tests quick, except the one
 * test of the real default.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  hashPassword,
  MAX_DERIVATIONS,
  outdatedPassword,
  PASSWORD_PARAMS,
  passwordQueue,
  TaskGate,
  verifyPassword,
} from "../../src/shell/passwords.ts";

/** N = 2^4: fast enough to hash dozens of times in a test. */
const CHEAP = "scrypt:16:1:1:32";

Deno.test("passwords: the default parameters: a round trip, and a wrong password is false", async () => {
  const stored = await hashPassword("s3cretpw");
  assert.equal(stored.params, PASSWORD_PARAMS);
  assert.equal(PASSWORD_PARAMS, "scrypt:32768:8:1:32");
  assert.equal(Buffer.from(stored.hash, "base64").length, 32, "a 32-byte key, in base64");
  assert.equal(Buffer.from(stored.salt, "base64").length, 16, "a 16-byte salt, in base64");
  assert.equal(await verifyPassword("s3cretpw", stored), true);
  assert.equal(await verifyPassword("s3cretpW", stored), false);
  assert.equal(outdatedPassword(stored), false);
});

Deno.test("passwords: a round trip; wrong, empty and near passwords are false", async () => {
  const stored = await hashPassword("correct horse", CHEAP);
  assert.equal(await verifyPassword("correct horse", stored), true);
  for (const wrong of ["correct horse ", "Correct horse", "", "correct hors", "correct horsf"]) {
    assert.equal(await verifyPassword(wrong, stored), false, JSON.stringify(wrong));
  }
  const unicode = await hashPassword("pässwörd 中文 😀", CHEAP);
  assert.equal(await verifyPassword("pässwörd 中文 😀", unicode), true);
  assert.equal(
    await verifyPassword("pa\u0308sswo\u0308rd 中文 😀", unicode),
    true,
    "the same word, its accents typed as combining marks (NFC)",
  );
});

Deno.test("passwords: the same password hashed twice gets two salts and two hashes", async () => {
  const a = await hashPassword("same", CHEAP);
  const b = await hashPassword("same", CHEAP);
  assert.notEqual(a.salt, b.salt);
  assert.notEqual(a.hash, b.hash);
  assert.equal(await verifyPassword("same", a), true);
  assert.equal(await verifyPassword("same", b), true);
  assert.equal(await verifyPassword("same", { ...a, salt: b.salt }), false, "salts matter");
});

Deno.test("passwords: the parameters are recorded and honoured; unknown ones verify as false", async () => {
  const small = await hashPassword("pw", CHEAP);
  assert.equal(small.params, CHEAP);
  assert.equal(await verifyPassword("pw", small), true, "verified with the parameters it names");
  assert.equal(outdatedPassword(small), true, "made with other parameters than the default");
  const other = await hashPassword("pw", "scrypt:32:2:1:16");
  assert.equal(Buffer.from(other.hash, "base64").length, 16);
  assert.equal(await verifyPassword("pw", other), true);
  // The same hash and salt under other parameters is another hash: false.
  assert.equal(await verifyPassword("pw", { ...small, params: "scrypt:32:1:1:32" }), false);
  const unknown = [
    "bcrypt:10",
    "scrypt:16:1:1",
    "scrypt:15:1:1:32", // N not a power of two
    "scrypt:1:1:1:32",
    "scrypt:16:0:1:32",
    "scrypt:16:1:0:32",
    "scrypt:16:1:1:31", // the key is 32 bytes: another length cannot match
    "scrypt:16:1:1:8", // too short a key
    "scrypt:2097152:8:1:32", // 2 GiB
    "scrypt:1048576:8:1:32", // 1 GiB
    "scrypt:16:1:1:32 ",
    "SCRYPT:16:1:1:32",
    "",
  ];
  for (const params of unknown) {
    assert.equal(await verifyPassword("pw", { ...small, params }), false, params);
  }
  assert.equal(await verifyPassword("pw", { ...small, hash: "not base64!" }), false);
  assert.equal(await verifyPassword("pw", { ...small, salt: "" }), false);
  await assert.rejects(() => hashPassword("pw", "bcrypt:10"), RangeError);
});

Deno.test("passwords: a gate of two never runs more than two tasks, and runs them in turn", async () => {
  const gate = new TaskGate(2);
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const finish: (() => void)[] = [];
  const task = (i: number) => () => {
    running++;
    most = Math.max(most, running);
    started.push(i);
    return new Promise<number>((resolve) =>
      finish[i] = () => {
        running--;
        resolve(i);
      }
    );
  };
  const results = Array.from({ length: 7 }, (_, i) => gate.run(task(i)));
  assert.equal(gate.running, 2);
  assert.equal(gate.waiting, 5);
  assert.deepEqual(started, [0, 1]);
  // Finish them out of order; each one that ends lets exactly one more start.
  const order = [1, 0, 3, 2, 5, 4, 6];
  for (const i of order) {
    await Promise.resolve(); // let the ones let in start
    while (!finish[i]) await new Promise((r) => setTimeout(r, 0));
    finish[i]();
    assert.equal(await results[i], i);
  }
  assert.equal(most, 2, "never more than two at once");
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6], "first come, first served");
  assert.equal(gate.running, 0);
  assert.equal(gate.waiting, 0);
  // A task that fails gives its place back too.
  await assert.rejects(() => gate.run(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(gate.running, 0);
});

Deno.test("passwords: hashing many at once queues all but two, and every one completes", async () => {
  assert.equal(MAX_DERIVATIONS, 2);
  assert.equal(passwordQueue(), 0);
  const pending = Array.from({ length: 8 }, (_, i) => hashPassword(`pw${i}`, CHEAP));
  assert.equal(passwordQueue(), 6, "two derive, six wait their turn");
  const checks = [verifyPassword("pw0", { hash: "", salt: "", params: CHEAP })];
  assert.equal(passwordQueue(), 6, "a record that cannot match does not queue");
  const stored = await Promise.all(pending);
  assert.equal(passwordQueue(), 0);
  assert.equal(await checks[0], false);
  const verdicts = await Promise.all(stored.map((s, i) => verifyPassword(`pw${i}`, s)));
  assert.deepEqual(verdicts, stored.map(() => true));
});
