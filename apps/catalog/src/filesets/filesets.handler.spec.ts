import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  FilesetProblems,
  type AcaiError,
  type Creator,
  type FilesetHit,
  type Page,
  type VersionHit,
} from '@acai/contracts';
import { InMemoryBlobStore } from '@acai/blobstore/testing';
import { ProjectionControl, silentLogger } from '@acai/eventing';
import { InMemoryEventLog } from '@acai/eventing/testing';
import type { Search } from '@acai/filesets';
import { DefaultQuota } from '../blobs/blobs.handler.js';
import { BlobsRepository, type BlobCheck, type OwnedBlob } from '../blobs/blobs.repository.js';
import { SearchRepository } from '../search/search.repository.js';
import { FilesetRepository } from './fileset.repository.js';
import { FilesetsHandler } from './filesets.handler.js';
import { ManifestsRepository } from './manifests.repository.js';

const PROJECT = 'p1';
const BY: Creator = { kind: 'key', keyId: 'key-1' };

/** The search tables: nothing to find in these specs. */
class NoSearch extends SearchRepository {
  async versions(_project: string, _search: Search): Promise<Page<VersionHit>> {
    return { items: [], nextCursor: null };
  }
  async filesets(_project: string, _search: Search): Promise<Page<FilesetHit>> {
    return { items: [], nextCursor: null };
  }
}

/**
 * Blob owners in memory, and which blobs other live versions use (`referenced`); one process, so
 * the holds have nothing to keep apart.
 */
