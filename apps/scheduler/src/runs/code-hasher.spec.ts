import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CodeHasher, scriptOf } from './code-hasher.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the code hasher', () => {
  let dir: string;
  const hasher = new CodeHasher();
  const PATH = '/usr/local/bin:/usr/bin:/bin';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'code-hasher-'));
    await chmod(dir, 0o755);
    await writeFile(path.join(dir, 'train.py'), 'print(1)\n');
    await mkdir(path.join(dir, 'lib/nested'), { recursive: true });
    await writeFile(path.join(dir, 'lib/a.py'), 'a = 1\n');
    await writeFile(path.join(dir, 'lib/nested/b.py'), 'b = 2\n');
    await symlink('a.py', path.join(dir, 'lib/link.py'));
    await writeFile(path.join(dir, 'secret.key'), 'hunter2\n', { mode: 0o600 });
    await chmod(path.join(dir, 'secret.key'), 0o600);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hashes the program found on the PATH and an interpreter’s script', async () => {
    const code = await hasher.hash(['sh', path.join(dir, 'train.py')], [], PATH);
    expect(code.map((c) => [c.role, c.ref])).toEqual([
      ['program', expect.stringMatching(/\/sh$/)],
      ['script', path.join(dir, 'train.py')],
    ]);
    expect(code[1]).toMatchObject({ sha256: sha('print(1)\n'), problem: null });
    expect(code[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hashes a folder by its files’ paths and hashes, links as their targets', async () => {
    const [folder] = await hasher.hash(['./run'], [path.join(dir, 'lib')], PATH);
    expect(folder).toMatchObject({ role: 'code', ref: path.join(dir, 'lib'), problem: null });
    const before = folder!.sha256;
    await writeFile(path.join(dir, 'lib/nested/b.py'), 'b = 3\n');
    const [after] = await hasher.hash(['./run'], [path.join(dir, 'lib')], PATH);
    expect(after!.sha256).not.toBe(before);
  });

  it('leaves out a program or script relative to the job’s folder (its inputs)', async () => {
    expect(await hasher.hash(['./run.sh'], [], PATH)).toEqual([]);
    const code = await hasher.hash(['python3', '-u', 'train.py'], [], PATH);
    expect(code.map((c) => c.role)).not.toContain('script');
  });

  it('does not hash what a job could not read, nor what is not there, and says why', async () => {
    const code = await hasher.hash(
      ['./run'],
      [path.join(dir, 'secret.key'), path.join(dir, 'missing.py'), '/proc/self/environ'],
      PATH,
    );
    expect(code.map((c) => [c.sha256, c.problem])).toEqual([
      [
        null,
        `${path.join(dir, 'secret.key')} is not readable by all users (jobs could not read it)`,
      ],
      [null, 'it does not exist'],
      [null, '/proc is not code'],
    ]);
  });

  it('does not hash a link to what a job could not reach, and hashes a link to what it could as its target', async () => {
    const closed = await mkdtemp(path.join(os.tmpdir(), 'code-hasher-closed-'));
    try {
      await chmod(closed, 0o700);
      // Readable by all, but in a folder jobs may not enter.
      await writeFile(path.join(closed, 'model.py'), 'weights = 42\n', { mode: 0o644 });
      await symlink(path.join(closed, 'model.py'), path.join(dir, 'to-closed.py'));
      await symlink(path.join(dir, 'train.py'), path.join(dir, 'to-train.py'));

      const code = await hasher.hash(
        ['./run'],
        [path.join(dir, 'to-closed.py'), path.join(dir, 'to-train.py')],
        PATH,
      );

      expect(code.map((c) => [c.sha256, c.problem])).toEqual([
        [null, `jobs may not enter ${closed}, so they could not read it either`],
        [sha('print(1)\n'), null],
      ]);
    } finally {
      await rm(closed, { recursive: true, force: true });
    }
  });

  it('says a program not on the PATH cannot be hashed', async () => {
    expect(await hasher.hash(['no-such-program-here'], [], PATH)).toEqual([
      {
        ref: 'no-such-program-here',
        role: 'program',
        sha256: null,
        problem: `it is not on the jobs' PATH (${PATH})`,
      },
    ]);
  });

  it('finds the script of an interpreter, not of a module or inline code', () => {
    expect(scriptOf(['python3', '-u', '/srv/train.py', '--lr', '0.1'])).toBe('/srv/train.py');
    expect(scriptOf(['/usr/bin/node', '/srv/etl.js'])).toBe('/srv/etl.js');
    expect(scriptOf(['python', '-m', 'pkg.train'])).toBeNull();
    expect(scriptOf(['sh', '-c', 'echo hi'])).toBeNull();
    expect(scriptOf(['./train', '/srv/data'])).toBeNull();
  });
});

