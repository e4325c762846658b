import { describe, it, expect } from '@jest/globals';
import { FilesetProblems } from '@acai/contracts';
import {
  applyChanges,
  diffManifests,
  manifestBytes,
  mediaTypeOf,
  parseManifest,
  serializeManifest,
  type Manifest,
  type ManifestEntry,
} from './manifest.js';

/** The error `run` throws; fails the test if it throws none. */
function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('accepted, expected a refusal');
}

const sha = (c: string) => c.repeat(64);
const entry = (c: string, size: number, mediaType = 'text/csv'): ManifestEntry => ({
  sha256: sha(c),
  size,
  mediaType,
});
const put = (path: string, c: string, size = 10, mediaType = 'text/csv') => ({
  path,
  ...entry(c, size, mediaType),
});
const manifestOf = (rows: [string, ManifestEntry][]): Manifest => new Map(rows);

const parent = manifestOf([
  ['train.csv', entry('1', 100)],
  ['test.csv', entry('2', 20)],
  ['README.md', entry('3', 5, 'text/markdown')],
]);

describe('applyChanges', () => {
  it('adds files to an empty first version', () => {
    const applied = applyChanges(new Map(), {
      put: [put('train.csv', 'a'), put('images/0.png', 'b', 7, 'image/png')],
      delete: [],
    });

    expect(applied).toEqual({
      manifest: manifestOf([
        ['train.csv', entry('a', 10)],
        ['images/0.png', entry('b', 7, 'image/png')],
      ]),
      added: 2,
      replaced: 0,
      deleted: 0,
    });
  });

  it('counts what was added, replaced and deleted, and keeps the untouched files', () => {
    const applied = applyChanges(parent, {
      put: [put('train.csv', '9', 120), put('valid.csv', '8', 30)],
      delete: ['test.csv'],
    });

    expect(applied).toEqual({
      manifest: manifestOf([
        ['train.csv', entry('9', 120)],
        ['README.md', entry('3', 5, 'text/markdown')],
        ['valid.csv', entry('8', 30)],
      ]),
      added: 1,
      replaced: 1,
      deleted: 1,
    });
  });

  it('leaves the parent version as it was', () => {
    const before = serializeManifest(parent);

    applyChanges(parent, {
      put: [put('train.csv', '9'), put('new.csv', '8')],
      delete: ['test.csv'],
    });

    expect(serializeManifest(parent)).toBe(before);
  });

  it('keeps the parent unchanged when nothing is put or deleted', () => {
    const applied = applyChanges(parent, { put: [], delete: [] });

    expect(applied).toEqual({ manifest: parent, added: 0, replaced: 0, deleted: 0 });
  });

  it('refuses a path put twice in one commit, pointing at the second', () => {
    expect(
      errorOf(() =>
        applyChanges(parent, { put: [put('new.csv', 'a'), put('new.csv', 'b')], delete: [] }),
      ),
    ).toMatchObject({
      reason: FilesetProblems.PATH_DUPLICATE.reason,
      message: "'new.csv' appears more than once in this commit",
      details: [{ path: 'put.1.path', message: 'path given twice' }],
    });
  });

  it('refuses a path both deleted and put in one commit', () => {
    expect(
      errorOf(() => applyChanges(parent, { put: [put('test.csv', 'a')], delete: ['test.csv'] })),
    ).toMatchObject({
      reason: FilesetProblems.PATH_DUPLICATE.reason,
      message: "'test.csv' appears more than once in this commit",
      details: [{ path: 'put.0.path' }],
    });
  });

  it('refuses a path deleted twice in one commit', () => {
    expect(
      errorOf(() => applyChanges(parent, { put: [], delete: ['test.csv', 'test.csv'] })),
    ).toMatchObject({
      reason: FilesetProblems.PATH_DUPLICATE.reason,
      details: [{ path: 'delete.1', message: 'path given twice' }],
    });
  });

  it('refuses to delete a file the parent does not have, saying which', () => {
    expect(
      errorOf(() => applyChanges(parent, { put: [], delete: ['test.csv', 'missing.csv'] })),
    ).toMatchObject({
      reason: FilesetProblems.DELETE_MISSING_FILE.reason,
      message: "Cannot delete 'missing.csv': the parent version has no such file",
      details: [{ path: 'delete.1', message: 'no such file in the parent version' }],
    });
  });

  it('validates every path, naming the field of the bad one', () => {
    expect(
      errorOf(() =>
        applyChanges(parent, { put: [put('ok.csv', 'a'), put('../escape.csv', 'b')], delete: [] }),
      ),
    ).toMatchObject({
      reason: FilesetProblems.PATH_INVALID.reason,
      details: [{ path: 'put.1.path' }],
    });
    expect(errorOf(() => applyChanges(parent, { put: [], delete: ['/test.csv'] }))).toMatchObject({
      reason: FilesetProblems.PATH_INVALID.reason,
      details: [{ path: 'delete.0' }],
    });
  });
});

describe('manifestBytes', () => {
  it('adds up the sizes of the files', () => {
    expect(manifestBytes(parent)).toBe(125);
    expect(manifestBytes(new Map())).toBe(0);
  });
});

