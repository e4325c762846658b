import { describe, it, expect } from '@jest/globals';
import {
  AcaiError,
  DEFAULT_RESOURCES,
  RunProblems,
  type RunSpec,
  type StepSpec,
} from '@acai/contracts';
import { planRun } from './pipeline.js';

const step = (name: string, extra: Partial<StepSpec> = {}): StepSpec => ({
  name,
  command: ['run', name],
  ...extra,
});
const spec = (...steps: StepSpec[]): RunSpec => ({ name: 'pipeline', steps });
const byName = (name: string) => `job-${name}`;

/** The AcaiError planRun throws for `s`, or a test failure when it does not throw one. */
function rejection(s: RunSpec): AcaiError {
  try {
    planRun(s, byName);
  } catch (error) {
    if (error instanceof AcaiError) return error;
    throw error;
  }
  throw new Error('planRun accepted the spec');
}

describe('planRun', () => {
  describe('ordering', () => {
    it('puts every step after the steps it needs', () => {
      const { jobs } = planRun(
        spec(
          step('evaluate', { needs: ['train'] }),
          step('train', { needs: ['prepare'] }),
          step('prepare'),
        ),
        byName,
      );

      expect(jobs.map((j) => j.name)).toEqual(['prepare', 'train', 'evaluate']);
    });

    it('keeps spec order among steps that do not depend on each other', () => {
      const { jobs } = planRun(
        spec(
          step('report', { needs: ['b', 'a'] }),
          step('b'),
          step('a'),
          step('c', { needs: ['a'] }),
          step('d'),
        ),
        byName,
      );

      expect(jobs.map((j) => j.name)).toEqual(['b', 'a', 'd', 'report', 'c']);
    });

    it('leaves a spec that is already in order as it is', () => {
      const names = ['one', 'two', 'three', 'four'];
      const { jobs } = planRun(spec(...names.map((n) => step(n))), byName);

      expect(jobs.map((j) => j.name)).toEqual(names);
    });
  });

  describe('job ids', () => {
    it('asks the callback once per step, in spec order, and gives each job its id', () => {
      const asked: string[] = [];
      const { jobs } = planRun(
        spec(step('second', { needs: ['first'] }), step('first')),
        (name) => {
          asked.push(name);
          return `job-${asked.length}`;
        },
      );

      expect(asked).toEqual(['second', 'first']);
      expect(jobs.map((j) => [j.name, j.id])).toEqual([
        ['first', 'job-2'],
        ['second', 'job-1'],
      ]);
    });

    it('allocates no id for a spec it rejects', () => {
      const asked: string[] = [];

      expect(() =>
        planRun(spec(step('a', { needs: ['nope'] })), (name) => {
          asked.push(name);
          return name;
        }),
      ).toThrow(AcaiError);
      expect(asked).toEqual([]);
    });
  });

  describe('planned jobs', () => {
    it('gives a step without resources the defaults', () => {
      const { jobs } = planRun(spec(step('a')), byName);

      expect(jobs[0]!.resources).toEqual({ cpu: 1, memoryMb: 512 });
      expect(jobs[0]!.resources).toEqual(DEFAULT_RESOURCES);
    });

    it('overrides only the resources a step asks for', () => {
      const { jobs } = planRun(
        spec(
          step('cpu', { resources: { cpu: 4 } }),
          step('memory', { resources: { memoryMb: 8192 } }),
          step('both', { resources: { cpu: 0.5, memoryMb: 256 } }),
        ),
        byName,
      );

      expect(jobs.map((j) => j.resources)).toEqual([
        { cpu: 4, memoryMb: 512 },
        { cpu: 1, memoryMb: 8192 },
        { cpu: 0.5, memoryMb: 256 },
      ]);
    });

    it('carries command, env and needs over, with repeated needs listed once', () => {
      const { jobs } = planRun(
        spec(
          step('a'),
          step('b', { command: ['python', 'train.py'], needs: ['a', 'a'], env: { SEED: '42' } }),
        ),
        byName,
      );

      expect(jobs[1]).toEqual({
        id: 'job-b',
        name: 'b',
        command: ['python', 'train.py'],
        needs: ['a'],
        network: 'default',
        secrets: {},
        env: { SEED: '42' },
        resources: { cpu: 1, memoryMb: 512 },
        timeoutSeconds: null,
        provision: null,
        inputs: [],
        outputs: [],
        retries: null,
        continueOnFailure: false,
        reuse: { policy: 'auto', nondeterministic: false, code: [] },
      });
      expect(jobs[0]).toMatchObject({ needs: [], env: {} });
    });

    it("takes each step's reuse policy, else the run's, with its code and nondeterminism", () => {
      const { jobs } = planRun(
        {
          ...spec(
            step('a', { reuse: 'always', code: ['/srv/etl.py', { fileset: 'lib', version: 2 }] }),
            step('b', { nondeterministic: true }),
          ),
          reuse: 'never',
        },
        byName,
      );

      expect(jobs.map((j) => j.reuse)).toEqual([
        {
          policy: 'always',
          nondeterministic: false,
          code: ['/srv/etl.py', { fileset: 'lib', version: 2 }],
        },
        { policy: 'never', nondeterministic: true, code: [] },
      ]);
    });

    it('gives inputs and outputs their default folders and versions', () => {
      const { jobs } = planRun(
        spec(
          step('a', {
            inputs: [
              { fileset: 'mnist', version: 'latest' },
              { fileset: 'extra', version: 3, path: 'data/x' },
            ],
            outputs: [{ fileset: 'model' }],
          }),
        ),
        byName,
      );
      expect(jobs[0]!.inputs).toEqual([
        { fileset: 'mnist', version: 'latest', path: 'inputs/mnist' },
        { fileset: 'extra', version: 3, path: 'data/x' },
      ]);
      expect(jobs[0]!.outputs).toEqual([
        { fileset: 'model', path: 'outputs/model', labels: [], save: true },
      ]);
    });

    it('does not share arrays or objects with the spec', () => {
      const s = spec(step('a', { env: { K: 'v' } }), step('b', { needs: ['a'] }));
      const { jobs } = planRun(s, byName);
      jobs[0]!.command.push('--changed');
      jobs[0]!.env['K'] = 'changed';
      jobs[1]!.needs.push('changed');

      expect(s.steps[0]!.command).toEqual(['run', 'a']);
      expect(s.steps[0]!.env).toEqual({ K: 'v' });
      expect(s.steps[1]!.needs).toEqual(['a']);
    });
  });

  describe('invalid graphs are VALIDATION_FAILED', () => {
    it('rejects a step name used twice, naming the second one', () => {
      const error = rejection(spec(step('a'), step('b'), step('a')));

      expect(error.reason).toBe(RunProblems.RUN_SPEC_INVALID.reason);
      expect(error.details).toEqual([
        { path: 'steps.2.name', message: "step name 'a' is used twice" },
      ]);
      expect(error.message).toBe("Invalid run spec: steps.2.name: step name 'a' is used twice");
    });

    it('rejects a need that is not a step of the run, naming the field', () => {
      const error = rejection(spec(step('a'), step('b', { needs: ['a', 'ghost'] })));

      expect(error.reason).toBe(RunProblems.RUN_SPEC_INVALID.reason);
      expect(error.details).toEqual([
        {
          path: 'steps.1.needs.1',
          message: "step 'b' needs 'ghost', which is not a step of this run",
        },
      ]);
    });

    it('reports the path steps.1.needs.0 for an unknown first need', () => {
      const error = rejection(spec(step('a'), step('b', { needs: ['nope'] })));

      expect(error.details?.map((d) => d.path)).toEqual(['steps.1.needs.0']);
    });

    it('rejects a step that needs itself', () => {
      const error = rejection(spec(step('a'), step('b', { needs: ['a', 'b'] })));

      expect(error.reason).toBe(RunProblems.RUN_SPEC_INVALID.reason);
      expect(error.details).toEqual([
        { path: 'steps.1.needs.1', message: "step 'b' cannot need itself" },
      ]);
    });

    it('reports every graph error at once, the first in the message', () => {
      const error = rejection(
        spec(step('a', { needs: ['a'] }), step('a'), step('c', { needs: ['x', 'y'] })),
      );

      expect(error.details?.map((d) => d.path)).toEqual([
        'steps.1.name',
        'steps.0.needs.0',
        'steps.2.needs.0',
        'steps.2.needs.1',
      ]);
      expect(error.message).toMatch(/^Invalid run spec: steps\.1\.name: /);
    });

    it('rejects a cycle and names the steps in it', () => {
      const error = rejection(
        spec(
          step('fetch'),
          step('a', { needs: ['fetch', 'b'] }),
          step('b', { needs: ['c'] }),
          step('c', { needs: ['a'] }),
          step('after', { needs: ['a'] }),
        ),
      );

      expect(error.reason).toBe(RunProblems.RUN_SPEC_INVALID.reason);
      expect(error.details).toEqual([
        {
          path: 'steps.1.needs.1',
          message: "step 'a' needs 'b', and the steps' needs form a cycle: a -> b -> c -> a",
        },
      ]);
      expect(error.message).toContain('a -> b -> c -> a');
      expect(error.message).not.toContain('fetch');
      expect(error.message).not.toContain('after');
    });

    it('rejects a cycle of two steps', () => {
      const error = rejection(spec(step('x', { needs: ['y'] }), step('y', { needs: ['x'] })));

      expect(error.reason).toBe(RunProblems.RUN_SPEC_INVALID.reason);
      expect(error.message).toContain('x -> y -> x');
    });
  });

  it('refuses size parameters of the auto-provisioner that are not positive numbers in the env', () => {
    const step = (env: Record<string, string>) => ({
      name: 'train',
      command: ['train'],
      env,
      provision: { sizeParameters: ['EPOCHS'], profile: { EPOCHS: ['1', 'x'] } },
    });
    expect(() => planRun({ name: 'r', steps: [step({})] }, (n) => n)).toThrow(
      "Invalid run spec: steps.0.env.EPOCHS: size parameter EPOCHS of step 'train' must be set in its env to a positive number (it is not set)",
    );
    expect(() => planRun({ name: 'r', steps: [step({ EPOCHS: '5' })] }, (n) => n)).toThrow(
      "steps.0.provision.profile.EPOCHS.1: profiling value 'x' of EPOCHS must be a positive number",
    );
    const { jobs } = planRun(
      {
        name: 'r',
        steps: [{ ...step({ EPOCHS: '5' }), provision: { profile: { EPOCHS: ['1'] } } }],
      },
      (n) => n,
    );
    expect(jobs[0]!.provision).toEqual({ profile: { EPOCHS: ['1'] } });
  });

  describe('inputs from other steps', () => {
    const etl = step('etl', { outputs: [{ fileset: 'data' }, { fileset: 'tmp', save: false }] });

    it('takes another step’s output, which implies needing it', () => {
      const { jobs } = planRun(
        spec(step('train', { inputs: [{ step: 'etl', output: 'data' }], needs: ['etl'] }), etl),
        byName,
      );
      expect(jobs.map((j) => j.name)).toEqual(['etl', 'train']);
      expect(jobs[1]!.needs).toEqual(['etl']);
      expect(jobs[1]!.inputs).toEqual([{ fileset: 'data', fromStep: 'etl', path: 'inputs/data' }]);
      const implied = planRun(
        spec(step('train', { inputs: [{ step: 'etl', output: 'data', path: 'd' }] }), etl),
        byName,
      );
      expect(implied.jobs.map((j) => [j.name, j.needs])).toEqual([
        ['etl', []],
        ['train', ['etl']],
      ]);
      expect(implied.jobs[1]!.inputs).toEqual([{ fileset: 'data', fromStep: 'etl', path: 'd' }]);
    });

    it('refuses an input from a step that is not there, from itself, or of an output it does not save', () => {
      const error = rejection(
        spec(
          etl,
          step('a', { inputs: [{ step: 'nope', output: 'data' }] }),
          step('b', { inputs: [{ step: 'etl', output: 'model' }] }),
          step('c', { inputs: [{ step: 'etl', output: 'tmp' }] }),
          step('d', { inputs: [{ step: 'd', output: 'x' }], outputs: [{ fileset: 'x' }] }),
        ),
      );
      expect(error.reason).toBe(RunProblems.RUN_SPEC_INVALID.reason);
      expect(error.details).toEqual([
        {
          path: 'steps.1.inputs.0.step',
          message: "step 'a' takes an input from step 'nope', which is not a step of this run",
        },
        {
          path: 'steps.2.inputs.0.output',
          message:
            "step 'b' takes output 'model' of step 'etl', which saves no such output (its outputs: data)",
        },
        {
          path: 'steps.3.inputs.0.output',
          message:
            "step 'c' takes output 'tmp' of step 'etl', which saves no such output (its outputs: data)",
        },
        {
          path: 'steps.4.inputs.0.step',
          message: "step 'd' cannot take an input from its own output 'x'",
        },
      ]);
    });

    it('refuses a cycle made by inputs, naming the step and its input', () => {
      const error = rejection(
        spec(
          step('a', { inputs: [{ step: 'b', output: 'y' }], outputs: [{ fileset: 'x' }] }),
          step('b', { needs: ['a'], outputs: [{ fileset: 'y' }] }),
        ),
      );
      expect(error.details).toEqual([
        {
          path: 'steps.0.inputs.0.step',
          message:
            "step 'a' takes an input from 'b', and the steps' needs form a cycle: a -> b -> a",
        },
      ]);
    });
  });

  describe('retries and continueOnFailure', () => {
    it('records a step’s retry policy, and continueOnFailure from the step or else the run', () => {
      const retries = { max: 2, backoffSeconds: 1, on: ['nonzero_exit' as const] };
      const { jobs } = planRun(
        {
          name: 'r',
          continueOnFailure: true,
          steps: [
            step('a', { retries }),
            step('b', { needs: ['a'] }),
            step('c', { needs: ['a'], continueOnFailure: false }),
          ],
        },
        byName,
      );
      expect(jobs.map((j) => [j.name, j.retries, j.continueOnFailure])).toEqual([
        ['a', retries, true],
        ['b', null, true],
        ['c', null, false],
      ]);
      expect(planRun(spec(step('a')), byName).jobs[0]!.continueOnFailure).toBe(false);
    });
  });

  describe('sweeps', () => {
    const objective = { metric: 'loss', mode: 'min' } as const;
    const swept = step('train', {
      env: { EPOCHS: '3', LR: '1' },
      outputs: [{ fileset: 'model' }],
      sweep: { grid: { LR: ['0.1', '0.01'] }, maxParallel: 1, objective },
    });

    it('makes a job per trial, named <step>#<n>, its parameters over the step’s env', () => {
      const ids: string[] = [];
      const { jobs, sweeps } = planRun(spec(step('eval', { needs: ['train'] }), swept), (name) => {
        ids.push(name);
        return `job-${name}`;
      });
      // Ids are made in spec order, a swept step's trials in trial order.
      expect(ids).toEqual(['eval', 'train#1', 'train#2']);
      expect(jobs.map((j) => [j.name, j.env, j.needs])).toEqual([
        ['train#1', { EPOCHS: '3', LR: '0.1' }, []],
        ['train#2', { EPOCHS: '3', LR: '0.01' }, []],
        ['eval', {}, ['train']],
      ]);
      expect(jobs[1]!.trial).toEqual({
        step: 'train',
        index: 2,
        params: { LR: '0.01' },
        objective,
      });
      expect(jobs[2]!.trial).toBeUndefined();
      expect(sweeps).toEqual([
        {
          step: 'train',
          trials: ['job-train#1', 'job-train#2'],
          maxParallel: 1,
          objective,
          earlyStopping: null,
        },
      ]);
    });

    it('refuses a step taking the output of a sweep with no objective to choose the best by', () => {
      const error = rejection(
        spec(
          step('train', {
            outputs: [{ fileset: 'model' }],
            sweep: { list: [{ LR: '0.1' }] },
          }),
          step('eval', { inputs: [{ step: 'train', output: 'model' }] }),
        ),
      );
      expect(error.details).toEqual([
        {
          path: 'steps.1.inputs.0.step',
          message: expect.stringContaining('a sweep without an objective') as unknown as string,
        },
      ]);
    });

    it('refuses a bad sweep, naming the step and the field', () => {
      const error = rejection(
        spec(
          step('train', {
            sweep: {
              list: [{ A: '1' }],
              earlyStopping: { rule: 'median', minSteps: 1, minTrials: 3 },
            },
          }),
        ),
      );
      expect(error.message).toBe(
        "Invalid run spec: steps.0.sweep.earlyStopping: step 'train': early stopping compares the trials by an objective: add objective { metric, mode } to the sweep",
      );
    });
  });
});
