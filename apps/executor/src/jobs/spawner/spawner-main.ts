/**
 * The spawner: a small process the executor starts once (and again if it dies) that starts the
 * executor's jobs, so that each job is forked from a process of a few tens of MB rather than from
 * the executor (a quarter of a GB, whose every fork copied its page tables and blocked its event
 * loop until the child `exec`ed). It runs the launch it is given unchanged, as the executor did:
 * no shell, its own process group, the files it is told handed over as fds 3, 4, … (opened, then
 * removed), and relays each process's output, its end, and how it ended over its IPC channel
 * (`protocol.ts`).
 *
 * It imports nothing but Node's own modules. When the executor goes away (its channel closes, or
 * it dies: the spawner is started with the parent-death signal KILL), its jobs' process groups
 * are killed and it exits; jobs also carry the parent-death signal themselves (the launch's
 * `setpriv`), so they die with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, unlinkSync } from 'node:fs';
import type { SpawnerReport, SpawnerRequest, StartRequest } from './protocol.js';

/** Output relayed but not yet written to the channel past which jobs' output is paused… */
const PAUSE_AT_CHARS = 4 * 1024 * 1024;
/** …and below which it flows again. */
const RESUME_AT_CHARS = 1024 * 1024;

const send = process.send?.bind(process);
if (send === undefined) {
  process.stderr.write('acai spawner: started without an IPC channel; the executor starts it\n');
  process.exit(2);
}

const running = new Map<number, ChildProcess>();
/** Reports of this turn of the event loop, sent together as one message at its end. */
let batch: SpawnerReport[] = [];
let batchChars = 0;
let unsentChars = 0;
let paused = false;

/**
 * Queues a report: what one turn of the event loop says (a process's start, or its exit and
 * close, which come together) goes as one message, one write and one wake-up of the executor.
 */
function report(message: SpawnerReport): void {
  batch.push(message);
  if (message.type === 'output') batchChars += message.text.length;
  if (batch.length === 1) setImmediate(flush);
}

function flush(): void {
  const reports = batch;
  const chars = batchChars;
  batch = [];
  batchChars = 0;
  unsentChars += chars;
  send!(reports, undefined, undefined, () => {
    unsentChars -= chars;
    if (paused && unsentChars < RESUME_AT_CHARS) {
      paused = false;
      for (const child of running.values()) {
        child.stdout?.resume();
        child.stderr?.resume();
      }
    }
  });
  if (!paused && unsentChars > PAUSE_AT_CHARS) {
    // The executor reads slower than jobs print: they wait, rather than this process filling up.
    paused = true;
    for (const child of running.values()) {
      child.stdout?.pause();
      child.stderr?.pause();
    }
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function start(request: StartRequest): void {
  const { id } = request;
  const handed: number[] = [];
  try {
    for (const file of request.handOver) {
      handed.push(openSync(file, 'r'));
      unlinkSync(file);
    }
  } catch (error) {
    for (const fd of handed) closeSync(fd);
    report({
      type: 'not-started',
      id,
      code: 'handover',
      message: error instanceof Error ? error.message : String(error),
    });
    return;
  }
  const [program, ...args] = request.argv as [string, ...string[]];
  let child: ChildProcess;
  try {
    child = spawn(program, args, {
      cwd: request.cwd,
      env: request.env,
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', ...handed],
    });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    report({ type: 'not-started', id, code: failure.code ?? 'ERR', message: failure.message });
    return;
  } finally {
    // The child has its own copies (spawn returns once it has exec'ed, or failed to).
    for (const fd of handed) closeSync(fd);
  }
  running.set(id, child);
  child.once('spawn', () => report({ type: 'started', id, pid: child.pid! }));
  child.once('error', (error: NodeJS.ErrnoException) => {
    if (child.pid !== undefined) return;
    running.delete(id);
    report({ type: 'not-started', id, code: error.code ?? 'ERR', message: error.message });
  });
  for (const stream of ['out', 'err'] as const) {
    const pipe = stream === 'out' ? child.stdout : child.stderr;
    if (pipe === null) continue;
    pipe.setEncoding('utf8');
    pipe.on('data', (text: string) => report({ type: 'output', id, stream, text }));
    if (paused) pipe.pause();
  }
  child.once('exit', () => {
    // What it left in its group may hold its output open: it ends with it.
    killGroup(child.pid);
    report({ type: 'exited', id });
  });
  child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
    running.delete(id);
    if (child.pid !== undefined) report({ type: 'closed', id, code, signal });
  });
}

process.on('message', (message: SpawnerRequest) => {
  switch (message.type) {
    case 'start':
      start(message);
      break;
    default: {
      const _exhaustive: never = message.type;
      return _exhaustive;
    }
  }
});

process.on('disconnect', () => {
  for (const child of running.values()) killGroup(child.pid);
  process.exit(0);
});
