/**
 * The store worker: a Web Worker that owns the database, so no disk work ever runs on the main
 * thread (the hub's). It answers one request at a time, in the order they came, each with the
 * request's id: `{ id, ok: true, value }` or `{ id, ok: false, failure }` (see protocol.ts).
 * Started by src/store/sqlite.ts; never imported.
 */
import { Database } from "./database.ts";
import { classify, FailureError, type Replies, type RequestMessage } from "./protocol.ts";

/** The worker's global scope, typed here so this file needs no worker lib of its own. */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<RequestMessage>) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
};

let database: Database | null = null;

/** The database, or a failure for a request that came before a good `open`. */
function opened(): Database {
  if (!database) throw new FailureError("other", "the store is not open");
  return database;
}

/** Does what `msg` asks and returns its answer (throws when it cannot). */
function handle(msg: RequestMessage): Replies[RequestMessage["op"]] {
  switch (msg.op) {
    case "open": {
      if (database) throw new FailureError("other", "the store is already open");
      const { database: db, start } = Database.open(msg.params);
      database = db;
      return start;
    }
    case "write":
      return opened().write(msg.batch);
    case "query":
      return opened().query(msg.q);
    case "prune":
      return opened().prune(msg.before);
    case "fault":
      opened().setReadOnly(msg.readOnly);
      return null;
    case "close":
      database?.close();
      database = null;
      return null;
  }
}

scope.onmessage = (e) => {
  const msg = e.data;
  try {
    scope.postMessage({ id: msg.id, ok: true, value: handle(msg) });
  } catch (err) {
    scope.postMessage({ id: msg.id, ok: false, failure: classify(err) });
  }
  if (msg.op === "close") scope.close();
};