describe('the code hasher, asked again about what it hashed before', () => {
  let dir: string;
  const PATH = '/usr/local/bin:/usr/bin:/bin';
  const folderHash = async (hasher: CodeHasher, folder: string) =>
    (await hasher.hash(['./run'], [folder], PATH))[0]!.sha256;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'code-hasher-again-'));
    await chmod(dir, 0o755);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A folder of code, hashed once by `hasher` (so remembered), and its hash. */
  async function hashedFolder(hasher: CodeHasher, name: string) {
    const folder = path.join(dir, name);
    await mkdir(path.join(folder, 'lib/nested'), { recursive: true });
    await writeFile(path.join(folder, 'main.py'), 'import lib\n');
    await writeFile(path.join(folder, 'lib/a.py'), 'a = 1\n');
    await writeFile(path.join(folder, 'lib/nested/b.py'), 'b = 2\n');
    await symlink('a.py', path.join(folder, 'lib/link.py'));
    const first = await folderHash(hasher, folder);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    // Remembered: the same answer, from the same hasher.
    expect(await folderHash(hasher, folder)).toBe(first);
    return { folder, first };
  }

  it('gives the hash of a fresh hasher after a file deep inside is edited', async () => {
    const hasher = new CodeHasher();
    const { folder, first } = await hashedFolder(hasher, 'edited');
    await writeFile(path.join(folder, 'lib/nested/b.py'), 'b = 3\n');
    const again = await folderHash(hasher, folder);
    expect(again).not.toBe(first);
    expect(again).toBe(await folderHash(new CodeHasher(), folder));
  });

  it('gives a new hash after a file is added, removed or renamed, or a link retargeted', async () => {
    const hasher = new CodeHasher();
    const { folder, first } = await hashedFolder(hasher, 'moved');
    const seen = new Set([first]);
    const changes = [
      () => writeFile(path.join(folder, 'lib/nested/c.py'), ''),
      () => unlink(path.join(folder, 'lib/nested/c.py')),
      () => rename(path.join(folder, 'main.py'), path.join(folder, 'start.py')),
      async () => {
        await unlink(path.join(folder, 'lib/link.py'));
        await symlink('nested/b.py', path.join(folder, 'lib/link.py'));
      },
    ];
    for (const change of changes) {
      await change();
      const again = await folderHash(hasher, folder);
      expect(again).toBe(await folderHash(new CodeHasher(), folder));
      seen.add(again);
    }
    // Removing the added file gives the first hash back; every other state is new.
    expect(seen.size).toBe(4);
  });

  it('does not hash a remembered file once jobs can no longer read it, and says so', async () => {
    const hasher = new CodeHasher();
    const file = path.join(dir, 'script.py');
    await writeFile(path.join(dir, 'script.py'), 'print(2)\n', { mode: 0o644 });
    expect((await hasher.hash(['./run'], [file], PATH))[0]!.sha256).toBe(sha('print(2)\n'));
    await chmod(file, 0o600);
    expect(await hasher.hash(['./run'], [file], PATH)).toEqual([
      {
        ref: file,
        role: 'code',
        sha256: null,
        problem: `${file} is not readable by all users (jobs could not read it)`,
      },
    ]);
  });

  it('finds a program put earlier on the PATH after it was found later on it', async () => {
    const hasher = new CodeHasher();
    const early = path.join(dir, 'early-bin');
    const late = path.join(dir, 'late-bin');
    await mkdir(early, { mode: 0o755 });
    await mkdir(late, { mode: 0o755 });
    await writeFile(path.join(late, 'trainer'), '#!/bin/sh\necho late\n', { mode: 0o755 });
    const jobPath = `${early}:${late}`;
    const [before] = await hasher.hash(['trainer'], [], jobPath);
    expect(before).toMatchObject({ ref: path.join(late, 'trainer'), role: 'program' });
    await writeFile(path.join(early, 'trainer'), '#!/bin/sh\necho early\n', { mode: 0o755 });
    const [after] = await hasher.hash(['trainer'], [], jobPath);
    expect(after).toMatchObject({
      ref: path.join(early, 'trainer'),
      role: 'program',
      sha256: sha('#!/bin/sh\necho early\n'),
    });
  });
});
