import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { AcaiError } from '../errors.js';
import { CommonProblems } from '../problems/common.js';
import { parseOrThrow } from '../validation.js';
import { RunSpecSchema, runSpecJsonSchema, withStepNames } from './run-spec.js';

describe('the run spec', () => {
  it('docs/run-spec.schema.json is the JSON Schema the zod schema makes (node scripts/gen-run-spec-schema.mjs)', () => {
    const published: unknown = JSON.parse(
      readFileSync(
        path.resolve(import.meta.dirname, '../../../../docs/run-spec.schema.json'),
        'utf8',
      ),
    );
    expect(published).toEqual(runSpecJsonSchema());
  });

  it('describes retries, continueOnFailure and step-output inputs in its JSON Schema', () => {
    const text = JSON.stringify(runSpecJsonSchema());
    for (const field of ['retries', 'backoffSeconds', 'continueOnFailure', '"step"', '"output"']) {
      expect(text).toContain(field);
    }
  });

  it('fills a retry policy with its defaults: executor_lost and no_resources, never nonzero_exit', () => {
    const spec = RunSpecSchema.parse({
      name: 'r',
      steps: [{ name: 'a', command: ['true'], retries: { max: 2 } }],
    });
    expect(spec.steps[0]!.retries).toEqual({
      max: 2,
      backoffSeconds: 10,
      on: ['executor_lost', 'no_resources'],
    });
  });

  it('takes an input that is another step’s output', () => {
    const spec = RunSpecSchema.parse({
      name: 'r',
      steps: [{ name: 'a', command: ['true'], inputs: [{ step: 'etl', output: 'data' }] }],
    });
    expect(spec.steps[0]!.inputs).toEqual([{ step: 'etl', output: 'data' }]);
  });

  it('names the step of every refusal, by index and name', () => {
    const raw = {
      name: 'r',
      steps: [
        { name: 'ok', command: ['true'] },
        { name: 'train', command: ['true'], retries: { max: 99, on: ['sometimes'] } },
      ],
    };
    let refused: unknown;
    try {
      parseOrThrow(RunSpecSchema, raw, 'run spec');
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(AcaiError);
    const named = withStepNames(refused as AcaiError, raw);
    expect(named.reason).toBe(CommonProblems.INVALID_REQUEST.reason);
    expect(named.details).toEqual([
      { path: 'steps.1.retries.max', message: "step 'train': retries.max is at most 20" },
      { path: 'steps.1.retries.on.0', message: expect.stringContaining("step 'train': ") },
    ]);
    expect(named.message).toBe(
      "Invalid run spec: steps.1.retries.max: step 'train': retries.max is at most 20",
    );
  });

  it.each([
    [{ priority: 101 }, 'priority: priority is at most 100'],
    [{ priority: -101 }, 'priority: priority is at least -100'],
    [{ priority: 1.5 }, 'priority: priority must be a whole number from -100 to 100'],
    [{ priority: 'high' }, 'priority: priority must be a whole number from -100 to 100'],
    [{ maxParallel: 0 }, 'maxParallel: maxParallel must be at least 1'],
    [{ maxParallel: 2.5 }, 'maxParallel: maxParallel must be a whole number of at least 1'],
  ])('refuses a run whose %j is out of bounds, naming the field', (field, message) => {
    const raw = { name: 'r', steps: [{ name: 'a', command: ['true'] }], ...field };
    expect(() => parseOrThrow(RunSpecSchema, raw, 'run spec')).toThrow(
      `Invalid run spec: ${message}`,
    );
  });

  it('takes a run’s priority and maxParallel, and leaves them out when not given', () => {
    const steps = [{ name: 'a', command: ['true'] }];
    expect(RunSpecSchema.parse({ name: 'r', steps, priority: -3, maxParallel: 4 })).toMatchObject({
      priority: -3,
      maxParallel: 4,
    });
    expect(RunSpecSchema.parse({ name: 'r', steps })).not.toHaveProperty('priority');
  });
});
