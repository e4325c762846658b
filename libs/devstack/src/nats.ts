import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BUS_OPERATOR,
  BUS_SERVICES,
  busPermissions,
  defaultTopology,
  NATS_AUTH_FILES,
  natsAuthorization,
  natsUserEntries,
  type NatsUser,
} from '@acai/contracts';
import { waitForPort } from './ports.js';
import { killWithMe } from './with-me.js';

export interface StartedService {
  readonly url: string;
  /** Its process, while it runs. */
  readonly pid: number | undefined;
  /** Resolves when the process has ended, however it ended: how (`signal SIGKILL`, `exit code 1`). */
  readonly exited: Promise<string>;
  stop(): Promise<void>;
}

export type { NatsUser };

/**
 * The nats-server `authorization` block for `users`, in NATS's configuration syntax: no anonymous
 * access; each user publishes and subscribes where its permissions say, and may answer requests
 * made to it by publishing to `_INBOX.>` (part of its permissions).
 */
export function natsAuthConfig(users: readonly NatsUser[]): string {
  return natsAuthorization([natsUserEntries(users)]);
}

export class MissingDependencyError extends Error {
  override readonly name = 'MissingDependencyError';
}

/** The path of an executable on PATH, or undefined. */
export function which(program: string): string | undefined {
  const result = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  const found = result.stdout.trim();
  return result.status === 0 && found !== '' ? found : undefined;
}

/**
 * Starts nats-server with JetStream from PATH, its store under `dataDir`, listening on 127.0.0.1.
 * Throws a MissingDependencyError that says how to install it when it is not on PATH.
 */
export async function startNats(options: {
  dataDir: string;
  /** Default: one nats-server picks itself, so no other process can take it meanwhile. */
  port?: number;
  logFile?: string;
  /** When given, the server requires one of these users (its configuration is written 0600). */
  users?: readonly NatsUser[];
}): Promise<StartedService> {
  const binary = which('nats-server');
  if (binary === undefined) {
    throw new MissingDependencyError(
      'nats-server is not on PATH. Install it with `apt-get install -y nats-server` (Debian/Ubuntu) ' +
        'or from https://github.com/nats-io/nats-server/releases, or point NATS_URL at a running server.',
    );
  }
  mkdirSync(options.dataDir, { recursive: true });
  // JetStream and its store: flags, or (with users) the configuration file, so that a reload does not
  // turn JetStream off (it would without `jetstream` in the file) or refuse a changed store.
  let configArgs: string[] = ['-js', '-sd', options.dataDir];
  if (options.users !== undefined) {
    // The services' users, then the subscribers' the gateway added (its copy of them survives a
    // restart here); the gateway rewrites the configuration and signals a reload when they change.
    const file = (name: keyof typeof NATS_AUTH_FILES) =>
      path.join(options.dataDir, NATS_AUTH_FILES[name]);
    const services = natsUserEntries(options.users);
    writeFileSync(file('services'), services, { mode: 0o600 });
    chmodSync(file('services'), 0o600);
    let subscribers = '';
    try {
      subscribers = readFileSync(file('subscribers'), 'utf8');
    } catch {
      // None yet.
    }
    writeFileSync(file('config'), natsAuthorization([services, subscribers]), { mode: 0o600 });
    chmodSync(file('config'), 0o600);
    writeFileSync(
      file('server'),
      [
        `jetstream { store_dir: ${JSON.stringify(options.dataDir)} }`,
        `include ${JSON.stringify(NATS_AUTH_FILES.config)}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    configArgs = ['-c', file('server'), '-P', file('pid')];
  }
  const portsDir = mkdtempSync(path.join(os.tmpdir(), 'acai-nats-ports-'));
  const log = options.logFile ?? path.join(options.dataDir, 'nats-server.log');
  const out = openSync(log, 'a');
  const child = spawn(
    binary,
    [
      ...configArgs,
      '-a',
      '127.0.0.1',
      // -1: a random free port, bound by nats-server itself and written to the ports file.
      '-p',
      String(options.port ?? -1),
      '--ports_file_dir',
      portsDir,
    ],
    { stdio: ['ignore', out, out] },
  );
  closeSync(out);
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(endedHow(code, signal))),
  );
  let port: number;
  try {
    port = await Promise.race([
      readPortsFile(portsDir, 15_000),
      exited.then((): never => {
        throw new Error(`nats-server exited at start; see ${log}`);
      }),
    ]);
    await waitForPort('127.0.0.1', port, 15_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    rmSync(portsDir, { recursive: true, force: true });
  }
  // It ends with us even if we die without stopping it.
  const guard = killWithMe(child.pid!);
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      guard.release();
    },
  };
}

/** How a process ended, in words: `exit code 1`, `signal SIGKILL`. */
export function endedHow(code: number | null, signal: NodeJS.Signals | null): string {
  return signal === null ? `exit code ${code}` : `signal ${signal}`;
}

/** The client port nats-server wrote to `<dir>/<executable>_<pid>.ports` once it listens. */
async function readPortsFile(dir: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The folder is this start's own: whatever ports file appears in it is this server's.
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.ports'))) {
      try {
        const ports = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as { nats?: string[] };
        const url = ports.nats?.[0];
        if (url !== undefined) return Number(new URL(url).port);
      } catch {
        // Half written: read it again in a moment.
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`nats-server did not say its port within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The NATS users of a deployment (compose, Kubernetes): one per service with its role's
 * permissions on the production topology, and the operator's; each password is the nats-server's
 * environment variable `ACAI_NATS_PASSWORD_<USER>`, set from the deployment's secrets.
 */
export function deploymentNatsUsers(): NatsUser[] {
  const env = (user: string) => ({ env: `ACAI_NATS_PASSWORD_${user.toUpperCase()}` });
  return [
    ...BUS_SERVICES.map((service) => ({
      user: service,
      password: env(service),
      permissions: busPermissions(defaultTopology, service),
    })),
    { user: BUS_OPERATOR, password: env(BUS_OPERATOR), permissions: 'all' as const },
  ];
}
