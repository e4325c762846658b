import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventingLogger } from '@acai/eventing';
import type { SpawnerReport, StartRequest } from './protocol.js';

/** How a process the spawner started ended: as Node's `close` event says. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What the caller of {@link Spawner.start} hears about its process, in this order. */
export interface ProcessWatch {
  started(pid: number): void;
  /** It did not start: `code` is Node's errno code (`ENOENT`, …), `handover` or `spawner_lost`. */
  notStarted(code: string, message: string): void;
  output(stream: 'out' | 'err', text: string): void;
  /** It ended (its process group was sent SIGKILL); output may still come. */
  exited(): void;
  /** Its output ended too: the last call. */
  closed(exit: Exit): void;
}

/** The code {@link ProcessWatch.notStarted} gets when the spawner died before answering. */
export const SPAWNER_LOST = 'spawner_lost';

/** A spawner that died this soon after it started is started again only after this long. */
const RESTART_DELAY_MS = 1_000;

/**
 * How long the spawner may take to say whether a process started (a fork and an exec: milliseconds,
 * seconds on a machine under heavy load). Past it the spawner is taken for hung: it is killed, its
 * processes are reported as for a spawner that died, and a new one takes its place.
 */
const START_ANSWER_MS = 60_000;

/** How long a closed spawner may take to exit before it is killed. */
const CLOSE_WAIT_MS = 5_000;

/** The spawner's entry: `spawner-main.js` when built, `spawner-main.ts` from source (tests). */
const MAIN = (() => {
  const here = fileURLToPath(import.meta.url);
  return path.join(path.dirname(here), `spawner-main${path.extname(here)}`);
})();

interface Watched {
  readonly watch: ProcessWatch;
  /** The spawner process asked to start it: only its death concerns this process. */
  readonly by: ChildProcess;
  pid?: number;
  /** Until the spawner says whether it started: then it is taken for hung. */
  answer?: NodeJS.Timeout;
}

/**
 * The executor's side of its spawner process (`spawner-main.ts`): a small Node process, started
 * with the executor and started again when it dies, that forks every job. Forking from the
 * executor itself cost CPU and event-loop time in proportion to the executor's size; from the
 * spawner it costs what it costs from a process a quarter of the size.
 *
 * When the spawner dies, the processes it started die with it (their parent-death signal) and are
 * reported as killed (`SIGKILL`), those not yet started as not started ({@link SPAWNER_LOST}); the
 * executor goes on, and the next job starts from a new spawner.
 */
export class Spawner {
  private child: ChildProcess | undefined;
  private readonly watched = new Map<number, Watched>();
  private nextId = 1;
  private closed = false;
  private lastStart = 0;
  private restart: NodeJS.Timeout | undefined;

  /**
   * `wrapper`: the argv the spawner is started through (`setpriv --pdeathsig=KILL --`, so that it
   * dies when the executor does), or none.
   */
  constructor(
    private readonly options: {
      wrapper: readonly string[];
      logger: EventingLogger;
      /** See {@link START_ANSWER_MS}. */
      startAnswerMs?: number;
    },
  ) {}

  /** Starts the spawner process now rather than with the first job. */
  open(): void {
    this.ensure();
  }

  /** Asks the spawner to start `argv`; `watch` hears how it goes. */
  start(request: Omit<StartRequest, 'type' | 'id'>, watch: ProcessWatch): void {
    if (this.closed) {
      watch.notStarted(SPAWNER_LOST, 'the executor is stopping');
      return;
    }
    const child = this.ensure();
    const id = this.nextId++;
    const answerMs = this.options.startAnswerMs ?? START_ANSWER_MS;
    const answer = setTimeout(() => this.hung(child, answerMs), answerMs);
    answer.unref();
    this.watched.set(id, { watch, by: child, answer });
    child.ref();
    child.channel?.ref();
    const message: StartRequest = { type: 'start', id, ...request };
    // A send to a spawner that just died fails here; its exit reports the process as not started.
    child.send(message, (error) => {
      if (error !== null) this.options.logger.debug({ err: error.message }, 'spawner unreachable');
    });
  }

