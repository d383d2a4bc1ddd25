/**
 * The SQLite schema of the store and the migrations that build it. The database stays readable
 * with the `sqlite3` program while Shat is stopped: plain column names, JSON as text, times as
 * epoch milliseconds, booleans as 0/1. `meta.schema_version` says which migrations ran; each
 * migration runs in its own transaction, so a crash mid-way leaves the previous version whole.
 */
import type { DatabaseSync } from "node:sqlite";

/**
 * Migration n (1-based) is `MIGRATIONS[n - 1]`. Append, never edit: a database already at
 * version n never runs migration n again.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: everything.
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );

  -- Room lines. (room, seq) is the line's identity; id is an explicit INTEGER PRIMARY KEY so
  -- that VACUUM keeps the rowids the search index refers to (it may renumber implicit ones).
  CREATE TABLE lines (
    id         INTEGER PRIMARY KEY,
    room       TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    nick       TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    identified INTEGER NOT NULL DEFAULT 0,
    UNIQUE (room, seq)
  );
  CREATE INDEX lines_room_at ON lines (room, at);

  -- Full-text index over lines.text (external content: the text lives once, in lines). The
  -- triggers keep it in step with every insert, update and delete, retention included.
  CREATE VIRTUAL TABLE lines_fts USING fts5(
    text, content = 'lines', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
  );
  CREATE TRIGGER lines_fts_insert AFTER INSERT ON lines BEGIN
    INSERT INTO lines_fts (rowid, text) VALUES (new.id, new.text);
  END;
  CREATE TRIGGER lines_fts_delete AFTER DELETE ON lines BEGIN
    INSERT INTO lines_fts (lines_fts, rowid, text) VALUES ('delete', old.id, old.text);
  END;
  CREATE TRIGGER lines_fts_update AFTER UPDATE ON lines BEGIN
    INSERT INTO lines_fts (lines_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO lines_fts (rowid, text) VALUES (new.id, new.text);
  END;

  CREATE TABLE accounts (
    key     TEXT PRIMARY KEY,
    nick    TEXT    NOT NULL,
    hash    TEXT    NOT NULL,
    salt    TEXT    NOT NULL,
    params  TEXT    NOT NULL,
    created INTEGER NOT NULL,
    prefs   TEXT    NOT NULL DEFAULT '{}'
  );

  CREATE TABLE rooms (
    id       TEXT PRIMARY KEY,
    name     TEXT    NOT NULL,
    topic    TEXT    NOT NULL DEFAULT '',
    topic_by TEXT    NOT NULL DEFAULT '',
    key      TEXT    NOT NULL DEFAULT '',
    owner    TEXT    NOT NULL DEFAULT '',
    kept     INTEGER NOT NULL DEFAULT 0,
    extra    TEXT    NOT NULL DEFAULT '{}'
  );

  CREATE TABLE bans (
    ip     TEXT PRIMARY KEY,
    until  INTEGER NOT NULL,
    reason TEXT    NOT NULL DEFAULT '',
    by     TEXT    NOT NULL DEFAULT '',
    since  INTEGER NOT NULL
  );
  `,
];

/** The schema version this build writes: the number of migrations it knows. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The `meta` key holding the schema version. */
export const META_VERSION = "schema_version";
/** The `meta` key set (to the time, epoch ms) once a ban list was first written. */
export const META_BANS_IMPORTED = "ban_file_imported";

/** Why a database cannot be brought to this build's schema. */
export class SchemaError extends Error {
  override name = "SchemaError";
  constructor(readonly kind: "newer" | "foreign", message: string) {
    super(message);
  }
}

/**
 * The schema version of `db`: 0 for an empty database. Throws {@link SchemaError} for a
 * database that holds tables but no Shat `meta`, so another program's file is never altered.
 */
export function schemaVersion(db: DatabaseSync): number {
  const hasMeta = db.prepare(
    "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'",
  ).get();
  if (!hasMeta) {
    const row = db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as { n: number };
    if (row.n > 0) throw new SchemaError("foreign", "it holds tables but no Shat schema version");
    return 0;
  }
  const row = db.prepare("SELECT value FROM meta WHERE key = ?").get(META_VERSION) as
    | { value: string }
    | undefined;
  const v = Number(row?.value ?? 0);
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new SchemaError("foreign", `its schema_version is ${JSON.stringify(row?.value)}`);
  }
  return v;
}

/**
 * Brings `db` to {@link SCHEMA_VERSION}, one transaction per migration, and returns the version
 * it was at. Refuses ({@link SchemaError}) a database written by a newer build: running it with
 * an older one could lose what the newer one keeps.
 */
export function migrate(db: DatabaseSync): number {
  const from = schemaVersion(db);
  if (from > SCHEMA_VERSION) {
    throw new SchemaError(
      "newer",
      `schema ${from}; this one knows up to ${SCHEMA_VERSION}`,
    );
  }
  for (let v = from + 1; v <= SCHEMA_VERSION; v++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(MIGRATIONS[v - 1]);
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(
        META_VERSION,
        String(v),
      );
      db.exec("COMMIT");
    } catch (e) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw e;
    }
  }
  return from;
}
