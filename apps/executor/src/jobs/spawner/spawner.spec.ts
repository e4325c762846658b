import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from '@jest/globals';
import { silentLogger } from '@acai/eventing';
import { ProcessRunner } from '../process-runner.js';
import { Spawner } from './spawner.js';

const PATH = process.env['PATH'] ?? '/usr/bin:/bin';

/** Runs `argv` through `spawner` to its end: how it started, ended, and what it printed. */
async function run(spawner: Spawner, argv: string[]) {
  const lines: string[] = [];
  const proc = new ProcessRunner(argv, {
    spawner,
    cwd: process.cwd(),
    env: { PATH },
    onLine: (stream, line) => lines.push(`${stream}: ${line}`),
  });
  const started = await proc.start();
  return { started, exit: await proc.exited, lines, proc };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
}

describe('Spawner', () => {
  const spawner = new Spawner({ wrapper: [], logger: silentLogger });
  afterAll(() => spawner.close());

  it('forks jobs from its own small process, not from the executor', async () => {
    const { started, exit, lines } = await run(spawner, ['sh', '-c', 'echo $PPID']);
    expect(started.ok).toBe(true);
    expect(exit).toEqual({ code: 0, signal: null });
    const parent = Number(lines[0]?.replace('out: ', ''));
    expect(parent).not.toBe(process.pid);
    // The job's parent is the spawner, a child of this process.
    const status = await readFile(`/proc/${parent}/status`, 'utf8');
    expect(/^PPid:\s+(\d+)$/m.exec(status)?.[1]).toBe(String(process.pid));
    // …and much smaller than it.
    const rssKb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
    expect(rssKb * 1024).toBeLessThan(process.memoryUsage().rss);
  });

  it('relays output in order, stdout and stderr apart, and how the process ended', async () => {
    const { exit, lines } = await run(spawner, [
      'sh',
      '-c',
      'for i in $(seq 1 2000); do echo "line $i"; done; echo oops >&2; printf "no newline"; exit 3',
    ]);
    expect(exit).toEqual({ code: 3, signal: null });
    const out = lines.filter((l) => l.startsWith('out: '));
    expect(out).toHaveLength(2001);
    expect(out[0]).toBe('out: line 1');
    expect(out[1999]).toBe('out: line 2000');
    expect(out[2000]).toBe('out: no newline');
    expect(lines).toContain('err: oops');
  });

  it('relays a lot of output without losing any, however fast it comes', async () => {
    // 10 MB as fast as `yes` writes: the spawner holds the job back rather than fill up.
    const bytes = 10_000_000;
    const { exit, lines } = await run(spawner, [
      'sh',
      '-c',
      `yes 0123456789abcdef | head -c ${bytes}`,
    ]);
    expect(exit).toEqual({ code: 0, signal: null });
    // 17 bytes a line, the last one cut short.
    expect(lines.length).toBe(Math.ceil(bytes / 17));
    expect(lines.slice(0, -1).every((l) => l === 'out: 0123456789abcdef')).toBe(true);
    expect(lines.at(-1)).toBe(`out: ${'0123456789abcdef'.slice(0, bytes % 17)}`);
  });

  it('says why a program cannot start', async () => {
    const { started, exit } = await run(spawner, ['acai-no-such-program']);
    expect(started).toMatchObject({ ok: false, reason: 'command_not_found' });
    expect(exit).toEqual({ code: null, signal: null });
  });

  it('kills the whole process group when the process ends', async () => {
    const { exit, lines } = await run(spawner, ['sh', '-c', 'sleep 30 & echo $!']);
    expect(exit).toEqual({ code: 0, signal: null });
    const left = Number(lines[0]?.replace('out: ', ''));
    await until(() => !alive(left));
  });

  it('reports its jobs killed when it dies, and starts again for the next one', async () => {
    const own = new Spawner({ wrapper: [], logger: silentLogger });
    try {
      const lines: string[] = [];
      const proc = new ProcessRunner(['sh', '-c', 'echo $PPID; sleep 30'], {
        spawner: own,
        cwd: process.cwd(),
        env: { PATH },
        onLine: (_, line) => lines.push(line),
      });
      const started = await proc.start();
      expect(started.ok).toBe(true);
      await until(() => lines.length > 0);
      const spawnerPid = Number(lines[0]);
      process.kill(spawnerPid, 'SIGKILL');
      expect(await proc.exited).toEqual({ code: null, signal: 'SIGKILL' });
      if (started.ok) await until(() => !alive(started.pid));
      // The executor goes on: the next job starts from a new spawner.
      const next = await run(own, ['sh', '-c', 'echo $PPID']);
      expect(next.exit).toEqual({ code: 0, signal: null });
      expect(Number(next.lines[0]?.replace('out: ', ''))).not.toBe(spawnerPid);
    } finally {
      await own.close();
    }
  });

  it('takes a spawner that does not say whether a job started for hung: kills it and starts another', async () => {
    const own = new Spawner({ wrapper: [], logger: silentLogger, startAnswerMs: 500 });
    try {
      // The spawner's pid, from a job it started; then it stops answering.
      const first = await run(own, ['sh', '-c', 'echo $PPID']);
      const stuck = Number(first.lines[0]?.replace('out: ', ''));
      process.kill(stuck, 'SIGSTOP');
      const waiting = await run(own, ['true']);
      expect(waiting.started).toMatchObject({ ok: false, reason: 'spawn_error' });
      await until(() => !alive(stuck));
      const next = await run(own, ['sh', '-c', 'echo $PPID']);
      expect(next.exit).toEqual({ code: 0, signal: null });
      expect(Number(next.lines[0]?.replace('out: ', ''))).not.toBe(stuck);
    } finally {
      await own.close();
    }
  });

  it('runs its jobs until it is closed, and starts none after', async () => {
    const own = new Spawner({ wrapper: [], logger: silentLogger });
    expect((await run(own, ['true'])).exit).toEqual({ code: 0, signal: null });
    await own.close();
    const after = await run(own, ['true']);
    expect(after.started).toMatchObject({ ok: false, reason: 'spawn_error' });
  });
});
