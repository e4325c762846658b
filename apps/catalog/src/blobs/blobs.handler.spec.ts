import { beforeEach, describe, expect, it } from '@jest/globals';
import { AcaiError, BlobProblems } from '@acai/contracts';
import { InMemoryBlobStore } from '@acai/blobstore/testing';
import { silentLogger } from '@acai/eventing';
import { BlobsHandler, DefaultQuota } from './blobs.handler.js';
import {
  BlobsRepository,
  type StorageRepository,
  type OwnCheck,
  type OwnedBlob,
  type ProjectStorage,
  type Swept,
} from './blobs.repository.js';

/** Owners and quotas in memory (one process: nothing to lock). */
class MemoryBlobs extends BlobsRepository implements StorageRepository {
  /** project → sha256 → size */
  readonly owners = new Map<string, Map<string, number | null>>();
  readonly quotas = new Map<string, number>();

  private of(project: string): Map<string, number | null> {
    const owned = this.owners.get(project) ?? new Map<string, number | null>();
    this.owners.set(project, owned);
    return owned;
  }
  async own(project: string, blobs: readonly OwnedBlob[], check: OwnCheck): Promise<void> {
    const owned = this.of(project);
    const adding = blobs.filter((b) => !owned.has(b.sha256));
    check(await this.storage(project), [
      ...new Map(adding.map((b) => [b.sha256, b.size ?? 0])).values(),
    ]);
    for (const b of blobs) owned.set(b.sha256, owned.get(b.sha256) ?? b.size);
  }
  async hold<T>(): Promise<T> {
    throw new Error('not in these specs');
  }
  async settle(): Promise<void> {}
  async collect(): Promise<string[]> {
    return [];
  }
  async storage(project: string): Promise<ProjectStorage> {
    const sizes = [...this.of(project).values()];
    return {
      usedBytes: sizes.reduce<number>((sum, n) => sum + (n ?? 0), 0),
      blobs: sizes.length,
      quotaBytes: this.quotas.get(project) ?? null,
    };
  }
  async owns(project: string, sha256: string): Promise<boolean> {
    return this.of(project).has(sha256);
  }
  async setQuota(project: string, bytes: number | null): Promise<ProjectStorage> {
    if (bytes === null) this.quotas.delete(project);
    else this.quotas.set(project, bytes);
    return this.storage(project);
  }
  alone<T>(work: () => Promise<T>): Promise<T | undefined> {
    return work();
  }
  async sweep(): Promise<Swept> {
    return { next: null, forgotten: 0, forgottenBytes: 0, deleted: 0, deletedBytes: 0 };
  }
  async collectUnowned(
    blobs: readonly string[],
    remove: (sha256: string) => Promise<void>,
  ): Promise<string[]> {
    const unowned = blobs.filter((sha) => ![...this.owners.values()].some((o) => o.has(sha)));
    for (const sha of unowned) await remove(sha);
    return unowned;
  }
  async unsized(): Promise<string[]> {
    return [];
  }
  async recordSizes(): Promise<void> {}
}

