import { beforeEach, describe, expect, it } from '@jest/globals';
import { JOB, type NewEvent, type NodeHeartbeat } from '@acai/contracts';
import { silentLogger, type NodeHeartbeats } from '@acai/eventing';
import { InMemoryEventLog, RecordingJobControl } from '@acai/eventing/testing';
import { activeAttemptsProjection, type ActiveAttempt } from '@acai/runs';
import { JobRepository } from '../runs/job.repository.js';
import type { ActiveAttempts } from './active-attempts.repository.js';
import { AttemptWatchdog } from './attempt-watchdog.js';

const PROJECT = 'p1';
const RUN = 'run-1';
const JOB_ID = 'job-1';
const LOST_AFTER = 60_000;
const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);

const queued: NewEvent = {
  type: 'job.queued',
  data: {
    runId: RUN,
    name: 'train',
    command: ['sleep', '600'],
    env: {},
    resources: { cpu: 1, memoryMb: 512 },
    inputs: [],
    outputs: [],
    timeoutSeconds: null,
    network: 'default',
    secrets: {},
    provision: null,
    retries: null,
  },
};
const provisioned: NewEvent = {
  type: 'job.provisioned',
  data: {
    provider: 'local',
    pool: 'local',
    resources: { cpu: 1, memoryMb: 512 },
    reason: 'as requested',
    offer: null,
    decision: null,
  },
};
const dispatched: NewEvent = { type: 'job.dispatched', data: { pool: 'local', attempt: 1 } };
const started = (executor: string, attempt: number): NewEvent => ({
  type: 'job.started',
  data: { executor, attempt, pid: null },
});

/** Heartbeats handed over by the test. */
class FakeHeartbeats implements NodeHeartbeats {
  private handler: ((heartbeat: NodeHeartbeat) => void) | undefined;

  onHeartbeat(handler: (heartbeat: NodeHeartbeat) => void): { stop(): void } {
    this.handler = handler;
    return { stop: () => (this.handler = undefined) };
  }

  beat(executor: string, jobs: string[]): void {
    this.handler?.({
      id: executor,
      pool: 'local',
      provider: 'local',
      instanceType: null,
      cpu: 2,
      memoryMb: 4096,
      slots: 2,
      busy: jobs.length,
      jobs,
      projects: Object.fromEntries(jobs.map((j) => [j, PROJECT])),
      startedAt: new Date(T0).toISOString(),
      limits: 'none',
    });
  }
}

/**
 * The watchdog with everything in memory: the log, the job repository the scheduler shares with
 * its run workflow, the read model folded from the log (or frozen, to play one that lags), node
 * heartbeats, job control, and a clock the test moves.
 */
