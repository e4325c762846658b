import { describe, it, expect } from '@jest/globals';
import { RunProblems, type EventData, type NewEvent } from '@acai/contracts';
import { deciderSpec } from '@acai/testkit';
import {
  dispatchedState,
  endedAs,
  isTerminal,
  jobDecider,
  retryDelayMs,
  retryDueInMs,
  type JobCommand,
} from './job.decider.js';

const spec = deciderSpec(jobDecider);

const queuedData: EventData<'job.queued'> = {
  runId: 'run-1',
  name: 'train',
  command: ['python', 'train.py'],
  env: { SEED: '42' },
  resources: { cpu: 8, memoryMb: 4096 },
  inputs: [],
  outputs: [],
  timeoutSeconds: null,
  network: 'default',
  secrets: {},
  provision: null,
  retries: null,
};
const provisionedData: EventData<'job.provisioned'> = {
  provider: 'local',
  pool: 'local',
  resources: { cpu: 4, memoryMb: 4096 },
  reason: 'local slot: asked for 8 CPU / 4096 MiB, capped at this machine’s 4 CPU / 16000 MiB',
  offer: null,
  decision: null,
};
const failedData: EventData<'job.failed'> = {
  reason: 'nonzero_exit',
  message: 'the process exited with code 2; see the last lines of its output',
  exitCode: 2,
  signal: null,
  durationMs: 950,
  lastLines: ['Traceback (most recent call last):'],
  attempt: null,
};

const queued: NewEvent = { type: 'job.queued', data: queuedData };
const reusedData: EventData<'job.reused'> = {
  runId: queuedData.runId,
  name: queuedData.name,
  command: queuedData.command,
  env: queuedData.env,
  inputs: queuedData.inputs,
  outputs: [{ fileset: 'model', version: 3 }],
  signature: {
    sha256: 'a'.repeat(64),
    parts: {
      argv: queuedData.command,
      code: [],
      parameters: {},
      secrets: {},
      inputs: [],
      outputs: [{ fileset: 'model', path: 'outputs/model' }],
    },
    complete: true,
  },
  from: { jobId: 'job-earlier', runId: 'run-earlier', savedSeconds: 12, savedCost: null },
  reason: 'job job-earlier of run run-earlier had the same signature',
};
const reused: NewEvent = { type: 'job.reused', data: reusedData };
const provisioned: NewEvent = { type: 'job.provisioned', data: provisionedData };
const dispatched: NewEvent = { type: 'job.dispatched', data: { pool: 'local', attempt: 1 } };
const started: NewEvent = {
  type: 'job.started',
  data: { executor: 'worker-1', attempt: 1, pid: 100 },
};
const succeeded: NewEvent = {
  type: 'job.succeeded',
  data: { exitCode: 0, durationMs: 500, outputs: [], attempt: 1 },
};
const failed: NewEvent = { type: 'job.failed', data: failedData };
const metricsData: EventData<'job.metrics_reported'> = {
  attempt: 1,
  points: [{ name: 'loss', value: 0.25, step: 3, time: '2026-11-20T09:00:00.000Z' }],
};
const checkpointData: EventData<'job.checkpointed'> = {
  attempt: 1,
  fileset: 'checkpoints-job-1',
  version: 3,
  step: 2,
};
const cancelled: NewEvent = { type: 'job.cancelled', data: { reason: 'the run was cancelled' } };
const TWO_CPUS = {
  provider: 'local',
  name: 'local-2cpu-1024mb',
  vCpu: 2,
  memoryMb: 1024,
  pricePerHour: 0.09,
};
const rescaleData: EventData<'job.rescale_requested'> = {
  attempt: 1,
  direction: 'up',
  reason: 'predicted to finish 40 s after its deadline on 1 CPU; 2 CPUs finish 12 s before it',
  finishBy: '2026-11-20T09:10:00.000Z',
  maxCost: null,
  from: {
    provider: 'local',
    name: 'local-1cpu-1024mb',
    vCpu: 1,
    memoryMb: 1024,
    pricePerHour: 0.05,
    predictedSeconds: 100,
    predictedCost: 0.002,
    predictedFinish: '2026-11-20T09:10:40.000Z',
  },
  to: {
    ...TWO_CPUS,
    predictedSeconds: 48,
    predictedCost: 0.0015,
    predictedFinish: '2026-11-20T09:09:48.000Z',
  },
  measurements: {
    step: 2,
    totalSteps: 6,
    stepsPerSecond: 0.04,
    checkpointStep: 2,
    startupSeconds: 2,
    spent: 0.0007,
    basis: 'step 2 of 6: 1 step(s) in 25.0 s (0.04 steps/s)',
  },
  alternatives: [],
  graceSeconds: 30,
};
const rescaleRequested: NewEvent = { type: 'job.rescale_requested', data: rescaleData };
const RETRIES = {
  max: 2,
  backoffSeconds: 5,
  on: ['nonzero_exit' as const, 'executor_lost' as const],
};
const queuedWithRetries: NewEvent = {
  type: 'job.queued',
  data: { ...queuedData, retries: RETRIES },
};
const retryScheduled = (retry: number, attempt: number | null, delayMs: number): NewEvent => ({
  type: 'job.retry_scheduled',
  data: { ...failedData, attempt, retry, delayMs },
});
const requeued = (retry: number): NewEvent => ({ type: 'job.requeued', data: { retry } });
const skipped: NewEvent = {
  type: 'job.skipped',
  data: { reason: "step 'prepare', which it needs, failed", step: 'prepare' },
};

