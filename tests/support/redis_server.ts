/** A real redis-server for tests: on a free loopback port, without persistence. */
import { RedisClient, RedisClientError } from "../../src/cluster/redis/client.ts";

/** A loopback port nobody listens on (briefly bound, then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** A redis-server child on a free loopback port, without persistence, in a temp directory. */
export class RedisServer {
  readonly port = freePort();
  #child: Deno.ChildProcess | null = null;
  #dir = "";

  constructor(readonly extra: string[] = [], readonly tls = false) {}

  get url(): string {
    return `${this.tls ? "rediss" : "redis"}://127.0.0.1:${this.port}`;
  }

  async start(caCerts?: string[]): Promise<void> {
    this.#dir ||= await Deno.makeTempDir({ prefix: "shat-redis-" });
    const portArgs = this.tls
      ? ["--port", "0", "--tls-port", String(this.port)]
      : ["--port", String(this.port)];
    this.#child = new Deno.Command("redis-server", {
      args: [
        ...portArgs,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        this.#dir,
        ...this.extra,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Ready once it answers; a refused connect just means "not yet".
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        const c = await RedisClient.connect(this.url, {
          caCerts,
          connectTimeoutMs: 1000,
          commandTimeoutMs: 2000,
        });
        await c.close();
        return;
      } catch (e) {
        if (e instanceof RedisClientError && e.kind === "rejected") return; // up, wants AUTH
        if (Date.now() > end) throw new Error(`redis-server did not start: ${e}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Stops it (SIGKILL: as if it crashed); `start()` brings it back on the same port. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (!child) return;
    child.kill(signal);
    await child.status;
  }

  async cleanup(): Promise<void> {
    await this.stop();
    if (this.#dir) await Deno.remove(this.#dir, { recursive: true });
  }
}
