/**
 * The word filter (--filter-file): words and /regular expressions/ whose matches are masked
 * (`****`) in what people say before anyone sees it or it is kept.
 *
 * The file: one word (or phrase) per line, matched as a whole word whatever its case, or a
 * `/regular expression/` (always case-insensitive, Unicode mode); `#` starts a comment (a whole
 * line, or after a word following a space; never inside a /regular expression/); blank lines are
 * ignored. Pure: the shell reads the file, this compiles it.
 */

/** A filter file that could not be read: what is wrong, and on which line (1-based). */
export interface FilterError {
  error: string;
  line: number;
}

/** Most words and patterns a filter holds. */
export const MAX_PATTERNS = 10_000;
/** Longest word or pattern, in characters. */
export const MAX_PATTERN_LENGTH = 1_000;
/** What a match becomes. */
export const MASK = "****";

/** A character that is part of a word: whole-word matching needs none on either side. */
const WORD_CHAR = "[\\p{L}\\p{N}\\p{M}_]";
/** Texts a /regular expression/ is tried on to find one that matches nothing (see compile). */
const PROBES = ["", "a", "A b", "the quick brown fox, 1 2 3!", "жук", " \t."];

/** A compiled filter. */
export class WordFilter {
  /** How many words and patterns it holds. */
  readonly patterns: number;
  /** The words as one expression, then each /regular expression/: one pass over a text each. */
  readonly #res: RegExp[];

  /** An empty filter, or one made of `words` and compiled `regexes` (flags `giu`). */
  constructor(words: readonly string[] = [], regexes: readonly RegExp[] = []) {
    this.patterns = words.length + regexes.length;
    this.#res = words.length > 0 ? [wordsExpression(words), ...regexes] : [...regexes];
  }

  /** `text` with every match masked (`text` itself when nothing matched). */
  mask(text: string): string {
    let out = text;
    for (const re of this.#res) {
      // replace() steps past an empty match by itself; an empty match is left as it is.
      out = out.replace(re, (m) => m === "" ? m : MASK);
    }
    return out;
  }
}

/** Compiles a filter file's text; the first bad line is an error. */
export function parseFilter(text: string): WordFilter | FilterError {
  const words: string[] = [];
  const seen = new Set<string>();
  const regexes: RegExp[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const entry = lines[i].trim();
    if (entry === "" || entry.startsWith("#")) continue;
    if (words.length + regexes.length >= MAX_PATTERNS) {
      return { error: `more than ${MAX_PATTERNS} words and patterns`, line };
    }
    if (entry.startsWith("/")) {
      const re = compile(entry);
      if (!(re instanceof RegExp)) return { error: re, line };
      regexes.push(re);
      continue;
    }
    const word = entry.replace(/\s#.*$/, "").trim();
    if ([...word].length > MAX_PATTERN_LENGTH) {
      return { error: `a word longer than ${MAX_PATTERN_LENGTH} characters`, line };
    }
    const key = word.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      words.push(word);
    }
  }
  return new WordFilter(words, regexes);
}

/**
 * A `/regular expression/` line (an optional `# comment` after it) as a RegExp, or why not.
 * One that can match an empty text is refused: it would mask nothing and only cost time.
 */
function compile(entry: string): RegExp | string {
  const m = /^\/(.*)\/(?:\s+#.*)?$/.exec(entry);
  if (!m) {
    return entry.lastIndexOf("/") > 0
      ? `text after the closing / of ${entry} (no flags: a /regular expression/ always ` +
        "ignores case; a comment needs a space before its #)"
      : `${entry} has no closing /`;
  }
  const body = m[1];
  if ([...body].length > MAX_PATTERN_LENGTH) {
    return `a regular expression longer than ${MAX_PATTERN_LENGTH} characters`;
  }
  let re: RegExp;
  try {
    re = new RegExp(body, "giu");
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).replace(/^.*\/giu: /, "");
    return `bad regular expression /${body}/: ${why}`;
  }
  for (const probe of PROBES) {
    for (const hit of probe.matchAll(re)) {
      if (hit[0] === "") return `/${body}/ can match an empty text (it would mask nothing)`;
    }
  }
  return re;
}

/** A trie of words, by token (a code point, escaped, or a run of spaces). */
interface Node {
  next: Map<string, Node>;
  end: boolean;
}

/**
 * All the words as one expression, whole words only: no letter, digit, mark or _ just before
 * or after (JS's `\b` knows only ASCII). The words are folded into a trie so that a text is
 * read once, whatever the number of words, rather than tried against each word in turn.
 */
function wordsExpression(words: readonly string[]): RegExp {
  const root: Node = { next: new Map(), end: false };
  for (const word of words) {
    let node = root;
    for (const token of tokens(word)) {
      let child = node.next.get(token);
      if (!child) node.next.set(token, child = { next: new Map(), end: false });
      node = child;
    }
    node.end = true;
  }
  return new RegExp(`(?<!${WORD_CHAR})${trieSource(root)}(?!${WORD_CHAR})`, "giu");
}

/** A word's tokens: each code point escaped, and each run of spaces as `\s+`. */
function tokens(word: string): string[] {
  return word.match(/\s+|[^\s]/gu)!.map((t) =>
    /^\s/.test(t) ? "\\s+" : t.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&")
  );
}

/**
 * The expression of a trie: at each node its branches, then the end of a word, so that of
 * "bad" and "bad word" the longer is masked. Written without recursion: a word may be 1000
 * tokens long.
 */
function trieSource(root: Node): string {
  const out: string[] = [];
  type Step = { node: Node; prefix: string } | string;
  const stack: Step[] = [{ node: root, prefix: "" }];
  while (stack.length > 0) {
    const step = stack.pop()!;
    if (typeof step === "string") {
      out.push(step);
      continue;
    }
    const { node, prefix } = step;
    out.push(prefix);
    const kids = [...node.next];
    if (kids.length === 0) continue;
    if (kids.length === 1 && !node.end) {
      const [token, child] = kids[0];
      stack.push({ node: child, prefix: token });
      continue;
    }
    // (?:k1…|k2…|) — the empty branch last: the word may end here.
    stack.push(node.end ? "|)" : ")");
    for (let i = kids.length - 1; i >= 0; i--) {
      const [token, child] = kids[i];
      stack.push({ node: child, prefix: token });
      if (i > 0) stack.push("|");
    }
    stack.push("(?:");
  }
  return `(?:${out.join("")})`;
}
