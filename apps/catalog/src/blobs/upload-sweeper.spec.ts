import { describe, expect, it } from '@jest/globals';
import { InMemoryBlobStore } from '@acai/blobstore/testing';
import { silentLogger } from '@acai/eventing';
import {
  StorageRepository,
  type ProjectStorage,
  type SweepCursor,
  type Swept,
} from './blobs.repository.js';
import { UploadSweeper, type SweepMetrics, type SweepReport } from './upload-sweeper.js';

/**
 * The storage side in memory: ownerships `project/sha → size` with an age, none used by a version;
 * `busy` says another replica holds the sweep's lock.
 */
class MemoryStorage extends StorageRepository {
  readonly owned = new Map<string, { size: number | null; ageSeconds: number }>();
  busy = false;
  readonly batches: number[] = [];

  own(project: string, sha256: string, size: number | null, ageSeconds: number): void {
    this.owned.set(`${project}/${sha256}`, { size, ageSeconds });
  }
  async storage(): Promise<ProjectStorage> {
    return { usedBytes: 0, blobs: 0, quotaBytes: null };
  }
  async owns(): Promise<boolean> {
    return false;
  }
  async setQuota(): Promise<ProjectStorage> {
    return { usedBytes: 0, blobs: 0, quotaBytes: null };
  }
  async alone<T>(work: () => Promise<T>): Promise<T | undefined> {
    if (this.busy) return undefined;
    this.busy = true;
    try {
      return await work();
    } finally {
      this.busy = false;
    }
  }
  async sweep(
    graceSeconds: number,
    limit: number,
    after: SweepCursor | null,
    remove: (sha256: string) => Promise<void>,
  ): Promise<Swept> {
    const from = after === null ? '' : `${after.project}/${after.sha256}`;
    const stale = [...this.owned]
      .filter(([key, o]) => o.ageSeconds > graceSeconds && key > from)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .slice(0, limit);
    this.batches.push(stale.length);
    let deleted = 0;
    let deletedBytes = 0;
    for (const [key] of stale) this.owned.delete(key);
    for (const sha of new Set(stale.map(([key]) => key.split('/')[1]!))) {
      if ([...this.owned.keys()].some((key) => key.endsWith(`/${sha}`))) continue;
      await remove(sha);
      deleted += 1;
      deletedBytes += stale.find(([key]) => key.endsWith(`/${sha}`))?.[1].size ?? 0;
    }
    const [project = '', sha256 = ''] = stale.at(-1)?.[0].split('/') ?? [];
    return {
      next: stale.length < limit ? null : { createdAt: '', project, sha256 },
      forgotten: stale.length,
      forgottenBytes: stale.reduce((sum, [, o]) => sum + (o.size ?? 0), 0),
      deleted,
      deletedBytes,
    };
  }
  async collectUnowned(): Promise<string[]> {
    return [];
  }
  async unsized(limit: number): Promise<string[]> {
    const shas = [...this.owned].filter(([, o]) => o.size === null).map(([k]) => k.split('/')[1]!);
    return [...new Set(shas)].slice(0, limit);
  }
  async recordSizes(sizes: readonly { sha256: string; size: number }[]): Promise<void> {
    for (const [key, o] of this.owned) {
      const known = sizes.find((s) => key.endsWith(`/${s.sha256}`));
      if (known !== undefined && o.size === null) this.owned.set(key, { ...o, size: known.size });
    }
  }
}

class Counted implements SweepMetrics {
  readonly outcomes: string[] = [];
  readonly reports: SweepReport[] = [];
  swept(outcome: 'done' | 'skipped' | 'failed', report?: SweepReport): void {
    this.outcomes.push(outcome);
    if (report !== undefined) this.reports.push(report);
  }
}

const GRACE = 3600;

