import type { JobFailureReason } from '@acai/contracts';
import type { StreamName } from '@acai/execution';
import { SPAWNER_LOST, type Exit, type Spawner } from './spawner/spawner.js';

export type { StreamName, Exit };

export type SpawnResult =
  { ok: true; pid: number } | { ok: false; reason: JobFailureReason; message: string };

/**
 * Runs an argv with no shell in its own process group (so a cancel kills the whole tree), and
 * hands its output back line by line. The process is forked by the executor's spawner (see
 * {@link Spawner}); its group is signalled from here.
 */
export class ProcessRunner {
  private pid: number | undefined;
  private ended = false;
  private asked = false;
  /** A stop asked for before the process started (a cancel while the job is being prepared). */
  private stopAsked: number | undefined;
  private readonly exit = Promise.withResolvers<Exit>();
  readonly exited: Promise<Exit> = this.exit.promise;

  constructor(
    private readonly argv: readonly string[],
    private readonly options: {
      spawner: Spawner;
      cwd: string;
      env: Readonly<Record<string, string>>;
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

  start(): Promise<SpawnResult> {
    if (this.asked) throw new Error('a ProcessRunner starts its process once');
    this.asked = true;
    const program = this.argv[0]!;
    const lines = {
      out: new LineSplitter((line) => this.options.onLine('out', line)),
      err: new LineSplitter((line) => this.options.onLine('err', line)),
    };
    return new Promise((resolve) => {
      this.options.spawner.start(
        {
          argv: this.argv,
          cwd: this.options.cwd,
          env: this.options.env,
          handOver: this.options.handOver ?? [],
        },
        {
          started: (pid) => {
            this.pid = pid;
            resolve({ ok: true, pid });
            if (this.stopAsked !== undefined) this.kill(this.stopAsked);
          },
          notStarted: (code, message) => {
            this.ended = true;
            resolve(describeSpawnError(program, code, message));
            this.exit.resolve({ code: null, signal: null });
          },
          output: (stream, text) => lines[stream].push(text),
          exited: () => {
            this.ended = true;
            void this.options.afterExit?.().catch(() => undefined);
          },
          closed: (exit) => {
            this.ended = true;
            lines.out.end();
            lines.err.end();
            this.exit.resolve(exit);
          },
        },
      );
    });
  }

  /** Signals the whole process group; escalates to SIGKILL after `graceMs`. */
  kill(graceMs = 5_000): void {
    if (!this.asked || (this.pid === undefined && !this.ended)) {
      // Not started yet: it is stopped as soon as it is.
      this.stopAsked = graceMs;
      return;
    }
    if (this.pid === undefined || this.ended) return;
    this.signalGroup('SIGTERM');
    const timer = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
    timer.unref();
    void this.exited.then(() => clearTimeout(timer));
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  }
}

function describeSpawnError(program: string, code: string, message: string): SpawnResult {
  switch (code) {
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
    case 'handover':
      return {
        ok: false,
        reason: 'spawn_error',
        message: `could not hand the job its files: ${message}`,
      };
    case SPAWNER_LOST:
      return { ok: false, reason: 'spawn_error', message };
    default:
      return {
        ok: false,
        reason: 'spawn_error',
        message: `could not start '${program}': ${message}`,
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
