/**
 * What the main thread and the store worker say to each other (by postMessage, structured
 * clone), and how a failure is named: the worker sorts an error into a {@link FailureKind}
 * where the error is at hand, the main thread turns the kind into the one line a person reads.
 */
import { describeError } from "../lib/errors.ts";
import type { StoreAnswer, StoreQuery, StoreStart, StoreWrite } from "./types.ts";

/** What opening needs: the file, and what to gather for {@link StoreStart.recent}. */
export interface OpenParams {
  path: string;
  /** The lobby's room id: its recent lines are loaded even though it is never "kept". */
  lobby: string;
  /** Most lines per room in `recent`. */
  recentLines: number;
  /** Most bytes (UTF-8 of nick and text) per room in `recent`: older lines give way. */
  recentBytes: number;
}

/** A request to the worker, each with its own answer type in {@link Replies}. */
export type Request =
  | { op: "open"; params: OpenParams }
  | { op: "write"; batch: StoreWrite[] }
  | { op: "query"; q: StoreQuery }
  | { op: "prune"; before: number }
  | { op: "close" }
  /** Test hook: makes the database refuse writes (`PRAGMA query_only`) or accept them again. */
  | { op: "fault"; readOnly: boolean };

/** The name of a request. */
export type Op = Request["op"];

/** What a write did: room lines committed, and writes refused for their data (never for I/O). */
export interface WriteResult {
  lines: number;
  /** Writes the database refused as bad data (a bug, not the disk); they are not retried. */
  refused: number;
  /** Why the first of them was refused ("" when none was). */
  refusedError: string;
}

/** The answer to each request. */
export interface Replies {
  open: StoreStart;
  write: WriteResult;
  query: StoreAnswer;
  prune: number;
  close: null;
  fault: null;
}

/** What the main thread sends: a request and its id. */
export type RequestMessage = Request & { id: number };

/** What the worker sends back for request `id`. */
export type ReplyMessage =
  | { id: number; ok: true; value: Replies[Op] }
  | { id: number; ok: false; failure: Failure };

/**
 * Kinds of failure, each with its own wording. `data` means the batch itself was refused (a
 * constraint, a value SQLite cannot hold): trying again cannot help.
 */
export type FailureKind =
  | "busy"
  /** The database itself is locked by another program (the lock file was free). */
  | "locked"
  | "read-only"
  | "read-only-dir"
  /** The directory is missing or not one; the detail says which ("does not exist"). */
  | "no-dir"
  | "full"
  | "corrupt"
  | "foreign"
  | "newer"
  | "denied"
  | "io"
  | "data"
  | "other";

/** A failure as it crosses the thread boundary: its kind and the error's own words. */
export interface Failure {
  kind: FailureKind;
  detail: string;
}

/** A failure the worker raises on purpose, already sorted. */
export class FailureError extends Error {
  constructor(readonly kind: FailureKind, detail: string) {
    super(detail);
  }
}

/** SQLite's result strings (sqlite3_errstr; node:sqlite gives no code), most specific first. */
const SQLITE_KINDS: [RegExp, FailureKind][] = [
  [/database (table )?is locked|database is busy/i, "busy"],
  [/readonly database|read-only/i, "read-only"],
  [/database or disk is full|no space left/i, "full"],
  [/file is not a database|disk image is malformed|database corrupt/i, "corrupt"],
  [/disk I\/O error/i, "io"],
  [/access permission denied|authorization denied|permission denied/i, "denied"],
  [/constraint failed|datatype mismatch|too big|cannot be bound|too many SQL variables/i, "data"],
];

/** OS error codes as Deno reports them on `error.code`. */
const OS_KINDS: Record<string, FailureKind> = {
  EROFS: "read-only",
  ENOSPC: "full",
  EDQUOT: "full",
  EACCES: "denied",
  EPERM: "denied",
  EIO: "io",
};

/** Sorts any error into a {@link Failure}, keeping its message (without the OS error code). */
export function classify(e: unknown): Failure {
  // Deno's file errors end in the call and its path (": open '/x'"); the message names it.
  const detail = describeError(e).replace(/: (?:open|chmod|stat|tmpfile|remove)( '[^']*')?$/, "");
  if (e instanceof FailureError) return { kind: e.kind, detail };
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string" && OS_KINDS[code]) return { kind: OS_KINDS[code], detail };
  if (e instanceof Deno.errors.PermissionDenied) return { kind: "denied", detail };
  if (e instanceof TypeError || e instanceof RangeError) return { kind: "data", detail };
  for (const [re, kind] of SQLITE_KINDS) if (re.test(detail)) return { kind, detail };
  return { kind: "other", detail };
}

/** The one line a person starting the server reads when `path` cannot be opened. */
export function openMessage(path: string, f: Failure): string {
  const dir = dirOf(path);
  switch (f.kind) {
    case "busy":
      return `store: ${path} is in use by another Shat process`;
    case "locked":
      return `store: ${path} is locked by another program (a sqlite3 session writing to it?); ` +
        "start again once it is done";
    case "read-only":
      return `store: ${path} is read-only (${f.detail}); Shat needs to write it`;
    case "read-only-dir":
      return `store: the directory ${dir} is read-only (${f.detail}); ` +
        `Shat needs to create ${path} and its -wal file there`;
    case "no-dir":
      return `store: the directory ${dir} ${f.detail}`;
    case "full":
      return `store: the disk holding ${path} is full (${f.detail})`;
    case "corrupt":
      return `store: ${path} is damaged (${f.detail}); move it away or restore a backup`;
    case "foreign":
      return `store: ${path} is not a Shat store (${f.detail}); move it away or use another file`;
    case "newer":
      return `store: ${path} was written by a newer Shat (${f.detail}); run that one`;
    case "denied":
      return `store: ${path}: permission denied (${f.detail})`;
    default:
      return `store: ${path} cannot be opened (${f.detail})`;
  }
}

/** A failure in a few words, for {@link StoreHealth.error} and the log. */
export function shortError(f: Failure): string {
  switch (f.kind) {
    case "busy":
    case "locked":
      return "database locked";
    case "read-only":
    case "read-only-dir":
      return "read-only";
    case "full":
      return "disk full";
    case "corrupt":
      return "database damaged";
    case "denied":
      return "permission denied";
    case "io":
      return "disk I/O error";
    default:
      return f.detail || f.kind;
  }
}

/** The directory part of a path ("." for a bare file name). */
export function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  if (i < 0) return ".";
  return i === 0 ? "/" : path.slice(0, i);
}