/** The statuses a job aggregate goes through (`pending` exists only in the read model). */
const STATUSES = [
  'none',
  'queued',
  'provisioned',
  'dispatched',
  'running',
  'retrying',
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
] as const;
type Status = (typeof STATUSES)[number];

/** A history that leaves the job in each status. */
const history: Record<Status, NewEvent[]> = {
  none: [],
  queued: [queued],
  provisioned: [queued, provisioned],
  dispatched: [queued, provisioned, dispatched],
  running: [queued, provisioned, dispatched, started],
  succeeded: [queued, provisioned, dispatched, started, succeeded],
  failed: [queued, provisioned, dispatched, started, failed],
  cancelled: [queued, cancelled],
  retrying: [queuedWithRetries, provisioned, dispatched, started, retryScheduled(1, 1, 5000)],
  skipped: [skipped],
};

const leftOut: NewEvent = {
  type: 'job.skipped',
  data: {
    reason: 'only reused steps read it',
    step: 'evaluate',
    notNeeded: { from: 'job_earlier' },
  },
};

const commands = {
  queue: { kind: 'queue', data: queuedData },
  reuse: { kind: 'reuse', data: reusedData },
  provision: { kind: 'provision', data: provisionedData },
  dispatch: { kind: 'dispatch', pool: 'local' },
  start: { kind: 'start', executor: 'worker-2', pid: 4242 },
  succeed: { kind: 'succeed', attempt: 1, durationMs: 1200, outputs: [] },
  fail: { kind: 'fail', data: failedData },
  cancel: { kind: 'cancel', reason: 'a step it needs did not succeed' },
  requeue: { kind: 'requeue', retry: 1 },
  skip: { kind: 'skip', reason: "step 'prepare', which it needs, failed", step: 'prepare' },
  leave_out: {
    kind: 'leave_out',
    reason: 'only reused steps read it',
    step: 'evaluate',
    from: 'job_earlier',
  },
  report_metrics: { kind: 'report_metrics', data: metricsData },
  record_checkpoint: { kind: 'record_checkpoint', data: checkpointData },
  request_rescale: { kind: 'request_rescale', data: rescaleData },
  end_for_rescale: { kind: 'end_for_rescale', attempt: 1, durationMs: 50_000 },
  stop_early: {
    kind: 'stop_early',
    decision: {
      rule: 'median',
      step: 3,
      value: 0.9,
      threshold: 0.5,
      compared: 3,
      reason: 'hopeless',
    },
  },
} satisfies Record<JobCommand['kind'], JobCommand>;

const CANNOT_START = RunProblems.JOB_CANNOT_START;
const CANCELLED_FIRST = RunProblems.JOB_CANCELLED_BEFORE_START;
type Refused = typeof CANNOT_START | typeof CANCELLED_FIRST;
const nothing: NewEvent[] = [];

/**
 * What each command decides in each status: the events, or the problem it is refused with. A job that
 * was never queued can fail: the scheduler fails it when its inputs cannot be found.
 */
