/**
 * The HTTP API's side of the hub (src/chat/api_post.ts), with a fake clock and no sockets: a
 * bot's line said in a room like a person's, and every refusal with its status: no such room,
 * a nick someone holds (or looks like, or registered), a bad nick or text, too long, too fast,
 * a room's rules.
 */
import assert from "node:assert/strict";
import type { Config } from "../../src/ops/config.ts";
import type { StoreStart } from "../../src/store/types.ts";
import { HubHarness } from "../support/helpers.ts";
import { parseFilter, type WordFilter } from "../../src/chat/filter.ts";

const SEC = 1_000;

/** The hub's harness, with people who take nicks and posts through the API. */
class ApiHarness extends HubHarness {
  #ticket = 0;

  constructor(
    over: Partial<Config> = {},
    opts: { accounts?: StoreStart["accounts"]; filter?: WordFilter; node?: string } = {},
  ) {
    const memory: StoreStart | undefined = opts.accounts
      ? { accounts: opts.accounts, rooms: [], bans: [], seqs: {}, recent: [] }
      : undefined;
    super({ roomRate: { burst: 0, per: 0 }, ...over }, {
      node: opts.node,
      memory,
      filter: opts.filter,
      keep: true,
    });
  }

  /** A person connects from `ip` and takes `nick`; their outbox is emptied. */
  person(id: number, nick: string, ip = `10.0.0.${id}`): void {
    this.open(id, ip);
    this.type(id, `/nick ${nick}`);
    this.read(id);
  }

  /** Client `id` types `line` a second later (inside the rate limit). */
  type(id: number, line: string): void {
    this.now += SEC;
    this.send(id, line);
  }

  /** Posts through the API (from `ip`) now; returns the hub's answer. */
  post(room: string, nick: string, text: string, ip = "10.9.9.9") {
    const ticket = ++this.#ticket;
    this.handle({ type: "post", ticket, ip, room, nick, text });
    const a = this.answers.get(ticket);
    assert.ok(a, "every post is answered");
    return a;
  }
}

/** A hub with ann in #den (and bob in the lobby). */
function den(over: Partial<Config> = {}, opts: ConstructorParameters<typeof ApiHarness>[1] = {}) {
  const h = new ApiHarness(over, opts);
  h.person(1, "ann");
  h.person(2, "bob");
  h.type(1, "/join den");
  h.read(1);
  h.read(2);
  return h;
}

