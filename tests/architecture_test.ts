/**
 * The layout rules of ARCHITECTURE.md ("The layout we are growing into"), checked on the
 * module graph that `deno info --json` reports for main.ts, every file under src/ and every file
 * under tests/. Each rule is its own test and lists every violation it finds. Type-only imports
 * count as imports. The tools the rules use are tested at the end of this file.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type DenoInfo,
  findCycles,
  findImpurities,
  type ImportEdge,
  listDirs,
  listFiles,
  loadModuleGraph,
  type ModuleGraph,
  parseDenoInfo,
  stripCommentsAndStrings,
} from "./support/module_graph.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The top-level folders of src/ that only shell/ and main.ts may all see at once. */
const FOLDERS = ["shell", "net", "terminal", "chat", "cluster", "store", "ops", "lib"];
/** The one chat/ module net/ may import: the hub's event and effect types. */
const CHAT_EVENTS = "src/chat/events.ts";
/** Node modules that do I/O or read time; a pure module has no use for them. */
const IMPURE_NODE = new Set(
  [
    "child_process",
    "dgram",
    "dns",
    "fs",
    "fs/promises",
    "http",
    "http2",
    "https",
    "net",
    "os",
    "perf_hooks",
    "process",
    "readline",
    "timers",
    "timers/promises",
    "tls",
    "worker_threads",
  ].map((m) => `node:${m}`),
);
/** tests/ folders that mirror no src/ folder. */
const TEST_EXTRAS = ["tests/e2e", "tests/support"];
/** Test files allowed directly in tests/: they check the whole tree. */
const WHOLE_TREE_TESTS = ["tests/architecture_test.ts"];

const isSource = (path: string) => /\.(ts|tsx|mts|js|jsx|mjs)$/.test(path);
const isTest = (path: string) => /(^|\/|_|\.)test\.(ts|tsx|mts|js|jsx|mjs)$/.test(path);
const under = (path: string, dir: string) => path.startsWith(`${dir}/`);
/** The top-level src/ folder of a module ("chat" for src/chat/commands/mod.ts), or null. */
const folderOf = (path: string) => /^src\/([^/]+)\//.exec(path)?.[1] ?? null;

interface Project {
  srcFiles: string[];
  testFiles: string[];
  graph: ModuleGraph;
}

let project: Promise<Project> | undefined;

/** Reads the tree and the module graph once for all the tests in this file. */
function loadProject(): Promise<Project> {
  project ??= (async () => {
    const srcFiles = listFiles(ROOT, "src", isSource);
    const testFiles = listFiles(ROOT, "tests", isSource);
    const graph = await loadModuleGraph(ROOT, ["main.ts", ...srcFiles, ...testFiles]);
    return { srcFiles, testFiles, graph };
  })();
  return project;
}

/** Every import made by a module under `dir`. */
function importsFrom(graph: ModuleGraph, dir: string): ImportEdge[] {
  return [...graph.values()].flat().filter((e) => under(e.from, dir));
}

/** One line naming an import and where it is. */
function describe(e: ImportEdge): string {
  const notes = [JSON.stringify(e.written)];
  if (e.kind === "type") notes.push("type-only");
  if (e.dynamic) notes.push("dynamic");
  return `${e.from}:${e.line} imports ${e.to} (${notes.join(", ")})`;
}

/** Fails with every violation, one a line. */
function assertNone(rule: string, violations: string[]): void {
  if (violations.length === 0) return;
  const list = [...new Set(violations)].sort();
  throw new Error(`${rule}: ${list.length} violation(s)\n  ${list.join("\n  ")}`);
}

// ---------------------------------------------------------------------------------------------
// The rules

Deno.test("architecture: the module graph holds main.ts and every src/ file", async () => {
  const { srcFiles, graph } = await loadProject();
  const missing = ["main.ts", ...srcFiles].filter((f) => !graph.has(f));
  assertNone("not in the graph deno info reported", missing);
});

Deno.test("architecture: chat/ and terminal/ are pure (no Deno, timers, clock, await)", async () => {
  const { srcFiles, graph } = await loadProject();
  const pure = (f: string) => under(f, "src/chat") || under(f, "src/terminal");
  const violations: string[] = [];
  for (const file of srcFiles.filter(pure)) {
    const source = readFileSync(join(ROOT, file), "utf8");
    for (const hit of findImpurities(source)) {
      violations.push(`${file}:${hit.line}: ${hit.what} \`${hit.text}\``);
    }
  }
  for (const e of [...graph.values()].flat()) {
    if (pure(e.from) && IMPURE_NODE.has(e.to)) violations.push(describe(e));
  }
  assertNone("chat/ and terminal/ must stay pure", violations);
});

