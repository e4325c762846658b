import { describe, expect, it } from '@jest/globals';
import { eventLog, plannedJob, queuedJob } from '@acai/testkit';
import type { CandidateView, EventData, StoredEvent } from '@acai/contracts';
import { runTimelines, timelineEntry, timelineSummary } from './timeline.js';

const RUN = 'run-1';
const e = eventLog({ firstSeq: 0, start: Date.UTC(2026, 11, 1, 9, 0, 0) });
const offer = { provider: 'ec2', name: 'c5.large', vCpu: 2, memoryMb: 4096, pricePerHour: 0.085 };
const candidate = (n: number): CandidateView => ({
  offer: `c5.${n}xlarge`,
  provider: 'ec2',
  predictedSeconds: 60 * n,
  predictedCost: 0.01 * n,
  feasible: true,
  whyNot: null,
});
const configuration = (name: string, vCpu: number) => ({
  ...offer,
  name,
  vCpu,
  predictedSeconds: 600,
  predictedCost: 0.02,
  predictedFinish: '2026-12-01T09:30:00Z',
});

const submitted = e('run.submitted', RUN, {
  name: 'mnist',
  jobs: [
    plannedJob('job-a', 'train', [], { env: { EPOCHS: '3' } }),
    plannedJob('job-b', 'evaluate', ['train']),
  ],
  submittedBy: 'key-1',
  origin: null,
  limits: {
    deadline: '2026-12-01T10:00:00Z',
    deadlineSpec: '1h',
    budget: 0.5,
    predictedFinish: null,
    predictedCost: null,
    cheapestCost: 0.01,
  },
});
const provisioned: EventData<'job.provisioned'> = {
  provider: 'ec2',
  pool: 'ec2-c5-large',
  resources: { cpu: 2, memoryMb: 4096 },
  reason: 'c5.large: cheapest of 6 configurations that finish within 30 min (predicted 12 min)',
  offer,
  decision: {
    rule: 'cheapest-within-deadline',
    success: true,
    reason: 'cheapest within 30 min',
    signature: 'sig',
    features: { EPOCHS: 3 },
    predictedSeconds: 720,
    predictedCost: 0.017,
    model: null,
    alternatives: [1, 2, 3, 4, 5, 6, 7].map(candidate),
  },
};
const log: StoredEvent[] = [
  submitted,
  e('job.queued', 'job-a', queuedJob({ runId: RUN, env: { EPOCHS: '3' } })),
  e('job.provisioned', 'job-a', provisioned),
  e('job.dispatched', 'job-a', { pool: 'ec2-c5-large', attempt: 1 }),
  e('job.started', 'job-a', { executor: 'i-0abc', attempt: 1, pid: 42 }),
  e('job.metrics_reported', 'job-a', {
    attempt: 1,
    points: [{ name: 'loss', value: 0.4, step: 1, time: '2026-12-01T09:00:05Z' }],
  }),
  e('job.rescale_requested', 'job-a', {
    attempt: 1,
    direction: 'up',
    reason: 'predicted to finish 4 min after its share at 0.5 steps/s',
    finishBy: '2026-12-01T09:30:00Z',
    maxCost: null,
    from: configuration('c5.large', 2),
    to: configuration('c5.xlarge', 4),
    measurements: {
      step: 10,
      totalSteps: 100,
      stepsPerSecond: 0.5,
      checkpointStep: 10,
      startupSeconds: 5,
      spent: 0.002,
      basis: 'the last 10 steps',
    },
    alternatives: [1, 2, 3, 4, 5, 6].map(candidate),
    graceSeconds: 30,
  }),
  e('job.rescaled', 'job-a', {
    attempt: 1,
    durationMs: 20_000,
    to: { ...offer, name: 'c5.xlarge', vCpu: 4 },
    checkpoint: { fileset: 'checkpoints-job-a', version: 1, step: 10 },
  }),
  e('job.failed', 'job-a', {
    reason: 'out_of_memory',
    message: 'the job used more than its 4096 MB; give it more memory',
    exitCode: null,
    signal: 'SIGKILL',
    durationMs: 1_000,
    lastLines: [],
    attempt: 2,
  }),
  e('run.job_settled', RUN, { jobId: 'job-a', name: 'train', outcome: 'failed' }),
  e('job.skipped', 'job-b', { reason: "step 'train' failed", step: 'train' }),
  e('run.failed', RUN, { reason: "step 'train' failed", failedJobs: ['job-a'] }),
];

