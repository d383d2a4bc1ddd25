/**
 * The kinds of option value (a port, a duration, a list of addresses, ...): for each, the
 * parameters a row of the option table gives it, the TypeScript type of its value, how text is
 * read into that type and how a value is shown in `--help`. The option table (options.ts) says
 * which options there are; this says what each kind of option means.
 */
import type { ConnectRate } from "../chat/moderation.ts";
import { parseIp } from "../lib/ip.ts";
import { roomName } from "../chat/room.ts";
import { formatDuration, formatSize, parseDuration, parseSize } from "../lib/units.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./log.ts";

type NoParams = Record<never, never>;

/**
 * Every kind of option: the parameters a row of the table gives it, and the TypeScript type of
 * its value in a Config. Adding a kind here makes the compiler ask for its parser.
 */
export interface Kinds {
  string: {
    params: {
      allowEmpty?: boolean;
      maxLength?: number;
      printable?: boolean;
      /** A secret typed at the prompt: no spaces or controls, which could never be typed back. */
      typeable?: boolean;
    };
    value: string;
  };
  int: { params: { min: number; max: number }; value: number };
  port: { params: { off?: boolean }; value: number };
  size: { params: { min: number; max: number; zeroMeans?: string }; value: number };
  duration: { params: { min: number; max?: number; zeroMeans?: string }; value: number };
  rate: { params: NoParams; value: ConnectRate };
  room: { params: NoParams; value: string };
  bool: { params: NoParams; value: boolean };
  level: { params: NoParams; value: LogLevel };
  format: { params: NoParams; value: LogFormat };
  ips: { params: NoParams; value: string[] };
  origins: { params: NoParams; value: string[] };
  hosts: { params: NoParams; value: string[] };
}
/** The name of a kind: `"int"`, `"duration"`, ... */
export type KindName = keyof Kinds;
/** The TypeScript type of a kind's value. */
export type ValueOf<K extends KindName> = Kinds[K]["value"];

/** A kind as a row writes it: `{ type: "int", min: 0, max: 10 }`. */
export type KindSpec<K extends KindName = KindName> = {
  [P in K]: { readonly type: P } & Readonly<Kinds[P]["params"]>;
}[K];

/** A value as the table holds it: frozen, so a default can never be changed through a config. */
export type Frozen<T> = T extends readonly (infer E)[] ? readonly E[]
  : T extends object ? Readonly<T>
  : T;

/** Builds the refusal for one value; the caller names where the value came from. */
export type Bad = (why: string) => Error;

/** How one kind of value is read from text and shown as a default in --help. */
interface KindRules<K extends KindName> {
  /** The placeholder in --help when the row names none (a switch has none). */
  value?: string;
  parse(text: string, spec: KindSpec<K>, bad: Bad): ValueOf<K>;
  show(value: Frozen<ValueOf<K>>, spec: KindSpec<K>): string;
}

/** Durations as --help shows them: `1h30m`, not `1h 30m`. */
const compactDuration = (ms: number) => formatDuration(ms).replaceAll(" ", "");
const showList = (v: readonly string[]) => v.length ? v.join(",") : "none";
const showPlain = (v: string | number) => String(v);

/** Splits a comma-separated list, reading each non-empty part with `one`. */
function parseList(text: string, one: (part: string) => string): string[] {
  return text.split(",").map((p) => p.trim()).filter(Boolean).map(one);
}

/** Reads one of a fixed list of words, case-insensitively. */
function oneOf<T extends string>(words: readonly T[], text: string, bad: Bad): T {
  const v = text.trim().toLowerCase();
  const word = words.find((w) => w === v);
  if (word === undefined) throw bad(`expected one of ${words.join(", ")}`);
  return word;
}

const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*$/;