Deno.test("architecture: cluster/ and store/ never import chat/", async () => {
  const { graph } = await loadProject();
  const edges = [...importsFrom(graph, "src/cluster"), ...importsFrom(graph, "src/store")];
  const violations = edges.filter((e) => under(e.to, "src/chat")).map(describe);
  assertNone("cluster/ and store/ must not import chat/", violations);
});

Deno.test("architecture: net/ knows chat/ only through chat/events.ts", async () => {
  const { graph } = await loadProject();
  const violations = importsFrom(graph, "src/net")
    .filter((e) => under(e.to, "src/chat") && e.to !== CHAT_EVENTS)
    .map(describe);
  assertNone(`net/ may import only ${CHAT_EVENTS} from chat/`, violations);
});

Deno.test("architecture: lib/ imports nothing of ours (node: built-ins only)", async () => {
  const { graph } = await loadProject();
  const violations = importsFrom(graph, "src/lib")
    .filter((e) => !e.to.startsWith("node:"))
    .map(describe);
  assertNone("lib/ may import only node: built-ins", violations);
});

Deno.test("architecture: only shell/ and main.ts import from every folder", async () => {
  const { srcFiles, graph } = await loadProject();
  const violations: string[] = [];
  for (const file of srcFiles) {
    const own = folderOf(file);
    if (own === null || own === "shell") continue;
    // A module sees its own folder without importing from it.
    const seen = new Set([own]);
    for (const e of graph.get(file) ?? []) {
      const folder = folderOf(e.to);
      if (folder !== null) seen.add(folder);
    }
    if (FOLDERS.every((f) => seen.has(f))) {
      const others = FOLDERS.filter((f) => f !== own).join(", ");
      violations.push(`${file} (in ${own}/) imports from every other folder: ${others}`);
    }
  }
  assertNone("only shell/ and main.ts may see everything", violations);
});

Deno.test("architecture: src/ has no import cycles", async () => {
  const { graph } = await loadProject();
  const edges = new Map<string, string[]>();
  for (const [from, imports] of graph) {
    if (!under(from, "src")) continue;
    edges.set(from, imports.filter((e) => under(e.to, "src")).map((e) => e.to));
  }
  const { groups, cycles } = findCycles(edges);
  const violations = [
    ...groups.map((g) => `tangle of ${g.length}: ${g.join(", ")}`),
    ...cycles.map((c) => `cycle: ${[...c, c[0]].join(" -> ")}`),
  ];
  assertNone("src/ import cycles", violations);
});

Deno.test("architecture: tests/ mirrors src/", async () => {
  const { testFiles, graph } = await loadProject();
  const violations: string[] = [];
  const extra = (path: string) => TEST_EXTRAS.some((d) => path === d || under(path, d));

  // Every folder of test code in tests/ names a folder in src/ (tests/artifacts and the like,
  // which hold no code, are not test folders).
  for (const dir of listDirs(ROOT, "tests")) {
    if (dir === "tests" || extra(dir) || !testFiles.some((f) => under(f, dir))) continue;
    const twin = `src/${dir.slice("tests/".length)}`;
    const exists = existsSync(join(ROOT, twin)) && statSync(join(ROOT, twin)).isDirectory();
    if (!exists) violations.push(`${dir}/ has no matching ${twin}/`);
  }

  // Every test sits in the folder of what it tests: tests/X/*_test.ts imports from src/X/,
  // directly or through a driver of tests/support.
  for (const file of testFiles.filter(isTest)) {
    if (under(file, "tests/e2e")) continue;
    const dir = file.slice(0, file.lastIndexOf("/"));
    const direct = graph.get(file) ?? [];
    if (dir === "tests") {
      if (!WHOLE_TREE_TESTS.includes(file)) {
        violations.push(`${file} sits in tests/ itself, not in the folder of what it tests`);
      }
      continue;
    }
    if (under(file, "tests/support")) {
      if (!direct.some((e) => under(e.to, "tests/support"))) {
        violations.push(`${file} tests no driver in tests/support/`);
      }
      continue;
    }
    const twin = `src/${dir.slice("tests/".length)}`;
    if (direct.some((e) => under(e.to, twin))) continue;
    // A test may reach what it tests through a driver of tests/support (a hub harness, an
    // in-process server), which is then its direct import.
    const throughDriver = direct.some((e) =>
      under(e.to, "tests/support") && (graph.get(e.to) ?? []).some((s) => under(s.to, twin))
    );
    if (throughDriver) continue;
    const srcFolders = [...new Set(direct.map((e) => folderOf(e.to)).filter((f) => f))].sort();
    const viaSupport = direct
      .filter((e) => under(e.to, "tests/support"))
      .filter((e) => (graph.get(e.to) ?? []).some((s) => under(s.to, twin)))
      .map((e) => e.to);
    const notes = [`imports from src/: ${srcFolders.join(", ") || "nothing"}`];
    if (viaSupport.length > 0) notes.push(`reaches ${twin}/ only via ${viaSupport.join(", ")}`);
    violations.push(`${file} imports nothing from ${twin}/ (${notes.join("; ")})`);
  }
  assertNone("tests/ must mirror src/", violations);
});