describe('the attempt watchdog', () => {
  let log: InMemoryEventLog;
  let heartbeats: FakeHeartbeats;
  let control: RecordingJobControl;
  let now: number;
  /** The read model as of the last `project()`. */
  let readModel: ActiveAttempt[];

  beforeEach(async () => {
    log = new InMemoryEventLog('scheduler');
    heartbeats = new FakeHeartbeats();
    control = new RecordingJobControl();
    await log.seed({ project: PROJECT, aggregate: JOB, id: JOB_ID }, [
      queued,
      provisioned,
      dispatched,
    ]);
    await log.seed({ project: PROJECT, aggregate: JOB, id: JOB_ID }, [started('node-a', 1)], RUN);
    project();
    // The in-memory log stamps events with the real time: the test's clock starts there.
    now = Date.now();
  });

  /** What the projection runner would hold now: the log folded through the projection. */
  function project(): void {
    const docs = new Map<string, ActiveAttempt>();
    for (const event of log.all()) {
      for (const key of activeAttemptsProjection.keys(event)) {
        const next = activeAttemptsProjection.evolve(docs.get(key), event, key);
        if (next === undefined) docs.delete(key);
        else docs.set(key, next);
      }
    }
    readModel = [...docs.values()];
  }

  function watchdog(): AttemptWatchdog {
    const attempts: ActiveAttempts = { list: async () => readModel };
    const dog = new AttemptWatchdog({
      attempts,
      jobs: new JobRepository(log),
      heartbeats,
      control,
      lostAfterMs: LOST_AFTER,
      logger: silentLogger,
      clock: () => now,
      // The tests check by hand, at the fake times they set: a check of its own, timed by the
      // real clock, could come between setting the time and the heartbeat that answers it.
      checkEveryMs: 2 ** 31 - 1,
    });
    dog.start();
    return dog;
  }

  it('leaves alone an attempt whose executor goes on listing it, however long it runs', async () => {
    const dog = watchdog();
    for (let i = 0; i < 10; i++) {
      now += LOST_AFTER / 2;
      heartbeats.beat('node-a', [JOB_ID]);
      expect(await dog.check()).toEqual([]);
    }
    await dog.stop();

    expect(log.ofType('job.failed')).toEqual([]);
  });

  it('fails the job as executor_lost, for that attempt, once its executor stopped listing it for the period', async () => {
    const dog = watchdog();
    now += 10_000;
    heartbeats.beat('node-a', [JOB_ID]);
    // The executor died: nothing more from it, and no other executor took the work.
    now += LOST_AFTER - 1;
    expect(await dog.check()).toEqual([]);
    now += 1;
    const given = await dog.check();
    await dog.stop();

    expect(given.map((l) => l.attempt.attempt)).toEqual([1]);
    const [failed] = log.ofType('job.failed');
    expect(failed?.data).toMatchObject({ reason: 'executor_lost', attempt: 1, exitCode: null });
    expect(failed?.data.message).toContain('executor node-a stopped reporting the job 60 s ago');
    // Caused by the start of the attempt that was lost, in its run.
    expect(failed?.causationId).toBe(log.ofType('job.started')[0]!.id);
    expect(failed?.correlationId).toBe(RUN);
    // Anything still running it is told to stop.
    expect(control.cancelled).toEqual([
      { project: PROJECT, jobId: JOB_ID, reason: 'its executor was given up for lost' },
    ]);
  });

  it('schedules a retry instead, when the step retries executor_lost, and then watches nothing', async () => {
    const other = 'job-retried';
    const ref = { project: PROJECT, aggregate: JOB, id: other };
    const retries = { max: 1, backoffSeconds: 10, on: ['executor_lost' as const] };
    await log.seed(ref, [
      { type: 'job.queued', data: { ...queued.data, retries } },
      provisioned,
      dispatched,
    ]);
    await log.seed(ref, [started('node-b', 1)], RUN);
    project();
    // That start is stamped with the real time, later than the clock set before this test: the
    // clock goes on from it (a millisecond late under load, and the attempt was not lost yet).
    now = Math.max(now, Date.now());
    const dog = watchdog();
    now += LOST_AFTER + 1;
    heartbeats.beat('node-a', [JOB_ID]);
    const given = await dog.check();
    expect(given.map((l) => l.attempt.jobId)).toEqual([other]);
    const [retry] = log.ofType('job.retry_scheduled');
    expect(retry?.data).toMatchObject({
      reason: 'executor_lost',
      attempt: 1,
      retry: 1,
      delayMs: 10_000,
    });
    expect(log.ofType('job.failed')).toEqual([]);
    project();
    expect(readModel.map((a) => a.jobId)).toEqual([JOB_ID]);
    await dog.stop();
  });

  it('counts for nothing a heartbeat of another executor listing the job', async () => {
    const dog = watchdog();
    now += LOST_AFTER;
    heartbeats.beat('node-b', [JOB_ID]);
    await dog.check();
    await dog.stop();

    expect(log.ofType('job.failed')).toHaveLength(1);
  });

  it('gives every attempt the whole period again after a restart, then fails the lost one', async () => {
    // The attempt started long before this scheduler did; what the last one heard is gone.
    now += 10 * LOST_AFTER;
    const dog = watchdog();
    expect(await dog.check()).toEqual([]);
    now += LOST_AFTER;
    await dog.check();
    await dog.stop();

    expect(log.ofType('job.failed').map((e) => e.data.attempt)).toEqual([1]);
  });

  it('fails nothing when a newer attempt took the job over after the read model was read', async () => {
    const dog = watchdog();
    // Attempt 1's executor died; its work went to node-b, whose start the read model has not yet.
    await log.seed({ project: PROJECT, aggregate: JOB, id: JOB_ID }, [started('node-b', 2)], RUN);
    now += LOST_AFTER;
    expect(await dog.check()).toEqual([]);
    expect(log.ofType('job.failed')).toEqual([]);

    // Once it has, attempt 2 is judged on node-b's heartbeats.
    project();
    heartbeats.beat('node-b', [JOB_ID]);
    now += LOST_AFTER - 1;
    expect(await dog.check()).toEqual([]);
    now += 1;
    await dog.check();
    await dog.stop();
    expect(log.ofType('job.failed').map((e) => e.data.attempt)).toEqual([2]);
  });

  it('fails nothing when the job ended after the read model was read', async () => {
    const dog = watchdog();
    await log.seed(
      { project: PROJECT, aggregate: JOB, id: JOB_ID },
      [{ type: 'job.succeeded', data: { exitCode: 0, durationMs: 5, outputs: [], attempt: 1 } }],
      RUN,
    );
    now += LOST_AFTER;
    expect(await dog.check()).toEqual([]);
    await dog.stop();

    expect(log.ofType('job.failed')).toEqual([]);
    expect(control.cancelled).toEqual([]);
  });

  it('fails a job once when two replicas give up on it at the same moment', async () => {
    const one = watchdog();
    const two = watchdog();
    now += LOST_AFTER;
    const given = await Promise.all([one.check(), two.check()]);
    await Promise.all([one.stop(), two.stop()]);

    expect(given.flat()).toHaveLength(1);
    expect(log.ofType('job.failed')).toHaveLength(1);
  });
});
