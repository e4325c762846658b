import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { WorkFolders } from './work-folders.js';

const HOUR = 3_600_000;

describe('WorkFolders', () => {
  let root: string;
  let now: number;

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'acai-work-'));
    now = Date.now();
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const folders = (pid: number, alive: (pid: number) => boolean = () => true) =>
    new WorkFolders(root, HOUR, { pid, alive, now: () => now });

  it('gives each attempt a fresh folder under the executor’s own, and removes it when done', async () => {
    const work = folders(100);
    const dir = await work.create('job-1', 1);
    expect(dir).toBe(path.join(root, '100', 'job-1', '1'));
    await writeFile(path.join(dir, 'stale'), 'x');
    // A new attempt of the same number (a retry on this executor) starts empty.
    expect(await readdir(await work.create('job-1', 1))).toEqual([]);
    await work.remove(dir);
    expect(await readdir(path.join(root, '100'))).toEqual([]);
  });

  it('creates the next attempt’s folder while the last one’s is removed (a job resumed here)', async () => {
    // Removing an attempt's folder also removes the job's folder once it is empty; a new attempt
    // created meanwhile must not find that folder gone under it (ENOENT).
    const work = folders(100);
    for (let attempt = 1; attempt <= 200; attempt += 1) {
      const last = await work.create('job-r', attempt);
      await Promise.all([
        work.remove(last),
        work.keepFailed(await work.create('job-k', attempt), 'job-k', attempt),
        work.create('job-r', attempt + 1),
      ]);
      await work.remove(path.join(root, '100', 'job-r', String(attempt + 1)));
    }
    expect(await readdir(path.join(root, '100'))).toEqual([]);
  });

  it('keeps a failed attempt’s folder for the configured time, then sweeps it', async () => {
    const work = folders(100);
    const dir = await work.create('job-2', 3);
    await writeFile(path.join(dir, 'output.log'), 'what went wrong');
    const kept = await work.keepFailed(dir, 'job-2', 3);
    expect(kept).toBe(path.join(root, 'failed', 'job-2-3'));
    expect(await readdir(kept)).toEqual(['output.log']);

    now += HOUR - 1_000;
    expect(await work.sweep({ atStart: false })).toEqual([]);
    now += 2_000;
    expect(await work.sweep({ atStart: false })).toEqual([kept]);
    await expect(stat(kept)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('sweeps folders of executors that are gone and its own from an earlier life, never a live one’s', async () => {
    for (const pid of ['100', '200', '300'])
      await mkdir(path.join(root, pid, 'job', '1'), { recursive: true });
    // 100 is this executor, 200 is alive (another executor on the same home), 300 died.
    const work = folders(100, (pid) => pid === 200);
    expect((await work.sweep({ atStart: false })).sort()).toEqual([path.join(root, '300')]);
    expect((await readdir(root)).sort()).toEqual(['100', '200']);
    // At start nothing of its own runs yet: what it finds is from before a crash.
    expect(await work.sweep({ atStart: true })).toEqual([path.join(root, '100')]);
    expect(await readdir(root)).toEqual(['200']);
  });
});