// ---------------------------------------------------------------------------------------------
// The tools

Deno.test("architecture tools: the stripper blanks comments and literals, keeps code", () => {
  const cases: [string, string[], string[]][] = [
    // [source, must survive, must be gone]
    [`const a = "Deno.exit()"; // setTimeout(f)\nf();`, ["const a", "f();"], [
      "Deno",
      "setTimeout",
    ]],
    [`/* await\n Date.now() */ x = 1;`, ["x = 1;"], ["await", "Date"]],
    [`'it\\'s Deno' + await z`, ["await z"], ["Deno", "s"]],
    [`"a \\" Deno" + Date.now()`, ["Date.now()"], ["Deno"]],
    [`"http://x.y/*" + Deno.z`, ["Deno.z"], ["http"]],
    // Templates: text goes, expressions stay, even nested and with braces inside.
    [
      "`a ${Date.now()} b ${`nested ${await q} Deno`} c`",
      ["Date.now()", "await q", "${", "}"],
      ["a ", " b ", "nested", "Deno", " c"],
    ],
    ["`${ {k: 1}.k } Deno` + setTimeout", ["{k: 1}.k", "setTimeout"], ["Deno"]],
    ["`esc \\` Deno ${x}` + y", ["${x}", "+ y"], ["Deno", "esc"]],
    // Regex literals: quotes, slashes and comment marks inside them start nothing.
    [`const re = /["'\\/]+/g; Deno.x()`, ["const re", "/g;", "Deno.x()"], []],
    [`const re = /[/"]/; await y`, ["await y"], ['"']],
    [`return /\\/\\*/.test(s) && await q; // Deno`, ["return", ".test(s)", "await q"], ["Deno"]],
    [`x = /Date.now()/.test(s)`, ["x = /", "/.test(s)"], ["Date"]],
    // Division is not a regex: the string after it is still a string.
    [`const x = a / b; const y = "Deno"; z / 2`, ["a / b", "z / 2"], ["Deno"]],
    [`(a + b) / 2 + "/" + Deno.q`, ["(a + b) / 2", "Deno.q"], []],
    [`n = items.length / 2; s = '/Deno/'`, ["items.length / 2"], ["Deno"]],
    // A `/` with no closing `/` on its line is a division after all.
    [`f({}) \n}\n/ 2; "Deno"`, ["/ 2;"], ["Deno"]],
    // A backtick or quote inside a comment opens nothing.
    ["// don't `start\nDeno.x", ["Deno.x"], ["start"]],
    ["/* it's */ Deno.y", ["Deno.y"], ["it"]],
    ["#!/usr/bin/env -S deno run\nDeno.z", ["Deno.z"], ["usr"]],
  ];
  for (const [src, kept, gone] of cases) {
    const out = stripCommentsAndStrings(src);
    assert.equal(out.length, src.length, `length kept for ${JSON.stringify(src)}`);
    assert.deepEqual(out.split("\n").length, src.split("\n").length, "lines kept");
    for (const k of kept) assert.ok(out.includes(k), `${JSON.stringify(k)} kept in ${out}`);
    for (const g of gone) assert.ok(!out.includes(g), `${JSON.stringify(g)} gone from ${out}`);
  }
});

