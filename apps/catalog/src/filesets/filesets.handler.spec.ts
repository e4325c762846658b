import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  FilesetProblems,
  type Creator,
  type FilesetHit,
  type Page,
  type VersionHit,
} from '@acai/contracts';
import { InMemoryBlobStore } from '@acai/blobstore/testing';
import { ProjectionControl, silentLogger } from '@acai/eventing';
import { InMemoryEventLog } from '@acai/eventing/testing';
import type { Search } from '@acai/filesets';
import { SearchRepository } from '../search/search.repository.js';
import { FilesetRepository } from './fileset.repository.js';
import { FilesetsHandler } from './filesets.handler.js';
import { ManifestsRepository } from './manifests.repository.js';

const PROJECT = 'p1';
const BY: Creator = { kind: 'key', keyId: 'key-1' };

/** The search tables, as far as these specs need them: which blobs live versions still use. */
class FakeSearch extends SearchRepository {
  referenced = new Set<string>();
  async versions(_project: string, _search: Search): Promise<Page<VersionHit>> {
    return { items: [], nextCursor: null };
  }
  async filesets(_project: string, _search: Search): Promise<Page<FilesetHit>> {
    return { items: [], nextCursor: null };
  }
  async unreferenced(blobs: readonly string[]): Promise<string[]> {
    return blobs.filter((b) => !this.referenced.has(b));
  }
}

class CaughtUp extends ProjectionControl {
  readonly names = ['search'];
  caughtUp = true;
  async catchUp(): Promise<boolean> {
    return this.caughtUp;
  }
  async waitFor(): Promise<void> {}
  async replay(): Promise<{ projection: string; lastSeq: number; documents: number }> {
    return { projection: 'search', lastSeq: 0, documents: 0 };
  }
}

/** The catalog's file set commands with every collaborator in memory. */
describe('the catalog’s file sets', () => {
  let log: InMemoryEventLog;
  let blobs: InMemoryBlobStore;
  let search: FakeSearch;
  let projections: CaughtUp;
  let handler: FilesetsHandler;

  beforeEach(() => {
    log = new InMemoryEventLog('catalog');
    blobs = new InMemoryBlobStore();
    search = new FakeSearch();
    projections = new CaughtUp();
    handler = new FilesetsHandler(
      new FilesetRepository(log),
      new ManifestsRepository(blobs),
      blobs,
      search,
      projections,
      silentLogger,
    );
  });

  const create = (name: string) =>
    handler.create({
      project: PROJECT,
      request: { name, metadata: {}, labels: [] },
      createdBy: BY,
    });

  it('commits versions on their parent, with a manifest that is a blob itself', async () => {
    await create('data');
    const a = blobs.add('first file');
    const b = blobs.add('second file');
    const v1 = await handler.commit({
      project: PROJECT,
      name: 'data',
      request: {
        parent: 0,
        put: [{ path: 'a.txt', sha256: a }],
        delete: [],
        metadata: { rows: 2 },
        labels: ['raw'],
      },
      createdBy: BY,
    });
    expect(v1).toMatchObject({ fileset: 'data', version: 1, parent: 0, files: 1, labels: ['raw'] });
    expect(blobs.blobs.has(v1.manifestSha256)).toBe(true);
    const v2 = await handler.commit({
      project: PROJECT,
      name: 'data',
      request: {
        parent: 1,
        put: [{ path: 'b.txt', sha256: b }],
        delete: ['a.txt'],
        metadata: {},
        labels: [],
      },
      createdBy: BY,
    });
    expect(v2).toMatchObject({ version: 2, parent: 1, files: 1 });
    expect(await handler.diff({ project: PROJECT, name: 'data', from: 1, to: 'latest' })).toEqual({
      from: 1,
      to: 2,
      added: ['b.txt'],
      removed: ['a.txt'],
      changed: [],
    });
    expect(log.typesSince()).toEqual([
      'fileset.created',
      'fileset.version_committed',
      'fileset.version_committed',
    ]);
  });

  it('refuses a commit on a stale parent (409) and one naming bytes never uploaded (400), recording nothing', async () => {
    await create('data');
    const a = blobs.add('x');
    await handler.commit({
      project: PROJECT,
      name: 'data',
      request: { parent: 0, put: [{ path: 'a', sha256: a }], delete: [], metadata: {}, labels: [] },
      createdBy: BY,
    });
    const before = log.lastSeq;
    await expect(
      handler.commit({
        project: PROJECT,
        name: 'data',
        request: {
          parent: 0,
          put: [{ path: 'b', sha256: a }],
          delete: [],
          metadata: {},
          labels: [],
        },
        createdBy: BY,
      }),
    ).rejects.toMatchObject({ reason: FilesetProblems.FILESET_PARENT_MISMATCH.reason });
    await expect(
      handler.commit({
        project: PROJECT,
        name: 'data',
        request: {
          parent: 1,
          put: [{ path: 'c', sha256: 'f'.repeat(64) }],
          delete: [],
          metadata: {},
          labels: [],
        },
        createdBy: BY,
      }),
    ).rejects.toMatchObject({
      reason: FilesetProblems.UPLOAD_MISSING.reason,
      details: [{ path: 'put.0.sha256', message: 'not uploaded' }],
    });
    expect(log.lastSeq).toBe(before);
  });

  it('evicts a version’s bytes except those another live version uses, and keeps its manifest', async () => {
    await create('data');
    const own = blobs.add('only in v1');
    const shared = blobs.add('also in another file set');
    const v1 = await handler.commit({
      project: PROJECT,
      name: 'data',
      request: {
        parent: 0,
        put: [
          { path: 'own', sha256: own },
          { path: 'shared', sha256: shared },
        ],
        delete: [],
        metadata: {},
        labels: [],
      },
      createdBy: BY,
    });
    search.referenced.add(shared);
    const evicted = await handler.evict({
      project: PROJECT,
      name: 'data',
      version: 1,
      reason: 'too big',
    });
    expect(evicted).toMatchObject({ evicted: true, deletedBlobs: 1, sharedBlobs: 1 });
    expect(blobs.blobs.has(own)).toBe(false);
    expect(blobs.blobs.has(shared)).toBe(true);
    expect(blobs.blobs.has(v1.manifestSha256)).toBe(true);
    // Its files are gone: reading one says so and what to do.
    await expect(
      handler.resolveFile({ project: PROJECT, name: 'data', version: 1, path: 'own' }),
    ).rejects.toMatchObject({
      reason: FilesetProblems.VERSION_EVICTED.reason,
      message: expect.stringContaining('evicted'),
    });
  });

  it('does not remove bytes before the search tables know of the eviction, and says so', async () => {
    await create('data');
    const own = blobs.add('bytes');
    await handler.commit({
      project: PROJECT,
      name: 'data',
      request: {
        parent: 0,
        put: [{ path: 'own', sha256: own }],
        delete: [],
        metadata: {},
        labels: [],
      },
      createdBy: BY,
    });
    projections.caughtUp = false;
    await expect(
      handler.evict({ project: PROJECT, name: 'data', version: 1, reason: 'r' }),
    ).rejects.toMatchObject({
      reason: FilesetProblems.CATALOG_BEHIND.reason,
      retryable: true,
    });
    expect(blobs.blobs.has(own)).toBe(true);
  });

  it('answers 404 for a file set of another project, as if it did not exist', async () => {
    await create('data');
    await expect(handler.get({ project: 'p2', name: 'data' })).rejects.toMatchObject({
      code: FilesetProblems.FILESET_NOT_FOUND.code,
      reason: FilesetProblems.FILESET_NOT_FOUND.reason,
    });
  });
});
