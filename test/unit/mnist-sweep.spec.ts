import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RunSpecSchema } from '@acai/contracts';
import { planRun } from '@acai/runs';

const file = path.resolve(import.meta.dirname, '../../examples/mnist/sweep.json');

/** examples/mnist/sweep.json, as the README submits it: a valid spec that sweeps 8 trainings. */
describe('the MNIST sweep example', () => {
  const spec = RunSpecSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const { jobs, sweeps } = planRun(spec, (name) => `job-${name}`);
  const trials = jobs.filter((j) => j.trial !== undefined && j.trial !== null);

  it('trains at least 8 trials over the learning rate and the hidden size, which train.js reads', () => {
    expect(trials.length).toBeGreaterThanOrEqual(8);
    const pairs = new Set(trials.map((t) => `${t.env['LEARNING_RATE']}/${t.env['HIDDEN']}`));
    expect(pairs.size).toBe(trials.length);
    const train = readFileSync(
      path.resolve(import.meta.dirname, '../../examples/mnist/src/train.ts'),
      'utf8',
    );
    expect(train).toContain("'LEARNING_RATE'");
    expect(train).toContain("'HIDDEN'");
  });

  it('stops trials early by the loss train.js reports every epoch, and evaluates the best', () => {
    expect(sweeps).toEqual([
      expect.objectContaining({
        step: 'train',
        objective: { metric: 'loss', mode: 'min' },
        earlyStopping: expect.objectContaining({ rule: 'median' }) as unknown,
      }),
    ]);
    const evaluate = jobs.find((j) => j.name === 'evaluate')!;
    expect(evaluate.inputs).toContainEqual(
      expect.objectContaining({ fileset: 'mnist-model', fromStep: 'train' }),
    );
  });
});