Deno.test("architecture tools: findImpurities names line and kind", () => {
  const src = [
    "// Deno.listen in a comment is fine",
    "const s = 'await Date.now()';",
    "const d = new Date(ms);",
    "const e = new Date();",
    "const f = new Date;",
    "const g = Date.now() + performance.now();",
    "obj.async = x.await;",
    "setTimeout(tick, 10); queueMicrotask(f);",
    "async function h() { for await (const x of y) {} }",
    "const t: Deno.Conn = c;",
    "const u = `ok ${Date()}`;",
    "const parsed = Date.parse(s);",
  ].join("\n");
  const found = findImpurities(src).map((h) => `${h.line} ${h.what} ${h.text}`);
  assert.deepEqual(found, [
    "4 clock new Date",
    "5 clock new Date",
    "6 clock Date.now",
    "6 clock performance.now",
    "8 timer queueMicrotask",
    "8 timer setTimeout",
    "9 async async",
    "9 async await",
    "10 Deno API Deno",
    "11 clock Date(",
  ]);
});

Deno.test("architecture tools: findCycles reports each tangle and its cycles", () => {
  const graph = new Map<string, string[]>([
    ["a", ["b"]],
    ["b", ["c"]],
    ["c", ["a", "d"]],
    ["d", ["d"]], // imports itself
    ["e", ["f"]], // no cycle
    ["g", ["h"]],
    ["h", ["g", "i"]],
    ["i", ["h"]], // g and i each loop through h
  ]);
  const { groups, cycles } = findCycles(graph);
  assert.deepEqual(groups, [["a", "b", "c"], ["d"], ["g", "h", "i"]]);
  assert.deepEqual(cycles, [["a", "b", "c"], ["d"], ["g", "h"], ["h", "i"]]);
  assert.deepEqual(findCycles(new Map([["x", ["y"]], ["y", []]])), { groups: [], cycles: [] });
});

Deno.test("architecture tools: parseDenoInfo reads code and type dependencies", () => {
  const file = (p: string) => new URL(p, `file://${ROOT}`).href;
  const span = (line: number) => ({ start: { line } });
  const info: DenoInfo = {
    roots: [file("src/a.ts")],
    modules: [
      {
        specifier: file("src/a.ts"),
        dependencies: [
          { specifier: "./b.ts", code: { specifier: file("src/b.ts"), span: span(0) } },
          { specifier: "./c.ts", type: { specifier: file("src/c.ts"), span: span(1) } },
          {
            specifier: "./d.ts",
            code: { specifier: file("src/d.ts"), span: span(2) },
            type: { specifier: file("src/d.ts"), span: span(5) },
          },
          { specifier: "node:path", code: { specifier: "node:path", span: span(3) } },
          { specifier: "./gone.ts", code: { error: "not found", span: span(4) } },
          {
            specifier: "./e.ts",
            code: { specifier: file("src/e.ts"), span: span(6) },
            isDynamic: true,
          },
        ],
      },
      { specifier: "node:path" },
    ],
  };
  const graph = parseDenoInfo(info, ROOT);
  const edges = graph.get("src/a.ts")!.map((e) => `${e.kind} ${e.to}:${e.line}`);
  assert.deepEqual(edges, [
    "code src/b.ts:1",
    "type src/c.ts:2",
    "code src/d.ts:3",
    "type src/d.ts:6",
    "code node:path:4",
    "code ./gone.ts:5",
    "code src/e.ts:7",
  ]);
  assert.equal(graph.get("src/a.ts")!.at(-1)!.dynamic, true);
  assert.deepEqual(graph.get("node:path"), []);
});

Deno.test("architecture tools: deno info marks `import type` as type, `{ type X }` as code", async () => {
  // Asks the real `deno info`, so a change in how it reports imports shows up here.
  const dep = (n: number) => `data:application/typescript,export type A = ${n};`;
  const source = [
    `import type { A } from "${dep(1)}";`,
    `export type { A as B } from "${dep(2)}";`,
    `import { type A as C } from "${dep(3)}";`,
    `export { type A as D } from "${dep(4)}";`,
    `import "${dep(5)}";`,
  ].join("\n");
  const root = `data:application/typescript;base64,${btoa(source)}`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--no-lock", "--no-remote", "--no-npm", root],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as DenoInfo;
  const edges = parseDenoInfo(info, ROOT).get(root)!;
  const kinds = edges.map((e) => `${e.line} ${e.kind}`).sort();
  assert.deepEqual(kinds, ["1 type", "2 type", "3 code", "4 code", "5 code"]);
});
