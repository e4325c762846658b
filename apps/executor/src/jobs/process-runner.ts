import { spawn, type ChildProcess } from 'node:child_process';
import type { JobFailureReason } from '@acai/contracts';

import type { StreamName } from '@acai/execution';

export type { StreamName };

export type SpawnResult =
  { ok: true; pid: number } | { ok: false; reason: JobFailureReason; message: string };

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * Runs an argv with no shell in its own process group (so a cancel kills the whole tree), and
 * hands its output back line by line.
 */
export class ProcessRunner {
  private child: ChildProcess | undefined;
  private readonly exit = Promise.withResolvers<Exit>();
  readonly exited: Promise<Exit> = this.exit.promise;

  constructor(
    private readonly argv: readonly string[],
    private readonly options: {
      cwd: string;
      env: NodeJS.ProcessEnv;
      onLine: (stream: StreamName, line: string) => void;
      /**
       * When the job's own process has exited: ends what it left behind (its process group is
       * killed first), which may hold its output open and keep its end from being seen.
       */
      afterExit?: () => Promise<unknown>;
    },
  ) {}

  start(): Promise<SpawnResult> {
    const [program, ...args] = this.argv as [string, ...string[]];
    return new Promise((resolve) => {
      const child = spawn(program, args, {
        cwd: this.options.cwd,
        env: this.options.env,
        shell: false,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.child = child;
      child.once('spawn', () => resolve({ ok: true, pid: child.pid! }));
      child.once('error', (error: NodeJS.ErrnoException) => {
        resolve(describeSpawnError(program, error));
        this.exit.resolve({ code: null, signal: null });
      });
      this.pipe(child.stdout, 'out');
      this.pipe(child.stderr, 'err');
      child.once('exit', () => {
        this.signalGroup('SIGKILL');
        void this.options.afterExit?.().catch(() => undefined);
      });
      child.once('close', (code, signal) => this.exit.resolve({ code, signal }));
    });
  }

  /** Signals the whole process group; escalates to SIGKILL after `graceMs`. */
  kill(graceMs = 5_000): void {
    if (this.child?.pid === undefined || this.child.exitCode !== null) return;
    this.signalGroup('SIGTERM');
    const timer = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
    timer.unref();
    void this.exited.then(() => clearTimeout(timer));
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  }

  private pipe(stream: NodeJS.ReadableStream | null, name: StreamName): void {
    if (stream === null) return;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) this.options.onLine(name, line);
    });
    stream.on('end', () => {
      if (partial !== '') this.options.onLine(name, partial);
      partial = '';
    });
  }
}

function describeSpawnError(program: string, error: NodeJS.ErrnoException): SpawnResult {
  switch (error.code) {
    case 'ENOENT':
      return {
        ok: false,
        reason: 'command_not_found',
        message: `command '${program}' was not found on the executor's PATH; check the step's command or install the program`,
      };
    case 'EACCES':
      return {
        ok: false,
        reason: 'permission_denied',
        message: `command '${program}' is not executable by the executor (permission denied)`,
      };
    default:
      return {
        ok: false,
        reason: 'spawn_error',
        message: `could not start '${program}': ${error.message}`,
      };
  }
}
