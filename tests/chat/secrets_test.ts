/** The command lines that carry a secret: which ones history leaves out, and where the secret starts. */
import assert from "node:assert/strict";
import { SECRET_LINE as FROM_MOD } from "../../src/chat/commands/mod.ts";
import { SECRET_ARGS, SECRET_LINE, secretStart } from "../../src/chat/commands/secrets.ts";

Deno.test("secrets: the lines history leaves out, in any case", () => {
  assert.equal(FROM_MOD, SECRET_LINE, "commands/mod.ts re-exports the one pattern");
  const secret = [
    "/op t0ken",
    "/OP t0ken",
    "/join room k3y",
    "/JOIN #room  k3y",
    "/register pw",
    "/REGISTER pw",
    "/register",
    "/identify pw",
    "/identify alice pw",
    "/Identify alice pw",
    "/password old new",
    "/unregister pw",
    "/unregister",
    " /identify alice pw",
    "   /register pw",
  ];
  for (const line of secret) assert.ok(SECRET_LINE.test(line), line);
  const plain = [
    "/op",
    "/join room",
    "/join room ",
    "/registered x",
    "/identifyx pw",
    "//identify pw",
    "/me /identify pw",
    "hello /op x",
    "/nick identify",
  ];
  for (const line of plain) assert.ok(!SECRET_LINE.test(line), line);
});

Deno.test("secrets: where the secret part of a line starts", () => {
  const cases: [string, number][] = [
    ["/op t0ken", 4],
    ["/op ", 4],
    ["/op", -1],
    ["/join room k3y", 11],
    ["/join  #room  k3y", 13],
    ["/join room ", 11],
    ["/join room", -1],
    ["/register pw", 10],
    ["/identify alice pw", 10],
    ["/IDENTIFY pw", 10],
    ["/password old new", 10],
    ["/unregister pw", 12],
    ["/unregister", -1],
    ["  /identify alice pw", 12],
    ["/identifyx pw", -1],
    ["//op x", -1],
    ["hello", -1],
    ["", -1],
  ];
  for (const [line, at] of cases) {
    assert.equal(secretStart(line), at, line);
    assert.equal(SECRET_ARGS.test(line), at >= 0, line);
  }
  // A line that carries a secret has begun one, so what history leaves out is hidden as typed.
  for (const [line] of cases) {
    if (SECRET_LINE.test(line) && line.includes(" ")) assert.ok(secretStart(line) >= 0, line);
  }
});
