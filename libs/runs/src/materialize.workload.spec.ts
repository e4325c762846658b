import { describe, expect, it } from '@jest/globals';
import {
  planLeastRecentlyUsed,
  planMaterialization,
  planStrictLeastRecentlyUsed,
  type Artifact,
  type MaterializationPlan,
} from './materialize.js';

/**
 * A simulation of the `materialize` benchmark's budgets on its workload as docs/benchmarks.md
 * records it after phase A (every step computed once per pipeline, `reuse: never`): six MNIST
 * tensor sets of 219.6 MB made in about 3 s (five the same `scale` step, so the same files; one
 * `standardise`), three pca sets (oscar's and peggy's the same 28.1 MB, 31.5 s alone; trent's
 * 14.0 MB), and the small rest (15.3 MB recorded in all; 6.2 MB as stored, measured on
 * 2026-12-06: 487.5 MB after A less the two tensor contents and the two pca contents). The sizes
 * and times of each small artifact are not in the record: those below are of their order (tables
 * and splits of about 0.1 MB, features 0.3-1.5 MB, MNIST models 0.05-1.3 MB, a few seconds each)
 * and add up to the measured 6.2 MB. Phase B runs the same workload again with reuse: each evicted content is
 * computed again once (the first pipeline that needs it; the others take that result), so what a
 * plan costs B is the time of making each content it evicts.
 */
const MB = 1_000_000;

interface Made extends Artifact {
  /** Seconds to make it again (its step alone, its inputs there). */
  readonly seconds: number;
}

function workloadAfterA(): Made[] {
  const made: Made[] = [];
  let seq = 0;
  const add = (
    id: string,
    bytes: number,
    seconds: number,
    content: string,
    uses: number,
    quality: number | null = null,
  ): void => {
    seq += 1;
    made.push({
      id,
      fileset: id.split('@')[0]!,
      version: Number(id.split('@')[1]),
      bytes,
      content,
      recreateSeconds: seconds,
      seconds,
      uses,
      quality,
      protectedBecause: null,
      lastUsedSeq: seq + uses,
    });
  };
  const features = { standard: 0.3 * MB, onehot: 0.4 * MB, poly2: 1.5 * MB };
  const tabular: [string, keyof typeof features][] = [
    ['alice', 'standard'],
    ['bob', 'standard'],
    ['carol', 'onehot'],
    ['dave', 'onehot'],
    ['erin', 'poly2'],
    ['frank', 'poly2'],
    ['grace', 'onehot'],
    ['heidi', 'standard'],
  ];
  tabular.forEach(([user, kind], i) => {
    const v = i + 1;
    add(`weather-table@${v}`, 0.12 * MB, 2, 'table', 1);
    add(`weather-split@${v}`, 0.1 * MB, 2, 'split', 1);
    add(`weather-features@${v}`, features[kind], 3, `features-${kind}`, 2);
    add(`weather-model@${v}`, 0.02 * MB, 5, `model-${user}`, 1, 0.9);
    add(`weather-report@${v}`, 0.001 * MB, 2, `report-${user}`, 0, 0.9);
  });
  const mnist: [string, string, string | null, number][] = [
    ['oscar', 'scale', 'pca100', 0.1 * MB],
    ['peggy', 'scale', 'pca100', 0.2 * MB],
    ['trent', 'scale', 'pca50', 0.05 * MB],
    ['ivan', 'scale', null, 1 * MB],
    ['judy', 'scale', null, 1.3 * MB],
    ['mallory', 'standardise', null, 1 * MB],
  ];
  mnist.forEach(([user, normalise, pca, model], i) => {
    const v = i + 1;
    add(`mnist-tensors@${v}`, 219.6 * MB, 3, `tensors-${normalise}`, pca === null ? 2 : 1, 0.97);
    if (pca === 'pca100') add(`mnist-pca@${v}`, 28.1 * MB, 31.5, 'pca100', 2, 0.96);
    if (pca === 'pca50') add(`mnist-pca@${v}`, 14.0 * MB, 25, 'pca50', 2, 0.95);
    add(`mnist-model@${v}`, model, 20, `mnist-model-${user}`, 1, 0.97);
    add(`mnist-report@${v}`, 0.001 * MB, 3, `mnist-report-${user}`, 0, 0.97);
  });
  return made;
}

/** Seconds phase B spends making again what the plan evicted: each content once. */
function recomputedInB(plan: MaterializationPlan, made: readonly Made[]): number {
  const evicted = new Set(plan.evict.map((a) => a.id));
  const contents = new Map<string, number>();
  for (const a of made) if (evicted.has(a.id)) contents.set(a.content!, a.seconds);
  return [...contents.values()].reduce((n, s) => n + s, 0);
}

const evictedContents = (plan: MaterializationPlan): string[] =>
  [...new Set(plan.evict.map((a) => a.content!))].sort();

describe('the materialize workload at 10 %, simulated', () => {
  const made = workloadAfterA();
  const versionBytes = made.reduce((n, a) => n + a.bytes, 0);

  it('ties utility and lru when each version counts its own bytes (the recorded tie)', () => {
    // Each version counted alone, as before: 10 % of about 1.4 GB holds no tensor set beside the rest.
    const alone = made.map(({ content: _content, ...a }) => a);
    const budget = Math.floor(versionBytes * 0.1);
    const utility = planMaterialization(alone, budget);
    const lru = planLeastRecentlyUsed(alone, budget);
    expect(utility.evict.map((a) => a.id).sort()).toEqual(lru.evict.map((a) => a.id).sort());
    expect(utility.evict.every((a) => a.fileset === 'mnist-tensors')).toBe(true);
  });

  it('counted as stored, utility keeps the pca sets; a cache LRU evicts them', () => {
    const units = planMaterialization(made, Number.MAX_SAFE_INTEGER).totalBytes;
    const budget = Math.floor(units * 0.1);
    const utility = planMaterialization(made, budget);
    const lru = planLeastRecentlyUsed(made, budget);
    const strict = planStrictLeastRecentlyUsed(made, budget);
    // Two tensor contents of 219.6 MB: neither fits in 10 % of what is stored, under any policy.
    for (const plan of [utility, lru, strict]) {
      expect(evictedContents(plan)).toEqual(
        expect.arrayContaining(['tensors-scale', 'tensors-standardise']),
      );
    }
    expect(evictedContents(utility)).not.toEqual(expect.arrayContaining(['pca100']));
    expect(evictedContents(strict)).toEqual(expect.arrayContaining(['pca100', 'pca50']));
    // What B makes again: utility no more than lru (the same: everything but the tensors fits, as
    // measured), far less than the cache's LRU, which keeps only what was used after the last
    // tensor set.
    expect(recomputedInB(utility, made)).toBeLessThanOrEqual(recomputedInB(lru, made));
    expect(recomputedInB(strict, made) - recomputedInB(utility, made)).toBeGreaterThan(50);
  });

  it('at 50 %, lru keeps the tensor set used last and loses the pca set utility keeps', () => {
    const units = planMaterialization(made, Number.MAX_SAFE_INTEGER).totalBytes;
    const budget = Math.floor(units * 0.5);
    const utility = planMaterialization(made, budget);
    const lru = planLeastRecentlyUsed(made, budget);
    expect(evictedContents(lru)).toContain('pca100');
    expect(evictedContents(utility)).not.toContain('pca100');
    expect(recomputedInB(utility, made)).toBeLessThan(recomputedInB(lru, made));
  });
});