describe('a run’s timeline', () => {
  const timeline = runTimelines(log).get(RUN) ?? [];

  it('lists the run’s events and its jobs’ in log order, without metric reports', () => {
    expect(timeline.map((t) => [t.type, t.jobId, t.step, t.attempt])).toEqual([
      ['run.submitted', null, null, null],
      ['job.queued', 'job-a', 'train', null],
      ['job.provisioned', 'job-a', 'train', null],
      ['job.dispatched', 'job-a', 'train', 1],
      ['job.started', 'job-a', 'train', 1],
      ['job.rescale_requested', 'job-a', 'train', 1],
      ['job.rescaled', 'job-a', 'train', 1],
      ['job.failed', 'job-a', 'train', 2],
      ['run.job_settled', 'job-a', 'train', null],
      ['job.skipped', 'job-b', 'evaluate', null],
      ['run.failed', null, null, null],
    ]);
    expect(timeline.map((t) => t.seq)).toEqual(
      [...timeline.map((t) => t.seq)].sort((a, b) => a - b),
    );
  });

  it('says in a sentence what each decision was and why', () => {
    expect(timeline.map((t) => t.summary)).toEqual([
      "Run 'mnist' submitted: 2 jobs, deadline 2026-12-01T10:00:00Z, budget $0.5",
      "'train' queued",
      "'train' provisioned on c5.large (ec2, $0.085/h): c5.large: cheapest of 6 configurations that finish within 30 min (predicted 12 min)",
      "'train' attempt 1 dispatched to pool ec2-c5-large",
      "'train' attempt 1 started on i-0abc",
      "'train' attempt 1 to be moved up from c5.large to c5.xlarge: predicted to finish 4 min after its share at 0.5 steps/s",
      "'train' attempt 1 stopped and queued again on c5.xlarge, resuming from checkpoints-job-a v1",
      "'train' attempt 2 failed (out_of_memory): the job used more than its 4096 MB; give it more memory",
      "'train' settled: failed",
      "'evaluate' skipped: step 'train' failed",
      "Run failed: step 'train' failed",
    ]);
  });

  it('keeps the decisions’ payloads, without environments and past the best five alternatives', () => {
    const byType = new Map(timeline.map((t) => [t.type, t.data]));
    expect(byType.get('job.provisioned')).toMatchObject({
      reason: provisioned.reason,
      offer,
      decision: {
        rule: 'cheapest-within-deadline',
        predictedSeconds: 720,
        predictedCost: 0.017,
        alternatives: [1, 2, 3, 4, 5].map(candidate),
      },
    });
    expect(byType.get('job.provisioned')).not.toHaveProperty('decision.features');
    expect(byType.get('job.rescale_requested')).toMatchObject({
      direction: 'up',
      to: { name: 'c5.xlarge', predictedSeconds: 600 },
      alternatives: [1, 2, 3, 4, 5].map(candidate),
    });
    expect(byType.get('job.queued')).not.toHaveProperty('env');
    expect(byType.get('run.submitted')).toEqual(
      expect.objectContaining({
        jobs: [
          { id: 'job-a', name: 'train', needs: [] },
          { id: 'job-b', name: 'evaluate', needs: ['train'] },
        ],
      }),
    );
  });

  it('is the same when the log is folded again, an event seen twice listed once', () => {
    expect(runTimelines([...log, ...log]).get(RUN)).toEqual(timeline);
  });

  it('names a trial’s step and number', () => {
    const f = eventLog({ firstSeq: 0 });
    const trial = { step: 'train', index: 2, params: { LR: '0.5' }, objective: null };
    const sweep = runTimelines([
      f('run.submitted', RUN, {
        name: 'sweep',
        jobs: [plannedJob('job-t2', 'train#2', [], { trial })],
        submittedBy: null,
        origin: null,
      }),
      f('job.queued', 'job-t2', queuedJob({ runId: RUN, name: 'train#2', trial })),
      f('job.cancelled', 'job-t2', {
        reason: 'stopped early',
        earlyStopped: {
          rule: 'median',
          objective: { metric: 'loss', mode: 'min' },
          step: 1,
          value: 0.9,
          threshold: 0.5,
          compared: 1,
        },
      }),
    ]).get(RUN);
    expect(sweep?.slice(1).map((t) => [t.step, t.trial, t.summary])).toEqual([
      ['train', 2, "'train#2' queued (trial 2: LR=0.5)"],
      [
        'train',
        2,
        "'train#2' stopped early by the median rule: loss 0.9 at step 1, threshold 0.5 (1 trials compared)",
      ],
    ]);
  });

  it('says when a retry is scheduled, how long it waits, and when it is queued again', () => {
    const retry = e('job.retry_scheduled', 'job-a', {
      reason: 'nonzero_exit',
      message: 'exited with code 1',
      exitCode: 1,
      signal: null,
      durationMs: 500,
      lastLines: [],
      attempt: 1,
      retry: 1,
      delayMs: 5_000,
    });
    expect(timelineSummary(retry, 'fetch')).toBe(
      "'fetch' attempt 1 failed (nonzero_exit): exited with code 1; retry 1 in 5 s",
    );
    expect(timelineSummary(e('job.requeued', 'job-a', { retry: 1 }), 'fetch')).toBe(
      "'fetch' queued again for retry 1",
    );
  });

  it('lists an event type it does not know, with a sentence made from its type', () => {
    const known = e('job.succeeded', 'job-a', {
      exitCode: 0,
      durationMs: 1,
      outputs: [],
      attempt: 1,
    });
    const teleported = {
      ...known,
      type: 'job.teleported',
      data: { attempt: 1, to: 'mars' },
    } as unknown as StoredEvent;
    const entry = timelineEntry(teleported, {
      runId: RUN,
      name: 'train',
      step: 'train',
      trial: null,
    });
    expect(entry).toMatchObject({
      runId: RUN,
      type: 'job.teleported',
      jobId: 'job-a',
      attempt: 1,
      summary: "'train' teleported",
      data: { to: 'mars' },
    });
    const extended = { ...submitted, type: 'run.deadline_extended', data: {} };
    expect(timelineSummary(extended as unknown as StoredEvent, null)).toBe('Run deadline extended');
  });

  it('says which earlier job a reused job took its result from, and what it saved', () => {
    const reused = eventLog({ firstSeq: 0 })('job.reused', 'job-a', {
      runId: RUN,
      name: 'train',
      command: ['train'],
      env: { SECRETISH: 'x' },
      inputs: [],
      outputs: [{ fileset: 'model', version: 4 }],
      signature: {
        sha256: 'a'.repeat(64),
        parts: { argv: ['train'], code: [], parameters: {}, secrets: {}, inputs: [], outputs: [] },
        complete: true,
      },
      from: { jobId: 'job-z', runId: 'run-z', savedSeconds: 95, savedCost: null },
      reason: 'same signature',
    });
    const entry = timelineEntry(reused, { runId: RUN, name: 'train', step: 'train', trial: null });
    expect(entry?.summary).toBe(
      "'train' reused the result of job job-z, taking model v4 (saved 95 s)",
    );
    expect(entry?.data).not.toHaveProperty('env');
  });

  it('leaves out events of no run it knows', () => {
    const f = eventLog({ firstSeq: 0 });
    const waiting = f('profile.job_waiting', 'profile-x', { jobId: 'job-unknown' });
    expect(timelineEntry(waiting, undefined)).toBeNull();
  });
});
