/**
 * The module graph as `deno info --json` sees it, plus the small tools the architecture test
 * needs to judge it: a comment/string stripper for source text, a scanner for impure calls and
 * a cycle finder. Kept apart from the test so each piece can be tested on its own inputs.
 */
import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** How an import is written: `code` (a value import) or `type` (`import type`, `export type`). */
export type ImportKind = "code" | "type";

/** One import of one module, as `deno info` reports it. */
export interface ImportEdge {
  /** The importing module: a path relative to the project root, or a URL outside it. */
  from: string;
  /** The imported module, named the same way; the written specifier when it did not resolve. */
  to: string;
  /** The specifier as written in the source. */
  written: string;
  kind: ImportKind;
  /** 1-based line of the first import of this kind with this specifier. */
  line: number;
  /** A dynamic `import()`. */
  dynamic: boolean;
}

/** Every module in a graph with its direct imports, keyed like {@link ImportEdge.from}. */
export type ModuleGraph = Map<string, ImportEdge[]>;

interface InfoResolution {
  specifier?: string;
  error?: string;
  span?: { start: { line: number } };
}

interface InfoDependency {
  specifier: string;
  code?: InfoResolution;
  type?: InfoResolution;
  /** Older `deno info` outputs used these names. */
  maybeCode?: InfoResolution;
  maybeType?: InfoResolution;
  isDynamic?: boolean;
}

interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
  typesDependency?: { specifier: string; dependency?: InfoResolution };
}

/** The parts of `deno info --json` output that the graph is built from. */
export interface DenoInfo {
  roots: string[];
  modules: InfoModule[];
}

/** Names a module: its path relative to `root` for files inside it, else the URL itself. */
export function moduleName(specifier: string, root: string): string {
  if (!specifier.startsWith("file:")) return specifier;
  const rel = relative(root, fileURLToPath(specifier));
  if (rel.startsWith("..")) return specifier;
  return rel.split(sep).join("/");
}

/**
 * Turns `deno info --json` output into direct import edges. `deno info` lists one dependency
 * per written specifier: a `code` resolution when any value import uses it, a `type`
 * resolution when any `import type` / `export type ... from` does (both when both do).
 */
export function parseDenoInfo(info: DenoInfo, root: string): ModuleGraph {
  const graph: ModuleGraph = new Map();
  for (const mod of info.modules) {
    const from = moduleName(mod.specifier, root);
    const edges: ImportEdge[] = [];
    const add = (written: string, kind: ImportKind, res?: InfoResolution, dynamic = false) => {
      if (!res) return;
      const to = moduleName(res.specifier ?? written, root);
      const line = (res.span?.start.line ?? -1) + 1;
      edges.push({ from, to, written, kind, line, dynamic });
    };
    for (const dep of mod.dependencies ?? []) {
      const dynamic = dep.isDynamic === true;
      add(dep.specifier, "code", dep.code ?? dep.maybeCode, dynamic);
      add(dep.specifier, "type", dep.type ?? dep.maybeType, dynamic);
    }
    if (mod.typesDependency) {
      add(mod.typesDependency.specifier, "type", mod.typesDependency.dependency);
    }
    graph.set(from, edges);
  }
  return graph;
}

/**
 * Runs `deno info --json` once over all `files` (paths relative to `root`) by giving it a
 * `data:` root module that imports each of them, so modules nothing else imports are in the
 * graph too. The synthetic root is left out of the result.
 */
export async function loadModuleGraph(root: string, files: string[]): Promise<ModuleGraph> {
  const source = files
    .map((f) => `import ${JSON.stringify(pathToFileURL(join(root, f)).href)};\n`)
    .join("");
  const rootUrl = `data:application/typescript;base64,${btoa(source)}`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--no-lock", "--no-remote", "--no-npm", rootUrl],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`deno info failed (${out.code}): ${text.decode(out.stderr)}`);
  }
  const graph = parseDenoInfo(JSON.parse(text.decode(out.stdout)) as DenoInfo, root);
  graph.delete(rootUrl);
  return graph;
}

/** Paths (relative to `root`, `/`-separated, sorted) of the files under `dir` that `keep`. */
export function listFiles(root: string, dir: string, keep: (path: string) => boolean): string[] {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (keep(path)) found.push(path);
    }
  };
  walk(dir);
  return found.sort();
}

