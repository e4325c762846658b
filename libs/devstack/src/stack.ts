import {
  chmodSync,
  existsSync,
  statSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { codeForJobs, jobPath } from './job-access.js';
import {
  BUS_OPERATOR,
  BUS_SERVICES,
  busPermissions,
  defaultTopology,
  isolatedTopology,
} from '@acai/contracts';
import { startNats, type NatsUser } from './nats.js';
import { ensureDatabase, ensureServiceRoles, startEmbeddedPostgres } from './postgres.js';
import { freePort, portIsFree } from './ports.js';
import { ServiceStartError, SupervisedServer, SupervisedService } from './supervisor.js';

export interface ServiceEntry {
  readonly name: string;
  /** The variable that tells it its HTTP port. */
  readonly portVariable: string;
}

/** The launcher's config: which services to start, in order (deploy/local/services.json). */
export function readServices(root: string): ServiceEntry[] {
  const file = path.join(root, 'deploy', 'local', 'services.json');
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { services?: unknown };
  if (!Array.isArray(parsed.services)) throw new Error(`${file}: expected a "services" array`);
  return parsed.services.map((entry: unknown, i: number) => {
    const e = entry as Partial<ServiceEntry>;
    if (typeof e.name !== 'string' || typeof e.portVariable !== 'string') {
      throw new Error(`${file}: services.${i} needs a name and a portVariable`);
    }
    return { name: e.name, portVariable: e.portVariable };
  });
}

export interface StackOptions {
  /** The repository root (where apps/<service>/dist/main.js are). */
  readonly root: string;
  /** Everything the stack keeps: NATS store, Postgres data, logs, the default key. */
  readonly home: string;
  /** The gateway's port; 0 takes any free one (the stack's `gatewayUrl` says which). */
  readonly gatewayPort: number;
  /**
   * When the gateway's port is taken, take any free one instead of failing (for a default port
   * the user did not ask for, so a second stack starts beside the first).
   */
  readonly gatewayPortFallback?: boolean;
  /** Use these servers instead of starting them. */
  readonly natsUrl?: string | undefined;
  readonly databaseUrl?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Extra node options for every service, e.g. `--cpu-prof` to profile them. */
  readonly nodeArgs?: readonly string[];
  /**
   * Restart a service that dies (default). Off, a death resolves `died` and nothing restarts:
   * for benchmarks, where a restart would hide a crash in the figures.
   */
  readonly supervise?: boolean;
  readonly say?: (line: string) => void;
}

export interface StackService {
  readonly name: string;
  /** Where its HTTP endpoints listen now; undefined while it restarts. */
  readonly url: string | undefined;
  readonly pid: number | undefined;
  readonly restarts: number;
}

export interface Stack {
  readonly gatewayUrl: string;
  /** Where the gateway's gRPC API listens (`host:port`, for grpcurl and gRPC clients). */
  readonly grpcAddress: string;
  readonly keyFile: string;
  readonly logDir: string;
  readonly natsUrl: string;
  /**
   * How a tool of the operator's connects to the stack's NATS (benchmarks, the `nats` CLI): the
   * server, and the operator's user when the stack started its own server (with authentication).
   */
  readonly natsOperator: {
    readonly servers: string;
    readonly user?: string;
    readonly pass?: string;
  };
  /** The database the services use (benchmarks load data into it directly). */
  readonly databaseUrl: string;
  /** Resolves if a service dies while supervision is off: with its name and how. */
  readonly died: Promise<string>;
  services(): StackService[];
  /**
   * The process of a service, or of a server the stack started (`nats-server`, `postgres`), while
   * it runs: to kill it in a test, as the supervisor would see a crash.
   */
  pid(name: string): number | undefined;
  /** Stops a service and keeps it stopped (an outage of a dependency, maintenance). */
  stopService(name: string): Promise<void>;
  /** Starts a service stopped by `stopService` again; answers where it listens. */
  startService(name: string): Promise<string>;
  key(): string;
  /**
   * The repository's examples/ where jobs can read them: in place, or (a checkout others cannot
   * enter, such as one under /root) a copy under /var/lib/acai-examples.
   */
  examples(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts the whole system on one machine: nats-server (from PATH) and an embedded Postgres unless
 * URLs are given, then every service as its own process with a log file each, and waits until all
 * are ready. Every port but the gateway's is chosen by the system at start (so two stacks run side
 * by side) and reported by the service; `$ACAI_HOME/stack.json` lists them. A service that dies is
 * restarted. State lives under `home`, so a second start resumes with the same data.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const say = options.say ?? (() => undefined);
  const logDir = path.join(options.home, 'logs');
  // $ACAI_HOME holds keys, blobs, the event store and the database: nobody else's to read (jobs
  // run as other users and must not reach it).
  mkdirSync(options.home, { recursive: true, mode: 0o700 });
  chmodSync(options.home, statSync(options.home).mode & 0o770);
  mkdirSync(logDir, { recursive: true });
  const jobs = await jobPath();
  const entries = readServices(options.root);
  for (const s of entries) {
    const main = path.join(options.root, 'apps', s.name, 'dist', 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  }
  const infra: SupervisedServer[] = [];
  const services: SupervisedService[] = [];
  const stopAll = async () => {
    await Promise.all(services.map((s) => s.stop()));
    for (const service of infra.reverse()) await service.stop().catch(() => undefined);
  };
  const { promise: diedPromise, resolve: died } = Promise.withResolvers<string>();
  let summary: (() => StackFile) | undefined;
  const events = {
    say: (line: string) => {
      say(line);
      if (summary !== undefined) writeStackFile(options.home, summary());
    },
    died: (name: string, how: string) => died(`${name} (${how})`),
  };
  const supervise = options.supervise ?? true;

  try {
    let natsUrl = options.natsUrl;
    let natsUsers: BusUsers | undefined;
    if (natsUrl === undefined) {
      // Its own server requires a user per service (and one for the operator), so neither a job
      // nor anything else on this machine can use the bus without credentials.
      natsUsers = busUsers(
        options.home,
        options.env?.['ACAI_BUS_PREFIX'] ?? process.env['ACAI_BUS_PREFIX'],
      );
      const users = natsUsers.users;
      const nats = new SupervisedServer(
        'nats-server',
        (port) =>
          startNats({
            dataDir: path.join(options.home, 'nats'),
            logFile: path.join(logDir, 'nats-server.log'),
            users,
            ...(port === undefined ? {} : { port }),
          }),
        supervise,
        events,
      );
      natsUrl = await nats.start();
      infra.push(nats);
      say(`nats-server (JetStream) at ${natsUrl}, store ${path.join(options.home, 'nats')}`);
    }
    let databaseUrl = options.databaseUrl;
    let serviceDatabaseUrls: Record<string, string> = {};
    if (databaseUrl === undefined) {
      // Its own Postgres: a superuser password of this home's, and a role per service that owns
      // its schema and nothing else.
      const secrets = path.join(options.home, 'postgres-users');
      const superuserPassword = secretFile(secrets, 'postgres').password;
      const pg = new SupervisedServer(
        'postgres',
        (port) =>
          startEmbeddedPostgres({
            dataDir: path.join(options.home, 'postgres'),
            superuserPassword,
            ...(port === undefined ? {} : { port }),
          }),
        supervise,
        events,
      );
      const pgUrl = await pg.start();
      infra.push(pg);
      databaseUrl = await ensureDatabase(pgUrl, 'acai');
      serviceDatabaseUrls = await ensureServiceRoles(
        pgUrl,
        'acai',
        entries.map((e) => ({
          role: `acai_${e.name}`,
          password: secretFile(secrets, e.name).password,
          schema: e.name,
        })),
      );
      say(
        `embedded Postgres at ${databaseUrl.replace(/:[^:@/]+@/, ':***@')}, data ${path.join(options.home, 'postgres')}`,
      );
    }
    const keyFile = path.join(options.home, 'default.key');
    // Jobs run as users of their own only when the executor is root. A developer's own machine
    // runs them as the developer (said here, and by the executor), unless told otherwise.
    const unsandboxed = runsJobsAsDeveloper(process.getuid?.(), {
      ...process.env,
      ...options.env,
    });
    if (unsandboxed) {
      say(
        'not root: jobs run as your own user (ACAI_SANDBOX=none), fine on your machine; run as root for a user per job slot',
      );
    }
    // Projects' secrets are encrypted at rest with a key of this home's (made once, 0600).
    const secretsKey = secretsKeyOf(options.home);
    const nats = natsUrl;
    const database = databaseUrl;
    const grpcPort = await gatewayGrpcPort(options);
    const grpcAddress = `${options.env?.['ACAI_HTTP_HOST'] ?? process.env['ACAI_HTTP_HOST'] ?? '127.0.0.1'}:${grpcPort}`;
    for (const entry of entries) {
      const isGateway = entry.name === 'gateway';
      const logFile = path.join(logDir, `${entry.name}.log`);
      const spec = {
        name: entry.name,
        main: path.join(options.root, 'apps', entry.name, 'dist', 'main.js'),
        cwd: options.root,
        logFile,
        nodeArgs: options.nodeArgs ?? [],
        port: isGateway ? options.gatewayPort : 0,
        stickyPort: isGateway,
        env: (port: number): NodeJS.ProcessEnv => ({
          ACAI_JOB_PATH: jobs,
          ...process.env,
          ...options.env,
          NATS_URL: nats,
          ...(natsUsers?.files[entry.name] === undefined
            ? {}
            : { ACAI_NATS_CREDENTIALS: natsUsers.files[entry.name] }),
          DATABASE_URL: serviceDatabaseUrls[entry.name] ?? database,
          ACAI_HOME: options.home,
          [entry.portVariable]: String(port),
          ACAI_BOOTSTRAP_KEY_FILE: keyFile,
          ...(unsandboxed && entry.name === 'executor' ? { ACAI_SANDBOX: 'none' } : {}),
          // The gateway adds subscribers' users to the server it started (and signals a reload).
          ...(isGateway && natsUsers !== undefined
            ? { ACAI_NATS_AUTH_DIR: path.join(options.home, 'nats') }
            : {}),
          ...(isGateway ? { ACAI_GRPC_PORT: String(grpcPort) } : {}),
          ...(isGateway && process.env['ACAI_SECRETS_KEY'] === undefined
            ? { ACAI_SECRETS_KEY: secretsKey }
            : {}),
        }),
      };
      let service = new SupervisedService(spec, supervise, events);
      let url: string;
      try {
        url = await service.start();
      } catch (error) {
        const taken = error instanceof ServiceStartError && error.code === 'EADDRINUSE';
        if (!(isGateway && taken && options.gatewayPortFallback === true)) throw error;
        say(`port ${options.gatewayPort} is taken (another acai?); the gateway takes a free one`);
        service = new SupervisedService({ ...spec, port: 0 }, supervise, events);
        url = await service.start();
      }
      services.push(service);
      say(`${entry.name.padEnd(11)} ready on ${url}  (log: ${logFile})`);
    }
    const gatewayUrl = services.find((s) => s.name === 'gateway')?.url;
    if (gatewayUrl === undefined) throw new Error('deploy/local/services.json has no gateway');
    summary = (): StackFile => ({
      gatewayUrl,
      grpcAddress,
      natsUrl: nats,
      keyFile,
      logDir,
      launcherPid: process.pid,
      infrastructure: Object.fromEntries(
        infra.flatMap((server) => (server.pid === undefined ? [] : [[server.name, server.pid]])),
      ),
      services: services.map((s) => ({
        name: s.name,
        url: s.url ?? null,
        pid: s.pid ?? null,
        restarts: s.restartCount,
      })),
    });
    writeStackFile(options.home, summary());
    return {
      gatewayUrl,
      grpcAddress,
      keyFile,
      logDir,
      natsUrl: nats,
      natsOperator: {
        servers: nats,
        ...(natsUsers === undefined
          ? {}
          : { user: natsUsers.operator.user, pass: natsUsers.operator.password }),
      },
      databaseUrl: database,
      died: diedPromise,
      services: () =>
        services.map((s) => ({ name: s.name, url: s.url, pid: s.pid, restarts: s.restartCount })),
      pid: (name) =>
        services.find((s) => s.name === name)?.pid ?? infra.find((s) => s.name === name)?.pid,
      async stopService(name) {
        const service = services.find((s) => s.name === name);
        if (service === undefined) throw new Error(`the stack runs no service ${name}`);
        await service.stop();
        events.say(`${name} stopped; \`startService\` starts it again`);
      },
      async startService(name) {
        const service = services.find((s) => s.name === name);
        if (service === undefined) throw new Error(`the stack runs no service ${name}`);
        const url = await service.startAgain();
        events.say(`${name} started again, ready on ${url}`);
        return url;
      },
      key: () => readFileSync(keyFile, 'utf8').trim(),
      examples: () =>
        codeForJobs(
          path.join(options.root, 'examples'),
          path.join(
            '/var/lib/acai-examples',
            createHash('sha256').update(path.resolve(options.home)).digest('hex').slice(0, 12),
          ),
        ),
      async stop() {
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** `$ACAI_HOME/stack.json`: where a running stack listens, for tools and people. */
interface StackFile {
  readonly gatewayUrl: string;
  readonly grpcAddress: string;
  readonly natsUrl: string;
  readonly keyFile: string;
  readonly logDir: string;
  readonly launcherPid: number;
  /** Processes of the servers it started (nats-server, postgres). */
  readonly infrastructure: Readonly<Record<string, number>>;
  readonly services: readonly {
    name: string;
    url: string | null;
    pid: number | null;
    restarts: number;
  }[];
}

function writeStackFile(home: string, content: StackFile): void {
  const file = path.join(home, 'stack.json');
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(content, null, 2)}\n`);
  renameSync(tmp, file);
}

interface BusUsers {
  readonly users: NatsUser[];
  /** Each service's credentials file, by service name. */
  readonly files: Record<string, string>;
  readonly operator: { readonly user: string; readonly password: string };
}

/**
 * The NATS users of a stack: one per service with the permissions of its role (`busPermissions`),
 * and the operator's. Passwords are made once and kept in `$ACAI_HOME/nats-users/<user>.json`
 * (0600), so a restarted stack logs in with the same ones.
 */
function busUsers(home: string, prefix: string | undefined): BusUsers {
  const dir = path.join(home, 'nats-users');
  const topology =
    prefix === undefined || prefix === 'acai' ? defaultTopology : isolatedTopology(prefix);
  const credentials = (user: string) => secretFile(dir, user);
  const users: NatsUser[] = [];
  const files: Record<string, string> = {};
  for (const service of BUS_SERVICES) {
    const c = credentials(service);
    files[service] = c.file;
    users.push({
      user: c.user,
      password: c.password,
      permissions: busPermissions(topology, service),
    });
  }
  const operator = credentials(BUS_OPERATOR);
  users.push({ user: operator.user, password: operator.password, permissions: 'all' });
  return { users, files, operator: { user: operator.user, password: operator.password } };
}

/**
 * The credentials `<dir>/<user>.json` (0600, in a 0700 folder): `{ user, password }`, the password
 * made at random the first time and read back ever after.
 */
function secretFile(dir: string, user: string): { file: string; user: string; password: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = path.join(dir, `${user}.json`);
  if (!existsSync(file)) {
    const password = randomBytes(24).toString('base64url');
    writeFileSync(file, `${JSON.stringify({ user, password })}\n`, { mode: 0o600 });
  }
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { user: string; password: string };
  return { file, user: parsed.user, password: parsed.password };
}

/** `$ACAI_HOME/secrets.key`: 32 random bytes in base64, made the first time (0600). */
function secretsKeyOf(home: string): string {
  const file = path.join(home, 'secrets.key');
  if (!existsSync(file)) {
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

/**
 * Whether the launcher lets the executor run jobs as the developer's own user: it is not root (so
 * it cannot give jobs users of their own) and nobody chose `ACAI_SANDBOX`. The executor alone
 * would refuse to start; the one-command default on a laptop must work, and says what it does.
 */
export function runsJobsAsDeveloper(uid: number | undefined, env: NodeJS.ProcessEnv): boolean {
  return uid !== 0 && env['ACAI_SANDBOX'] === undefined;
}

/**
 * The gateway's gRPC port: ACAI_GRPC_PORT when set (0: a free one), else 50051, or a free one for
 * a stack whose gateway takes any free port, or when 50051 is taken and a free one will do (so a
 * second stack, or a test's, starts beside the first). Chosen here so the stack knows it.
 */
async function gatewayGrpcPort(options: StackOptions): Promise<number> {
  const set = options.env?.['ACAI_GRPC_PORT'] ?? process.env['ACAI_GRPC_PORT'];
  if (set !== undefined && set !== '') {
    const port = Number(set);
    return port === 0 ? freePort() : port;
  }
  if (options.gatewayPort === 0) return freePort();
  if (options.gatewayPortFallback === true && !(await portIsFree(DEFAULT_GRPC_PORT))) {
    return freePort();
  }
  return DEFAULT_GRPC_PORT;
}

const DEFAULT_GRPC_PORT = 50051;
