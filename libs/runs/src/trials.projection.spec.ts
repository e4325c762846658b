import { describe, expect, it } from '@jest/globals';
import { eventLog, plannedJob, projectEvents } from '@acai/testkit';
import type { PlannedJob, StoredEvent } from '@acai/contracts';
import { runsProjection } from './history.projection.js';
import { trialsProjection } from './trials.projection.js';

const RUN = 'run-1';
const objective = { metric: 'loss', mode: 'min' } as const;

const trial = (n: number): PlannedJob =>
  plannedJob(`job-${n}`, `train#${n}`, [], {
    command: ['python', 'train.py'],
    env: { LR: `0.${n}` },
    trial: { step: 'train', index: n, params: { LR: `0.${n}` }, objective },
  });

const e = eventLog({ firstSeq: 0, start: Date.UTC(2026, 11, 1, 9, 0, 0) });
const time = '2026-12-01T09:00:00Z';
const metrics = (job: string, points: [string, number, number][]) =>
  e('job.metrics_reported', job, {
    attempt: 1,
    points: points.map(([name, value, step]) => ({ name, value, step, time })),
  });
const started = (job: string) => e('job.started', job, { executor: 'x', attempt: 1, pid: 1 });
const best = { jobId: 'job-1', name: 'train#1', params: { LR: '0.1' }, value: 0.3 };
const log: StoredEvent[] = [
  e('run.submitted', RUN, {
    name: 'sweep',
    jobs: [trial(1), trial(2)],
    submittedBy: null,
    origin: null,
    sweeps: [
      {
        step: 'train',
        trials: ['job-1', 'job-2'],
        maxParallel: 1,
        objective,
        earlyStopping: { rule: 'median', minSteps: 1, minTrials: 1 },
      },
    ],
  }),
  started('job-1'),
  metrics('job-1', [
    ['loss', 0.5, 1],
    ['accuracy', 0.8, 1],
    ['loss', 0.3, 2],
  ]),
  e('job.succeeded', 'job-1', { exitCode: 0, durationMs: 10, outputs: [], attempt: 1 }),
  started('job-2'),
  metrics('job-2', [['loss', 0.9, 1]]),
  e('job.cancelled', 'job-2', {
    reason: 'stopped early by the median rule',
    earlyStopped: { rule: 'median', objective, step: 1, value: 0.9, threshold: 0.5, compared: 1 },
  }),
  e('run.job_settled', RUN, { jobId: 'job-1', name: 'train#1', outcome: 'succeeded' }),
  e('run.sweep_completed', RUN, { step: 'train', trials: 2, succeeded: 1, earlyStopped: 1, best }),
];

describe('the run-trials projection', () => {
  it('lists every trial with its parameters, status, last metrics, objective and why it stopped', () => {
    const doc = projectEvents(trialsProjection, log)[RUN]!;
    expect(doc.project).toBe('default');
    const [sweep] = doc.sweeps;
    expect(sweep).toEqual(
      expect.objectContaining({ step: 'train', completed: true, best, maxParallel: 1 }),
    );
    expect(sweep!.trials).toEqual([
      {
        jobId: 'job-1',
        name: 'train#1',
        index: 1,
        params: { LR: '0.1' },
        status: 'succeeded',
        objective: 0.3,
        step: 2,
        lastMetrics: { loss: { value: 0.3, step: 2 }, accuracy: { value: 0.8, step: 1 } },
        stoppedReason: null,
        earlyStopped: null,
      },
      {
        jobId: 'job-2',
        name: 'train#2',
        index: 2,
        params: { LR: '0.2' },
        status: 'cancelled',
        objective: 0.9,
        step: 1,
        lastMetrics: { loss: { value: 0.9, step: 1 } },
        stoppedReason: 'stopped early by the median rule',
        earlyStopped: {
          rule: 'median',
          objective,
          step: 1,
          value: 0.9,
          threshold: 0.5,
          compared: 1,
        },
      },
    ]);
  });

  it('names the leader while the sweep runs', () => {
    const doc = projectEvents(trialsProjection, log.slice(0, 6))[RUN]!;
    expect(doc.sweeps[0]!.completed).toBe(false);
    expect(doc.sweeps[0]!.best).toEqual(best);
  });

  it('keeps no document for a run without sweeps', () => {
    const plain = e('run.submitted', 'run-2', {
      name: 'plain',
      jobs: [{ ...trial(1), trial: null }],
      submittedBy: null,
      origin: null,
    });
    expect(projectEvents(trialsProjection, [plain])).toEqual({});
  });
});

describe('the runs projection of a sweep', () => {
  it('reports the best trial, its parameters and objective once the sweep completed', () => {
    const run = projectEvents(runsProjection, log)[RUN]!;
    expect(run.sweeps).toEqual([
      {
        step: 'train',
        trials: 2,
        objective,
        completed: true,
        succeeded: 1,
        earlyStopped: 1,
        best,
      },
    ]);
  });
});