/** What a call was refused with. */
async function refusal(call: Promise<unknown>): Promise<AcaiError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof AcaiError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('blob ownership and storage quotas in the catalog', () => {
  let store: InMemoryBlobStore;
  let blobs: MemoryBlobs;
  let handler: BlobsHandler;

  beforeEach(() => {
    store = new InMemoryBlobStore();
    blobs = new MemoryBlobs();
    handler = new BlobsHandler(blobs, blobs, store, new DefaultQuota(1000), silentLogger);
  });

  /** An upload of `size` bytes stored, then owned by `project` as the gateway asks. */
  const upload = (project: string, size: number, fill = 'x') => {
    const sha = store.add(fill.repeat(size));
    return {
      sha,
      own: () => handler.own({ project, sha256s: [sha], sizes: [size] }),
    };
  };

  it('counts what a project uploads against the default quota, each blob once', async () => {
    await upload('alpha', 600).own();
    await upload('alpha', 600).own();
    await upload('alpha', 300, 'y').own();

    expect(await handler.getStorage({ project: 'alpha' })).toEqual({
      project: 'alpha',
      usedBytes: 900,
      blobs: 2,
      quotaBytes: 1000,
      quotaSource: 'default',
      availableBytes: 100,
    });
  });

  it('refuses an upload that would pass the quota with the numbers, and does not keep its bytes', async () => {
    await upload('alpha', 900).own();
    const over = upload('alpha', 200, 'y');
    // Another project has these bytes: they stay for it.
    const shared = upload('beta', 150, 'z');
    await shared.own();

    const refused = await refusal(over.own());
    const refusedShared = await refusal(shared.own().then(() => upload('alpha', 150, 'z').own()));

    expect(refused.is(BlobProblems.STORAGE_QUOTA_EXCEEDED)).toBe(true);
    expect(refused.extensions).toEqual({ usedBytes: 900, quotaBytes: 1000, uploadBytes: 200 });
    expect(refusedShared.is(BlobProblems.STORAGE_QUOTA_EXCEEDED)).toBe(true);
    expect(await store.stat(over.sha)).toBeNull();
    expect(await store.stat(shared.sha)).toEqual({ size: 150 });
    expect((await handler.getStorage({ project: 'alpha' })).usedBytes).toBe(900);
  });

  it('refuses a blob larger than the whole quota as too large', async () => {
    const refused = await refusal(upload('alpha', 1001).own());

    expect(refused.is(BlobProblems.UPLOAD_OVER_QUOTA)).toBe(true);
    expect(refused.extensions).toEqual({ usedBytes: 0, quotaBytes: 1000, uploadBytes: 1001 });
  });

  it('records what a sender of an earlier release owns without a size', async () => {
    const sha = store.add('old sender');
    await handler.own({ project: 'alpha', sha256s: [sha] });

    expect(blobs.owners.get('alpha')?.get(sha)).toBeNull();
  });

  it('checks an upload before it is read, except bytes the project owns already', async () => {
    const owned = upload('alpha', 950);
    await owned.own();

    const tooLarge = await refusal(handler.checkUpload({ project: 'alpha', size: 1001 }));
    const tooMuch = await refusal(handler.checkUpload({ project: 'alpha', size: 60 }));

    expect(tooLarge.is(BlobProblems.UPLOAD_OVER_QUOTA)).toBe(true);
    expect(tooMuch.is(BlobProblems.STORAGE_QUOTA_EXCEEDED)).toBe(true);
    expect(tooMuch.extensions).toEqual({ usedBytes: 950, quotaBytes: 1000, uploadBytes: 60 });
    expect(await handler.checkUpload({ project: 'alpha', sha256: owned.sha, size: 950 })).toEqual({
      usedBytes: 950,
      quotaBytes: 1000,
      stopAtBytes: null,
    });
    // Without a declared size: read until it passes the quota.
    expect(await handler.checkUpload({ project: 'alpha' })).toEqual({
      usedBytes: 950,
      quotaBytes: 1000,
      stopAtBytes: 1000,
    });
  });

  it('takes the quota the platform admin sets for a project: a number, 0 for none, null for the default', async () => {
    await upload('alpha', 900).own();

    expect(await handler.setQuota({ project: 'alpha', bytes: 5000 })).toMatchObject({
      quotaBytes: 5000,
      quotaSource: 'project',
      availableBytes: 4100,
    });
    await upload('alpha', 2000, 'y').own();
    expect(await handler.setQuota({ project: 'alpha', bytes: 0 })).toMatchObject({
      quotaBytes: null,
      quotaSource: 'project',
      availableBytes: null,
    });
    expect(await handler.checkUpload({ project: 'alpha', size: 10 ** 12 })).toMatchObject({
      stopAtBytes: null,
    });
    expect(await handler.setQuota({ project: 'alpha', bytes: null })).toMatchObject({
      usedBytes: 2900,
      quotaBytes: 1000,
      quotaSource: 'default',
      availableBytes: 0,
    });
  });
});