describe('serializeManifest', () => {
  it('writes rows of [path, sha256, size, mediaType] sorted by path', () => {
    expect(serializeManifest(parent)).toBe(
      JSON.stringify({
        files: [
          ['README.md', sha('3'), 5, 'text/markdown'],
          ['test.csv', sha('2'), 20, 'text/csv'],
          ['train.csv', sha('1'), 100, 'text/csv'],
        ],
      }),
    );
    expect(serializeManifest(new Map())).toBe('{"files":[]}');
  });

  it('writes the same manifest the same way whatever order it was built in', () => {
    const files = ['b/x.csv', 'a.csv', 'a/b.csv', 'a-b.csv', 'B.csv', 'é.csv', 'a'].map((p, i) =>
      put(p, String(i)),
    );
    const oneCommit = applyChanges(new Map(), { put: files, delete: [] }).manifest;
    const reversed = applyChanges(new Map(), { put: [...files].reverse(), delete: [] }).manifest;
    const first = applyChanges(new Map(), {
      put: [put('scratch.csv', 'f'), ...files.slice(4)],
      delete: [],
    }).manifest;
    const second = applyChanges(first, {
      put: files.slice(0, 4),
      delete: ['scratch.csv'],
    }).manifest;

    const canonical = serializeManifest(oneCommit);
    expect(serializeManifest(reversed)).toBe(canonical);
    expect(serializeManifest(second)).toBe(canonical);
    expect((JSON.parse(canonical) as { files: [string][] }).files.map(([p]) => p)).toEqual([
      'B.csv',
      'a',
      'a-b.csv',
      'a.csv',
      'a/b.csv',
      'b/x.csv',
      'é.csv',
    ]);
  });
});

describe('parseManifest', () => {
  it('reads back what serializeManifest wrote', () => {
    const manifest = manifestOf([
      ['données/été.csv', entry('a', 0)],
      ['images/0.png', entry('b', 12345, 'image/png')],
      ['weights.bin', entry('c', 7, 'application/octet-stream')],
    ]);

    expect(parseManifest(serializeManifest(manifest))).toEqual(manifest);
    expect(parseManifest(serializeManifest(new Map()))).toEqual(new Map());
  });

  it.each([
    ['no "files" array', '{}'],
    ['no "files" array', '{"files":{}}'],
    ['no "files" array', '[]'],
    ['a row is not [path, sha256, size, mediaType]', '{"files":["a.csv"]}'],
    ['a row is not [path, sha256, size, mediaType]', '{"files":[["a.csv","abc",1]]}'],
    ['a row is not [path, sha256, size, mediaType]', '{"files":[["a.csv","abc",1,"t","x"]]}'],
    ['a row has the wrong types', '{"files":[["a.csv","abc","1","text/csv"]]}'],
    ['a row has the wrong types', '{"files":[[1,"abc",1,"text/csv"]]}'],
    ['a row has the wrong types', '{"files":[["a.csv","abc",1,null]]}'],
  ])('refuses a text with %s: %s', (problem, text) => {
    expect(() => parseManifest(text)).toThrow(`not a manifest: ${problem}`);
  });

  it.each(['', 'not json', '{"files":[', 'null'])(
    'refuses %j, which is not JSON of an object',
    (text) => {
      expect(() => parseManifest(text)).toThrow();
    },
  );
});

describe('diffManifests', () => {
  it('lists added, removed and changed paths, each sorted', () => {
    const from = manifestOf([
      ['z.csv', entry('1', 1)],
      ['same.csv', entry('2', 2)],
      ['changed-b.csv', entry('3', 3)],
      ['changed-a.csv', entry('4', 4)],
      ['gone-b.csv', entry('5', 5)],
      ['gone-a.csv', entry('6', 6)],
    ]);
    const to = manifestOf([
      ['new-b.csv', entry('7', 7)],
      ['changed-b.csv', entry('8', 3)],
      ['same.csv', entry('2', 2)],
      ['z.csv', entry('1', 1)],
      ['changed-a.csv', entry('9', 4)],
      ['new-a.csv', entry('a', 8)],
    ]);

    expect(diffManifests(from, to)).toEqual({
      added: ['new-a.csv', 'new-b.csv'],
      removed: ['gone-a.csv', 'gone-b.csv'],
      changed: ['changed-a.csv', 'changed-b.csv'],
    });
  });

  it('finds nothing between a version and itself', () => {
    expect(diffManifests(parent, parent)).toEqual({ added: [], removed: [], changed: [] });
  });

  it('lists every file as added from an empty version, and removed back to it', () => {
    expect(diffManifests(new Map(), parent)).toEqual({
      added: ['README.md', 'test.csv', 'train.csv'],
      removed: [],
      changed: [],
    });
    expect(diffManifests(parent, new Map())).toEqual({
      added: [],
      removed: ['README.md', 'test.csv', 'train.csv'],
      changed: [],
    });
  });
});

describe('mediaTypeOf', () => {
  it.each([
    ['train.csv', 'text/csv'],
    ['data/config.JSON', 'application/json'],
    ['notes.txt', 'text/plain'],
    ['README.md', 'text/markdown'],
    ['archive.tar.gz', 'application/gzip'],
    ['archive.tar', 'application/x-tar'],
    ['weights.npy', 'application/x-npy'],
    ['part-0.parquet', 'application/vnd.apache.parquet'],
    ['images/cat.PNG', 'image/png'],
    ['photo.jpg', 'image/jpeg'],
    ['photo.jpeg', 'image/jpeg'],
    ['model.bin', 'application/octet-stream'],
    ['Makefile', 'application/octet-stream'],
    ['v1.2/LICENSE', 'application/octet-stream'],
    ['trailing.', 'application/octet-stream'],
    ['data/json', 'application/octet-stream'],
  ])('guesses %s is %s', (path, mediaType) => {
    expect(mediaTypeOf(path)).toBe(mediaType);
  });

  it.each(['csv', 'json', 'md'])('guesses nothing for %j, a name without an extension', (path) => {
    expect(mediaTypeOf(path)).toBe('application/octet-stream');
  });
});
