import { describe, it, expect } from '@jest/globals';
import { eventLog, plannedJob, projectEvents } from '@acai/testkit';
import type { EventData, EventType, PlannedJob, Projection, StoredEvent } from '@acai/contracts';
import { jobHistoryProjection, jobsProjection, runsProjection } from './history.projection.js';

const RUN = 'run-1';
const PREPARE = 'job-prepare';
const TRAIN = 'job-train';
const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);

const planned = (id: string, name: string, needs: string[] = []): PlannedJob =>
  plannedJob(id, name, needs, { command: ['python', `${name}.py`] });

const at = (second: number) => new Date(T0 + second * 1000).toISOString();

const failure: EventData<'job.failed'> = {
  reason: 'nonzero_exit',
  message: 'the process exited with code 3; see the last lines of its output',
  exitCode: 3,
  signal: null,
  attempt: null,
  durationMs: 2100,
  lastLines: ['ValueError: no rows'],
};

/** prepare succeeds; train (which needs prepare) fails; the run fails. Events at seq 101... */
function failingRun(): StoredEvent[] {
  const e = eventLog();
  const jobLife = (id: string, name: string) => [
    e('job.queued', id, {
      runId: RUN,
      name,
      command: ['python', `${name}.py`],
      env: {},
      resources: { cpu: 1, memoryMb: 512 },
      inputs: [],
      outputs: [],
      timeoutSeconds: null,
      network: 'default',
      secrets: {},
      provision: null,
      retries: null,
    }),
    e('job.provisioned', id, {
      provider: 'local',
      pool: 'local',
      resources: { cpu: 1, memoryMb: 512 },
      reason: 'local slot',
      offer: null,
      decision: null,
    }),
    e('job.dispatched', id, { pool: 'local', attempt: 1 }),
    e('job.started', id, { executor: 'worker-1', attempt: 1, pid: 321 }),
  ];
  return [
    e('run.submitted', RUN, {
      name: 'nightly',
      jobs: [planned(PREPARE, 'prepare'), planned(TRAIN, 'train', ['prepare'])],
      submittedBy: null,
      origin: null,
    }),
    ...jobLife(PREPARE, 'prepare'),
    e('job.succeeded', PREPARE, { exitCode: 0, durationMs: 4000, outputs: [], attempt: null }),
    e('run.job_settled', RUN, { jobId: PREPARE, name: 'prepare', outcome: 'succeeded' }),
    ...jobLife(TRAIN, 'train'),
    e('job.failed', TRAIN, failure),
    e('run.job_settled', RUN, { jobId: TRAIN, name: 'train', outcome: 'failed' }),
    e('run.failed', RUN, { reason: 'step(s) failed: train', failedJobs: [TRAIN] }),
  ];
}

/** The events of `events` up to and including the first of `type` (for `aggregateId`, if given). */
function upTo(events: StoredEvent[], type: EventType, aggregateId?: string): StoredEvent[] {
  const i = events.findIndex(
    (e) => e.type === type && (aggregateId === undefined || e.aggregateId === aggregateId),
  );
  if (i < 0) throw new Error(`no ${type} in the log`);
  return events.slice(0, i + 1);
}

