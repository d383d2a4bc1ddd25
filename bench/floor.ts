/**
 * A reference for `deno task bench --server floor`: the least a Deno chat server can do for the
 * bench's line-mode scenarios, written to show what Deno's own socket costs leave to Shat. It
 * welcomes, reads lines and sends each line once to everyone else, and nothing more: no nicks,
 * no commands, no limits, no cleaning, no logs. Lines are kept once, in 64 KiB blocks; each
 * client has a read position and writes views into the blocks, skipping its own lines.
 *
 * Writers start as soon as the input at hand has been read, or, with `--batch-ms N`, at most
 * once every N ms, so that a write carries all that came meanwhile (what Shat's write pacing
 * does under load; the Go reference servers in issue 14 used a 10 ms window).
 *
 *   deno run --allow-net bench/floor.ts --host 127.0.0.1 --port 2323 [--batch-ms N]
 *   (any other flag is ignored)
 */
const BLOCK = 64 * 1024;
const WELCOME = new TextEncoder().encode("Type /help for commands.\r\n");
const LF = 10;
const CR = 13;

interface Block {
  bytes: Uint8Array;
  /** Offset of byte 0 in the whole stream. */
  start: number;
  fill: number;
}

const blocks: Block[] = [{ bytes: new Uint8Array(BLOCK), start: 0, fill: 0 }];
const clients = new Set<Client>();
let idle: Client[] = [];
let waking = false;

function head(): number {
  const b = blocks[blocks.length - 1];
  return b.start + b.fill;
}

/** Appends one line; returns its start offset. */
function append(prefix: Uint8Array, text: Uint8Array): number {
  const size = prefix.length + text.length + 2;
  let b = blocks[blocks.length - 1];
  if (b.fill + size > b.bytes.length) {
    b = { bytes: new Uint8Array(Math.max(BLOCK, size)), start: b.start + b.fill, fill: 0 };
    blocks.push(b);
  }
  const at = b.start + b.fill;
  b.bytes.set(prefix, b.fill);
  b.bytes.set(text, b.fill + prefix.length);
  b.bytes[b.fill + size - 2] = CR;
  b.bytes[b.fill + size - 1] = LF;
  b.fill += size;
  return at;
}

function blockAt(pos: number): Block {
  let i = blocks.length - 1;
  while (blocks[i].start > pos) i--;
  return blocks[i];
}

/** Drops blocks every client has read past. */
function trim(): void {
  let min = head();
  for (const c of clients) if (c.pos < min) min = c.pos;
  while (blocks.length > 1 && blocks[0].start + blocks[0].fill <= min) {
    blocks.shift();
  }
}

function wakeAll(): void {
  if (waking) return;
  waking = true;
  if (batchMs > 0) setTimeout(writeAll, batchMs);
  else queueMicrotask(writeAll);
}

function writeAll(): void {
  waking = false;
  const list = idle;
  idle = [];
  for (const c of list) c.write();
}

class Client {
  pos: number;
  /** Start and end offsets of this client's own lines, not sent back to it. */
  skips: number[] = [];
  writing = false;
  closed = false;
  readonly prefix: Uint8Array;

  constructor(readonly conn: Deno.Conn, id: number) {
    this.pos = head();
    this.prefix = new TextEncoder().encode(`<g${id}> `);
  }

  async write(): Promise<void> {
    if (this.writing || this.closed) return;
    this.writing = true;
    try {
      while (this.pos < head()) {
        const b = blockAt(this.pos);
        let end = b.start + b.fill;
        if (this.skips.length > 0) {
          if (this.skips[0] === this.pos) {
            this.pos = this.skips[1];
            this.skips.splice(0, 2);
            continue;
          }
          if (this.skips[0] < end) end = this.skips[0];
        }
        const view = b.bytes.subarray(this.pos - b.start, end - b.start);
        let off = 0;
        while (off < view.length) off += await this.conn.write(off ? view.subarray(off) : view);
        this.pos = end;
      }
    } catch {
      this.close();
    }
    this.writing = false;
    if (!this.closed) idle.push(this);
  }

  async read(): Promise<void> {
    const buf = new Uint8Array(256);
    let carry: Uint8Array | null = null;
    try {
      await this.conn.write(WELCOME);
      idle.push(this);
      while (true) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        let start = 0;
        let any = false;
        for (let i = buf.indexOf(LF); i >= 0 && i < n; i = buf.indexOf(LF, i + 1)) {
          let line: Uint8Array = buf.subarray(start, i);
          if (carry) {
            const joined: Uint8Array = new Uint8Array(carry.length + line.length);
            joined.set(carry);
            joined.set(line, carry.length);
            line = joined;
            carry = null;
          }
          if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, -1);
          const at = append(this.prefix, line);
          this.skips.push(at, head());
          any = true;
          start = i + 1;
        }
        if (start < n) carry = buf.slice(start, n);
        if (any) {
          wakeAll();
          if (blocks.length > 4) trim();
        }
      }
    } catch {
      // reset
    }
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clients.delete(this);
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

const args = Deno.args;
const batchMs = args.includes("--batch-ms") ? Number(args[args.indexOf("--batch-ms") + 1]) : 0;
const port = Number(args[args.indexOf("--port") + 1]);
const hostname = args.includes("--host") ? args[args.indexOf("--host") + 1] : "127.0.0.1";
const listener = Deno.listen({ hostname, port });
let nextId = 1;
for await (const conn of listener) {
  conn.setNoDelay(true);
  const c = new Client(conn, nextId++);
  clients.add(c);
  void c.read();
}
