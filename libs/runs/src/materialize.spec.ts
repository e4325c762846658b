import { describe, expect, it } from '@jest/globals';
import {
  planLeastRecentlyUsed,
  planMaterialization,
  planStrictLeastRecentlyUsed,
  relativeQualities,
  scoreArtifacts,
  type Artifact,
} from './materialize.js';

const artifact = (id: string, over: Partial<Artifact> = {}): Artifact => ({
  id,
  fileset: id.split('@')[0]!,
  version: Number(id.split('@')[1] ?? 1),
  bytes: 100,
  recreateSeconds: 10,
  uses: 0,
  quality: null,
  protectedBecause: null,
  lastUsedSeq: 1,
  ...over,
});

describe('the materializer', () => {
  it('weighs recreation cost × uses per byte against the quality of the models it leads to', () => {
    const [cheap, costly, used, good] = scoreArtifacts([
      artifact('cheap@1', { recreateSeconds: 1 }),
      artifact('costly@1', { recreateSeconds: 100 }),
      artifact('used@1', { recreateSeconds: 1, uses: 99 }),
      artifact('good@1', { recreateSeconds: 1, quality: 0.97 }),
    ]);
    // costly and used save the same seconds per byte: the top of the cost half.
    expect(costly!.utility).toBeCloseTo(0.5);
    expect(used!.utility).toBeCloseTo(0.5);
    expect(cheap!.utility).toBeCloseTo(0);
    // Its model scores 0.97 of the best of its metric: that share of the quality half.
    expect(good!.utility).toBeCloseTo(0.485);
  });

  it('keeps the highest utility within the budget and evicts the rest, lowest first', () => {
    const plan = planMaterialization(
      [
        artifact('a@1', { recreateSeconds: 1 }),
        artifact('b@1', { recreateSeconds: 50 }),
        artifact('c@1', { recreateSeconds: 100 }),
        artifact('d@1', { recreateSeconds: 5 }),
      ],
      250,
    );
    expect(plan.keep.map((a) => a.id)).toEqual(['c@1', 'b@1']);
    expect(plan.evict.map((a) => a.id)).toEqual(['a@1', 'd@1']);
    expect(plan).toMatchObject({ budgetBytes: 250, totalBytes: 400, keptBytes: 200 });
  });

  it('keeps protected artifacts whatever their utility, even beyond the budget', () => {
    const plan = planMaterialization(
      [
        artifact('input@1', { recreateSeconds: 0, protectedBecause: 'a queued job reads it' }),
        artifact('pinned@1', { recreateSeconds: 0, protectedBecause: 'it is pinned' }),
        artifact('model@1', { recreateSeconds: 1_000 }),
      ],
      150,
    );
    expect(plan.keep.map((a) => a.id)).toEqual(['input@1', 'pinned@1']);
    expect(plan.evict.map((a) => a.id)).toEqual(['model@1']);
    expect(plan.keptBytes).toBe(200);
  });

  it('fills what is left with smaller artifacts when a bigger one does not fit', () => {
    const plan = planMaterialization(
      [artifact('big@1', { bytes: 300, recreateSeconds: 600 }), artifact('small@1', { bytes: 50 })],
      100,
    );
    expect(plan.keep.map((a) => a.id)).toEqual(['small@1']);
  });

  it('differs from least-recently-used, which keeps what was used last', () => {
    const artifacts = [
      artifact('old-costly@1', { recreateSeconds: 500, lastUsedSeq: 1 }),
      artifact('new-cheap@1', { recreateSeconds: 1, lastUsedSeq: 9 }),
    ];
    expect(planMaterialization(artifacts, 100).keep.map((a) => a.id)).toEqual(['old-costly@1']);
    expect(planLeastRecentlyUsed(artifacts, 100).keep.map((a) => a.id)).toEqual(['new-cheap@1']);
  });

  it('counts versions with the same content once, and keeps or evicts them together', () => {
    // Three users' etl made the same 300-byte tensors (one copy stored); a 150-byte table beside.
    const same = (id: string, lastUsedSeq: number) =>
      artifact(id, { bytes: 300, content: 'sha-tensors', recreateSeconds: 2, lastUsedSeq });
    const artifacts = [
      same('tensors@1', 1),
      same('tensors@2', 2),
      same('tensors@3', 9),
      artifact('table@1', { bytes: 150, recreateSeconds: 1, lastUsedSeq: 3 }),
    ];
    const plan = planMaterialization(artifacts, 460);
    expect(plan).toMatchObject({ totalBytes: 450, keptBytes: 450 });
    expect(plan.evict).toEqual([]);
    // Room for one or the other: never one tensors version kept and another evicted (that frees
    // nothing). The tensors' three uses (3 × 2 s per 300 bytes) weigh more than the table's.
    const tight = planMaterialization(artifacts, 320);
    expect(tight.keep.map((a) => a.id)).toEqual(['tensors@1', 'tensors@2', 'tensors@3']);
    expect(tight.keptBytes).toBe(300);
    // LRU: the tensors were used last (@3), so all three stay.
    expect(planLeastRecentlyUsed(artifacts, 320).evict.map((a) => a.id)).toEqual(['table@1']);
  });

  it('evicts the least recently used until the rest fits under lru-strict, as a cache does', () => {
    const artifacts = [
      artifact('old-costly@1', { bytes: 50, recreateSeconds: 500, lastUsedSeq: 1 }),
      artifact('big@1', { bytes: 300, lastUsedSeq: 5 }),
      artifact('new@1', { bytes: 50, lastUsedSeq: 9 }),
      artifact('pinned@1', { bytes: 20, lastUsedSeq: 0, protectedBecause: 'it is pinned' }),
    ];
    // 420 bytes, room for 150: old-costly goes first, then big; new and pinned are left (70).
    const strict = planStrictLeastRecentlyUsed(artifacts, 150);
    expect(strict.evict.map((a) => a.id).sort()).toEqual(['big@1', 'old-costly@1']);
    expect(strict.keptBytes).toBe(70);
    // The lru baseline skips big (it does not fit) and keeps old-costly in the room left.
    expect(planLeastRecentlyUsed(artifacts, 150).evict.map((a) => a.id)).toEqual(['big@1']);
  });

  it('scales recreation cost per byte on a log scale, so mid-sized artifacts are not all 0', () => {
    const [, mid] = scoreArtifacts([
      artifact('report@1', { bytes: 1, recreateSeconds: 1 }),
      artifact('features@1', { bytes: 100, recreateSeconds: 1 }),
      artifact('tensors@1', { bytes: 10_000, recreateSeconds: 1 }),
    ]);
    expect(mid!.utility).toBeCloseTo(0.25);
  });

  it('keeps an expensive feature table over a cheap tensor set whose model is a little better', () => {
    // PCA features: 30 s for 28 MB, model accuracy 0.98 of the best; the tensors: 1 s for
    // 220 MB, leading to the best model; a report beside them. Room for one of the two.
    const plan = planMaterialization(
      [
        artifact('report@1', { bytes: 1_000, recreateSeconds: 1, quality: 1 }),
        artifact('pca@1', { bytes: 28_000_000, recreateSeconds: 30, quality: 0.98 }),
        artifact('tensors@1', { bytes: 220_000_000, recreateSeconds: 1, quality: 1 }),
      ],
      230_000_000,
    );
    expect(plan.keep.map((a) => a.id)).toEqual(['report@1', 'pca@1']);
    expect(plan.evict.map((a) => a.id)).toEqual(['tensors@1']);
  });

  it('counts recreating the ancestors it evicts in what an artifact costs', () => {
    // Room for one of pca and other; pca costs 30 s, other 35 s, but pca's input (10 s) goes too.
    const plan = planMaterialization(
      [
        artifact('tensors@1', { bytes: 300, recreateSeconds: 10 }),
        artifact('pca@1', { recreateSeconds: 30, madeFrom: ['tensors@1'] }),
        artifact('other@1', { recreateSeconds: 35 }),
      ],
      100,
    );
    expect(plan.keep.map((a) => a.id)).toEqual(['pca@1']);
    expect(plan.evict.map((a) => a.id).sort()).toEqual(['other@1', 'tensors@1']);
    expect(plan.keep[0]!.recreateSeconds).toBe(40);
  });

  it('scores a model against the best of its own metric, never against another metric', () => {
    const scores = new Map(
      relativeQualities([
        { id: 'pca', metric: 'accuracy', goal: 'max', value: 0.95 },
        { id: 'tensors', metric: 'accuracy', goal: 'max', value: 0.97 },
        { id: 'ridge', metric: 'rmse', goal: 'min', value: 4 },
        { id: 'gd', metric: 'rmse', goal: 'min', value: 2 },
      ]),
    );
    expect(scores.get('tensors')).toBe(1);
    expect(scores.get('pca')).toBeCloseTo(0.95 / 0.97);
    expect(scores.get('gd')).toBe(1);
    expect(scores.get('ridge')).toBeCloseTo(0.5);
  });
});