  /** Stops the spawner (after the executor's jobs ended): its channel closes and it exits. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restart);
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.disconnect();
    // One that does not go (hung) is killed: a shutdown does not wait on it.
    const kill = setTimeout(() => child.kill('SIGKILL'), CLOSE_WAIT_MS);
    await gone;
    clearTimeout(kill);
  }

  private ensure(): ChildProcess {
    if (this.child !== undefined) return this.child;
    clearTimeout(this.restart);
    const [program, ...wrapperArgs] = this.options.wrapper;
    const node = [...process.execArgv.filter((a) => a.startsWith('--disable-warning'))];
    const child =
      program === undefined
        ? fork(MAIN, [], { execArgv: node, env: SPAWNER_ENV, stdio: SPAWNER_STDIO })
        : fork(MAIN, [], {
            // fork runs `execPath execArgv MAIN`: here `setpriv … -- node MAIN`.
            execPath: program,
            execArgv: [...wrapperArgs, process.execPath, ...node],
            env: SPAWNER_ENV,
            stdio: SPAWNER_STDIO,
          });
    this.child = child;
    this.lastStart = Date.now();
    child.on('message', (reports: SpawnerReport[]) => {
      for (const report of reports) this.heard(report);
    });
    child.once('exit', (code, signal) => this.lost(child, code, signal));
    child.once('error', (error) =>
      this.options.logger.error({ err: error.message }, 'the job spawner process failed'),
    );
    this.idle(child);
    return child;
  }

  private heard(report: SpawnerReport): void {
    const watched = this.watched.get(report.id);
    if (watched === undefined) return;
    const { watch } = watched;
    switch (report.type) {
      case 'started':
        clearTimeout(watched.answer);
        watched.pid = report.pid;
        watch.started(report.pid);
        break;
      case 'not-started':
        this.forget(report.id);
        watch.notStarted(report.code, report.message);
        break;
      case 'output':
        watch.output(report.stream, report.text);
        break;
      case 'exited':
        watch.exited();
        break;
      case 'closed':
        this.forget(report.id);
        watch.closed({ code: report.code, signal: report.signal });
        break;
      default: {
        const _exhaustive: never = report;
        return _exhaustive;
      }
    }
  }

  /** The spawner did not say whether a process started: it is killed (and `lost` follows). */
  private hung(child: ChildProcess, answerMs: number): void {
    if (child.exitCode !== null || child.signalCode !== null) return;
    this.options.logger.error(
      { pid: child.pid, seconds: answerMs / 1000 },
      'the job spawner process did not say whether a job started: killing it and starting another',
    );
    child.kill('SIGKILL');
  }

  /** The spawner died: what it started is gone with it, and a new one takes its place. */
  private lost(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child === child) this.child = undefined;
    const orphans = [...this.watched].filter(([, w]) => w.by === child);
    if (!this.closed || orphans.length > 0) {
      this.options.logger.error(
        { code, signal, jobs: orphans.length },
        'the job spawner process died: its jobs were killed with it; starting another',
      );
    }
    for (const [id, watched] of orphans) {
      clearTimeout(watched.answer);
      this.watched.delete(id);
      if (watched.pid === undefined) {
        watched.watch.notStarted(
          SPAWNER_LOST,
          'the executor’s job spawner process died before the job started',
        );
        continue;
      }
      // Their parent-death signal has killed them; whatever of their group is left goes too.
      try {
        process.kill(-watched.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
      watched.watch.exited();
      watched.watch.closed({ code: null, signal: 'SIGKILL' });
    }
    if (this.closed) return;
    const wait = Math.max(0, this.lastStart + RESTART_DELAY_MS - Date.now());
    this.restart = setTimeout(() => {
      if (!this.closed) this.ensure();
    }, wait);
    this.restart.unref();
  }

  private forget(id: number): void {
    const watched = this.watched.get(id);
    clearTimeout(watched?.answer);
    this.watched.delete(id);
    if (watched !== undefined) this.idle(watched.by);
  }

  /** With no process of its own to report on, the spawner keeps no one's event loop alive. */
  private idle(child: ChildProcess): void {
    for (const w of this.watched.values()) if (w.by === child) return;
    child.unref();
    child.channel?.unref();
  }
}

/** The spawner's environment: nothing of the executor's (its secrets stay in the executor). */
const SPAWNER_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
/** Its output is the executor's (it prints only when it fails); its channel is the IPC one. */
const SPAWNER_STDIO: ['ignore', 'inherit', 'inherit', 'ipc'] = [
  'ignore',
  'inherit',
  'inherit',
  'ipc',
];
