import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startNats, type StartedService } from './nats.js';
import { ensureDatabase, startEmbeddedPostgres } from './postgres.js';

export interface ServiceEntry {
  readonly name: string;
  readonly portVariable: string;
  readonly port: number;
}

/** The launcher's config: which services to start, in order, on which ports (deploy/local/services.json). */
export function readServices(root: string): ServiceEntry[] {
  const file = path.join(root, 'deploy', 'local', 'services.json');
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { services?: unknown };
  if (!Array.isArray(parsed.services)) throw new Error(`${file}: expected a "services" array`);
  return parsed.services.map((entry: unknown, i: number) => {
    const e = entry as Partial<ServiceEntry>;
    if (
      typeof e.name !== 'string' ||
      typeof e.portVariable !== 'string' ||
      typeof e.port !== 'number'
    ) {
      throw new Error(`${file}: services.${i} needs a name, a portVariable and a port`);
    }
    return { name: e.name, portVariable: e.portVariable, port: e.port };
  });
}

export interface StackOptions {
  /** The repository root (where apps/<service>/dist/main.js are). */
  readonly root: string;
  /** Everything the stack keeps: NATS store, Postgres data, logs, the default key. */
  readonly home: string;
  readonly gatewayPort: number;
  /** Use these servers instead of starting them. */
  readonly natsUrl?: string | undefined;
  readonly databaseUrl?: string | undefined;
  /** Port offset for the other services' ops endpoints (tests and benchmarks run beside `npm run up`). */
  readonly portOffset?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Extra node options for every service, e.g. `--cpu-prof` to profile them. */
  readonly nodeArgs?: readonly string[];
  readonly say?: (line: string) => void;
}

export interface Stack {
  readonly gatewayUrl: string;
  readonly keyFile: string;
  readonly logDir: string;
  readonly natsUrl: string;
  /** The database the services use (benchmarks load data into it directly). */
  readonly databaseUrl: string;
  /** Resolves if a service dies: with its name. */
  readonly died: Promise<string>;
  key(): string;
  stop(): Promise<void>;
}

/**
 * Starts the whole system on one machine: nats-server (from PATH) and an embedded Postgres unless
 * URLs are given, then every service as its own process with a log file each, and waits until all
 * are ready. State lives under `home`, so a second start resumes with the same data.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const say = options.say ?? (() => undefined);
  const logDir = path.join(options.home, 'logs');
  mkdirSync(logDir, { recursive: true });
  const services = readServices(options.root);
  for (const s of services) {
    const main = path.join(options.root, 'apps', s.name, 'dist', 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  }
  const infra: StartedService[] = [];
  const children: { name: string; child: ChildProcess }[] = [];
  const stopAll = async () => {
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
          }),
      ),
    );
    for (const service of infra.reverse()) await service.stop().catch(() => undefined);
  };

  try {
    let natsUrl = options.natsUrl;
    if (natsUrl === undefined) {
      const nats = await startNats({
        dataDir: path.join(options.home, 'nats'),
        logFile: path.join(logDir, 'nats-server.log'),
      });
      infra.push(nats);
      natsUrl = nats.url;
      say(`nats-server (JetStream) at ${natsUrl}, store ${path.join(options.home, 'nats')}`);
    }
    let databaseUrl = options.databaseUrl;
    if (databaseUrl === undefined) {
      const pg = await startEmbeddedPostgres({ dataDir: path.join(options.home, 'postgres') });
      infra.push(pg);
      databaseUrl = await ensureDatabase(pg.url, 'acai');
      say(
        `embedded Postgres at ${databaseUrl.replace(/:[^:@/]+@/, ':***@')}, data ${path.join(options.home, 'postgres')}`,
      );
    }
    const keyFile = path.join(options.home, 'default.key');
    const offset = options.portOffset ?? 0;
    let died!: (name: string) => void;
    const diedPromise = new Promise<string>((resolve) => (died = resolve));
    let stopping = false;
    for (const s of services) {
      const port = s.name === 'gateway' ? options.gatewayPort : s.port + offset;
      const log = openSync(path.join(logDir, `${s.name}.log`), 'a');
      const child = spawn(
        process.execPath,
        [...(options.nodeArgs ?? []), path.join(options.root, 'apps', s.name, 'dist', 'main.js')],
        {
          cwd: options.root,
          stdio: ['ignore', log, log],
          env: {
            ...process.env,
            ...options.env,
            NATS_URL: natsUrl,
            DATABASE_URL: databaseUrl,
            ACAI_HOME: options.home,
            [s.portVariable]: String(port),
            ACAI_BOOTSTRAP_KEY_FILE: keyFile,
          },
        },
      );
      child.once('exit', (code, signal) => {
        if (!stopping) died(`${s.name} (exit ${code ?? signal})`);
      });
      children.push({ name: s.name, child });
      await waitReady(
        `http://127.0.0.1:${port}/readyz`,
        s.name,
        path.join(logDir, `${s.name}.log`),
        child,
      );
      say(
        `${s.name.padEnd(11)} ready on 127.0.0.1:${port}  (log: ${path.join(logDir, `${s.name}.log`)})`,
      );
    }
    return {
      gatewayUrl: `http://127.0.0.1:${options.gatewayPort}`,
      keyFile,
      logDir,
      natsUrl,
      databaseUrl,
      died: diedPromise,
      key: () => readFileSync(keyFile, 'utf8').trim(),
      async stop() {
        stopping = true;
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function waitReady(
  url: string,
  name: string,
  logFile: string,
  child: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`${name} exited while starting:\n${tail(logFile)}`);
    }
    try {
      const response = await fetch(url);
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline)
      throw new Error(`${name} was not ready after 60 s:\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
