import { describe, expect, it } from '@jest/globals';
import type { EarlyStoppingRule, Objective } from '@acai/contracts';
import { earlyStop, quantile, type Series, withPoints } from './early-stopping.js';

const loss: Objective = { metric: 'loss', mode: 'min' };
const accuracy: Objective = { metric: 'accuracy', mode: 'max' };

/** A series from its values at steps 1, 2, 3 … */
const steps = (...values: number[]): Series => values.map((v, i) => [i + 1, v] as const);
const at = (step: number) => ({ from: step, to: step });

describe('the median stopping rule', () => {
  const median: EarlyStoppingRule = { rule: 'median', minSteps: 2, minTrials: 2 };
  const good = [steps(1.0, 0.6, 0.4), steps(1.2, 0.7, 0.5)];

  it('stops a trial whose best so far is worse than the median of the others’ running averages', () => {
    // Others' running averages at step 2: (1.0 + 0.6) / 2 = 0.8 and (1.2 + 0.7) / 2 = 0.95.
    const decision = earlyStop(median, loss, steps(2.0, 1.5), at(2), good);
    expect(decision).toEqual({
      rule: 'median',
      step: 2,
      value: 1.5,
      threshold: 0.875,
      compared: 2,
      reason: expect.stringContaining('median rule') as unknown as string,
    });
    expect(decision?.reason).toContain('its best loss by step 2 (1.5)');
  });

  it('lets a trial at or better than the median go on', () => {
    expect(earlyStop(median, loss, steps(1.1, 0.7), at(2), good)).toBeNull();
    // Its best, not its last: a noisy step does not stop it.
    expect(earlyStop(median, loss, steps(0.5, 2.0), at(2), good)).toBeNull();
  });

  it('waits for the grace period and for enough other trials at that step', () => {
    expect(earlyStop(median, loss, steps(9), at(1), good)).toBeNull();
    expect(earlyStop(median, loss, steps(9, 9), at(2), good.slice(0, 1))).toBeNull();
    // A trial that has not reached the step yet does not count.
    expect(earlyStop(median, loss, steps(9, 9, 9), at(3), [good[0]!, steps(1)])).toBeNull();
  });

  it('reads max objectives the other way round', () => {
    const others = [steps(0.5, 0.7), steps(0.6, 0.8)];
    expect(earlyStop(median, accuracy, steps(0.2, 0.3), at(2), others)?.threshold).toBeCloseTo(
      0.65,
    );
    expect(earlyStop(median, accuracy, steps(0.6, 0.9), at(2), others)).toBeNull();
  });

  it('judges a report as of its last step, even if the trial has reported more since', () => {
    const later = steps(2.0, 1.5, 0.1);
    expect(earlyStop(median, loss, later, at(2), good)?.step).toBe(2);
  });
});

describe('asynchronous successive halving', () => {
  const asha: EarlyStoppingRule = { rule: 'asha', reductionFactor: 3, rungs: [1, 3] };
  const others = [steps(0.9, 0.5, 0.3), steps(0.8, 0.6, 0.4), steps(0.7, 0.7, 0.6)];

  it('stops a trial not in the best third of the trials that reached the rung', () => {
    // Values at rung 3: 0.3, 0.4, 0.6; the best third begins at the 1/3 quantile, 0.3667.
    const decision = earlyStop(asha, loss, steps(0.9, 0.5, 0.45), { from: 2, to: 3 }, others);
    expect(decision).toEqual(
      expect.objectContaining({ rule: 'asha', step: 3, value: 0.45, compared: 3 }),
    );
    expect(decision?.threshold).toBeCloseTo(0.36667);
  });

  it('promotes a trial in the best third', () => {
    expect(earlyStop(asha, loss, steps(0.9, 0.5, 0.35), { from: 3, to: 3 }, others)).toBeNull();
  });

  it('judges a trial once per rung: only the rungs its report crossed', () => {
    // Steps 4 and 5 cross no rung: nothing to decide, however bad.
    expect(
      earlyStop(asha, loss, steps(0.9, 0.5, 0.35, 9, 9), { from: 4, to: 5 }, others),
    ).toBeNull();
  });

  it('lets the first trial at a rung through: there is nothing to compare it with', () => {
    expect(earlyStop(asha, loss, steps(9), at(1), [])).toBeNull();
  });

  it('takes the value at the first step at or past the rung, for reports that skip steps', () => {
    const sparse: Series = [
      [2, 0.5],
      [4, 0.2],
    ];
    const decision = earlyStop(asha, accuracy, [[4, 0.1]], { from: 4, to: 4 }, [sparse, sparse]);
    expect(decision).toEqual(expect.objectContaining({ step: 3, value: 0.1, threshold: 0.2 }));
  });
});

describe('quantile', () => {
  it('interpolates between the closest ranks', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([3, 1, 2], 0.5)).toBe(2);
    expect(quantile([5], 0.9)).toBe(5);
  });
});

describe('withPoints', () => {
  it('folds points in by step, numbering those without one after the last', () => {
    expect(
      withPoints(steps(1), [
        { step: 3, value: 3 },
        { step: null, value: 4 },
        { step: 1, value: 0.5 },
      ]),
    ).toEqual([
      [1, 0.5],
      [3, 3],
      [4, 4],
    ]);
  });
});