describe('runsProjection', () => {
  const runOf = (events: StoredEvent[]) => projectEvents(runsProjection, events)[RUN];
  const statuses = (events: StoredEvent[]) => runOf(events)?.jobs.map((j) => j.status);

  it('files job events under their run, by correlation id', () => {
    const events = failingRun();

    expect(events.map((e) => runsProjection.keys(e))).toEqual(events.map(() => [RUN]));
    expect(runsProjection.keys({ ...events[1]!, correlationId: null })).toEqual([]);
  });

  it('creates the run queued, with every job pending', () => {
    const events = failingRun().slice(0, 1);

    expect(runOf(events)).toEqual({
      id: RUN,
      project: 'default',
      name: 'nightly',
      status: 'queued',
      createdAt: at(1),
      updatedAt: at(1),
      jobs: [
        { id: PREPARE, name: 'prepare', status: 'pending' },
        { id: TRAIN, name: 'train', status: 'pending' },
      ],
    });
  });

  it('shows the priority and maxParallel the run was given', () => {
    const [submitted] = failingRun();
    const given = {
      ...submitted!,
      data: { ...(submitted!.data as object), priority: 5, maxParallel: 2 },
    } as StoredEvent;
    expect(runOf([given])).toMatchObject({ priority: 5, maxParallel: 2 });
    // A run that gave neither shows neither (priority 0, no limit).
    expect(runOf([submitted!])).not.toHaveProperty('priority');
    expect(runOf([submitted!])).not.toHaveProperty('maxParallel');
  });

  it('stays queued until a job runs, then is running', () => {
    const events = failingRun();

    expect(runOf(upTo(events, 'job.dispatched'))?.status).toBe('queued');
    expect(statuses(upTo(events, 'job.dispatched'))).toEqual(['dispatched', 'pending']);
    expect(runOf(upTo(events, 'job.started'))?.status).toBe('running');
    expect(statuses(upTo(events, 'job.started'))).toEqual(['running', 'pending']);
    expect(runOf(upTo(events, 'job.queued', TRAIN))?.status).toBe('running');
    expect(statuses(upTo(events, 'job.queued', TRAIN))).toEqual(['succeeded', 'queued']);
  });

  it('ends failed, with each job’s final status and the time of the last change', () => {
    const events = failingRun();

    expect(runOf(events)).toMatchObject({
      status: 'failed',
      createdAt: at(1),
      updatedAt: at(events.length),
      jobs: [
        { id: PREPARE, name: 'prepare', status: 'succeeded' },
        { id: TRAIN, name: 'train', status: 'failed' },
      ],
    });
  });

  it('goes queued → running → succeeded for a run whose jobs all succeed', () => {
    const e = eventLog();
    const log = [
      e('run.submitted', RUN, {
        name: 'one',
        jobs: [planned(PREPARE, 'prepare')],
        submittedBy: null,
        origin: null,
      }),
      e('job.queued', PREPARE, {
        runId: RUN,
        name: 'prepare',
        command: ['python', 'prepare.py'],
        env: {},
        resources: { cpu: 1, memoryMb: 512 },
        inputs: [],
        outputs: [],
        timeoutSeconds: null,
        network: 'default',
        secrets: {},
        provision: null,
        retries: null,
      }),
      e('job.started', PREPARE, { executor: 'worker-1', attempt: 1, pid: null }),
      e('job.succeeded', PREPARE, { exitCode: 0, durationMs: 10, outputs: [], attempt: null }),
      e('run.job_settled', RUN, { jobId: PREPARE, name: 'prepare', outcome: 'succeeded' }),
      e('run.succeeded', RUN, {}),
    ];

    const seen = log.map((_, i) => runOf(log.slice(0, i + 1))?.status);
    expect(seen).toEqual(['queued', 'queued', 'running', 'running', 'running', 'succeeded']);
  });

  it('ignores run events that change nothing it shows', () => {
    const events = failingRun();
    const settledAt = events.findIndex((e) => e.type === 'run.job_settled');

    expect(runOf(events.slice(0, settledAt + 1))).toEqual(runOf(events.slice(0, settledAt)));
  });

  it('keeps a finished run and its settled jobs as they are when late events arrive', () => {
    const events = failingRun();
    const e = eventLog({ firstSeq: 500 });
    const late = [
      e('job.started', TRAIN, { executor: 'worker-2', attempt: 2, pid: 9 }),
      e('job.succeeded', PREPARE, { exitCode: 0, durationMs: 1, outputs: [], attempt: null }),
    ];

    const after = runOf([...events, ...late]);
    expect(after?.status).toBe('failed');
    expect(after?.jobs.map((j) => j.status)).toEqual(['succeeded', 'failed']);
  });

  it('keeps the run cancelled while the last jobs report in', () => {
    const e = eventLog();
    const log = [
      e('run.submitted', RUN, {
        name: 'nightly',
        jobs: [planned(PREPARE, 'prepare'), planned(TRAIN, 'train', ['prepare'])],
        submittedBy: null,
        origin: null,
      }),
      e('run.cancel_requested', RUN, { reason: 'superseded' }),
      e('job.cancelled', PREPARE, { reason: 'the run was cancelled' }),
      e('run.cancelled', RUN, { reason: 'cancelled on request' }),
      e('job.cancelled', TRAIN, { reason: 'the run was cancelled' }),
    ];

    expect(runOf(log)).toMatchObject({
      status: 'cancelled',
      jobs: [{ status: 'cancelled' }, { status: 'cancelled' }],
    });
  });

  it('makes no document for a run it never saw submitted', () => {
    const events = failingRun().slice(1);

    expect(projectEvents(runsProjection, events)).toEqual({});
  });
});

