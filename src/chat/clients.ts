/** The connections the hub holds, by id, and what is counted of them. */
import type { Client } from "./client.ts";

/** Every connection the hub holds (members and those not yet in a room). */
export class ClientTable {
  readonly #clients = new Map<number, Client>();
  /** Open connections by transport, for the metrics page. */
  readonly transports: Record<string, number> = {};
  /** Members (joined a room), in every room. */
  members = 0;

  get(id: number): Client | undefined {
    return this.#clients.get(id);
  }

  /** The member with this id (joined, not gone), if any. */
  member(id: number): Client | undefined {
    const c = this.#clients.get(id);
    return c?.authed ? c : undefined;
  }

  add(c: Client): void {
    this.#clients.set(c.id, c);
    this.transports[c.transport] = (this.transports[c.transport] ?? 0) + 1;
  }

  remove(c: Client): void {
    this.#clients.delete(c.id);
    this.transports[c.transport]--;
  }

  /** `c` now comes over `transport` (a WebSocket upgraded from HTTP). */
  moveTransport(c: Client, transport: string): void {
    this.transports[c.transport]--;
    this.transports[transport] = (this.transports[transport] ?? 0) + 1;
    c.transport = transport;
  }

  get size(): number {
    return this.#clients.size;
  }

  values(): IterableIterator<Client> {
    return this.#clients.values();
  }
}