class MemoryBlobOwners extends BlobsRepository {
  readonly owners = new Map<string, Set<string>>();
  readonly referenced = new Set<string>();
  async own(project: string, blobs: readonly OwnedBlob[]): Promise<void> {
    for (const { sha256 } of blobs) {
      this.owners.set(sha256, (this.owners.get(sha256) ?? new Set()).add(project));
    }
  }
  unowned(project: string, blobs: readonly string[]): string[] {
    return [...new Set(blobs)].filter((sha) => this.owners.get(sha)?.has(project) !== true);
  }
  hold<T>(_hold: string, _blobs: readonly string[], check: (tx: BlobCheck) => Promise<T>) {
    return check({ unowned: (project, blobs) => Promise.resolve(this.unowned(project, blobs)) });
  }
  async settle(): Promise<void> {}
  async collect(blobs: readonly string[], remove: (sha: string) => Promise<void>) {
    const unused = [...new Set(blobs)].filter((sha) => !this.referenced.has(sha));
    for (const sha of unused) {
      this.owners.delete(sha);
      await remove(sha);
    }
    return unused;
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
  beginReplay(): Promise<never> {
    return Promise.reject(new Error('not replayed here'));
  }
  async replayStatus(): Promise<null> {
    return null;
  }
  async checkpoint(): Promise<number> {
    return 0;
  }
}

/** The catalog's file set commands with every collaborator in memory. */
describe('the catalog’s file sets', () => {
  let log: InMemoryEventLog;
  let blobs: InMemoryBlobStore;
  let projections: CaughtUp;
  let owners: MemoryBlobOwners;
  let handler: FilesetsHandler;

  beforeEach(() => {
    log = new InMemoryEventLog('catalog');
    blobs = new InMemoryBlobStore();
    projections = new CaughtUp();
    owners = new MemoryBlobOwners();
    handler = new FilesetsHandler(
      new FilesetRepository(log),
      new ManifestsRepository(blobs),
      blobs,
      new NoSearch(),
      owners,
      projections,
      silentLogger,
      new DefaultQuota(0),
    );
  });

  /** Stores bytes as an upload of `project` does: in the store, and the project's. */
  const upload = (content: string, project = PROJECT): string => {
    const sha = blobs.add(content);
    void owners.own(project, [{ sha256: sha, size: Buffer.byteLength(content) }]);
    return sha;
  };

  const create = (name: string) =>
    handler.create({
      project: PROJECT,
      request: { name, metadata: {}, labels: [] },
      createdBy: BY,
    });

  it('commits versions on their parent, with a manifest that is a blob itself', async () => {
    await create('data');
    const a = upload('first file');
    const b = upload('second file');
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

  it('copies a version of another project as the next version of its own, owning the same blobs', async () => {
    await handler.create({
      project: 'p2',
      request: { name: 'data', metadata: {}, labels: [] },
      createdBy: BY,
    });
    const result = upload('a result of p2', 'p2');
    await handler.commit({
      project: 'p2',
      name: 'data',
      request: {
        parent: 0,
        put: [{ path: 'r.txt', sha256: result }],
        delete: [],
        metadata: {},
        labels: [],
      },
      createdBy: BY,
    });
    await create('data');
    const mine = upload('an older version of p1');
    await handler.commit({
      project: PROJECT,
      name: 'data',
      request: {
        parent: 0,
        put: [{ path: 'old.txt', sha256: mine }],
        delete: [],
        metadata: {},
        labels: [],
      },
      createdBy: BY,
    });
    expect(owners.owners.get(result)?.has(PROJECT)).toBe(false);
    const adopt = () =>
      handler.adopt({
        project: PROJECT,
        name: 'data',
        from: { project: 'p2', version: 1 },
        createdBy: BY,
        commitId: 'reuse:job-9:data',
      });
    const copied = await adopt();
    expect(copied).toMatchObject({ version: 2, parent: 1, files: 1 });
    expect(await handler.diff({ project: PROJECT, name: 'data', from: 1, to: 2 })).toMatchObject({
      added: ['r.txt'],
      removed: ['old.txt'],
    });
    expect(owners.owners.get(result)?.has(PROJECT)).toBe(true);
    // Sent again (its answer lost): the same version, not another.
    expect(await adopt()).toMatchObject({ version: 2 });
  });

  it('refuses a commit on a stale parent (409) and one naming bytes never uploaded (400), recording nothing', async () => {
    await create('data');
    const a = upload('x');
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

  const commitOne = (project: string, name: string, sha256: string, size?: number) =>
    handler.commit({
      project,
      name,
      request: {
        parent: 0,
        put: [{ path: 'f.bin', sha256, ...(size === undefined ? {} : { size }) }],
        delete: [],
        metadata: {},
        labels: [],
      },
      createdBy: BY,
    });

  it('refuses another project’s blob exactly as one never uploaded, until the project uploads the bytes itself', async () => {
    await create('data');
    await handler.create({
      project: 'p2',
      request: { name: 'data', metadata: {}, labels: [] },
      createdBy: BY,
    });
    const theirs = upload('p2’s bytes', 'p2');
    const nowhere = 'e'.repeat(64);
    const before = log.lastSeq;
    const refusal = (sha: string, size?: number) =>
      commitOne(PROJECT, 'data', sha, size).then(
        () => 'committed',
        (error: unknown) => error,
      );
    const named = await refusal(theirs, 1);
    const missing = await refusal(nowhere, 1);
    expect(named).toMatchObject({ reason: FilesetProblems.UPLOAD_MISSING.reason });
    // The same answer but for the hash itself; the stated size (wrong) is not even looked at.
    const withoutHash = (e: unknown) => {
      const { code, reason, message, details } = e as AcaiError;
      const text = JSON.stringify({ code, reason, message, details });
      return text.replaceAll(theirs, '<sha>').replaceAll(nowhere, '<sha>');
    };
    expect(withoutHash(named)).toEqual(withoutHash(missing));
    expect(log.lastSeq).toBe(before);
    // Uploading the same bytes (stored once) makes them this project's too.
    expect(upload('p2’s bytes')).toBe(theirs);
    await expect(commitOne(PROJECT, 'data', theirs)).resolves.toMatchObject({ version: 1 });
    await expect(commitOne('p2', 'data', theirs)).resolves.toMatchObject({ version: 1 });
  });

  it('forgets who had the bytes it deletes, so a later commit of them needs a new upload', async () => {
    await create('data');
    const own = upload('only here');
    await commitOne(PROJECT, 'data', own);
    await handler.evict({ project: PROJECT, name: 'data', version: 1, reason: 'r' });
    expect(blobs.blobs.has(own)).toBe(false);
    expect(owners.unowned(PROJECT, [own])).toEqual([own]);
  });

  it('evicts a version’s bytes except those another live version uses, and keeps its manifest', async () => {
    await create('data');
    const own = upload('only in v1');
    const shared = upload('also in another file set');
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
    owners.referenced.add(shared);
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
    const own = upload('bytes');
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
