import { spawn, type ChildProcess } from 'node:child_process';
import { open, unlink, type FileHandle } from 'node:fs/promises';
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
  /** A stop asked for before the process started (a cancel while the job is being prepared). */
  private stopAsked: number | undefined;
  private readonly exit = Promise.withResolvers<Exit>();
  readonly exited: Promise<Exit> = this.exit.promise;

  constructor(
    private readonly argv: readonly string[],
    private readonly options: {
      cwd: string;
      env: NodeJS.ProcessEnv;
      onLine: (stream: StreamName, line: string) => void;
      /**
       * Files the process gets as fds 3, 4, …, in this order. Each is opened and removed before
       * the process starts: what is in it reaches the process and nothing else.
       */
      handOver?: readonly string[];
      /**
       * When the job's own process has exited: ends what it left behind (its process group is
       * killed first), which may hold its output open and keep its end from being seen.
       */
      afterExit?: () => Promise<unknown>;
    },
  ) {}

  async start(): Promise<SpawnResult> {
    const [program, ...args] = this.argv as [string, ...string[]];
    const handed: FileHandle[] = [];
    try {
      for (const file of this.options.handOver ?? []) {
        handed.push(await open(file, 'r'));
        await unlink(file);
      }
    } catch (error) {
      await Promise.all(handed.map((h) => h.close()));
      this.exit.resolve({ code: null, signal: null });
      return {
        ok: false,
        reason: 'spawn_error',
        message: `could not hand the job its files: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    try {
      return await new Promise((resolve) => {
        const child = spawn(program, args, {
          cwd: this.options.cwd,
          env: this.options.env,
          shell: false,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe', ...handed.map((h) => h.fd)],
        });
        this.child = child;
        child.once('spawn', () => {
          resolve({ ok: true, pid: child.pid! });
          if (this.stopAsked !== undefined) this.kill(this.stopAsked);
        });
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
    } finally {
      // The child has its own copies (or never started).
      await Promise.all(handed.map((h) => h.close()));
    }
  }

  /** Signals the whole process group; escalates to SIGKILL after `graceMs`. */
  kill(graceMs = 5_000): void {
    if (this.child === undefined) {
      // Not started yet: it is stopped as soon as it is.
      this.stopAsked = graceMs;
      return;
    }
    if (this.child.pid === undefined || this.child.exitCode !== null) return;
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
    const lines = new LineSplitter((line) => this.options.onLine(name, line));
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => lines.push(chunk));
    stream.on('end', () => lines.end());
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

/** The longest piece of output handed on as one line: a longer line is cut into such pieces. */
export const MAX_LINE_CHARS = 16 * 1024;

/**
 * Cuts output into lines in time linear in its size: a line without a newline is handed on in
 * pieces of at most `maxChars`, so a job printing megabytes without a newline costs no more, and
 * holds no more in memory, than one printing short lines.
 */
export class LineSplitter {
  private partial: string[] = [];
  private partialLength = 0;

  constructor(
    private readonly emit: (line: string) => void,
    private readonly maxChars = MAX_LINE_CHARS,
  ) {}

  push(chunk: string): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf('\n', start);
      const end = newline === -1 ? chunk.length : newline;
      // What fits in the current piece; a piece full is handed on before the rest is taken.
      let at = start;
      while (end - at > this.maxChars - this.partialLength) {
        const take = this.maxChars - this.partialLength;
        this.partial.push(chunk.slice(at, at + take));
        at += take;
        this.emitPartial();
      }
      if (end > at) {
        this.partial.push(chunk.slice(at, end));
        this.partialLength += end - at;
      }
      if (newline === -1) return;
      this.emitPartial();
      start = newline + 1;
    }
  }

  /** The output ended: what is left (a last line without a newline) is handed on. */
  end(): void {
    if (this.partialLength > 0) this.emitPartial();
  }

  private emitPartial(): void {
    const line = this.partial.join('');
    this.partial = [];
    this.partialLength = 0;
    this.emit(line);
  }
}
