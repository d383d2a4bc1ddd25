/**
 * The metrics port: `GET /metrics` (Prometheus) and `GET /healthz`, served by the same small
 * HTTP as the web port (src/net/web.ts), so it survives running out of descriptors like every
 * other port.
 */
import type { HubSnapshot } from "../chat/stats.ts";
import { type HttpRequest, response } from "../net/http.ts";
import { type HttpSite, TIMEOUTS } from "../net/web.ts";
import type { Logger } from "../ops/log.ts";
import { renderMetrics, type ShellSnapshot } from "../ops/metrics.ts";

/** What the metrics listener needs from the server. */
export interface MetricsSource {
  snapshot(): { hub: HubSnapshot; shell: ShellSnapshot };
  /** False while shutting down: /healthz answers 503. */
  healthy(): boolean;
  /**
   * What is wrong although the server works (a failing store): /healthz still answers 200,
   * its body says `degraded:` and lists them.
   */
  problems?(): string[];
}

/**
 * The metrics port's answers: `GET /metrics` and `GET /healthz`; everything else is 404, and
 * methods other than GET and HEAD are 405. Served by the same small HTTP as the web port
 * (src/net/web.ts), so it survives running out of descriptors like every other port.
 */
export class MetricsSite implements HttpSite {
  readonly trustProxy: readonly string[] = [];
  readonly timeouts = TIMEOUTS;
  readonly #source: MetricsSource;
  readonly #log: Logger;

  constructor(source: MetricsSource, log: Logger) {
    this.#source = source;
    this.#log = log;
  }

  answer(req: HttpRequest): { bytes: Uint8Array; keep: boolean } {
    const head = req.method === "HEAD";
    if (req.method !== "GET" && !head) {
      return { bytes: response(405, { allow: "GET, HEAD" }, "method not allowed\n"), keep: false };
    }
    if (req.path === "/metrics") {
      const { hub, shell } = this.#source.snapshot();
      const type = "text/plain; version=0.0.4; charset=utf-8";
      return {
        bytes: response(200, { "content-type": type }, renderMetrics(hub, shell), head),
        keep: true,
      };
    }
    if (req.path === "/healthz") {
      const ok = this.#source.healthy();
      const problems = ok ? (this.#source.problems?.() ?? []) : [];
      const body = !ok
        ? "shutting down\n"
        : problems.length > 0
        ? `degraded: ${problems.join("; ")}\n`
        : "ok\n";
      return { bytes: response(ok ? 200 : 503, {}, body, head), keep: ok };
    }
    return { bytes: response(404, {}, "not found: try /metrics or /healthz\n", head), keep: true };
  }

  refused(kind: string, _ip: string, message: string, fields: Record<string, string> = {}): void {
    this.#log.debug(message, { ...fields, why: kind });
  }
}
