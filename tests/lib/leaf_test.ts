/**
 * The leaf helpers every folder shares (src/lib): one UTF-8 length, one token bucket, one error
 * describer. Each had two copies before, and the cases where the copies disagreed are here.
 */
import assert from "node:assert/strict";
import { charge, fullBucket, take, waitFor } from "../../src/lib/bucket.ts";
import { describeError } from "../../src/lib/errors.ts";
import { fitBytes, longerThan, utf8Length } from "../../src/lib/utf8.ts";

Deno.test("lib: utf8Length is what TextEncoder sends, lone surrogates included", () => {
  const enc = new TextEncoder();
  // Where the connection's copy disagreed with the editor's: a lone high surrogate (it counted
  // 4 bytes, and swallowed the character after it), at the end or before ASCII.
  for (const s of ["\ud800", "\ud800a", "a\udc00", "\udc00\ud800", "é中😀", "x".repeat(10)]) {
    assert.equal(utf8Length(s), enc.encode(s).length, JSON.stringify(s));
  }
  const random = Array.from({ length: 2_000 }, () => String.fromCharCode(Math.random() * 0x10000))
    .join("");
  assert.equal(utf8Length(random), enc.encode(random).length);
  assert.equal(fitBytes("a😀b", 4), "a", "never half a pair");
  assert.equal(fitBytes("a😀b", 5), "a😀");
  assert.equal(longerThan("中".repeat(2), 6), false);
  assert.equal(longerThan("中".repeat(3), 8), true);
});

Deno.test("lib: a bucket refuses what it cannot pay for, or charges into debt and says the wait", () => {
  const b = fullBucket();
  assert.equal(take(b, 3, 3, 1 / 1_000, 0), true, "a new bucket is full");
  assert.equal(take(b, 1, 3, 1 / 1_000, 500), false, "half a token is not one");
  assert.equal(waitFor(b, 1, 3, 1 / 1_000, 500), 500);
  assert.equal(take(b, 1, 3, 1 / 1_000, 1_000), true);
  const c = fullBucket();
  assert.equal(charge(c, 100, 64, 32 / 1_000, 0), 1_125, "36 into debt at 32 per second");
  assert.equal(charge(c, 0, 64, 32 / 1_000, 1_125), 0, "out of debt after the wait");
  assert.equal(charge(c, 10, 64, 32 / 1_000, 500), 313, "time going back counts as none");
});

Deno.test("lib: describeError says what happened in a few words, on one line", () => {
  // The connection's copy did not know a refused connection; the Redis client's did.
  assert.equal(describeError(new Deno.errors.ConnectionRefused("x")), "connection refused");
  assert.equal(describeError(new Deno.errors.ConnectionReset("x")), "connection reset");
  assert.equal(describeError(new Error("Bad resource ID (os error 9)")), "bad resource ID");
  // The connection's copy lower-cased whole messages ("tls handshake timed out"); the client's
  // kept them on one line.
  assert.equal(describeError(new Error("TLS handshake timed out")), "TLS handshake timed out");
  assert.equal(describeError(new Error("message\ntoo  big")), "message too big");
  assert.equal(describeError(""), "connection error");
});
