import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface StartedService {
  readonly url: string;
  stop(): Promise<void>;
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
  port?: number;
  logFile?: string;
}): Promise<StartedService> {
  const binary = which('nats-server');
  if (binary === undefined) {
    throw new MissingDependencyError(
      'nats-server is not on PATH. Install it with `apt-get install -y nats-server` (Debian/Ubuntu) ' +
        'or from https://github.com/nats-io/nats-server/releases, or point NATS_URL at a running server.',
    );
  }
  const port = options.port ?? (await freePort());
  mkdirSync(options.dataDir, { recursive: true });
  const log = options.logFile ?? path.join(options.dataDir, 'nats-server.log');
  const out = openSync(log, 'a');
  const child = spawn(
    binary,
    ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', options.dataDir],
    {
      stdio: ['ignore', out, out],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([
      waitForPort('127.0.0.1', port, 15_000),
      exited.then(() => {
        throw new Error(`nats-server exited at start; see ${log}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
