/** Rooms over real TCP: people move between rooms, and what is said in one never reaches another. */
import assert from "node:assert/strict";
import { startServer, TestClient } from "../support/helpers.ts";

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("rooms over TCP: two rooms talk side by side, a keyed room stays closed", async () => {
  const s = startServer({ rateLimit: 100 });
  const a = await TestClient.join(s.port, "127.0.0.2");
  const b = await TestClient.join(s.port, "127.0.0.3");
  const c = await TestClient.join(s.port, "127.0.0.4");
  try {
    await a.send("/join ctf-team s3cret");
    await a.waitFor("You are now in #ctf-team; you are the only one here.");
    await b.send("/join ctf-team");
    await b.waitFor("#ctf-team has a key: /join ctf-team KEY");
    await pause(150);
    await b.send("/join ctf-team s3cret");
    await b.waitFor("You are now in #ctf-team; 2 people are here.");
    await a.waitFor(`*** ${b.nick} joined`);
    await pause(150);
    await a.send("the flag is in /tmp");
    await b.waitFor(`<${a.nick}> the flag is in /tmp`);
    await c.send("anyone in the lobby?");
    await pause(150);
    await c.send("/rooms");
    await c.waitFor((l) => /^\s+#ctf-team\s+2 people \(key\)$/.test(l));
    await pause(150);
    await b.send("/part");
    await b.waitFor("You are now in #lobby; 2 people are here.");
    await c.waitFor(`*** ${b.nick} joined`);
    assert.ok(!c.lines.some((l) => l.includes("flag")), "the lobby never saw the team's line");
    assert.ok(!a.lines.some((l) => l.includes("anyone in the lobby")), "nor the team the lobby's");
    const back = `<${c.nick}> anyone in the lobby?`;
    await b.waitFor((l) => /^\[\d\d:\d\d\] /.test(l) && l.endsWith(back));
    assert.ok(!b.lines.includes(back), "b missed it live, and is shown it as lobby history");
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
    await s.stop();
  }
  const log = s.log.text();
  assert.match(log, /INFO room created room=#ctf-team client=1 nick=guest-\d+ key=yes/);
  assert.ok(!log.includes("s3cret"), "the key is never logged");
});

Deno.test("rooms over TCP: a room's operators run it: slow mode, a mute, a kick back to the lobby", async () => {
  const s = startServer({ rateLimit: 0 });
  const teacher = await TestClient.join(s.port, "127.0.0.2");
  const ta = await TestClient.join(s.port, "127.0.0.3");
  const pupil = await TestClient.join(s.port, "127.0.0.4");
  try {
    await teacher.send("/nick teacher");
    await ta.send("/nick ta");
    await pupil.send("/nick pupil");
    await pupil.waitFor("You are now pupil.");
    await teacher.send("/join class");
    await teacher.waitFor("You are now in #class");
    for (const c of [ta, pupil]) {
      await c.send("/join class");
      await c.waitFor("You are now in #class");
    }
    await teacher.send("/room op ta");
    await ta.waitFor("*** teacher made ta an operator of #class");
    await ta.send("/room slow 30s");
    await pupil.waitFor("*** #class is in slow mode: one line per 30s each (operators are exempt)");
    await pupil.send("question one");
    await teacher.waitFor("<pupil> question one");
    await pupil.send("question two");
    await pupil.waitFor((l) =>
      /^#class is in slow mode \(one line per 30s each\): you may speak again in (29|30) seconds\. Your line was not shown\.$/
        .test(l)
    );
    await ta.send("/mute pupil 2m");
    await pupil.waitFor("ta muted you in #class for 2m: your lines are not shown.");
    await ta.send("/kick pupil enough for today");
    await pupil.waitFor("ta sent you out of #class: enough for today");
    await pupil.waitFor("You are now in #lobby; you are the only one here.");
    await teacher.waitFor("*** pupil was sent out of #class by ta: enough for today");
    await pupil.send("/who class");
    await pupil.waitFor((l) => /^ {2}teacher \(owner\)/.test(l));
    await pupil.waitFor((l) => /^ {2}ta \(room op\)/.test(l));
    assert.ok(!teacher.lines.some((l) => l.includes("question two")), "held back by slow mode");
  } finally {
    await Promise.all([teacher.close(), ta.close(), pupil.close()]);
    await s.stop();
  }
  assert.match(
    s.log.text(),
    /INFO operator: room kick client=\d+ nick=ta target=pupil room=#class/,
  );
});