Deno.test("api: a post is said in its room as <nick> text (201), kept in history and the store", () => {
  const h = den();
  const a = h.post("den", "ci", "build passed");
  assert.equal(a.status, 201);
  assert.match(a.message, /#den/);
  assert.deepEqual(h.read(1), ["<ci> build passed"]);
  assert.deepEqual(h.read(2), [], "the lobby does not see it");
  assert.ok(
    h.kept.some((w) => w.t === "line" && w.line.nick === "ci" && w.line.text === "build passed"),
    "kept in the store like a person's line",
  );
  assert.ok(h.log.lines.some((l) => l.includes("api post") && l.includes("nick=ci")));
  // A newcomer sees it in the room's history.
  h.person(3, "cat");
  h.type(3, "/join den");
  assert.ok(h.read(3).some((l) => l.includes("<ci> build passed")), "in the history");
});

Deno.test("api: the room name is any case, with or without #", () => {
  const h = den();
  assert.equal(h.post("DEN", "ci", "one").status, 201);
  h.now += SEC;
  assert.equal(h.post("#den", "ci", "two").status, 201);
  assert.deepEqual(h.read(1), ["<ci> one", "<ci> two"]);
});

Deno.test("api: 404 for a room that does not exist (or is no room name)", () => {
  const h = den();
  for (const room of ["nowhere", "bad name", "", "x".repeat(25)]) {
    const a = h.post(room, "ci", "hello");
    assert.equal(a.status, 404, room);
  }
  assert.deepEqual(h.read(1), []);
});

Deno.test("api: 409 for a nick a person online holds, any case or a lookalike", () => {
  const h = den();
  for (const nick of ["ann", "ANN", "bob", "b0b"]) {
    const a = h.post("den", nick, "I am not who you think");
    assert.equal(a.status, 409, nick);
    assert.match(a.message, /online/);
  }
  assert.deepEqual(h.read(1), [], "nothing said");
});

Deno.test("api: 409 for a registered account's nick or a lookalike of one", () => {
  const h = den({}, { accounts: [{ key: "alice", nick: "alice" }] });
  for (const nick of ["alice", "Alice", "aIice"]) {
    const a = h.post("den", nick, "hi");
    assert.equal(a.status, 409, nick);
    assert.match(a.message, /registered/);
  }
});

Deno.test("api: 400 for a nick nobody may pick", () => {
  const h = den();
  for (const nick of ["", "has space", "x".repeat(17), "guest-1234", "admin", "1.2.3.4", "é"]) {
    assert.equal(h.post("den", nick, "hi").status, 400, JSON.stringify(nick));
  }
});

Deno.test("api: 400 for text that is empty once cleaned or more than one line", () => {
  const h = den();
  for (const text of ["", "   ", "\x1b[2J", "one\ntwo", "a\rb"]) {
    assert.equal(h.post("den", "ci", text).status, 400, JSON.stringify(text));
  }
  assert.deepEqual(h.read(1), []);
  // A trailing line break is not a second line; escapes are removed as from typed text.
  assert.equal(h.post("den", "ci", "ok \x1b[31mred\x1b[0m\n").status, 201);
  assert.deepEqual(h.read(1), ["<ci> ok red"]);
});

Deno.test("api: 413 for text longer than --max-line", () => {
  const h = den({ maxLine: 64 });
  const a = h.post("den", "ci", "x".repeat(65));
  assert.equal(a.status, 413);
  assert.equal(h.post("den", "ci", "x".repeat(64)).status, 201);
  assert.equal(h.read(1).length, 1);
});

Deno.test("api: 429 for a second post by a bot nick sooner than --rate-limit, with when to retry", () => {
  const h = den({ rateLimit: 2 * SEC });
  assert.equal(h.post("den", "ci", "first").status, 201);
  h.now += 500;
  const a = h.post("den", "ci", "second");
  assert.equal(a.status, 429);
  assert.equal(a.retryAfter, 2, a.message);
  h.now += 1_000;
  assert.equal(h.post("den", "ci", "third").retryAfter, 1);
  h.now += 500;
  assert.equal(h.post("den", "ci", "fourth").status, 201, "the pace is kept: accepted");
  assert.deepEqual(h.read(1), ["<ci> first", "<ci> fourth"]);
});

Deno.test("api: the pace is per bot nick and per address (people's allowance)", () => {
  const h = den({ rateLimit: SEC });
  assert.equal(h.post("den", "ci", "a", "10.5.5.5").status, 201);
  // Another nick from another address: its own pace.
  assert.equal(h.post("den", "door", "b", "10.6.6.6").status, 201);
  // Another nick from the first address: the address's allowance (one line a second, as one
  // connection) is spent.
  assert.equal(h.post("den", "score", "c", "10.5.5.5").status, 429);
  h.now += SEC;
  assert.equal(h.post("den", "score", "c", "10.5.5.5").status, 201);
  // With --rate-limit 0 there is no pace.
  const free = den({ rateLimit: 0 });
  for (let i = 0; i < 5; i++) assert.equal(free.post("den", "ci", `n${i}`).status, 201);
});

Deno.test("api: a refused post costs nothing (no strikes); a person's nick is free again later", () => {
  const h = den();
  for (let i = 0; i < 20; i++) h.post("den", "ann", "x");
  assert.equal(h.hub.strikesOf("10.9.9.9"), 0);
  h.type(1, "/nick annie");
  assert.equal(h.post("den", "ann", "now free").status, 201);
});

Deno.test("api: the room's rules: moderated 403, slow mode 429, a muted address 403", () => {
  const h = den({ adminToken: "op-secret" });
  h.type(1, "/room moderated on");
  const m = h.post("den", "ci", "hi");
  assert.equal(m.status, 403);
  assert.match(m.message, /moderated/);
  h.type(1, "/room moderated off");
  h.type(1, "/room slow 30s");
  h.read(1);
  assert.equal(h.post("den", "ci", "one").status, 201);
  h.now += 5 * SEC;
  const s = h.post("den", "ci", "two");
  assert.equal(s.status, 429);
  assert.equal(s.retryAfter, 25, s.message);
  h.type(1, "/room slow off");
  // A server operator mutes the address the bot posts from (the mute of a person there).
  h.person(3, "cat", "10.9.9.9");
  h.type(2, "/op op-secret");
  h.type(2, "/mute cat 5m");
  const u = h.post("den", "ci", "three");
  assert.equal(u.status, 403);
  assert.match(u.message, /muted/);
  assert.equal(h.post("den", "ci", "from elsewhere", "10.7.7.7").status, 201);
});

Deno.test("api: the word filter masks a post as it masks a person's line", () => {
  const filter = parseFilter("darn\n") as WordFilter;
  const h = den({}, { filter });
  assert.equal(h.post("den", "ci", "darn it").status, 201);
  assert.deepEqual(h.read(1), ["<ci> **** it"]);
});

Deno.test("api: linked to other processes, a post is proposed like a person's line and shown when it comes back", () => {
  const h = new ApiHarness({ rateLimit: 0 }, { node: "A" });
  h.handle({
    type: "cluster",
    msg: {
      kind: "snapshot",
      snap: { members: [], rooms: [], bans: [], history: [] },
      reset: false,
    },
  });
  h.person(1, "ann");
  h.cluster.length = 0;
  assert.equal(h.post("lobby", "ci", "deployed").status, 201);
  assert.deepEqual(h.read(1), [], "not shown before the cluster orders it");
  const out = h.cluster.splice(0);
  const say = out.find((o) => o.op === "room" && o.ev.t === "say");
  assert.ok(say && say.op === "room" && say.ev.t === "say");
  assert.equal(say.ev.nick, "ci");
  assert.equal(say.ev.text, "deployed");
  h.handle({
    type: "cluster",
    msg: {
      kind: "bus",
      bus: { kind: "room", node: "A", room: say.room, seq: 1, ev: say.ev, u: say.u },
      u: say.u,
    },
  });
  assert.deepEqual(h.read(1), ["<ci> deployed"]);
});