describe('jobsProjection', () => {
  const jobsOf = (events: StoredEvent[]) => projectEvents(jobsProjection, events);

  it('makes a document for each job of a submitted run, and none for other run events', () => {
    const [submitted, ...rest] = failingRun();

    expect(jobsProjection.keys(submitted!)).toEqual([PREPARE, TRAIN]);
    expect(rest.filter((e) => e.aggregate === 'run').map((e) => jobsProjection.keys(e))).toEqual([
      [],
      [],
      [],
    ]);
    expect(jobsOf([submitted!])[TRAIN]).toEqual({
      id: TRAIN,
      project: 'default',
      runId: RUN,
      name: 'train',
      status: 'pending',
      command: ['python', 'train.py'],
      attempt: 0,
      pool: null,
      exitCode: null,
      reason: null,
      message: null,
      checkpoint: null,
      createdAt: at(1),
      updatedAt: at(1),
    });
  });

  it('follows a job through each status, with its pool and attempt', () => {
    const events = failingRun();
    const prepareStatus = (type: EventType) => jobsOf(upTo(events, type, PREPARE))[PREPARE];

    expect(prepareStatus('job.queued')).toMatchObject({ status: 'queued', pool: null, attempt: 0 });
    expect(prepareStatus('job.provisioned')).toMatchObject({ status: 'provisioned', pool: null });
    expect(prepareStatus('job.dispatched')).toMatchObject({
      status: 'dispatched',
      pool: 'local',
      attempt: 1,
    });
    expect(prepareStatus('job.started')).toMatchObject({ status: 'running', attempt: 1 });
    expect(prepareStatus('job.succeeded')).toMatchObject({
      status: 'succeeded',
      exitCode: 0,
      reason: null,
      message: null,
      checkpoint: null,
      updatedAt: at(6),
    });
  });

  it('records why a job failed: exit code, reason and message', () => {
    const train = jobsOf(failingRun())[TRAIN];

    expect(train).toMatchObject({
      status: 'failed',
      exitCode: 3,
      reason: 'nonzero_exit',
      message: 'the process exited with code 3; see the last lines of its output',
      attempt: 1,
      pool: 'local',
      createdAt: at(1),
      updatedAt: at(12),
    });
  });

  it('records a cancelled job with the reason it was cancelled', () => {
    const e = eventLog();
    const log = [
      e('run.submitted', RUN, {
        name: 'nightly',
        jobs: [planned(PREPARE, 'prepare')],
        submittedBy: null,
        origin: null,
      }),
      e('job.cancelled', PREPARE, { reason: 'a step it needs did not succeed' }),
    ];

    expect(jobsOf(log)[PREPARE]).toMatchObject({
      status: 'cancelled',
      exitCode: null,
      reason: 'cancelled',
      message: 'a step it needs did not succeed',
      updatedAt: at(2),
    });
  });

  it('keeps a settled job as it is when late events arrive', () => {
    const events = failingRun();
    const e = eventLog({ firstSeq: 500 });
    const late = [
      e('job.started', TRAIN, { executor: 'worker-2', attempt: 2, pid: 9 }),
      e('job.succeeded', TRAIN, { exitCode: 0, durationMs: 1, outputs: [], attempt: null }),
      e('job.cancelled', PREPARE, { reason: 'the run was cancelled' }),
    ];

    expect(jobsOf([...events, ...late])).toEqual(jobsOf(events));
  });

  it('makes no document for a job of a run it never saw submitted', () => {
    const events = failingRun().filter((e) => e.type !== 'run.submitted');

    expect(jobsOf(events)).toEqual({});
  });
});

