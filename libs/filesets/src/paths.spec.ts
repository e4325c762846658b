import { describe, it, expect } from '@jest/globals';
import { FilesetProblems, pathProblem } from '@acai/contracts';
import { checkPath } from './paths.js';

/** The error `run` throws; fails the test if it throws none. */
function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('accepted, expected a refusal');
}

const rejected: { form: string; path: string; problem: string }[] = [
  { form: 'an empty path', path: '', problem: 'a path must not be empty' },
  { form: 'a leading /', path: '/etc/passwd', problem: 'a path must be relative (no leading /)' },
  { form: 'a lone /', path: '/', problem: 'a path must be relative (no leading /)' },
  {
    form: 'a backslash',
    path: 'data\\train.csv',
    problem: "use '/' to separate folders, not '\\'",
  },
  { form: 'a NUL', path: 'a\u0000b', problem: 'a path must not contain NUL or control characters' },
  { form: 'a newline', path: 'a\nb', problem: 'a path must not contain NUL or control characters' },
  { form: 'a tab', path: 'a\tb', problem: 'a path must not contain NUL or control characters' },
  {
    form: 'an escape',
    path: 'a\u001b[31mred',
    problem: 'a path must not contain NUL or control characters',
  },
  {
    form: 'U+001F',
    path: 'a\u001fb',
    problem: 'a path must not contain NUL or control characters',
  },
  { form: 'DEL', path: 'a\u007fb', problem: 'a path must not contain NUL or control characters' },
  { form: 'a lone .', path: '.', problem: "a path must not contain '.' or '..' segments" },
  {
    form: 'a leading ./',
    path: './a.csv',
    problem: "a path must not contain '.' or '..' segments",
  },
  { form: 'a . segment', path: 'a/./b', problem: "a path must not contain '.' or '..' segments" },
  { form: 'a lone ..', path: '..', problem: "a path must not contain '.' or '..' segments" },
  {
    form: 'a leading ../',
    path: '../secret',
    problem: "a path must not contain '.' or '..' segments",
  },
  {
    form: 'a .. climbing out',
    path: 'a/../../b',
    problem: "a path must not contain '.' or '..' segments",
  },
  { form: 'a trailing ..', path: 'a/..', problem: "a path must not contain '.' or '..' segments" },
  {
    form: 'an empty segment',
    path: 'a//b',
    problem: 'a path must not contain empty segments (// or a trailing /)',
  },
  {
    form: 'a trailing /',
    path: 'data/',
    problem: 'a path must not contain empty segments (// or a trailing /)',
  },
  {
    form: '1025 ASCII bytes',
    path: 'a'.repeat(1025),
    problem: 'a path must be at most 1024 bytes',
  },
  {
    // 513 characters, 1026 bytes in UTF-8: the limit counts bytes, not characters.
    form: '513 two-byte characters',
    path: 'é'.repeat(513),
    problem: 'a path must be at most 1024 bytes',
  },
  {
    form: '257 four-byte characters',
    path: '😀'.repeat(257),
    problem: 'a path must be at most 1024 bytes',
  },
];

describe('checkPath', () => {
  it.each(rejected)('refuses $form, naming the field and the problem', ({ path, problem }) => {
    expect(errorOf(() => checkPath(path))).toMatchObject({
      reason: FilesetProblems.PATH_INVALID.reason,
      details: [{ path: 'path', message: problem }],
    });
    expect(pathProblem(path)).toBe(problem);
  });

  it('names the field it was given, so a client can point at the bad entry', () => {
    expect(errorOf(() => checkPath('../x', 'put.3.path'))).toMatchObject({
      reason: FilesetProblems.PATH_INVALID.reason,
      message: expect.stringContaining("Invalid put.3.path '../x'"),
      details: [{ path: 'put.3.path' }],
    });
  });

  it('never echoes control characters back in its message', () => {
    const error = errorOf(() => checkPath('a\u001b[2Jb\u0000c')) as Error;

    expect(error.message).toContain("'a?[2Jb?c'");
    expect(error.message).not.toMatch(/[\u0000-\u001f]/);
  });

  it('accepts exactly 1024 bytes, however many characters that is', () => {
    for (const path of ['a'.repeat(1024), 'é'.repeat(512), '😀'.repeat(256)]) {
      expect(checkPath(path)).toBe(path);
    }
  });

  it.each([
    'train.csv',
    'data/train/part-0001.parquet',
    'données/été 2024/échantillon.csv',
    '日本語/ファイル.txt',
    '😀/emoji.png',
    'a..b',
    '.hidden',
    'dir/.config/settings.json',
    'v1.2/..a/b..',
    '...',
    'name with spaces/and-dashes_and_underscores.txt',
  ])('accepts %j unchanged', (path) => {
    expect(checkPath(path)).toBe(path);
    expect(pathProblem(path)).toBeUndefined();
  });

  it('refuses C1 control characters (U+0085 NEL, U+009B CSI) too', () => {
    for (const path of ['a\u0085b', 'a\u009b31mred']) {
      expect(errorOf(() => checkPath(path))).toMatchObject({
        reason: FilesetProblems.PATH_INVALID.reason,
        details: [{ path: 'path' }],
      });
    }
  });
});
