import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AcaiClient } from '@acai/sdk';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

interface HistoryEvent {
  type: string;
  time: string;
  data: Record<string, unknown>;
}
interface Problem {
  status: number;
  detail: string;
  details?: { path?: string; message: string }[];
}
interface Trial {
  jobId: string;
  name: string;
  index: number;
  params: Record<string, string>;
  status: string;
  objective: number | null;
  step: number | null;
  lastMetrics: Record<string, { value: number; step: number | null }>;
  stoppedReason: string | null;
  earlyStopped: {
    rule: string;
    step: number;
    value: number;
    threshold: number;
    compared: number;
  } | null;
}
interface Best {
  jobId: string;
  name: string;
  params: Record<string, string>;
  value: number;
}
interface Trials {
  runId: string;
  sweeps: { step: string; completed: boolean; best: Best | null; trials: Trial[] }[];
}

/**
 * A trial: reports `loss = Q + 1/step` for steps 1..N, one every 300 ms, then saves Q as its
 * output. The lower Q, the better the trial, whatever the step.
 */
const TRIAL = [
  'const fs = require("node:fs");',
  'const q = Number(process.env.Q), n = Number(process.env.N);',
  'let i = 0;',
  'const t = setInterval(() => {',
  '  i += 1;',
  '  console.log(`##acai metric loss=${q + 1 / i} step=${i}`);',
  '  if (i < n) return;',
  '  clearInterval(t);',
  '  fs.writeFileSync(`${process.env.ACAI_OUTPUT_SWEEP_MODEL}/q.txt`, String(q));',
  '}, 300);',
].join('\n');

/**
 * Sweeps through the gateway on the real stack: trials as jobs, maxParallel, the median rule
 * stopping the hopeless trials from the metrics they report (without failing the run), the best
 * trial's output for the step that takes the sweep's, GET /runs/{id}/trials, and the refusals.
 */
