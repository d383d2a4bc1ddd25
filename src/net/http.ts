/**
 * HTTP/1.1 for the web port, small on purpose: a page, two assets and a WebSocket upgrade need
 * GET and HEAD with a bounded head, and the HTTP API one POST with a small body of a declared
 * length. Parsing is strict and bounded, so the web port costs what the plain port costs: a head
 * over {@link HEAD_MAX} bytes or {@link MAX_HEADERS} lines is refused (431), a request with a
 * body nobody asked for, or anything malformed, gets 400 and a close (a chunked body: 501).
 * Pure: bytes in, a request or a refusal out; responses as bytes.
 */

/** Most bytes of a request head (request line and headers). */
export const HEAD_MAX = 8 * 1024;
/** Most header lines in one request. */
export const MAX_HEADERS = 64;

/** A parsed request head. */
export interface HttpRequest {
  method: string;
  /** The path, without the query. */
  path: string;
  /** HTTP/1.1 (persistent by default) or HTTP/1.0. */
  minor: 0 | 1;
  /** Header values by lower-case name; repeats joined with ", " as RFC 9110 allows. */
  headers: Map<string, string>;
  /** Bytes the head took in the buffer, the blank line included. */
  length: number;
  /** Declared body length (0 when none). */
  contentLength: number;
}

/** What {@link parseHead} found at the start of a buffer. */
export type HeadResult =
  | { request: HttpRequest }
  | { incomplete: true }
  | { status: number; why: string };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const latin1 = new TextDecoder("latin1");

/** Where the head ends in `buf` (after its blank line), or -1 if it has not ended yet. */
function headEnd(buf: Uint8Array, len: number): number {
  for (let i = 0; i < len; i++) {
    if (buf[i] !== 0x0a) continue;
    // LF then LF, or LF then CR LF: a blank line.
    if (i + 1 < len && buf[i + 1] === 0x0a) return i + 2;
    if (i + 2 < len && buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

/**
 * Parses the request head at the start of `buf` (its first `len` bytes). Empty lines before the
 * request line are skipped, as RFC 9112 asks.
 */
export function parseHead(buf: Uint8Array, len: number): HeadResult {
  let start = 0;
  while (start < len && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  const end = start < len ? headEnd(buf.subarray(start), len - start) : -1;
  if (end < 0) {
    return len > HEAD_MAX ? { status: 431, why: "request head too large" } : { incomplete: true };
  }
  if (start + end > HEAD_MAX) return { status: 431, why: "request head too large" };
  const lines = latin1.decode(buf.subarray(start, start + end)).split(/\r?\n/);
  lines.length -= 2; // the blank line and what follows it
  const m = /^([^ ]+) ([^ ]+) HTTP\/1\.([01])$/.exec(lines[0]);
  if (!m || !TOKEN.test(m[1])) return { status: 400, why: "bad request line" };
  const target = m[2];
  if (!target.startsWith("/")) return { status: 400, why: "bad request target" };
  if (lines.length - 1 > MAX_HEADERS) return { status: 431, why: "too many headers" };
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) return { status: 400, why: "bad header line" };
    const value = line.slice(colon + 1).trim();
    // deno-lint-ignore no-control-regex -- control bytes are what is refused
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return { status: 400, why: "bad header value" };
    const key = name.toLowerCase();
    const had = headers.get(key);
    if (had !== undefined && (key === "host" || key === "content-length")) {
      return { status: 400, why: `repeated ${key}` };
    }
    headers.set(key, had === undefined ? value : `${had}, ${value}`);
  }
  if (m[3] === "1" && !headers.has("host")) return { status: 400, why: "no host" };
  if (headers.has("transfer-encoding")) return { status: 501, why: "bodies are not taken" };
  const cl = headers.get("content-length");
  let contentLength = 0;
  if (cl !== undefined) {
    if (!/^\d{1,9}$/.test(cl)) return { status: 400, why: "bad content-length" };
    contentLength = Number(cl);
  }
  const q = target.indexOf("?");
  return {
    request: {
      method: m[1],
      path: q < 0 ? target : target.slice(0, q),
      minor: m[3] === "1" ? 1 : 0,
      headers,
      length: start + end,
      contentLength,
    },
  };
}

/** Whether a comma-separated header value (Connection, Upgrade) lists `token`, any case. */
export function hasToken(value: string | undefined, token: string): boolean {
  if (!value) return false;
  return value.split(",").some((t) => t.trim().toLowerCase() === token);
}

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
  503: "Service Unavailable",
};

const encoder = new TextEncoder();

/**
 * A response as bytes: status line, headers, Content-Length, and the body (left out for HEAD,
 * its length kept).
 */
export function response(
  status: number,
  headers: Record<string, string>,
  body: string | Uint8Array = "",
  head = false,
): Uint8Array {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  let text = `HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}\r\n`;
  for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
  // An interim answer (100 Continue, 101 Switching Protocols) has no length of its own.
  if (status >= 200) text += `content-length: ${bytes.length}\r\n`;
  const top = encoder.encode(text + "\r\n");
  if (head || bytes.length === 0) return top;
  const out = new Uint8Array(top.length + bytes.length);
  out.set(top);
  out.set(bytes, top.length);
  return out;
}
