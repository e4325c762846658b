import { describe, expect, it } from '@jest/globals';
import { RunSpecSchema, type PlannedSweep, type StepSpec, type SweepSpec } from '@acai/contracts';
import {
  bestTrial,
  expandSweep,
  recordedRule,
  sweepProblems,
  trialCount,
  trialName,
} from './sweep.js';

/** A sweep as the gateway hands it on: parsed, defaults applied. */
function sweep(raw: unknown): SweepSpec {
  return step(raw).sweep!;
}

function step(raw: unknown): StepSpec {
  return RunSpecSchema.parse({
    name: 'r',
    steps: [{ name: 'train', command: ['true'], sweep: raw }],
  }).steps[0]!;
}

describe('expandSweep', () => {
  it('makes a grid every combination, the last parameter varying fastest', () => {
    expect(
      expandSweep(sweep({ grid: { LR: ['0.1', '0.01'], HIDDEN: ['32', '64', '128'] } })),
    ).toEqual([
      { LR: '0.1', HIDDEN: '32' },
      { LR: '0.1', HIDDEN: '64' },
      { LR: '0.1', HIDDEN: '128' },
      { LR: '0.01', HIDDEN: '32' },
      { LR: '0.01', HIDDEN: '64' },
      { LR: '0.01', HIDDEN: '128' },
    ]);
  });

  it('takes a list as given', () => {
    expect(expandSweep(sweep({ list: [{ A: '1' }, { A: '2', B: 'x' }] }))).toEqual([
      { A: '1' },
      { A: '2', B: 'x' },
    ]);
  });

  describe('random', () => {
    const spec = {
      random: {
        seed: 7,
        count: 50,
        params: {
          LR: { min: 0.0001, max: 0.1, log: true },
          HIDDEN: { min: 16, max: 256, integer: true },
          DROPOUT: { min: 0.1, max: 0.5 },
          ACT: ['relu', 'tanh'],
        },
      },
    };

    it('draws the same trials from the same seed, and others from another', () => {
      const once = expandSweep(sweep(spec));
      expect(expandSweep(sweep(spec))).toEqual(once);
      const other = expandSweep(sweep({ random: { ...spec.random, seed: 8 } }));
      expect(other).not.toEqual(once);
      expect(once).toHaveLength(50);
    });

    it('keeps every value in its range or list, log-uniform across decades', () => {
      const trials = expandSweep(sweep(spec));
      for (const t of trials) {
        expect(Number(t['LR'])).toBeGreaterThanOrEqual(0.0001);
        expect(Number(t['LR'])).toBeLessThanOrEqual(0.1);
        expect(Number.isInteger(Number(t['HIDDEN']))).toBe(true);
        expect(Number(t['HIDDEN'])).toBeGreaterThanOrEqual(16);
        expect(Number(t['HIDDEN'])).toBeLessThanOrEqual(256);
        expect(Number(t['DROPOUT'])).toBeGreaterThanOrEqual(0.1);
        expect(Number(t['DROPOUT'])).toBeLessThan(0.5);
        expect(['relu', 'tanh']).toContain(t['ACT']);
        // Six significant digits at most: readable in a table.
        expect(t['LR']!.replace(/^0\.0*/, '').replace('.', '').length).toBeLessThanOrEqual(6);
      }
      // Log-uniform: about a third of the draws in each decade, not 90% in the top one.
      const belowMilli = trials.filter((t) => Number(t['LR']) < 0.001).length;
      expect(belowMilli).toBeGreaterThan(5);
    });
  });
});

describe('trialName', () => {
  it('is the step and the trial number, which no step name can be', () => {
    expect(trialName('train', 3)).toBe('train#3');
    expect(() =>
      RunSpecSchema.parse({ name: 'r', steps: [{ name: 'train#3', command: ['true'] }] }),
    ).toThrow();
  });
});