function setUp(batch = 2) {
  const storage = new MemoryStorage();
  const store = new InMemoryBlobStore();
  const metrics = new Counted();
  const sweeper = new UploadSweeper(storage, store, metrics, silentLogger, {
    graceSeconds: GRACE,
    intervalMs: 3_600_000,
    batch,
  });
  return { storage, store, metrics, sweeper };
}

describe('the sweep of uploads never committed', () => {
  it('sweeps batch after batch until none is full, and counts what it did', async () => {
    const { storage, store, metrics, sweeper } = setUp(2);
    const old = ['one', 'two', 'three'].map((text) => store.add(text));
    const recent = store.add('recent');
    old.forEach((sha, i) => storage.own('p', sha, 3 + i, GRACE + 1));
    storage.own('p', recent, 6, 10);

    const report = await sweeper.sweep();

    expect(storage.batches).toEqual([2, 1]);
    expect(report).toEqual({
      forgotten: 3,
      forgottenBytes: 3 + 4 + 5,
      deleted: 3,
      deletedBytes: 3 + 4 + 5,
      sized: 0,
    });
    for (const sha of old) expect(await store.stat(sha)).toBeNull();
    expect(await store.stat(recent)).toEqual({ size: 6 });
    expect(metrics.outcomes).toEqual(['done']);
    expect(metrics.reports).toEqual([report]);
  });

  it('reads the sizes of blobs owned before sizes were recorded first (0 if not stored)', async () => {
    const { storage, store, sweeper } = setUp(1);
    const stored = store.add('twelve bytes');
    storage.own('p', stored, null, 10);
    storage.own('q', stored, null, 10);
    storage.own('p', 'f'.repeat(64), null, 10);

    const report = await sweeper.sweep();

    expect(report?.sized).toBe(2);
    expect([...storage.owned.values()].map((o) => o.size)).toEqual([12, 12, 0]);
  });

  it('skips its turn while another replica sweeps', async () => {
    const { storage, store, metrics, sweeper } = setUp();
    const sha = store.add('old');
    storage.own('p', sha, 3, GRACE + 1);
    storage.busy = true;

    expect(await sweeper.sweep()).toBeNull();
    expect(await store.stat(sha)).toEqual({ size: 3 });
    expect(metrics.outcomes).toEqual(['skipped']);
  });

  it('runs one sweep at a time in a replica: a second waits for the first', async () => {
    const { storage, store, metrics, sweeper } = setUp();
    storage.own('p', store.add('old'), 3, GRACE + 1);

    const [first, second] = await Promise.all([sweeper.sweep(), sweeper.sweep()]);

    expect(first?.forgotten).toBe(1);
    expect(second?.forgotten).toBe(0);
    expect(metrics.outcomes).toEqual(['done', 'done']);
  });

  it('ends a sweep under way after its current batch when the catalog stops', async () => {
    const { storage, store, sweeper } = setUp(1);
    for (const text of ['one', 'two', 'three']) storage.own('p', store.add(text), 3, GRACE + 1);
    const remove = store.delete.bind(store);
    let stopping: Promise<void> | undefined;
    store.delete = async (sha) => {
      stopping ??= sweeper.stop();
      await remove(sha);
    };

    const report = await sweeper.sweep();
    await stopping;

    expect(report?.forgotten).toBe(1);
    expect(storage.owned.size).toBe(2);
  });

  it('counts a failed sweep and answers its error; the next one runs', async () => {
    const { storage, store, metrics, sweeper } = setUp();
    const sha = store.add('old');
    storage.own('p', sha, 3, GRACE + 1);
    const remove = store.delete.bind(store);
    store.delete = () => Promise.reject(new Error('the store is down'));

    await expect(sweeper.sweep()).rejects.toThrow('the store is down');
    store.delete = remove;
    storage.own('p', sha, 3, GRACE + 1);
    expect(await sweeper.sweep()).toMatchObject({ deleted: 1 });
    expect(metrics.outcomes).toEqual(['failed', 'done']);
  });
});