/** Paths (relative to `root`, sorted) of `dir` and every directory below it. */
export function listDirs(root: string, dir: string): string[] {
  const found = [dir];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    if (entry.isDirectory()) found.push(...listDirs(root, `${dir}/${entry.name}`));
  }
  return found.sort();
}

// ---------------------------------------------------------------------------------------------
// Source text

/** Words after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER_WORD = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/** Punctuation after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER_PUNCT = "([{,;:=!&|?+-*%<>~^}";

const isIdent = (c: string) => /[\w$\u0080-\uffff]/.test(c);

/**
 * Blanks comments and the contents of string, template and regex literals, keeping the code
 * (including `${...}` expressions in templates), the quote marks, every newline and the length,
 * so offsets and line numbers still point into the original text.
 *
 * A `/` is a regex when it follows an operator, an opening bracket or a keyword like `return`;
 * one that finds no closing `/` on its line is taken as a division after all.
 */
export function stripCommentsAndStrings(src: string): string {
  const out = src.split("");
  const n = src.length;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to && k < n; k++) if (out[k] !== "\n" && out[k] !== "\r") out[k] = " ";
  };
  /** Brace depth at each open `${`, innermost last. */
  const templates: number[] = [];
  let depth = 0;
  let prevChar = ""; // last significant code character ("" at the start)
  let prevWord = ""; // the identifier it ended, if it was one

  /** Blanks template text from `j`; returns the index after the closing backtick or `${`. */
  const templateText = (j: number): number => {
    while (j < n) {
      const c = src[j];
      if (c === "\\") {
        blank(j, j + 2);
        j += 2;
      } else if (c === "`") {
        return j + 1;
      } else if (c === "$" && src[j + 1] === "{") {
        templates.push(depth++);
        return j + 2;
      } else {
        blank(j, j + 1);
        j++;
      }
    }
    return n;
  };
  const afterTemplate = (j: number) => {
    if (src[j - 1] === "`") [prevChar, prevWord] = ["`", ""];
    else [prevChar, prevWord] = ["{", ""];
    return j;
  };
  /** The index of the `/` closing a regex opened at `i`, or -1 if none on this line. */
  const regexEnd = (i: number): number => {
    let inClass = false;
    for (let j = i + 1; j < n; j++) {
      const c = src[j];
      if (c === "\n" || c === "\r") return -1;
      if (c === "\\") j++;
      else if (c === "[") inClass = true;
      else if (c === "]") inClass = false;
      else if (c === "/" && !inClass) return j;
    }
    return -1;
  };

  let i = 0;
  if (src.startsWith("#!")) {
    while (i < n && src[i] !== "\n") i++;
    blank(0, i);
  }
  while (i < n) {
    const c = src[i];
    if (c === "/" && src[i + 1] === "/") {
      let j = i;
      while (j < n && src[j] !== "\n") j++;
      blank(i, j);
      i = j;
    } else if (c === "/" && src[i + 1] === "*") {
      const close = src.indexOf("*/", i + 2);
      const j = close < 0 ? n : close + 2;
      blank(i, j);
      i = j;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && src[j] !== c && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      blank(i + 1, Math.min(j, n));
      i = j < n && src[j] === c ? j + 1 : j;
      [prevChar, prevWord] = [c, ""];
    } else if (c === "`") {
      i = afterTemplate(templateText(i + 1));
    } else if (c === "}" && templates.length > 0 && templates[templates.length - 1] === depth - 1) {
      templates.pop();
      depth--;
      i = afterTemplate(templateText(i + 1));
    } else if (c === "/") {
      const regexOk = prevChar === "" || REGEX_AFTER_PUNCT.includes(prevChar) ||
        REGEX_AFTER_WORD.has(prevWord);
      const end = regexOk ? regexEnd(i) : -1;
      if (end < 0) {
        [prevChar, prevWord] = ["/", ""];
        i++;
      } else {
        blank(i + 1, end);
        i = end + 1;
        while (i < n && /[a-z]/i.test(src[i])) i++;
        // A regex is a value: a `/` right after it divides, as after `)`.
        [prevChar, prevWord] = [")", ""];
      }
    } else if (isIdent(c)) {
      let j = i;
      while (j < n && isIdent(src[j])) j++;
      [prevChar, prevWord] = [src[j - 1], src.slice(i, j)];
      i = j;
    } else {
      if (c === "{") depth++;
      else if (c === "}") depth--;
      if (!/\s/.test(c)) [prevChar, prevWord] = [c, ""];
      i++;
    }
  }
  return out.join("");
}

