/** Errors in a few words, for a log field or a "left (reason)" notice. */

/**
 * Describes a socket error (or any error) in a few words: the runtime's network errors by kind,
 * anything else by its message without the OS error code, on one line, starting in lower case
 * unless it starts with an abbreviation ("TLS handshake timed out").
 */
export function describeError(e: unknown): string {
  if (e instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (e instanceof Deno.errors.ConnectionReset) return "connection reset";
  if (e instanceof Deno.errors.BrokenPipe) return "connection broken";
  if (e instanceof Deno.errors.TimedOut) return "connection timed out";
  if (e instanceof Deno.errors.ConnectionAborted) return "connection aborted";
  const msg = (e instanceof Error ? e.message : String(e))
    .replace(/\s*\(os error \d+\)/, "").replace(/\s+/g, " ").trim();
  if (!msg) return "connection error";
  return /^[A-Z][^A-Z]/.test(msg) ? msg[0].toLowerCase() + msg.slice(1) : msg;
}