/** The parser and display of every kind; a mapped type, so each returns its kind's type. */
const KINDS: { [K in KindName]: KindRules<K> } = {
  string: {
    parse(text, spec, bad) {
      if (!spec.allowEmpty && text.trim() === "") throw bad("must not be empty");
      if (spec.maxLength !== undefined && [...text].length > spec.maxLength) {
        throw bad(`at most ${spec.maxLength} characters`);
      }
      if (spec.typeable && /[\s\p{Cc}\p{Cf}]/u.test(text)) {
        throw bad("spaces and control characters cannot be typed at the prompt");
      }
      if (spec.printable && /[\p{Cc}\p{Cf}]/u.test(text)) {
        throw bad("control characters are not allowed");
      }
      return text;
    },
    show: (v) => v === "" ? '""' : v,
  },
  int: {
    value: "N",
    parse(text, spec, bad) {
      const n = Number(text);
      if (!/^\d+$/.test(text.trim()) || n < spec.min || n > spec.max) {
        throw bad(`expected a whole number ${spec.min}-${spec.max}`);
      }
      return n;
    },
    show: showPlain,
  },
  port: {
    value: "N",
    parse(text, spec, bad) {
      const range = `expected a port number 0-65535${spec.off ? ", or off" : ""}`;
      if (spec.off && text.trim().toLowerCase() === "off") return -1;
      if (!/^\d+$/.test(text.trim()) || Number(text) > 65535) throw bad(range);
      return Number(text);
    },
    show: (v) => v === -1 ? "off" : String(v),
  },
  size: {
    value: "BYTES",
    parse(text, spec, bad) {
      const n = parseSize(text);
      const zero = spec.zeroMeans ? `, or 0 for ${spec.zeroMeans}` : "";
      const range = `${formatSize(spec.min)}-${formatSize(spec.max)}${zero}`;
      if (n === undefined) throw bad(`expected a byte count like 4096, 64KiB or 1MiB (${range})`);
      if (n === 0 && spec.zeroMeans) return 0;
      if (n < spec.min || n > spec.max) throw bad(`must be ${range}`);
      return n;
    },
    show: (v, spec) => v === 0 ? (spec.zeroMeans ?? "0") : formatSize(v),
  },
  duration: {
    value: "DUR",
    parse(text, spec, bad) {
      const n = parseDuration(text);
      const zero = spec.zeroMeans ? `, or 0 for ${spec.zeroMeans}` : "";
      if (n === undefined) throw bad(`expected a duration like 500ms, 2s, 10m or 1h${zero}`);
      if (n < spec.min) throw bad(spec.min > 0 ? "must be longer than 0" : "must not be negative");
      if (spec.max !== undefined && n > spec.max) {
        throw bad(`must be at most ${formatDuration(spec.max)}`);
      }
      return n;
    },
    show: (v, spec) => v === 0 ? (spec.zeroMeans ?? "0") : compactDuration(v),
  },
  rate: {
    value: "N/DUR",
    parse(text, _spec, bad) {
      if (text.trim() === "0") return { burst: 0, per: 0 };
      const m = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(text);
      const per = m ? parseDuration(m[2]) : undefined;
      const burst = m ? Number(m[1]) : NaN;
      if (!m || per === undefined || per <= 0 || !(burst >= 1 && burst <= 1_000_000)) {
        throw bad("expected N/DURATION like 32/1m (N at once, earned back over DURATION), or 0");
      }
      return { burst, per };
    },
    show: (v) => v.burst === 0 ? "0" : `${v.burst}/${compactDuration(v.per)}`,
  },
  room: {
    value: "NAME",
    parse(text, _spec, bad) {
      const name = roomName(text.trim());
      if (!name) throw bad("a room name is 1-24 letters, digits, - and _");
      return name;
    },
    show: showPlain,
  },
  bool: {
    parse(text, _spec, bad) {
      const v = text.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off", ""].includes(v)) return false;
      throw bad("expected 1/0, true/false, yes/no or on/off");
    },
    show: (v) => v ? "on" : "off",
  },
  level: { value: "LEVEL", parse: (text, _, bad) => oneOf(LOG_LEVELS, text, bad), show: showPlain },
  format: {
    value: "FORMAT",
    parse: (text, _, bad) => oneOf(LOG_FORMATS, text, bad),
    show: showPlain,
  },
  ips: {
    value: "ADDRS",
    parse: (text, _, bad) =>
      parseList(text, (part) => {
        const ip = parseIp(part);
        if ("error" in ip) throw bad(`${JSON.stringify(part)} is not an IP address (${ip.error})`);
        return ip.ip;
      }),
    show: showList,
  },
  origins: {
    value: "URLS",
    parse: (text, _, bad) =>
      parseList(text, (part) => {
        let origin = "null";
        try {
          origin = new URL(part).origin;
        } catch { /* not a URL: refused below like an opaque origin */ }
        if (origin !== "null") return origin;
        throw bad(`${JSON.stringify(part)} is not an origin like https://chat.example.org`);
      }),
    show: showList,
  },
  hosts: {
    value: "NAMES",
    parse: (text, _, bad) =>
      parseList(text.toLowerCase(), (part) => {
        const name = part.replace(/\.$/, "");
        if (HOST_NAME.test(name)) return name;
        throw bad(`${JSON.stringify(part)} is not a host name like chat.example.org`);
      }),
    show: showList,
  },
};

/** Reads one value of a kind; generic, so the compiler checks that parser and spec agree. */
export function parseKind<K extends KindName>(
  spec: KindSpec<K>,
  text: string,
  bad: Bad,
): ValueOf<K> {
  const rules: KindRules<K> = KINDS[spec.type];
  return rules.parse(text, spec, bad);
}

/** Shows a value of a kind as --help does; generic like {@link parseKind}. */
export function showKind<K extends KindName>(spec: KindSpec<K>, value: Frozen<ValueOf<K>>): string {
  const rules: KindRules<K> = KINDS[spec.type];
  return rules.show(value, spec);
}

/** The placeholder --help shows after a flag of this kind (`N`, `DUR`); a switch has none. */
export function kindPlaceholder(spec: KindSpec): string | undefined {
  return KINDS[spec.type].value;
}