describe('sweepProblems', () => {
  const problems = (raw: unknown) => sweepProblems(step(raw), 2);

  it('finds none in a good sweep', () => {
    expect(
      problems({
        grid: { LR: ['0.1'] },
        objective: { metric: 'loss', mode: 'min' },
        earlyStopping: { rule: 'asha', maxSteps: 27 },
      }),
    ).toEqual([]);
  });

  it('needs exactly one of grid, random or list', () => {
    expect(problems({ maxParallel: 2 })).toEqual([
      {
        path: 'steps.2.sweep',
        message: "step 'train': a sweep needs exactly one of grid, random or list; it has none",
      },
    ]);
    expect(problems({ grid: { A: ['1'] }, list: [{ A: '1' }] })[0]?.message).toContain(
      'it has grid and list',
    );
  });

  it('caps the trials, saying how many the sweep makes', () => {
    const values = Array.from({ length: 40 }, (_, i) => String(i));
    const [problem] = problems({ grid: { A: values, B: values } });
    expect(problem?.path).toBe('steps.2.sweep.grid');
    expect(problem?.message).toContain('1600 trials');
    expect(problem?.message).toContain('at most 1000');
    expect(trialCount(sweep({ grid: { A: values, B: values } }))).toBe(1600);
  });

  it('wants an objective for early stopping, and rungs for asha', () => {
    expect(problems({ list: [{ A: '1' }], earlyStopping: { rule: 'median' } })).toEqual([
      {
        path: 'steps.2.sweep.earlyStopping',
        message:
          "step 'train': early stopping compares the trials by an objective: add objective { metric, mode } to the sweep",
      },
    ]);
    const objective = { metric: 'loss', mode: 'min' };
    expect(
      problems({ list: [{ A: '1' }], objective, earlyStopping: { rule: 'asha' } })[0]?.message,
    ).toContain("give 'rungs'");
    expect(
      problems({ list: [{ A: '1' }], objective, earlyStopping: { rule: 'asha', rungs: [3, 1] } })[0]
        ?.path,
    ).toBe('steps.2.sweep.earlyStopping.rungs');
  });

  it('refuses empty ranges and log ranges from 0', () => {
    expect(
      problems({ random: { seed: 1, count: 2, params: { A: { min: 2, max: 1 } } } })[0]?.path,
    ).toBe('steps.2.sweep.random.params.A');
    expect(
      problems({ random: { seed: 1, count: 2, params: { A: { min: 0, max: 1, log: true } } } })[0]
        ?.message,
    ).toContain('needs min above 0');
  });
});

describe('recordedRule', () => {
  it("makes asha's rungs explicit: minSteps × reductionFactor^k below maxSteps", () => {
    expect(recordedRule({ rule: 'asha', reductionFactor: 3, minSteps: 1, maxSteps: 27 })).toEqual({
      rule: 'asha',
      reductionFactor: 3,
      rungs: [1, 3, 9],
    });
    expect(recordedRule({ rule: 'asha', reductionFactor: 2, minSteps: 1, rungs: [2, 5] })).toEqual({
      rule: 'asha',
      reductionFactor: 2,
      rungs: [2, 5],
    });
  });
});

describe('bestTrial', () => {
  const planned: PlannedSweep = {
    step: 'train',
    trials: ['a', 'b', 'c', 'd'],
    maxParallel: null,
    objective: { metric: 'accuracy', mode: 'max' },
    earlyStopping: null,
  };
  const trial = (
    jobId: string,
    outcome: 'succeeded' | 'early_stopped' | 'failed',
    last: number,
  ) => ({
    jobId,
    name: `train#${jobId}`,
    params: { ID: jobId },
    outcome,
    series: [
      [1, 0.5],
      [2, last],
    ] as const,
  });

  it('is the trial that succeeded with the best last value, never a stopped or failed one', () => {
    expect(
      bestTrial(planned, [
        trial('a', 'succeeded', 0.9),
        trial('b', 'early_stopped', 0.99),
        trial('c', 'failed', 0.98),
        trial('d', 'succeeded', 0.95),
      ]),
    ).toEqual({ jobId: 'd', name: 'train#d', params: { ID: 'd' }, value: 0.95 });
  });

  it('is the earlier on a tie, and none without an objective or a trial that reported it', () => {
    expect(
      bestTrial(planned, [trial('a', 'succeeded', 0.9), trial('b', 'succeeded', 0.9)])?.jobId,
    ).toBe('a');
    expect(bestTrial({ ...planned, objective: null }, [trial('a', 'succeeded', 0.9)])).toBeNull();
    expect(bestTrial(planned, [{ ...trial('a', 'succeeded', 0.9), series: [] }])).toBeNull();
  });
});
