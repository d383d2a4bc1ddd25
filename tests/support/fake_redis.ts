/**
 * A fake Redis for client tests: a RESP server on a loopback port that answers a handful of
 * commands (PING, AUTH, SELECT, ECHO, GET/SET, SCRIPT/EVAL/EVALSHA, pub/sub) and can be told to
 * go silent, hang up, stop listening and listen again on the same port, or answer a command its
 * own way. It records every command it received, per connection and overall.
 */
import { createHash } from "node:crypto";
import { RespParser, type RespValue } from "../../src/cluster/redis/resp.ts";

const enc = new TextEncoder();

/** RESP bulk string (or null bulk). */
export function bulk(s: string | null): string {
  return s === null ? "$-1\r\n" : `$${enc.encode(s).length}\r\n${s}\r\n`;
}

/** RESP array of already-encoded items. */
export function arr(...items: string[]): string {
  return `*${items.length}\r\n${items.join("")}`;
}

/** RESP integer. */
export function int(n: number): string {
  return `:${n}\r\n`;
}

/** Hex SHA1, computed independently of the client's own helper. */
export function sha1(s: string): string {
  return createHash("sha1").update(s).digest("hex");
}

/**
 * A custom answer: raw RESP to send, null to send nothing, undefined to let the default
 * answer it.
 */
export type Handler = (cmd: string[], conn: FakeConn) => string | null | undefined;

/** One accepted connection. */
export class FakeConn {
  readonly commands: string[][] = [];
  readonly channels = new Set<string>();
  readonly patterns = new Set<string>();
  closed = false;
  #chain: Promise<void> = Promise.resolve();

  constructor(readonly conn: Deno.TcpConn) {}

  /** Queues raw bytes for this connection (writes never interleave). */
  send(raw: string | Uint8Array): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      if (this.closed) return;
      const b = typeof raw === "string" ? enc.encode(raw) : raw;
      try {
        let off = 0;
        while (off < b.length) off += await this.conn.write(b.subarray(off));
      } catch {
        // the client went away
      }
    });
    return this.#chain;
  }

  /** Resolves once queued writes are done. */
  idle(): Promise<void> {
    return this.#chain;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

function glob(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(
    /\?/g,
    ".",
  );
  return new RegExp(`^${re}$`);
}

/** The fake server. */
export class FakeRedis {
  /** Every command received, all connections, in arrival order. */
  readonly log: string[][] = [];
  /** Every connection ever accepted, in order. */
  readonly conns: FakeConn[] = [];
  readonly scripts = new Map<string, string>();
  readonly data = new Map<string, string>();
  /** While true, commands are received and logged but never answered. */
  silent = false;
  handler: Handler | null = null;
  port = 0;
  #listener: Deno.TcpListener | null = null;
  #accepting: Promise<void> = Promise.resolve();
  readonly #tasks: Promise<void>[] = [];

  /** Starts listening on a free loopback port. */
  static start(): FakeRedis {
    const f = new FakeRedis();
    f.listen();
    return f;
  }

  /** The URL to connect to, with an optional `user:pass@` and `/db`. */
  url(auth = "", db = ""): string {
    return `redis://${auth}127.0.0.1:${this.port}${db}`;
  }

  /** (Re)starts listening, on the same port after the first time. */
  listen(): void {
    const l = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#listener = l;
    this.port = l.addr.port;
    this.#accepting = this.#accept(l);
  }

  /** Stops accepting (new connects are refused); open connections stay. */
  async stopListening(): Promise<void> {
    this.#listener?.close();
    this.#listener = null;
    await this.#accepting;
  }

  /** Hangs up on every open connection. */
  dropAll(): void {
    for (const c of this.conns) c.close();
  }

  /** Connections still open. */
  get live(): FakeConn[] {
    return this.conns.filter((c) => !c.closed);
  }

  /** Stops everything and waits for every task to end. */
  async close(): Promise<void> {
    await this.stopListening();
    this.dropAll();
    await Promise.all(this.#tasks);
    await Promise.all(this.conns.map((c) => c.idle()));
  }

  /** Delivers a message the way Redis does; returns how many subscriptions received it. */
  publish(channel: string, payload: string): number {
    let n = 0;
    for (const c of this.live) {
      if (c.channels.has(channel)) {
        void c.send(arr(bulk("message"), bulk(channel), bulk(payload)));
        n++;
      }
      for (const p of c.patterns) {
        if (!glob(p).test(channel)) continue;
        void c.send(arr(bulk("pmessage"), bulk(p), bulk(channel), bulk(payload)));
        n++;
      }
    }
    return n;
  }

  async #accept(l: Deno.TcpListener): Promise<void> {
    try {
      for await (const conn of l) {
        const fc = new FakeConn(conn);
        this.conns.push(fc);
        this.#tasks.push(this.#serve(fc));
      }
    } catch {
      // listener closed
    }
  }

  async #serve(fc: FakeConn): Promise<void> {
    const parser = new RespParser();
    try {
      for (;;) {
        const n = await fc.conn.read(parser.space());
        if (n === null) break;
        parser.commit(n);
        for (let v = parser.next(); v !== undefined; v = parser.next()) {
          const cmd = Array.isArray(v) ? v.map((x: RespValue) => String(x)) : [String(v)];
          fc.commands.push(cmd);
          this.log.push(cmd);
          const custom = this.handler?.(cmd, fc);
          const reply = custom === undefined ? this.#answer(cmd, fc) : custom;
          if (reply !== null && !this.silent) void fc.send(reply);
        }
      }
    } catch {
      // closed under us
    }
    await fc.idle();
    fc.close();
  }

  #answer(cmd: string[], fc: FakeConn): string {
    const name = cmd[0].toUpperCase();
    switch (name) {
      case "PING":
        return fc.channels.size + fc.patterns.size > 0 ? arr(bulk("pong"), bulk("")) : "+PONG\r\n";
      case "AUTH":
      case "SELECT":
        return "+OK\r\n";
      case "ECHO":
        return bulk(cmd[1]);
      case "SET":
        this.data.set(cmd[1], cmd[2]);
        return "+OK\r\n";
      case "GET":
        return bulk(this.data.get(cmd[1]) ?? null);
      case "SCRIPT":
        if (cmd[1].toUpperCase() === "LOAD") {
          const sha = sha1(cmd[2]);
          this.scripts.set(sha, cmd[2]);
          return bulk(sha);
        }
        this.scripts.clear();
        return "+OK\r\n";
      case "EVALSHA":
        return this.scripts.has(cmd[1])
          ? bulk(`ran ${cmd[1]}`)
          : "-NOSCRIPT No matching script. Please use EVAL.\r\n";
      case "EVAL": {
        const sha = sha1(cmd[1]);
        this.scripts.set(sha, cmd[1]);
        return bulk(`ran ${sha}`);
      }
      case "SUBSCRIBE":
      case "PSUBSCRIBE":
      case "UNSUBSCRIBE":
      case "PUNSUBSCRIBE": {
        const set = name.startsWith("P") ? fc.patterns : fc.channels;
        let out = "";
        for (const x of cmd.slice(1)) {
          if (name.includes("UN")) set.delete(x);
          else set.add(x);
          out += arr(bulk(name.toLowerCase()), bulk(x), int(fc.channels.size + fc.patterns.size));
        }
        return out;
      }
      case "PUBLISH":
        return int(this.publish(cmd[1], cmd[2]));
      default:
        return `-ERR unknown command '${cmd[0]}'\r\n`;
    }
  }
}