/** A use of something a pure module may not touch. */
export interface Impurity {
  /** 1-based line. */
  line: number;
  /** What kind of thing it is: "Deno API", "timer", "clock", "async". */
  what: string;
  /** The matched text. */
  text: string;
}

const IMPURE: [string, RegExp][] = [
  ["Deno API", /(?<![\w$])Deno\b/g],
  [
    "timer",
    /(?<![\w$])(?:setTimeout|setInterval|setImmediate|queueMicrotask|clearTimeout|clearInterval|clearImmediate|requestAnimationFrame)\b/g,
  ],
  ["clock", /(?<![\w$])(?:Date\s*\.\s*now|performance\s*\.\s*now|Temporal\s*\.\s*Now)\b/g],
  // `new Date()` or `new Date` with no argument reads the clock; `new Date(ms)` does not.
  ["clock", /(?<![\w$])new\s+Date\b(?!\s*\(\s*[^\s)])/g],
  // `Date()` called without `new` returns the current time as a string.
  ["clock", /(?<![\w$.])(?<!new\s+)Date\s*\(/g],
  [
    "process",
    /(?<![\w$.])process\s*\.\s*(?:hrtime|nextTick|env|exit|stdout|stderr|stdin|uptime)\b/g,
  ],
  ["async", /(?<![\w$.])(?:await|async)\b/g],
];

/**
 * Finds Deno APIs, timers, clock reads and `async`/`await` in TypeScript source, ignoring
 * comments and literals. Sorted by line.
 */
export function findImpurities(src: string): Impurity[] {
  const code = stripCommentsAndStrings(src);
  const lineStarts = [0];
  for (let k = 0; k < code.length; k++) if (code[k] === "\n") lineStarts.push(k + 1);
  const lineOf = (index: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const found: Impurity[] = [];
  for (const [what, pattern] of IMPURE) {
    for (const m of code.matchAll(pattern)) {
      found.push({ line: lineOf(m.index), what, text: m[0].replace(/\s+/g, " ") });
    }
  }
  return found.sort((a, b) => a.line - b.line || a.text.localeCompare(b.text));
}

// ---------------------------------------------------------------------------------------------
// Cycles

/** Import cycles: the tangled groups (strongly connected components) and cycles within them. */
export interface CycleReport {
  /** Each group of modules that reach each other, sorted; groups sorted by first member. */
  groups: string[][];
  /**
   * For each module in a group, the shortest cycle through it, starting at its smallest
   * member, without the repeated first module at the end; deduplicated and sorted.
   */
  cycles: string[][];
}

/** Finds the import cycles of a graph given as module → modules it imports. */
export function findCycles(edges: Map<string, Iterable<string>>): CycleReport {
  const next = new Map<string, string[]>();
  for (const [from, tos] of edges) {
    next.set(from, [...new Set(tos)].sort());
    for (const to of tos) if (!edges.has(to)) next.set(to, next.get(to) ?? []);
  }
  const nodes = [...next.keys()].sort();

  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      const selfLoop = group.length === 1 && next.get(v)!.includes(v);
      if (group.length > 1 || selfLoop) groups.push(group.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  groups.sort((a, b) => a[0].localeCompare(b[0]));

  // The shortest cycle through each member, by breadth-first search inside its group.
  const cycles = new Map<string, string[]>();
  for (const group of groups) {
    const inGroup = new Set(group);
    for (const start of group) {
      const parent = new Map<string, string>();
      const queue = [start];
      let last: string | undefined;
      search: while (queue.length > 0) {
        const v = queue.shift()!;
        for (const w of next.get(v)!) {
          if (!inGroup.has(w)) continue;
          if (w === start) {
            last = v;
            break search;
          }
          if (!parent.has(w)) {
            parent.set(w, v);
            queue.push(w);
          }
        }
      }
      const path: string[] = [];
      for (let v = last; v !== undefined && v !== start; v = parent.get(v)) path.unshift(v);
      const cycle = [start, ...path];
      const first = cycle.indexOf([...cycle].sort()[0]);
      const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
      cycles.set(rotated.join("\n"), rotated);
    }
  }
  const sorted = [...cycles.keys()].sort().map((k) => cycles.get(k)!);
  return { groups, cycles: sorted };
}
