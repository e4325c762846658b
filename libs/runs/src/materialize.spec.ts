import { describe, expect, it } from '@jest/globals';
import {
  planLeastRecentlyUsed,
  planMaterialization,
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
    expect(cheap!.utility).toBeCloseTo(0.005);
    // The only model with a quality is the best one: the whole quality half, and a little more.
    expect(good!.utility).toBeCloseTo(0.505);
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
});
