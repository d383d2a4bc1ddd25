/**
 * A store that cannot be opened says why in one line (a StoreError), and a failed open leaves
 * the file as it was. Some cases need another process: a second Shat (the lock is per process),
 * and, because these tests run as root, a process without the capabilities that let root
 * ignore file permissions (setpriv drops them), or with a file system of its own (a tmpfs or a
 * read-only bind mount in a user and mount namespace, `unshare -Urm`). Cases whose tool is
 * missing are skipped with a message saying so.
 */
import assert from "node:assert/strict";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { StoreError } from "../../src/store/types.ts";
import { childArgs, line, openStore, runChild, sqlite3, tempDir } from "./helpers.ts";

/** Root? Asked of `id` (Deno.uid() needs --allow-sys, which `deno task test` does not give). */
const isRoot = new TextDecoder().decode(
  (await new Deno.Command("id", { args: ["-u"], stdout: "piped" }).output()).stdout,
).trim() === "0";
/** Capabilities that let root read and write any file; a process without them obeys modes. */
const ROOT_POWERS = "-dac_override,-dac_read_search,-fowner";

async function works(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output()).success;
  } catch {
    return false;
  }
}

const canDropPowers = isRoot &&
  await works("setpriv", [`--bounding-set=${ROOT_POWERS}`, "true"]);
const canUnshare = await works("unshare", ["-Urm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"]);

/** The command prefix that runs a child as a process file modes apply to. */
function modesApply(): string[] {
  return isRoot ? ["setpriv", `--bounding-set=${ROOT_POWERS}`, `--inh-caps=${ROOT_POWERS}`] : [];
}

/** Opens in-process; returns the StoreError's message (fails if the open succeeds). */
async function refusal(path: string): Promise<string> {
  try {
    const { store } = await openStore(path);
    await store.close();
  } catch (e) {
    assert.ok(e instanceof StoreError, `a StoreError, not ${e}`);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    return e.message;
  }
  throw new Error(`${path} opened`);
}

/** Runs the child's `open` mode with `prefix`; returns its one line of refusal. */
async function childRefusal(path: string, prefix: string[] = []): Promise<string> {
  const out = await runChild(["open", path], prefix);
  assert.equal(out.code, 2, `refused (exit 2): ${out.stdout} ${out.stderr}`);
  const lines = out.stdout.trim().split("\n");
  assert.equal(lines.length, 1, out.stdout);
  assert.match(lines[0], /^REFUSED /);
  return lines[0].slice("REFUSED ".length);
}