const table: Record<keyof typeof commands, Partial<Record<Status, NewEvent[] | Refused>>> = {
  // A job that is not a sweep trial is never stopped early (the trials are in their own tests).
  stop_early: {
    none: nothing,
    queued: nothing,
    provisioned: nothing,
    dispatched: nothing,
    running: nothing,
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    retrying: nothing,
    skipped: nothing,
  },
  queue: {
    none: [queued],
    queued: nothing,
    provisioned: nothing,
    dispatched: nothing,
    running: nothing,
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    retrying: nothing,
    skipped: nothing,
  },
  // In place of queueing: only a job nothing was decided for yet.
  reuse: {
    none: [reused],
    queued: nothing,
    provisioned: nothing,
    dispatched: nothing,
    running: nothing,
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    retrying: nothing,
    skipped: nothing,
  },
  provision: {
    none: nothing,
    queued: [provisioned],
    provisioned: nothing,
    dispatched: nothing,
    running: nothing,
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    retrying: nothing,
    skipped: nothing,
  },
  dispatch: {
    none: nothing,
    queued: nothing,
    provisioned: [dispatched],
    dispatched: nothing,
    running: nothing,
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    retrying: nothing,
    skipped: nothing,
  },
  start: {
    none: CANNOT_START,
    queued: CANNOT_START,
    provisioned: CANNOT_START,
    dispatched: [{ type: 'job.started', data: { executor: 'worker-2', attempt: 1, pid: 4242 } }],
    running: [{ type: 'job.started', data: { executor: 'worker-2', attempt: 2, pid: 4242 } }],
    succeeded: nothing,
    failed: nothing,
    cancelled: CANCELLED_FIRST,
    retrying: CANNOT_START,
    skipped: nothing,
  },
  succeed: {
    none: nothing,
    queued: nothing,
    provisioned: nothing,
    dispatched: nothing,
    running: [
      { type: 'job.succeeded', data: { exitCode: 0, durationMs: 1200, outputs: [], attempt: 1 } },
    ],
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    retrying: nothing,
    skipped: nothing,
  },
  fail: {
    none: [failed],
    queued: [failed],
    provisioned: [failed],
    dispatched: [failed],
    running: [failed],
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    retrying: nothing,
    skipped: nothing,
  },
  report_metrics: {
    none: nothing,
    queued: nothing,
    dispatched: nothing,
    running: [{ type: 'job.metrics_reported', data: metricsData }],
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    retrying: nothing,
    skipped: nothing,
  },
  request_rescale: {
    none: nothing,
    queued: nothing,
    provisioned: nothing,
    dispatched: nothing,
    running: [rescaleRequested],
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    retrying: nothing,
    skipped: nothing,
  },
  // Nothing was asked: there is no move to make.
  end_for_rescale: {
    none: nothing,
    queued: nothing,
    provisioned: nothing,
    dispatched: nothing,
    running: nothing,
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    retrying: nothing,
    skipped: nothing,
  },
  record_checkpoint: {
    none: nothing,
    queued: nothing,
    dispatched: nothing,
    running: [{ type: 'job.checkpointed', data: checkpointData }],
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    retrying: nothing,
    skipped: nothing,
  },
  cancel: {
    none: [{ type: 'job.cancelled', data: { reason: 'a step it needs did not succeed' } }],
    queued: [{ type: 'job.cancelled', data: { reason: 'a step it needs did not succeed' } }],
    provisioned: [{ type: 'job.cancelled', data: { reason: 'a step it needs did not succeed' } }],
    dispatched: [{ type: 'job.cancelled', data: { reason: 'a step it needs did not succeed' } }],
    running: [{ type: 'job.cancelled', data: { reason: 'a step it needs did not succeed' } }],
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    retrying: [{ type: 'job.cancelled', data: { reason: 'a step it needs did not succeed' } }],
    skipped: nothing,
  },
  requeue: {
    none: nothing,
    queued: nothing,
    provisioned: nothing,
    dispatched: nothing,
    running: nothing,
    retrying: [requeued(1)],
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    skipped: nothing,
  },
  // Left out by its run's reuse plan: only a job never queued (one queued runs for its run).
  leave_out: {
    none: [leftOut],
    queued: nothing,
    provisioned: nothing,
    dispatched: nothing,
    running: nothing,
    retrying: nothing,
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    skipped: nothing,
  },
  skip: {
    none: [skipped],
    queued: [skipped],
    provisioned: [skipped],
    dispatched: [skipped],
    running: [skipped],
    retrying: [skipped],
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    skipped: nothing,
  },
};

const rows = Object.entries(table).flatMap(([kind, byStatus]) =>
  STATUSES.filter((status) => byStatus[status] !== undefined).map((status) => ({
    kind: kind as keyof typeof commands,
    status,
    expected: byStatus[status]!,
  })),
);

