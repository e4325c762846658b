import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { LineSplitter, ProcessRunner } from './process-runner.js';
import { Spawner } from './spawner/spawner.js';
import { silentLogger } from '@acai/eventing';

const split = (chunks: string[], max = 4) => {
  const lines: string[] = [];
  const splitter = new LineSplitter((l) => lines.push(l), max);
  for (const c of chunks) splitter.push(c);
  splitter.end();
  return lines;
};

describe('LineSplitter', () => {
  it('hands on lines as they complete, across chunks', () => {
    expect(split(['ab', 'c\nd', 'e\n\nf'])).toEqual(['abc', 'de', '', 'f']);
  });

  it('cuts a line longer than the limit into pieces, wherever its chunks end', () => {
    expect(split(['abcdefghij\n'])).toEqual(['abcd', 'efgh', 'ij']);
    expect(split(['ab', 'cdef', 'ghij', '\nk'])).toEqual(['abcd', 'efgh', 'ij', 'k']);
    expect(split(['abcd\n'])).toEqual(['abcd']);
  });

  it('never holds more than one piece of a line that never ends', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((l) => lines.push(l), 1024);
    // 8 MiB without a newline, in 64 KiB chunks: handed on as it comes, in 1 KiB pieces.
    const chunk = 'z'.repeat(64 * 1024);
    for (let i = 0; i < 128; i++) splitter.push(chunk);
    // All but the last piece, which waits to see whether a newline follows.
    expect(lines).toHaveLength(8 * 1024 - 1);
    splitter.end();
    expect(lines).toHaveLength(8 * 1024);
    expect(lines.every((l) => l.length === 1024)).toBe(true);
  });
});

describe('ProcessRunner', () => {
  const spawner = new Spawner({ wrapper: [], logger: silentLogger });
  afterAll(() => spawner.close());

  it('stops a process asked to stop before it started, as soon as it starts', async () => {
    const proc = new ProcessRunner(['sleep', '30'], {
      spawner,
      cwd: process.cwd(),
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
      onLine: () => undefined,
    });
    proc.kill(100);
    const started = await proc.start();
    expect(started.ok).toBe(true);
    expect(await proc.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('hands its files over as fds 3, … and removes them before the process starts', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'acai-handover-'));
    const file = path.join(dir, 'secret');
    await writeFile(file, 'only for the process\n', { mode: 0o600 });
    const lines: string[] = [];
    const proc = new ProcessRunner(
      ['sh', '-c', 'cat <&3; [ -e "$0" ] && echo still-there || echo gone', file],
      {
        spawner,
        cwd: dir,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
        onLine: (_, line) => lines.push(line),
        handOver: [file],
      },
    );
    expect((await proc.start()).ok).toBe(true);
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(lines).toEqual(['only for the process', 'gone']);
    await expect(stat(file)).rejects.toThrow();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails to start, saying why, when a file to hand over is missing', async () => {
    const proc = new ProcessRunner(['true'], {
      spawner,
      cwd: process.cwd(),
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
      onLine: () => undefined,
      handOver: [path.join(os.tmpdir(), 'acai-no-such-file')],
    });
    const started = await proc.start();
    expect(started).toMatchObject({ ok: false, reason: 'spawn_error' });
    expect(await proc.exited).toEqual({ code: null, signal: null });
  });
});
