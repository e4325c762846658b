import { describe, expect, it } from '@jest/globals';
import { LineSplitter, ProcessRunner } from './process-runner.js';

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
  it('stops a process asked to stop before it started, as soon as it starts', async () => {
    const proc = new ProcessRunner(['sleep', '30'], {
      cwd: process.cwd(),
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
      onLine: () => undefined,
    });
    proc.kill(100);
    const started = await proc.start();
    expect(started.ok).toBe(true);
    expect(await proc.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });
});
