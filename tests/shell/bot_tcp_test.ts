/**
 * A small bot over a raw socket, as a script would be written: it turns bot mode on, joins a
 * room, answers a command it reads as JSON, and leaves.
 */
import assert from "node:assert/strict";
import { startServer, TestClient } from "../support/helpers.ts";

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("bot over TCP: joins, answers !ping read as JSON, leaves", async () => {
  const s = startServer({ rateLimit: 100 });
  const bot = await TestClient.join(s.port, "127.0.0.2");
  const person = await TestClient.join(s.port, "127.0.0.3");
  try {
    await bot.send("/nick pingbot");
    await bot.waitFor("You are now pingbot.");
    await pause(150);
    await bot.send("/bot on");
    await bot.waitFor((l) => l.startsWith("{") && JSON.parse(l).text.startsWith("Bot mode on"));
    await pause(150);
    await bot.send("/join ops");
    await bot.waitFor((l) => l.startsWith("{") && /You are now in #ops/.test(JSON.parse(l).text));
    await person.send("/join ops");
    await person.waitFor("You are now in #ops");
    await pause(150);
    await person.send("!ping");
    // The bot: read a JSON line, answer a chat line that asks.
    const asked = await bot.waitFor((l) => {
      if (!l.startsWith("{")) return false;
      const o = JSON.parse(l);
      return o.kind === "chat" && o.text === "!ping";
    });
    const o = JSON.parse(asked);
    assert.equal(o.room, "#ops");
    assert.equal(o.nick, person.nick);
    await bot.send(`pong, ${o.nick}`);
    await person.waitFor(`<pingbot> pong, ${person.nick}`);
    await pause(150);
    await bot.send("/quit");
    await person.waitFor("*** pingbot left (quit)");
    const after = bot.lines.slice(bot.lines.findIndex((l) => l.startsWith("{")));
    assert.ok(after.every((l) => typeof JSON.parse(l) === "object"), "every line is JSON");
    assert.ok(!after.some((l) => l.includes(`${person.nick} joined`)), "no join notices");
  } finally {
    await Promise.all([bot.close(), person.close()]);
    await s.stop();
  }
});
