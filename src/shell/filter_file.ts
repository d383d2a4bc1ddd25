/**
 * Reads the word filter file (--filter-file) at start and on SIGHUP; the filter itself is
 * compiled by src/chat/filter.ts.
 */
import { parseFilter, WordFilter } from "../chat/filter.ts";

/** Largest filter file read: 10 000 patterns of up to 1000 characters, with room to spare. */
export const FILTER_FILE_MAX_BYTES = 16 * 1024 * 1024;

/** A filter file that cannot be used; the message is the one line to show. */
export class FilterFileError extends Error {
  override name = "FilterFileError";
}

/**
 * The word filter in `path`. Throws {@link FilterFileError} with one line naming the flag, the
 * file and, for a bad pattern, its line: `--filter-file words.txt line 3: bad regular …`.
 */
export async function loadFilterFile(path: string): Promise<WordFilter> {
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) throw new FilterFileError("it is a directory");
    if (info.size > FILTER_FILE_MAX_BYTES) throw new FilterFileError("bigger than 16MiB");
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new FilterFileError(`cannot read --filter-file ${path}: ${readError(e)}`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new FilterFileError(`--filter-file ${path} is not UTF-8 text`);
  }
  const filter = parseFilter(text);
  if (filter instanceof WordFilter) return filter;
  throw new FilterFileError(`--filter-file ${path} line ${filter.line}: ${filter.error}`);
}

function readError(e: unknown): string {
  if (e instanceof FilterFileError) return e.message;
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.NotCapable) return "Deno has no read permission for it";
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\(os error \d+\).*$/, "");
}