/** Runs `script` (with $0 = `dir`) in a new user and mount namespace, then the child there. */
function inNamespace(dir: string, script: string, childMode: string, file: string) {
  const child = [Deno.execPath(), ...childArgs(childMode, `${dir}/${file}`)]
    .map((a) => `'${a}'`).join(" ");
  return new Deno.Command("unshare", {
    args: ["-Urm", "sh", "-c", `${script} && exec ${child}`, dir],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("open: a second process is refused while the first holds the file", async () => {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  try {
    const { store } = await openStore(path);
    assert.equal(
      await childRefusal(path),
      `store: ${path} is in use by another Shat process`,
    );
    // Refused in this process too (another worker, another connection).
    assert.equal(await refusal(path), `store: ${path} is in use by another Shat process`);
    store.write([{ t: "line", line: line("lobby", 1, "still mine") }]);
    await store.close();
    const out = await runChild(["open", path]);
    assert.equal(out.stdout.trim(), "OPENED", out.stderr);
  } finally {
    t.remove();
  }
});

Deno.test("open: a file that is not a database is refused and left untouched", async () => {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  try {
    const garbage = new TextEncoder().encode("this is not SQLite at all\n".repeat(400));
    Deno.writeFileSync(path, garbage, { mode: 0o600 });
    assert.equal(
      await refusal(path),
      `store: ${path} is damaged (file is not a database); move it away or restore a backup`,
    );
    assert.deepEqual(Deno.readFileSync(path), garbage);
  } finally {
    t.remove();
  }
});

Deno.test("open: a database with damaged pages is refused and left untouched", async () => {
  const t = tempDir();
  const path = `${t.dir}/shat.db`;
  try {
    const { store } = await openStore(path);
    for (let s = 1; s <= 20; s++) {
      store.write(Array.from({ length: 100 }, (_, i) => ({
        t: "line" as const,
        line: line("r", s * 100 + i, `text number ${s * 100 + i} `.repeat(5)),
      })));
    }
    await store.close();
    const bytes = Deno.readFileSync(path);
    assert.ok(bytes.length > 40 * 4096, `big enough: ${bytes.length}`);
    bytes.fill(0x5a, 20 * 4096, 30 * 4096);
    Deno.writeFileSync(path, bytes);
    const message = await refusal(path);
    assert.match(
      message,
      new RegExp(`^store: ${path} is damaged \\(.+\\); move it away or restore a backup$`),
    );
    assert.deepEqual(Deno.readFileSync(path), bytes);
  } finally {
    t.remove();
  }
});

Deno.test("open: another program's database, a newer schema, a missing directory", async () => {
  const t = tempDir();
  try {
    const foreign = `${t.dir}/other.db`;
    await sqlite3(foreign, "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x')");
    assert.equal(
      await refusal(foreign),
      `store: ${foreign} is not a Shat store (it holds tables but no Shat schema version); ` +
        "move it away or use another file",
    );
    assert.equal(await sqlite3(foreign, "SELECT count(*) FROM sqlite_schema"), "1");

    const newer = `${t.dir}/newer.db`;
    await (await openStore(newer)).store.close();
    await sqlite3(newer, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
    assert.equal(
      await refusal(newer),
      `store: ${newer} was written by a newer Shat (schema 99; this one knows up to 1); ` +
        "run that one",
    );

    const lost = `${t.dir}/nowhere/shat.db`;
    assert.equal(await refusal(lost), `store: the directory ${t.dir}/nowhere does not exist`);
  } finally {
    t.remove();
  }
});

Deno.test({
  name: "open: a read-only directory is refused, with or without the file in it",
  ignore: isRoot && !canDropPowers,
  async fn() {
    // As root, chmod alone proves nothing (root writes anyway): the child runs without the
    // capabilities that let it (setpriv). As anyone else it runs as is.
    const t = tempDir();
    try {
      const missing = `${t.dir}/shat.db`;
      Deno.chmodSync(t.dir, 0o500);
      const want = (p: string) =>
        new RegExp(
          `^store: the directory ${t.dir} is read-only \\(.+\\); ` +
            `Shat needs to create ${p} and its -wal file there$`,
        );
      assert.match(await childRefusal(missing, modesApply()), want(missing));
      assert.equal([...Deno.readDirSync(t.dir)].length, 0, "nothing created");

      Deno.chmodSync(t.dir, 0o700);
      await (await openStore(missing)).store.close();
      Deno.chmodSync(t.dir, 0o500);
      assert.match(await childRefusal(missing, modesApply()), want(missing));
    } finally {
      t.remove();
    }
  },
});

Deno.test({
  name: "open: a file belonging to someone else is refused (permission denied)",
  ignore: !canDropPowers,
  async fn() {
    // Needs root to give the file away, and setpriv to then lose root's powers over it.
    const t = tempDir();
    const path = `${t.dir}/shat.db`;
    try {
      await (await openStore(path)).store.close();
      Deno.chownSync(path, 65534, 65534);
      const message = await childRefusal(path, modesApply());
      assert.match(
        message,
        new RegExp(`^store: ${path}: permission denied \\(cannot make ${path} 0600: .+\\)$`),
      );
    } finally {
      t.remove();
    }
  },
});

Deno.test({
  name: "open: a full disk is refused (a tiny tmpfs, filled)",
  ignore: !canUnshare,
  async fn() {
    const t = tempDir();
    try {
      const out = await inNamespace(
        t.dir,
        `mount -t tmpfs -o size=256k tmpfs "$0" && { dd if=/dev/zero of="$0/filler" bs=4k ` +
          `2>/dev/null; true; }`,
        "open",
        "shat.db",
      );
      const stdout = new TextDecoder().decode(out.stdout).trim();
      assert.equal(out.code, 2, `${stdout} ${new TextDecoder().decode(out.stderr)}`);
      assert.match(
        stdout,
        new RegExp(`^REFUSED store: the disk holding ${t.dir}/shat.db is full \\(.+\\)$`),
      );
    } finally {
      t.remove();
    }
  },
});

Deno.test({
  name: "open: a read-only file system is refused",
  ignore: !canUnshare,
  async fn() {
    const t = tempDir();
    const path = `${t.dir}/shat.db`;
    try {
      await (await openStore(path)).store.close();
      const out = await inNamespace(
        t.dir,
        `mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"`,
        "open",
        "shat.db",
      );
      const stdout = new TextDecoder().decode(out.stdout).trim();
      assert.equal(out.code, 2, `${stdout} ${new TextDecoder().decode(out.stderr)}`);
      assert.match(stdout, new RegExp(`^REFUSED store: ${path} is read-only \\(.+\\); `));
    } finally {
      t.remove();
    }
  },
});

Deno.test("open: the skipped cases say why", () => {
  // Not a check of the store: a record in the test output of what this machine could not try.
  if (isRoot && !canDropPowers) {
    console.log("skipped: read-only directory and permission cases (root, and no setpriv)");
  }
  if (!isRoot) console.log("skipped: permission case (giving a file away needs root)");
  if (!canUnshare) console.log("skipped: disk full and read-only fs (unshare -Urm not allowed)");
  assert.ok(SqliteStore);
});