describe('jobHistoryProjection', () => {
  it('lists every event of a job, in log order, with its sequence', () => {
    const events = failingRun();
    const history = projectEvents(jobHistoryProjection, events);

    expect(Object.keys(history).sort()).toEqual([PREPARE, TRAIN].sort());
    expect(history[TRAIN]?.project).toBe('default');
    expect(history[TRAIN]?.entries.map((h) => [h.seq, h.type])).toEqual([
      [108, 'job.queued'],
      [109, 'job.provisioned'],
      [110, 'job.dispatched'],
      [111, 'job.started'],
      [112, 'job.failed'],
    ]);
    expect(history[TRAIN]?.entries.at(-1)).toEqual({
      seq: 112,
      type: 'job.failed',
      version: 1,
      time: at(12),
      data: failure,
    });
  });

  it('ignores run events', () => {
    const runEvents = failingRun().filter((e) => e.aggregate === 'run');

    expect(runEvents.map((e) => jobHistoryProjection.keys(e))).toEqual(runEvents.map(() => []));
  });
});

describe('replay', () => {
  it('builds the same documents every time the same events are folded from scratch', () => {
    const projections = [runsProjection, jobsProjection, jobHistoryProjection] as const;
    for (const projection of projections) {
      const first = projectEvents<unknown>(projection as Projection<unknown>, failingRun());
      const second = projectEvents<unknown>(projection as Projection<unknown>, failingRun());

      expect(Object.keys(first).length).toBeGreaterThan(0);
      expect(second).toEqual(first);
      expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    }
  });
});

describe('runs projection, cancelled before anything ran', () => {
  it('stays queued until the run is cancelled, and late events do not move updatedAt', () => {
    const e = eventLog();
    const submitted = e('run.submitted', RUN, {
      name: 'nightly',
      jobs: [planned(PREPARE, 'prepare')],
      submittedBy: null,
      origin: null,
    });
    const jobCancelled = e('job.cancelled', PREPARE, { reason: 'the run was cancelled' });
    const afterCancel = projectEvents(runsProjection, [submitted, jobCancelled])[RUN]!;
    expect(afterCancel.status).toBe('queued');
    expect(afterCancel.jobs[0]!.status).toBe('cancelled');

    const late = e('job.started', PREPARE, { executor: 'x', attempt: 1, pid: 1 });
    const afterLate = projectEvents(runsProjection, [submitted, jobCancelled, late])[RUN]!;
    expect(afterLate).toEqual(afterCancel);

    const runCancelled = e('run.cancelled', RUN, { reason: 'superseded' });
    expect(
      projectEvents(runsProjection, [submitted, jobCancelled, runCancelled])[RUN]!.status,
    ).toBe('cancelled');
  });
});

