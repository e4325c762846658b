import { spawn } from 'node:child_process';

/** Stops the guard (the process it watches was stopped in order, nothing left to do). */
export interface Guard {
  release(): void;
}

/**
 * Makes sure `pid` does not outlive this process, however this one ends (a crash, SIGKILL, an
 * exit hook of a dependency): a small shell waits on a pipe from us, and when the pipe closes
 * it sends `signal` to `pid`, then SIGKILL if it is still there 10 s later. Node has no
 * parent-death signal; a pipe closing is the one thing the kernel does for every way a process
 * dies.
 */
export function killWithMe(pid: number, signal: 'TERM' | 'INT' = 'TERM'): Guard {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`not a pid: ${pid}`);
  const script = [
    'read _',
    `kill -${signal} ${pid} 2>/dev/null || exit 0`,
    'i=0',
    `while [ $i -lt 100 ] && kill -0 ${pid} 2>/dev/null; do sleep 0.1; i=$((i+1)); done`,
    `kill -KILL ${pid} 2>/dev/null`,
  ].join('; ');
  const watcher = spawn('/bin/sh', ['-c', script], {
    stdio: ['pipe', 'ignore', 'ignore'],
    // Its own process group: a Ctrl-C meant for us does not end it before it is needed.
    detached: true,
  });
  watcher.unref();
  watcher.stdin?.on('error', () => undefined);
  (watcher.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return {
    release() {
      watcher.kill('SIGKILL');
    },
  };
}