describe('sweeps', () => {
  let system: TestSystem;
  let acai: AcaiClient;

  beforeAll(async () => {
    system = await startSystem();
    acai = system.client();
  });

  afterAll(async () => {
    await system?.close();
  });

  async function history(jobId: string): Promise<HistoryEvent[]> {
    return (await acai.getJobHistory(jobId)) as HistoryEvent[];
  }

  it('stops hopeless trials early, holds maxParallel, and hands on the best trial', async () => {
    // Three good trials first, so that the median is theirs when the three bad ones report.
    const { id, jobs } = await acai.submitRun({
      name: 'sweep',
      steps: [
        {
          name: 'train',
          command: ['node', '-e', TRIAL],
          env: { N: '5' },
          outputs: [{ fileset: 'sweep-model' }],
          sweep: {
            list: [
              { Q: '0.1' },
              { Q: '0.2' },
              { Q: '0.3' },
              { Q: '5', N: '40' },
              { Q: '6', N: '40' },
              { Q: '7', N: '40' },
            ],
            maxParallel: 2,
            objective: { metric: 'loss', mode: 'min' },
            earlyStopping: { rule: 'median', minSteps: 2, minTrials: 2 },
          },
          timeoutSeconds: 120,
        },
        {
          name: 'pick',
          command: ['sh', '-c', 'cat "$ACAI_INPUT_SWEEP_MODEL/q.txt"'],
          inputs: [{ step: 'train', output: 'sweep-model' }],
        },
      ],
    });
    expect(jobs.map((j) => j.name)).toEqual([
      'train#1',
      'train#2',
      'train#3',
      'train#4',
      'train#5',
      'train#6',
      'pick',
    ]);

    const run = (await system.waitForRun(id, undefined, 60_000)) as Awaited<
      ReturnType<TestSystem['waitForRun']>
    > & { sweeps?: { step: string; completed: boolean; earlyStopped: number; best: Best }[] };
    // Stopped trials do not fail the run.
    expect(run.status).toBe('succeeded');
    const statuses = Object.fromEntries(run.jobs.map((j) => [j.name, j.status]));
    expect(statuses).toEqual({
      'train#1': 'succeeded',
      'train#2': 'succeeded',
      'train#3': 'succeeded',
      'train#4': 'cancelled',
      'train#5': 'cancelled',
      'train#6': 'cancelled',
      pick: 'succeeded',
    });
    // The run reports the best trial: its parameters and its objective's last value.
    expect(run.sweeps).toEqual([
      expect.objectContaining({
        step: 'train',
        completed: true,
        earlyStopped: 3,
        best: {
          jobId: jobs[0]!.id,
          name: 'train#1',
          params: { Q: '0.1' },
          value: expect.closeTo(0.3, 9) as unknown as number,
        },
      }),
    ]);

    // The step that takes the sweep's output got the best trial's.
    expect(await acai.getJobLogs(jobs[6]!.id)).toBe('0.1\n');

    // A stopped trial's history says why: the rule, its value and the threshold it missed.
    const stopped = (await history(jobs[3]!.id)).find((e) => e.type === 'job.cancelled')!;
    const decision = stopped.data['earlyStopped'] as { value: number; threshold: number };
    expect(stopped.data).toEqual(
      expect.objectContaining({
        reason: expect.stringContaining('median rule') as unknown as string,
        earlyStopped: expect.objectContaining({
          rule: 'median',
          objective: { metric: 'loss', mode: 'min' },
        }) as unknown,
      }),
    );
    expect(decision.value).toBeGreaterThan(decision.threshold);
    // It was stopped long before its 40 steps: killed, not left to finish.
    const steps = (await history(jobs[3]!.id))
      .filter((e) => e.type === 'job.metrics_reported')
      .flatMap((e) => e.data['points'] as { step: number }[]);
    expect(Math.max(...steps.map((p) => p.step))).toBeLessThan(40);

    // maxParallel: never more than two trials queued or running at once.
    const spans = await Promise.all(
      jobs.slice(0, 6).map(async (job) => {
        const events = await history(job.id);
        const queued = events.find((e) => e.type === 'job.queued')!;
        const ended = events.find((e) =>
          ['job.succeeded', 'job.failed', 'job.cancelled'].includes(e.type),
        )!;
        return { from: Date.parse(queued.time), to: Date.parse(ended.time) };
      }),
    );
    for (const { from } of spans) {
      const open = spans.filter((s) => s.from <= from && from < s.to);
      expect(open.length).toBeLessThanOrEqual(2);
    }

    // The table of trials.
    const { sweeps } = (await acai.getRunTrials(id)) as Trials;
    expect(sweeps).toHaveLength(1);
    const sweep = sweeps[0]!;
    expect(sweep.completed).toBe(true);
    expect(sweep.best?.name).toBe('train#1');
    expect(sweep.trials.map((t) => [t.name, t.status, t.params['Q']])).toEqual([
      ['train#1', 'succeeded', '0.1'],
      ['train#2', 'succeeded', '0.2'],
      ['train#3', 'succeeded', '0.3'],
      ['train#4', 'cancelled', '5'],
      ['train#5', 'cancelled', '6'],
      ['train#6', 'cancelled', '7'],
    ]);
    const first = sweep.trials[0]!;
    expect(first.objective).toBeCloseTo(0.3, 9);
    expect(first.step).toBe(5);
    expect(first.lastMetrics['loss']).toEqual({ value: first.objective, step: 5 });
    expect(first.stoppedReason).toBeNull();
    for (const t of sweep.trials.slice(3)) {
      expect(t.earlyStopped?.rule).toBe('median');
      expect(t.stoppedReason).toContain('median rule');
    }

    // The job view says why it ended.
    expect(await acai.getJob(jobs[4]!.id)).toEqual(
      expect.objectContaining({ reason: 'early_stopped' }),
    );
  }, 90_000);

  it('stops trials by asha after a scheduler restart, rebuilding the sweep from the log', async () => {
    const { id, jobs } = await acai.submitRun({
      name: 'asha-restart',
      steps: [
        {
          name: 'fit',
          command: ['node', '-e', TRIAL],
          env: { N: '6' },
          outputs: [{ fileset: 'sweep-model' }],
          sweep: {
            list: [{ Q: '0.2' }, { Q: '0.1' }, { Q: '5', N: '40' }, { Q: '6', N: '40' }],
            maxParallel: 2,
            objective: { metric: 'loss', mode: 'min' },
            earlyStopping: { rule: 'asha', reductionFactor: 2, rungs: [2, 4] },
          },
          timeoutSeconds: 120,
        },
      ],
    });
    await eventually('the first trials to run', async () =>
      (await acai.getJob(jobs[0]!.id)).status === 'running' ? true : undefined,
    );
    // The scheduler goes away while the first two trials run (and end), and comes back.
    await system.stop('scheduler');
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await system.start('scheduler');

    const run = await system.waitForRun(id, undefined, 60_000);
    expect(run.status).toBe('succeeded');
    expect(run.jobs.map((j) => j.status)).toEqual([
      'succeeded',
      'succeeded',
      'cancelled',
      'cancelled',
    ]);
    const { sweeps } = (await acai.getRunTrials(id)) as Trials;
    expect(sweeps[0]!.best).toEqual(
      expect.objectContaining({ name: 'fit#2', params: { Q: '0.1' } }),
    );
    for (const t of sweeps[0]!.trials.slice(2)) {
      // Each bad trial was stopped at a rung, by the trials that reached it before (at the first,
      // unless one report of it crossed both rungs: then the highest is judged).
      expect(t.earlyStopped?.rule).toBe('asha');
      expect([2, 4]).toContain(t.earlyStopped!.step);
      expect(t.earlyStopped!.compared).toBeGreaterThanOrEqual(2);
      expect(t.earlyStopped!.value).toBeGreaterThan(t.earlyStopped!.threshold);
    }
    // Stopped once: one cancel in each history, whatever was redelivered.
    for (const job of jobs.slice(2)) {
      const cancels = (await history(job.id)).filter((e) => e.type === 'job.cancelled');
      expect(cancels).toHaveLength(1);
    }
    const completed = ((await acai.getRun(id)) as { sweeps: { completed: boolean }[] }).sweeps;
    expect(completed).toEqual([expect.objectContaining({ completed: true, earlyStopped: 2 })]);
  }, 90_000);

  it('answers /trials only within the caller’s project', async () => {
    const { id } = await acai.submitRun({
      name: 'plain',
      steps: [{ name: 'only', command: ['true'] }],
    });
    await system.waitForRun(id);
    expect(await acai.getRunTrials(id)).toEqual({ runId: id, sweeps: [] });

    const { key: stranger } = await acai.createProject('sweep-stranger');
    await expect(system.client(stranger).getRunTrials(id)).rejects.toMatchObject({ status: 404 });
  });

  // Raw: these sweeps are ones the SDK's types would not let a caller write.
  it('refuses a bad sweep with a 400 that names the step and the field', async () => {
    const refused = async (sweep: unknown) => {
      const r = await system.api('POST', '/api/v1/runs', {
        name: 'bad-sweep',
        steps: [{ name: 'train', command: ['true'], sweep }],
      });
      expect(r.status).toBe(400);
      return r.body as Problem;
    };

    const noObjective = await refused({
      grid: { LR: ['0.1', '0.01'] },
      earlyStopping: { rule: 'median' },
    });
    expect(noObjective.details).toContainEqual({
      path: 'steps.0.sweep.earlyStopping',
      message: expect.stringContaining("step 'train'") as unknown as string,
    });
    expect(noObjective.detail).toContain('add objective');

    const tooMany = await refused({
      grid: {
        A: Array.from({ length: 40 }, (_, i) => String(i)),
        B: Array.from({ length: 40 }, (_, i) => String(i)),
      },
    });
    expect(tooMany.detail).toContain('1600 trials');
    expect(tooMany.details?.[0]?.path).toBe('steps.0.sweep.grid');

    const twoKinds = await refused({ grid: { A: ['1'] }, list: [{ A: '2' }] });
    expect(twoKinds.detail).toContain('exactly one of grid, random or list');

    const badMode = await refused({
      list: [{ A: '1' }],
      objective: { metric: 'loss', mode: 'up' },
    });
    expect(badMode.details?.[0]?.path).toBe('steps.0.sweep.objective.mode');
    expect(badMode.detail).toContain("step 'train'");
  });
});