describe('jobDecider', () => {
  describe('every command in every status', () => {
    it('has a history for each status it is tested in', () => {
      for (const status of STATUSES) {
        expect(spec.given(history[status]).state.status).toBe(status);
      }
    });

    it.each(rows)('$kind when $status', ({ kind, status, expected }) => {
      const when = spec.given(history[status]).when(commands[kind]);
      if (Array.isArray(expected)) when.then(expected);
      else when.thenThrows(expected);
    });
  });

  describe('idempotency', () => {
    it('queues a job once when asked twice', () => {
      spec.given([]).when(commands.queue).then([queued]);
      spec.given([queued]).when(commands.queue).then([]);
    });

    it('records one provisioning when the queued event is delivered twice', () => {
      spec.given([queued, provisioned]).when(commands.provision).then([]);
    });

    it('settles a job once: a second outcome is ignored', () => {
      spec.given(history.succeeded).when(commands.fail).then([]);
      spec.given(history.failed).when(commands.succeed).then([]);
      spec.given(history.cancelled).when(commands.cancel).then([]);
      spec.given(history.failed).when(commands.fail).then([]);
    });
  });

  describe('retries', () => {
    const failure = (attempt: number | null, reason = failedData.reason): JobCommand => ({
      kind: 'fail',
      data: { ...failedData, reason, attempt },
    });
    const running = [queuedWithRetries, provisioned, dispatched, started];
    const secondAttempt = [
      ...running,
      retryScheduled(1, 1, 5000),
      requeued(1),
      provisioned,
      { type: 'job.dispatched', data: { pool: 'local', attempt: 2 } } as NewEvent,
      { type: 'job.started', data: { executor: 'worker-1', attempt: 2, pid: 101 } } as NewEvent,
    ];

    it('schedules a retry for a failure its policy lists, after backoffSeconds', () => {
      spec
        .given(running)
        .when(failure(1))
        .then([retryScheduled(1, 1, 5000)]);
    });

    it('doubles the wait for each retry, and fails for good once max retries are spent', () => {
      spec
        .given(secondAttempt)
        .when(failure(2))
        .then([retryScheduled(2, 2, 10_000)]);
      const third = [
        ...secondAttempt,
        retryScheduled(2, 2, 10_000),
        requeued(2),
        provisioned,
        { type: 'job.dispatched', data: { pool: 'local', attempt: 3 } } as NewEvent,
        { type: 'job.started', data: { executor: 'worker-1', attempt: 3, pid: 102 } } as NewEvent,
      ];
      spec
        .given(third)
        .when(failure(3))
        .then([{ type: 'job.failed', data: { ...failedData, attempt: 3 } }]);
    });

    it('fails at once for a reason the policy does not list, and without a policy', () => {
      spec
        .given(running)
        .when(failure(1, 'out_of_memory'))
        .then([
          { type: 'job.failed', data: { ...failedData, reason: 'out_of_memory', attempt: 1 } },
        ]);
      spec
        .given(history.running)
        .when(failure(1))
        .then([{ type: 'job.failed', data: { ...failedData, attempt: 1 } }]);
    });

    it('retries a job no configuration could be had for (no attempt ran)', () => {
      const noResources: NewEvent = {
        type: 'job.queued',
        data: { ...queuedData, retries: { max: 1, backoffSeconds: 1, on: ['no_resources'] } },
      };
      spec
        .given([noResources])
        .when(failure(null, 'no_resources'))
        .then([
          {
            type: 'job.retry_scheduled',
            data: { ...failedData, reason: 'no_resources', attempt: null, retry: 1, delayMs: 1000 },
          },
        ]);
    });

    it('decides one retry however often the failure is reported, and requeues it once', () => {
      const waiting = [...running, retryScheduled(1, 1, 5000)];
      spec.given(waiting).when(failure(1)).then([]);
      spec.given(waiting).when(failure(null, 'executor_lost')).then([]);
      spec.given(waiting).when({ kind: 'requeue', retry: 2 }).then([]);
      spec
        .given([...waiting, requeued(1)])
        .when({ kind: 'requeue', retry: 1 })
        .then([]);
      expect(spec.given([...waiting, requeued(1)]).state.status).toBe('queued');
    });

    it('dispatches the retry as the next attempt, and never starts it from the older work', () => {
      const again = [...running, retryScheduled(1, 1, 5000), requeued(1), provisioned];
      spec
        .given(again)
        .when(commands.dispatch)
        .then([{ type: 'job.dispatched', data: { pool: 'local', attempt: 2 } }]);
      const redispatched = [
        ...again,
        { type: 'job.dispatched', data: { pool: 'local', attempt: 2 } } as NewEvent,
      ];
      spec
        .given(redispatched)
        .when({ kind: 'start', executor: 'worker-2', pid: 1, dispatchedAttempt: 1 })
        .thenThrows(CANNOT_START);
      spec
        .given(redispatched)
        .when({ kind: 'start', executor: 'worker-2', pid: 1, dispatchedAttempt: 2 })
        .then([{ type: 'job.started', data: { executor: 'worker-2', attempt: 2, pid: 1 } }]);
      // Once attempt 2 runs, the older work redelivered (its executor stalled) is no lost
      // executor's work: it starts nothing; the newer work redelivered does.
      const running2 = [
        ...redispatched,
        { type: 'job.started', data: { executor: 'worker-2', attempt: 2, pid: 1 } } as NewEvent,
      ];
      spec
        .given(running2)
        .when({ kind: 'start', executor: 'worker-3', pid: 2, dispatchedAttempt: 1 })
        .thenThrows(CANNOT_START);
      spec
        .given(running2)
        .when({ kind: 'start', executor: 'worker-3', pid: 2, dispatchedAttempt: 2 })
        .then([{ type: 'job.started', data: { executor: 'worker-3', attempt: 3, pid: 2 } }]);
    });

    it('waits backoffSeconds × 2^(n-1), at most an hour', () => {
      const policy = { max: 20, backoffSeconds: 1.5, on: [] };
      expect([1, 2, 3, 4].map((n) => retryDelayMs(policy, n))).toEqual([1500, 3000, 6000, 12_000]);
      expect(retryDelayMs(policy, 20)).toBe(3_600_000);
      expect(retryDelayMs({ ...policy, backoffSeconds: 0 }, 3)).toBe(0);
    });

    it('is due once the event’s time plus its delay has passed', () => {
      const at = '2026-12-03T10:00:00.000Z';
      expect(retryDueInMs(at, 5000, new Date('2026-12-03T10:00:01.000Z'))).toBe(4000);
      expect(retryDueInMs(at, 5000, new Date('2026-12-03T10:00:05.000Z'))).toBe(0);
    });
  });

  describe('start', () => {
    it('refuses a job cancelled before it started, saying so', () => {
      spec
        .given([queued, provisioned, dispatched, cancelled])
        .when(commands.start)
        .thenThrows(CANCELLED_FIRST);

      const state = spec.given([queued, cancelled]).state;
      expect(() => jobDecider.decide(commands.start, state)).toThrow(
        'The job was cancelled before it started',
      );
    });

    it('names the status of a job that cannot start yet', () => {
      const state = spec.given([queued]).state;

      expect(() => jobDecider.decide(commands.start, state)).toThrow(
        'A job that is queued cannot start',
      );
    });

    it('counts a redelivered start as a new attempt each time', () => {
      const secondStart: NewEvent = {
        type: 'job.started',
        data: { executor: 'worker-2', attempt: 2, pid: 4242 },
      };

      spec
        .given([...history.running, secondStart])
        .when({ kind: 'start', executor: 'worker-3', pid: null })
        .then([{ type: 'job.started', data: { executor: 'worker-3', attempt: 3, pid: null } }]);
    });

    it('refuses a copy of the running work (a first delivery), and starts a redelivery', () => {
      const { state } = spec.given(history.running);
      expect(() =>
        jobDecider.decide(
          { kind: 'start', executor: 'worker-2', pid: null, firstDelivery: true },
          state,
        ),
      ).toThrow('The job runs already (attempt 1): this work message is a copy of its work');
      spec
        .given(history.running)
        .when({ kind: 'start', executor: 'worker-2', pid: null, firstDelivery: false })
        .then([{ type: 'job.started', data: { executor: 'worker-2', attempt: 2, pid: null } }]);
    });

    it('decides copy or new attempt by whether the running attempt is alive, when heartbeats tell, whichever delivery', () => {
      const { state } = spec.given(history.running);
      // Alive: a copy, even redelivered.
      expect(() =>
        jobDecider.decide(
          {
            kind: 'start',
            executor: 'worker-2',
            pid: null,
            firstDelivery: false,
            holderAlive: true,
          },
          state,
        ),
      ).toThrow('this work message is a copy of its work');
      // Not alive: a new attempt, even on a first delivery (a NATS server that lost its state).
      spec
        .given(history.running)
        .when({
          kind: 'start',
          executor: 'worker-2',
          pid: 9,
          firstDelivery: true,
          holderAlive: false,
        })
        .then([{ type: 'job.started', data: { executor: 'worker-2', attempt: 2, pid: 9 } }]);
    });

    it('starts dispatched work on its first delivery', () => {
      spec
        .given(history.dispatched)
        .when({ kind: 'start', executor: 'worker-1', pid: 7, firstDelivery: true })
        .then([{ type: 'job.started', data: { executor: 'worker-1', attempt: 1, pid: 7 } }]);
    });
  });

  describe('state', () => {
    it('starts empty', () => {
      expect(jobDecider.initialState()).toEqual({
        status: 'none',
        runId: null,
        name: null,
        command: [],
        env: {},
        resources: null,
        pool: null,
        inputs: [],
        outputs: [],
        timeoutSeconds: null,
        network: 'default',
        secrets: {},
        provision: null,
        attempt: 0,
        dispatchedAttempt: 0,
        checkpoint: null,
        retries: null,
        retry: 0,
        committed: [],
      });
    });

    it('remembers what the job runs, where, and on which attempt', () => {
      const { state } = spec.given(history.running);

      expect(state).toEqual({
        status: 'running',
        runId: 'run-1',
        name: 'train',
        command: ['python', 'train.py'],
        env: { SEED: '42' },
        resources: { cpu: 4, memoryMb: 4096 },
        pool: 'local',
        inputs: [],
        outputs: [],
        timeoutSeconds: null,
        network: 'default',
        secrets: {},
        provision: null,
        attempt: 1,
        dispatchedAttempt: 1,
        checkpoint: null,
        retries: null,
        retry: 0,
        committed: [],
        metricsBatch: 0,
        pricePerHour: null,
        trial: null,
        rescale: null,
        offer: null,
        requested: { cpu: 8, memoryMb: 4096 },
        pinned: false,
        startedAt: null,
        clock: null,
        executor: 'worker-1',
      });
    });

    it('takes the provisioned resources over the requested ones', () => {
      expect(spec.given([queued]).state.resources).toEqual({ cpu: 8, memoryMb: 4096 });
      expect(spec.given([queued, provisioned]).state.resources).toEqual({
        cpu: 4,
        memoryMb: 4096,
      });
    });

    it('says how a settled job ended: a cancel that came first wins, anything else unfinished failed', () => {
      expect(endedAs(spec.given(history.succeeded).state)).toBe('succeeded');
      expect(endedAs(spec.given([...history.running, cancelled]).state)).toBe('cancelled');
      expect(endedAs(spec.given(history.failed).state)).toBe('failed');
      expect(endedAs(spec.given(history.running).state)).toBe('failed');
    });

    it('calls succeeded, failed, cancelled and skipped terminal, and nothing else (a retrying job is not)', () => {
      expect(STATUSES.filter(isTerminal)).toEqual(['succeeded', 'failed', 'cancelled', 'skipped']);
    });

    it('remembers the versions a succeeded job committed, for the steps that take them as inputs', () => {
      const committed: NewEvent = {
        type: 'job.succeeded',
        data: {
          exitCode: 0,
          durationMs: 5,
          outputs: [{ fileset: 'data', version: 7 }],
          attempt: 1,
        },
      };
      expect(spec.given([...history.running, committed]).state.committed).toEqual([
        { fileset: 'data', version: 7 },
      ]);
    });
  });

  describe('attempts are fenced', () => {
    const restarted: NewEvent = {
      type: 'job.started',
      data: { executor: 'worker-3', attempt: 2, pid: 300 },
    };

    it('lets only the attempt that owns the job settle it: a superseded one decides nothing', () => {
      const running2 = [queued, provisioned, dispatched, started, restarted];
      // Attempt 1's executor was thought lost and its work ran again; its late ending is ignored.
      spec.given(running2).when(commands.succeed).then([]);
      spec
        .given(running2)
        .when({ kind: 'fail', data: { ...failedData, attempt: 1 } })
        .then([]);
      // An attempt's failure before its start was recorded is no failure of the job either.
      spec
        .given([queued, provisioned, dispatched])
        .when({ kind: 'fail', data: { ...failedData, attempt: 1 } })
        .then([]);
      spec
        .given(running2)
        .when({ kind: 'succeed', attempt: 2, durationMs: 80, outputs: [] })
        .then([
          { type: 'job.succeeded', data: { exitCode: 0, durationMs: 80, outputs: [], attempt: 2 } },
        ]);
      // With the load time of each input it staged.
      const loads = [{ fileset: 'raw', version: 3, ms: 12.5 }];
      spec
        .given(running2)
        .when({ kind: 'succeed', attempt: 2, durationMs: 80, outputs: [], loads })
        .then([
          {
            type: 'job.succeeded',
            data: { exitCode: 0, durationMs: 80, outputs: [], attempt: 2, loads },
          },
        ]);
    });

    it('fails a job as executor_lost for the attempt the watchdog gave up on, only while it owns the job', () => {
      const lost: EventData<'job.failed'> = {
        ...failedData,
        reason: 'executor_lost',
        message: 'executor worker-1 stopped reporting the job',
        exitCode: null,
        durationMs: null,
        lastLines: [],
        attempt: 1,
      };
      const running2 = [queued, provisioned, dispatched, started, restarted];

      spec
        .given(history.running)
        .when({ kind: 'fail', data: lost })
        .then([{ type: 'job.failed', data: lost }]);
      // Attempt 2 took over after the watchdog read attempt 1 from its read model: nothing.
      spec.given(running2).when({ kind: 'fail', data: lost }).then([]);
      // Attempt 1 ended by itself meanwhile, or the job was cancelled: nothing either.
      spec.given(history.succeeded).when({ kind: 'fail', data: lost }).then([]);
      spec
        .given([...history.running, cancelled])
        .when({ kind: 'fail', data: lost })
        .then([]);
    });

    it('records a numbered metrics batch once, however often it is sent, and numbers afresh per attempt', () => {
      const batch = (n: number, attempt = 1) => ({ ...metricsData, attempt, batch: n });
      const reported = (n: number, attempt = 1): NewEvent => ({
        type: 'job.metrics_reported',
        data: batch(n, attempt),
      });
      spec
        .given(history.running)
        .when({ kind: 'report_metrics', data: batch(1) })
        .then([reported(1)]);
      // Its answer was lost: sent again, after or before batch 2 was recorded.
      spec
        .given([...history.running, reported(1)])
        .when({ kind: 'report_metrics', data: batch(1) })
        .then([]);
      spec
        .given([...history.running, reported(1), reported(2)])
        .when({ kind: 'report_metrics', data: batch(1) })
        .then([]);
      spec
        .given([...history.running, reported(1)])
        .when({ kind: 'report_metrics', data: batch(2) })
        .then([reported(2)]);
      // A new attempt counts from 1 again.
      spec
        .given([...history.running, reported(1), reported(2), restarted])
        .when({ kind: 'report_metrics', data: batch(1, 2) })
        .then([reported(1, 2)]);
    });

    it('lets a superseded attempt neither settle the job nor take it back from the attempt that owns it', () => {
      const running2 = [queued, provisioned, dispatched, started, restarted];
      const late = spec.given(running2);

      late.when({ kind: 'succeed', attempt: 1, durationMs: 80, outputs: [] }).then([]);
      late.when({ kind: 'report_metrics', data: metricsData }).then([]);
      late.when({ kind: 'record_checkpoint', data: checkpointData }).then([]);
      // Attempt 2 owns it still, and settles it.
      expect(late.state).toMatchObject({ status: 'running', attempt: 2 });
      late
        .when({ kind: 'fail', data: { ...failedData, attempt: 2 } })
        .then([{ type: 'job.failed', data: { ...failedData, attempt: 2 } }]);
    });

    it('still fails a job no attempt ran (a missing input), whatever its status', () => {
      const noAttempt = { ...failedData, reason: 'staging_failed' as const, attempt: null };
      spec
        .given([queued])
        .when({ kind: 'fail', data: noAttempt })
        .then([{ type: 'job.failed', data: noAttempt }]);
    });
  });

  describe('metrics', () => {
    it('are dropped when they belong to an earlier attempt than the one running', () => {
      spec
        .given(history.running)
        .when({ kind: 'report_metrics', data: { ...metricsData, attempt: 2 } })
        .then([]);
    });
  });

  describe('checkpoints', () => {
    const checkpointed: NewEvent = { type: 'job.checkpointed', data: checkpointData };
    const restarted: NewEvent = {
      type: 'job.started',
      data: { executor: 'worker-2', attempt: 2, pid: null },
    };

    it('are remembered across attempts, so the next attempt starts from the last one', () => {
      const state = spec.given([...history.running, checkpointed, restarted]).state;
      expect(state.attempt).toBe(2);
      expect(state.checkpoint).toEqual({ fileset: 'checkpoints-job-1', version: 3, step: 2 });
    });

    it('reach an attempt dispatched again (a retry, a move) through its work message', () => {
      const checkpoint = { fileset: 'checkpoints-job-1', version: 3, step: 2 };
      const work = {
        project: 'p1',
        runId: 'run-1',
        jobId: 'job-1',
        name: 'train',
        attempt: 2,
        dispatchedSeq: 9,
        command: ['python', 'train.py'],
        env: {},
        resources: { cpu: 2, memoryMb: 1024 },
        inputs: [],
        outputs: [],
        timeoutSeconds: null,
        network: 'default' as const,
        secrets: {},
        retries: null,
        retry: 0,
        checkpoint,
        code: null,
      };
      expect(dispatchedState(work, 'local').checkpoint).toEqual(checkpoint);
    });

    it('of an attempt that was replaced are not recorded: a lost executor cannot move it back', () => {
      spec
        .given([...history.running, checkpointed, restarted])
        .when({ kind: 'record_checkpoint', data: { ...checkpointData, version: 2, step: 1 } })
        .then([]);
    });
  });

  describe('rescaling', () => {
    const checkpointed: NewEvent = { type: 'job.checkpointed', data: checkpointData };
    const rescaled: NewEvent = {
      type: 'job.rescaled',
      data: {
        attempt: 1,
        durationMs: 50_000,
        to: TWO_CPUS,
        checkpoint: { fileset: 'checkpoints-job-1', version: 3, step: 2 },
      },
    };

    it('is asked once of the running attempt: a decision made again asks nothing', () => {
      spec
        .given([...history.running, rescaleRequested])
        .when(commands.request_rescale)
        .then([]);
    });

    it('is not asked of an attempt that no longer runs the job', () => {
      spec
        .given(history.running)
        .when({ kind: 'request_rescale', data: { ...rescaleData, attempt: 2 } })
        .then([]);
    });

    it('queues the job again on the new configuration, from its last checkpoint', () => {
      const given = spec.given([...history.running, checkpointed, rescaleRequested]);
      given.when(commands.end_for_rescale).then([rescaled]);
      const state = spec.given([
        ...history.running,
        checkpointed,
        rescaleRequested,
        rescaled,
      ]).state;
      expect(state.status).toBe('queued');
      expect(state.pool).toBeNull();
      expect(state.resources).toEqual({ cpu: 2, memoryMb: 1024 });
      expect(state.provision).toEqual({ offer: 'local-2cpu-1024mb', providers: ['local'] });
      expect(state.rescale).toBeNull();
      expect(state.rescales).toBe(1);
      expect(state.checkpoint).toEqual({ fileset: 'checkpoints-job-1', version: 3, step: 2 });
    });

    it('counts the stopped attempt’s running time and cost', () => {
      const placed: NewEvent = {
        type: 'job.provisioned',
        data: {
          ...provisionedData,
          offer: { ...TWO_CPUS, name: 'local-1cpu-1024mb', vCpu: 1, pricePerHour: 0.036 },
        },
      };
      const state = spec.given([
        queued,
        placed,
        dispatched,
        started,
        rescaleRequested,
        rescaled,
      ]).state;
      expect(state.spent?.seconds).toBe(50);
      expect(state.spent?.cost).toBeCloseTo(0.0005, 6);
    });

    it('records the stopped attempt’s time in whole milliseconds (a virtual clock’s are not)', () => {
      const { state } = spec.given([...history.running, rescaleRequested]);
      const [event] = jobDecider.decide(
        { kind: 'end_for_rescale', attempt: 1, durationMs: 1500.4 },
        state,
      );
      expect(event?.data).toMatchObject({ durationMs: 1500 });
    });

    it('ends only the attempt it was asked of', () => {
      spec
        .given([...history.running, rescaleRequested])
        .when({ kind: 'end_for_rescale', attempt: 2, durationMs: 10 })
        .then([]);
    });

    it('a new attempt starts with nothing pending, and the last attempt’s pace until it reports', () => {
      const metrics: NewEvent = { type: 'job.metrics_reported', data: metricsData };
      const restarted: NewEvent = {
        type: 'job.started',
        data: { executor: 'worker-2', attempt: 2, pid: null },
      };
      const before = spec.given([...history.running, metrics, rescaleRequested]).state;
      expect(before.pace).toMatchObject({ attempt: 1, firstStep: 3, lastStep: 3 });
      const after = spec.given([
        ...history.running,
        metrics,
        rescaleRequested,
        rescaled,
        { type: 'job.provisioned', data: provisionedData },
        { type: 'job.dispatched', data: { pool: 'local', attempt: 2 } },
        restarted,
      ]).state;
      // Kept for its rate (the new attempt's first report is judged by it), never taken for the
      // new attempt's own: it says whose it is
      expect(after.pace).toMatchObject({ attempt: 1, firstStep: 3, lastStep: 3 });
      expect(after.rescale).toBeNull();
      expect(after.attempt).toBe(2);
    });
  });

  describe('what it cost', () => {
    it('counts an attempt lost with its executor, from its start to the next attempt’s', () => {
      const placed: NewEvent = {
        type: 'job.provisioned',
        data: {
          ...provisionedData,
          offer: {
            provider: 'ec2',
            name: 'c5.large:spot',
            vCpu: 2,
            memoryMb: 4096,
            pricePerHour: 0.036,
          },
        },
      };
      const startAt = (attempt: number, at: string): NewEvent => ({
        type: 'job.started',
        data: { executor: `node-${attempt}`, attempt, pid: null, at },
      });
      const state = spec.given([
        queued,
        placed,
        dispatched,
        startAt(1, '2026-11-20T09:00:00.000Z'),
        // Its node was reclaimed; the work was redelivered 100 s after the first start.
        startAt(2, '2026-11-20T09:01:40.000Z'),
        {
          type: 'job.succeeded',
          data: { exitCode: 0, durationMs: 50_000, outputs: [], attempt: 2 },
        },
      ]).state;
      expect(state.spent?.seconds).toBe(150);
      expect(state.spent?.cost).toBeCloseTo(0.0015, 8);
    });

    const placedAt = (at: string, pricePerHour = 0.36): NewEvent => ({
      type: 'job.provisioned',
      data: {
        ...provisionedData,
        offer: { provider: 'simulated', name: 'c5.xlarge', vCpu: 4, memoryMb: 8192, pricePerHour },
        placedAt: at,
      },
    });

    it('counts the wait from its placement to its start (the boot is billed), on its clock', () => {
      // A simulated node: its clock runs 1800x; placed at 09:00:00, started 0.1 s later in real
      // time: 180 s of the node's clock, billed at its price.
      const state = spec.given([
        queued,
        placedAt('2026-11-20T09:00:00.000Z'),
        dispatched,
        {
          type: 'job.started',
          data: {
            executor: 'sim-1',
            attempt: 1,
            pid: null,
            at: '2026-11-21T00:00:00.000Z',
            clock: { rate: 1800, realAt: '2026-11-20T09:00:00.100Z' },
          },
        },
        {
          type: 'job.succeeded',
          data: { exitCode: 0, durationMs: 3_600_000, outputs: [], attempt: 1 },
        },
      ]).state;
      expect(state.placedToStartSeconds).toBeCloseTo(180, 6);
      expect(state.spent?.seconds).toBeCloseTo(3780, 6);
      expect(state.spent?.cost).toBeCloseTo(0.378, 8);
    });

    it('counts each placement’s wait once: a lost attempt’s replacement is counted start to start', () => {
      const startAt = (attempt: number, at: string): NewEvent => ({
        type: 'job.started',
        data: { executor: `node-${attempt}`, attempt, pid: null, at },
      });
      const state = spec.given([
        queued,
        placedAt('2026-11-20T08:59:00.000Z', 0.036),
        dispatched,
        startAt(1, '2026-11-20T09:00:00.000Z'),
        startAt(2, '2026-11-20T09:01:40.000Z'),
        {
          type: 'job.succeeded',
          data: { exitCode: 0, durationMs: 50_000, outputs: [], attempt: 2 },
        },
      ]).state;
      // 60 s from placement to the first start, 100 s lost, 50 s of the attempt that succeeded.
      expect(state.spent?.seconds).toBe(210);
      expect(state.spent?.cost).toBeCloseTo(0.0021, 8);
    });
  });

  describe('pace', () => {
    const point = (name: string, value: number, step: number | null, second: number) => ({
      name,
      value,
      step,
      time: new Date(Date.UTC(2026, 10, 20, 9, 0, second)).toISOString(),
    });
    const report = (attempt: number, ...points: ReturnType<typeof point>[]): NewEvent => ({
      type: 'job.metrics_reported',
      data: { attempt, points },
    });

    it('keeps the first and last step the running attempt reported, and its declared total', () => {
      const state = spec.given([
        ...history.running,
        report(1, point('loss', 0.9, 1, 10), point('steps_total', 5, 1, 10)),
        report(1, point('loss', 0.5, 2, 20)),
        report(1, point('loss', 0.4, 3, 31), point('progress', 0.6, null, 31)),
      ]).state;
      expect(state.pace).toEqual({
        attempt: 1,
        firstStep: 1,
        firstAt: Date.UTC(2026, 10, 20, 9, 0, 10),
        lastStep: 3,
        lastAt: Date.UTC(2026, 10, 20, 9, 0, 31),
        totalSteps: 5,
      });
    });

    it('ignores the points of another attempt', () => {
      const state = spec.given([...history.running, report(2, point('loss', 0.9, 1, 10))]).state;
      expect(state.pace ?? null).toBeNull();
    });
  });

  describe('a sweep trial', () => {
    const objective = { metric: 'loss', mode: 'min' } as const;
    const trialQueued: NewEvent = {
      type: 'job.queued',
      data: {
        ...queuedData,
        name: 'train#2',
        trial: { step: 'train', index: 2, params: { LR: '0.1' }, objective },
      },
    };
    const running = [trialQueued, provisioned, dispatched, started];
    const reported = (points: { name: string; value: number; step: number | null }[]) =>
      ({
        type: 'job.metrics_reported',
        data: { attempt: 1, points: points.map((p) => ({ ...p, time: '2026-01-01T00:00:00Z' })) },
      }) satisfies NewEvent;
    const decision = {
      rule: 'median',
      step: 3,
      value: 0.9,
      threshold: 0.5,
      compared: 3,
      reason: 'stopped early by the median rule',
    } as const;

    it('keeps its objective by step, a step reported again replacing its value', () => {
      const state = spec.given([
        ...running,
        reported([
          { name: 'loss', value: 2, step: 1 },
          { name: 'accuracy', value: 0.1, step: 1 },
        ]),
        reported([
          { name: 'loss', value: 1.5, step: 2 },
          { name: 'loss', value: 1.4, step: 2 },
          { name: 'loss', value: 1.2, step: null },
        ]),
      ]).state;
      expect(state.objectiveSeries).toEqual([
        [1, 2],
        [2, 1.4],
        [3, 1.2],
      ]);
    });

    it('stopped early ends cancelled, with the rule, its value and the threshold it missed', () => {
      spec
        .given(running)
        .when({ kind: 'stop_early', decision })
        .then([
          {
            type: 'job.cancelled',
            data: {
              reason: 'stopped early by the median rule',
              earlyStopped: {
                rule: 'median',
                objective,
                step: 3,
                value: 0.9,
                threshold: 0.5,
                compared: 3,
              },
            },
          },
        ]);
    });

    it('that has ended is not stopped again', () => {
      spec
        .given([...running, { type: 'job.cancelled', data: { reason: 'x' } }])
        .when({ kind: 'stop_early', decision })
        .then([]);
    });
  });
});
