// A real PostgreSQL server for the tests: Debian's `postgresql` package (scripts/lib.sh installs it), a fresh
// cluster in a temp dir, run as the unprivileged `postgres` user the package creates, listening on loopback only
// (a free port; its Unix socket in the temp dir), stopped and removed by `stop()`. One role and database for
// Pulumi's DIY `postgres://` backend; the role's password is random and travels only in the environment
// (PGPASSWORD, which the backend's driver lib/pq reads), never in the URL or on a command line.
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

const SETUP = "run `scripts/test.sh setup` (it installs Debian's postgresql package)";

export interface TestPostgres {
  /** The backend URL without credentials: `postgres://<role>@127.0.0.1:<port>/<db>?sslmode=disable`. */
  backendUrl: string;
  /** The environment a Pulumi run needs besides the URL (PGPASSWORD). */
  env: Record<string, string>;
  /** The role's password (a secret the scans look for). */
  password: string;
  port: number;
  /** Runs SQL in the state database as the superuser, over the Unix socket; returns psql's unaligned output. */
  sql(query: string): Promise<string>;
  /** The whole state database as `pg_dump` writes it (schema and data, plain SQL). */
  dump(): Promise<string>;
  /**
   * Every row of the backend's table decoded: the backend stores each file (checkpoint, history, lock) as JSON
   * `{"data": "<base64>"}`, so a scan of the raw rows alone would never see a secret even in plain text.
   */
  files(table?: string): Promise<{ key: string; text: string }[]>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** The bin dir of the newest PostgreSQL server Debian's packages installed (/usr/lib/postgresql/<major>/bin). */
export function postgresBinDir(): string {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => existsSync(join(root, d, "bin", "postgres")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) throw new Error(`no PostgreSQL server in ${root}: ${SETUP}`);
  return join(root, majors[0]!, "bin");
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

/** Runs a PostgreSQL tool as the `postgres` user with a clean environment. */
function asPostgres(
  bin: string,
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<string> {
  const envArgs = Object.entries({ PATH: "/usr/bin:/bin", LANG: "C.UTF-8", ...env }).map(
    ([k, v]) => `${k}=${v}`,
  );
  return new Promise((done, fail) => {
    const child = execFile(
      "runuser",
      ["-u", "postgres", "--", "env", "-i", ...envArgs, bin, ...args],
      { encoding: "utf8", timeout: 60_000, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) =>
        error ? fail(new Error(`${bin} ${args[0] ?? ""}: ${stderr || error.message}`)) : done(stdout),
    );
    child.stdin?.end(input ?? "");
  });
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (userInfo().uid !== 0)
    throw new Error("the PostgreSQL test server is started as the postgres user: run as root");
  const dir = mkdtempSync(join(tmpdir(), "mesh-vm-postgres-"));
  const data = join(dir, "data");
  const socket = join(dir, "socket");
  chmodSync(dir, 0o700);
  const user = postgresUser();
  chownSync(dir, user.uid, user.gid);
  await asPostgres("/bin/mkdir", ["-m", "0700", socket]);
  const role = "ci";
  const db = "pulumi";
  const password = randomBytes(24).toString("hex");
  const port = await freePort();
  // Local (socket) connections by the postgres OS user only (peer); TCP on loopback with a password (scram).
  await asPostgres(join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    "--auth-local=peer",
    "--auth-host=scram-sha-256",
    "--no-instructions",
  ]);
  const log = join(dir, "postgres.log");
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${socket}`;
  await asPostgres(join(bin, "pg_ctl"), ["-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"]);
  const psql = (database: string, query: string) =>
    asPostgres(
      join(bin, "psql"),
      [
        "-h",
        socket,
        "-p",
        String(port),
        "-d",
        database,
        "-X",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-f",
        "-",
      ],
      {},
      query,
    );
  // The password goes to the server on stdin, in the SQL psql reads.
  await psql(
    "postgres",
    `CREATE ROLE ${role} LOGIN PASSWORD '${password}';\nCREATE DATABASE ${db} OWNER ${role};\n`,
  );
  const stop = async () => {
    await asPostgres(join(bin, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    backendUrl: `postgres://${role}@127.0.0.1:${port}/${db}?sslmode=disable`,
    env: { PGPASSWORD: password },
    password,
    port,
    sql: (query) => psql(db, query),
    dump: () => asPostgres(join(bin, "pg_dump"), ["-h", socket, "-p", String(port), "-d", db]),
    files: async (table = "pulumi_state") =>
      (await psql(db, `SELECT key || '|' || (data->>'data') FROM ${table};`))
        .split("\n")
        .filter(Boolean)
        .map((row) => {
          const [key, data] = row.split("|") as [string, string];
          return { key, text: Buffer.from(data, "base64").toString("utf8") };
        }),
    stop,
  };
}

/** uid and gid of the `postgres` user Debian's package creates. */
function postgresUser(): { uid: number; gid: number } {
  try {
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    throw new Error(`no "postgres" user (Debian's postgresql package creates it): ${SETUP}`);
  }
}