describe('retries and skipped jobs in the views', () => {
  it('shows a job waiting for its retry as retrying, with the failure, then its next attempt; a skipped one with why', () => {
    const e = eventLog();
    const log = [
      e('run.submitted', RUN, {
        name: 'retried',
        jobs: [planned(PREPARE, 'prepare'), planned(TRAIN, 'train', ['prepare'])],
        submittedBy: null,
        origin: null,
      }),
      e('job.queued', PREPARE, {
        runId: RUN,
        name: 'prepare',
        command: ['python', 'prepare.py'],
        env: {},
        resources: { cpu: 1, memoryMb: 512 },
        inputs: [],
        outputs: [],
        timeoutSeconds: null,
        network: 'default',
        secrets: {},
        provision: null,
        retries: { max: 1, backoffSeconds: 2, on: ['nonzero_exit'] },
      }),
      e('job.dispatched', PREPARE, { pool: 'local', attempt: 1 }),
      e('job.started', PREPARE, { executor: 'worker-1', attempt: 1, pid: null }),
      e('job.retry_scheduled', PREPARE, { ...failure, attempt: 1, retry: 1, delayMs: 2000 }),
    ];
    const waiting = projectEvents(jobsProjection, log)[PREPARE]!;
    expect([waiting.status, waiting.reason, waiting.attempt]).toEqual([
      'retrying',
      'nonzero_exit',
      1,
    ]);
    expect(waiting.message).toBe(`${failure.message} (retry 1 in 2 s)`);
    expect(projectEvents(runsProjection, log)[RUN]!.status).toBe('running');

    const again = [
      ...log,
      e('job.requeued', PREPARE, { retry: 1 }),
      e('job.dispatched', PREPARE, { pool: 'local', attempt: 2 }),
      e('job.started', PREPARE, { executor: 'worker-1', attempt: 2, pid: null }),
      e('job.failed', PREPARE, { ...failure, attempt: 2 }),
      e('run.job_settled', RUN, { jobId: PREPARE, name: 'prepare', outcome: 'failed' }),
      e('job.skipped', TRAIN, {
        reason: "step 'prepare', which it needs, failed",
        step: 'prepare',
      }),
      e('run.job_settled', RUN, { jobId: TRAIN, name: 'train', outcome: 'skipped' }),
      e('run.failed', RUN, { reason: 'step(s) failed: prepare', failedJobs: [PREPARE] }),
      // A late event of a skipped job changes nothing.
      e('job.cancelled', TRAIN, { reason: 'the run was cancelled' }),
    ];
    const requeued = projectEvents(jobsProjection, again.slice(0, log.length + 1))[PREPARE]!;
    expect([requeued.status, requeued.reason, requeued.message]).toEqual(['queued', null, null]);
    const jobs = projectEvents(jobsProjection, again);
    expect([jobs[PREPARE]!.status, jobs[PREPARE]!.attempt]).toEqual(['failed', 2]);
    expect([jobs[TRAIN]!.status, jobs[TRAIN]!.reason, jobs[TRAIN]!.message]).toEqual([
      'skipped',
      'skipped',
      "step 'prepare', which it needs, failed",
    ]);
    const run = projectEvents(runsProjection, again)[RUN]!;
    expect(run.status).toBe('failed');
    expect(run.jobs.map((j) => j.status)).toEqual(['failed', 'skipped']);
  });
});

describe('runs: a run with a deadline and budget', () => {
  const e = eventLog();
  const limits = {
    deadline: at(3600),
    deadlineSpec: '1h',
    budget: 0.1,
    predictedFinish: at(1800),
    predictedCost: 0.06,
    cheapestCost: 0.02,
  };
  const events = [
    e('run.submitted', RUN, {
      name: 'nightly',
      jobs: [planned(PREPARE, 'prepare'), planned(TRAIN, 'train', ['prepare'])],
      submittedBy: null,
      origin: null,
      limits,
    }),
    e('run.step_budgeted', RUN, {
      jobId: PREPARE,
      name: 'prepare',
      share: { maxSeconds: 1200, maxCost: 0.05, optimize: null, reason: "step 'prepare': …" },
      remainingSeconds: 3600,
      remainingBudget: 0.1,
      spent: 0,
      reserved: 0,
      predictedSeconds: 600,
      predictedCost: 0.03,
      runPredictedFinish: at(2000),
      runPredictedCost: 0.07,
    }),
    e('run.job_cost_measured', RUN, { jobId: PREPARE, name: 'prepare', seconds: 900, cost: 0.09 }),
    e('run.job_settled', RUN, { jobId: PREPARE, name: 'prepare', outcome: 'succeeded' }),
    e('run.budget_exhausted', RUN, {
      jobId: TRAIN,
      name: 'train',
      budget: 0.1,
      spent: 0.09,
      reserved: 0,
      remainingBudget: 0.01,
      cheapestCost: 0.03,
      reason: "budget exhausted: step 'train' costs at least $0.03",
    }),
  ];

  it('shows the deadline and budget, what was spent, the latest prediction, and why the budget ran out', () => {
    expect(projectEvents(runsProjection, events)[RUN]!.limits).toEqual({
      deadline: at(3600),
      budget: 0.1,
      spent: 0.09,
      predictedFinish: at(2000),
      predictedCost: 0.07,
      budgetExhausted: "budget exhausted: step 'train' costs at least $0.03",
    });
  });

  it('shows no limits for a run without them', () => {
    expect(projectEvents(runsProjection, failingRun())[RUN]!).not.toHaveProperty('limits');
  });
});
