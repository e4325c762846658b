import { beforeEach, describe, expect, it } from '@jest/globals';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { JOB, type WorkAssignment } from '@acai/contracts';
import { aggregateRepository, type WorkLease } from '@acai/eventing';
import { InMemoryEventLog } from '@acai/eventing/testing';
import { jobDecider } from '@acai/runs';
import { JobAttempts } from './attempts.js';

const PROJECT = 'p1';
const JOB_ID = 'job-1';
const Jobs = aggregateRepository(JOB, jobDecider);

/** A work lease as the queue hands it out, remembering how it was settled. */
/** A work lease: its first delivery, or (`deliveries` > 1) a redelivery after an executor was lost. */
function leaseOf(work: WorkAssignment, deliveries = 1): WorkLease & { settled: string | null } {
  const lease = {
    work,
    deliveries,
    trace: ROOT_CONTEXT,
    settled: null as string | null,
    complete: async () => {
      lease.settled = 'completed';
    },
    release: () => {
      lease.settled = 'released';
    },
    abandon: () => {
      lease.settled = 'abandoned';
    },
  };
  return lease;
}

/**
 * The job-attempt protocol every executor follows, on an in-memory log: the job is queued and
 * dispatched (as the scheduler does), then executors begin and end attempts at it.
 */
describe('job attempts', () => {
  let log: InMemoryEventLog;
  let attempts: JobAttempts;
  let work: WorkAssignment;

  beforeEach(async () => {
    log = new InMemoryEventLog('executor');
    attempts = new JobAttempts(new Jobs(log));
    const ref = { project: PROJECT, aggregate: JOB, id: JOB_ID };
    await log.seed(ref, [
      {
        type: 'job.queued',
        data: {
          runId: 'run-1',
          name: 'train',
          command: ['python', 'train.py'],
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
      },
      { type: 'job.dispatched', data: { pool: 'local', attempt: 1 } },
    ]);
    work = {
      project: PROJECT,
      runId: 'run-1',
      jobId: JOB_ID,
      name: 'train',
      attempt: 1,
      dispatchedSeq: log.lastSeq,
      command: ['python', 'train.py'],
      env: {},
      resources: { cpu: 1, memoryMb: 512 },
      inputs: [],
      outputs: [],
      timeoutSeconds: null,
      network: 'default',
      secrets: {},
      retries: null,
      code: null,
      retry: 0,
      checkpoint: null,
    };
  });

  it('records the end of the attempt that owns the job', async () => {
    const attempt = await attempts.begin(leaseOf(work), { executor: 'node-a', pool: 'local' });
    expect(attempt?.number).toBe(1);
    expect(await attempt!.owns()).toBe(true);
    // On real time, its start says nothing of its clock.
    expect(log.ofType('job.started')[0]!.data.clock).toBeUndefined();

    const end = await attempt!.end({ ok: true, durationMs: 20, outputs: [] });

    expect(end).toBe('succeeded');
    expect(log.ofType('job.succeeded').map((e) => e.data.attempt)).toEqual([1]);
  });

  it('says in the start how fast the executor’s clock runs when it is not real time', async () => {
    // Given an executor whose clock runs 3600 times as fast as real time (a simulated node's)
    const virtualStart = new Date('2026-12-06T00:00:00.000Z');
    const simulated = new JobAttempts(new Jobs(log), undefined, () => virtualStart, 3600);

    // When it begins an attempt
    const before = Date.now();
    await simulated.begin(leaseOf(work), { executor: 'sim-1', pool: 'sim' });

    // Then the start has the time by its clock, and the rate and real instant that map it
    const started = log.ofType('job.started')[0]!.data;
    expect(started).toMatchObject({ at: virtualStart.toISOString(), clock: { rate: 3600 } });
    expect(Date.parse(started.clock!.realAt)).toBeGreaterThanOrEqual(before);
  });

  it('tells an attempt it lost the job when another executor took it, whatever its cache says', async () => {
    // Two executors, each with its own cache of the job, on one log.
    const late = await attempts.begin(leaseOf(work), { executor: 'node-a', pool: 'local' });
    const elsewhere = new JobAttempts(new Jobs(log));
    const current = await elsewhere.begin(leaseOf(work, 2), { executor: 'node-b', pool: 'local' });
    expect([late?.number, current?.number]).toEqual([1, 2]);

    expect(await late!.owns()).toBe(false);
    expect(await current!.owns()).toBe(true);
    expect(await late!.end({ ok: true, durationMs: 20, outputs: [] })).toBe('superseded');
    expect(await current!.end({ ok: true, durationMs: 20, outputs: [] })).toBe('succeeded');
    expect(log.ofType('job.succeeded').map((e) => e.data.attempt)).toEqual([2]);
  });

  it('tells an attempt where it stands before it commits: owner, superseded, or how the job ended', async () => {
    const late = await attempts.begin(leaseOf(work), { executor: 'node-a', pool: 'local' });
    expect(await late!.standing()).toBe('owner');
    const current = await attempts.begin(leaseOf(work, 2), { executor: 'node-b', pool: 'local' });

    expect(await late!.standing()).toBe('superseded');
    expect(await current!.standing()).toBe('owner');
    await log.seed({ project: PROJECT, aggregate: JOB, id: JOB_ID }, [
      { type: 'job.cancelled', data: { reason: 'the run was cancelled' } },
    ]);
    expect(await current!.standing()).toBe('cancelled');
  });

  it('takes an ended attempt’s work off the queue, but lets a superseded one go without settling the newer delivery', async () => {
    const lateLease = leaseOf(work);
    const currentLease = leaseOf(work, 2);
    const late = await attempts.begin(lateLease, { executor: 'node-a', pool: 'local' });
    const current = await attempts.begin(currentLease, { executor: 'node-b', pool: 'local' });

    const lateEnd = await late!.end({ ok: true, durationMs: 20, outputs: [] });
    await late!.letGo(lateEnd);
    // An acknowledgement of node-a's delivery would settle node-b's: if node-b died, nothing
    // would run the job again.
    expect(lateLease.settled).toBe('abandoned');

    await current!.letGo(await current!.end({ ok: true, durationMs: 30, outputs: [] }));
    expect(currentLease.settled).toBe('completed');
  });

  it('lets a late attempt settle nothing once the work ran again elsewhere', async () => {
    // node-a took the work, then was thought lost: JetStream handed the same work to node-b.
    const late = await attempts.begin(leaseOf(work), { executor: 'node-a', pool: 'local' });
    const current = await attempts.begin(leaseOf(work, 2), { executor: 'node-b', pool: 'local' });
    expect([late?.number, current?.number]).toEqual([1, 2]);

    expect(await late!.owns()).toBe(false);
    expect(await late!.end({ ok: true, durationMs: 20, outputs: [] })).toBe('superseded');
    expect(
      await late!.end({
        ok: false,
        failure: {
          reason: 'nonzero_exit',
          message: 'the process exited with code 1',
          exitCode: 1,
          signal: null,
          durationMs: 20,
          lastLines: [],
          attempt: 1,
        },
      }),
    ).toBe('superseded');
    expect(log.typesSince(2)).toEqual(['job.started', 'job.started']);

    expect(await current!.end({ ok: true, durationMs: 30, outputs: [] })).toBe('succeeded');
    expect(log.ofType('job.succeeded').map((e) => e.data.attempt)).toEqual([2]);
  });

  it('ends a failed attempt its step retries as retrying, decided from the work message as the log would, and settles its work', async () => {
    const retries = { max: 1, backoffSeconds: 5, on: ['nonzero_exit' as const] };
    const ref = { project: PROJECT, aggregate: JOB, id: 'job-2' };
    await log.seed(ref, [
      { type: 'job.queued', data: { ...queuedOf(log, JOB_ID), retries } },
      { type: 'job.dispatched', data: { pool: 'local', attempt: 1 } },
    ]);
    const retried = { ...work, jobId: 'job-2', dispatchedSeq: log.lastSeq, retries, retry: 0 };
    const lease = leaseOf(retried);
    const attempt = await attempts.begin(lease, { executor: 'node-a', pool: 'local' });
    const failure = {
      reason: 'nonzero_exit' as const,
      message: 'the process exited with code 1',
      exitCode: 1,
      signal: null,
      durationMs: 20,
      lastLines: [],
      attempt: 1,
    };

    expect(await attempt!.end({ ok: false, failure })).toBe('retrying');
    expect(await attempt!.standing()).toBe('retrying');
    await attempt!.letGo('retrying');
    expect(lease.settled).toBe('completed');
    expect(log.ofType('job.retry_scheduled').map((e) => e.data)).toEqual([
      { ...failure, retry: 1, delayMs: 5000 },
    ]);
    expect(log.ofType('job.failed')).toEqual([]);
  });

  it('does not start an older work message of a job dispatched again since (a retry)', async () => {
    await log.seed({ project: PROJECT, aggregate: JOB, id: JOB_ID }, [
      { type: 'job.dispatched', data: { pool: 'local', attempt: 2 } },
    ]);
    const stale = leaseOf(work, 2);
    expect(await attempts.begin(stale, { executor: 'node-a', pool: 'local' })).toBeUndefined();
    expect(stale.settled).toBe('completed');
    expect(log.ofType('job.started')).toEqual([]);
  });

  it('does not start a job cancelled before an executor took it, and settles its work', async () => {
    await log.seed({ project: PROJECT, aggregate: JOB, id: JOB_ID }, [
      { type: 'job.cancelled', data: { reason: 'the run was cancelled' } },
    ]);
    const lease = leaseOf(work);

    expect(await attempts.begin(lease, { executor: 'node-a', pool: 'local' })).toBeUndefined();
    expect(lease.settled).toBe('completed');
    expect(log.ofType('job.started')).toEqual([]);
  });

  it('learns of a move asked while it was not listening, and records it as rescaled', async () => {
    const attempt = await attempts.begin(leaseOf(work), { executor: 'node-a', pool: 'local' });
    expect(await attempt!.check()).toEqual({ owns: true, rescale: null });
    const to = {
      provider: 'local',
      name: 'local-2cpu-1024mb',
      vCpu: 2,
      memoryMb: 1024,
      pricePerHour: 0.07,
    };
    const config = { ...to, predictedSeconds: 10, predictedCost: 0.001, predictedFinish: null };
    await log.seed({ project: PROJECT, aggregate: JOB, id: JOB_ID }, [
      {
        type: 'job.rescale_requested',
        data: {
          attempt: 1,
          direction: 'up',
          reason: 'late',
          finishBy: null,
          maxCost: null,
          from: { ...config, name: 'local-1cpu-1024mb', vCpu: 1 },
          to: config,
          measurements: {
            step: 2,
            totalSteps: 6,
            stepsPerSecond: 0.1,
            checkpointStep: 2,
            startupSeconds: 2,
            spent: 0,
            basis: 'test',
          },
          alternatives: [],
          graceSeconds: 30,
        },
      },
    ]);
    // Its cache never saw the request: the log did.
    expect((await attempt!.check()).rescale).toMatchObject({ attempt: 1, to, graceSeconds: 30 });
    expect(await attempt!.endForRescale(1234)).toBe('rescaled');
    expect(log.ofType('job.rescaled')[0]?.data).toMatchObject({ attempt: 1, durationMs: 1234, to });
    // Queued again elsewhere: this attempt owns nothing any more.
    expect(await attempt!.check()).toEqual({ owns: false, rescale: null });
  });

  it('reports a cancelled job as cancelled to the attempt that ran it', async () => {
    const attempt = await attempts.begin(leaseOf(work), { executor: 'node-a', pool: 'local' });
    await log.seed({ project: PROJECT, aggregate: JOB, id: JOB_ID }, [
      { type: 'job.cancelled', data: { reason: 'the run was cancelled' } },
    ]);

    const end = await attempt!.end({
      ok: false,
      failure: {
        reason: 'killed',
        message: 'the process was killed by SIGTERM',
        exitCode: null,
        signal: 'SIGTERM',
        durationMs: 5,
        lastLines: [],
        attempt: 1,
      },
    });

    expect(end).toBe('cancelled');
    expect(log.ofType('job.failed')).toEqual([]);
  });

  it('drops a copy of the work of a running job (a first delivery), leaving the running attempt be', async () => {
    const running = await attempts.begin(leaseOf(work), { executor: 'node-a', pool: 'local' });
    expect(running).toBeDefined();
    const copy = leaseOf(work);
    expect(await attempts.begin(copy, { executor: 'node-b', pool: 'local' })).toBeUndefined();
    expect(copy.settled).toBe('completed');
    expect(log.ofType('job.started')).toHaveLength(1);
    expect(await running!.owns()).toBe(true);
  });

  it('asks whether the running attempt is alive: a copy while it is, a new attempt once it is not (a NATS server that lost its consumer state redelivers as if for the first time), and asks again later when it cannot tell', async () => {
    const first = await attempts.begin(leaseOf(work), { executor: 'node-a', pool: 'local' });
    expect(first?.number).toBe(1);
    let alive: boolean | undefined = true;
    const asked: unknown[][] = [];
    const nodeB = {
      executor: 'node-b',
      pool: 'local',
      holder: {
        alive: (...args: unknown[]) => {
          asked.push(args);
          return alive;
        },
        runsHere: () => false,
        retryInMs: () => 3000,
      },
    };
    // Alive: a copy, even on a redelivery.
    const copy = leaseOf(work, 2);
    expect(await attempts.begin(copy, nodeB)).toBeUndefined();
    expect(copy.settled).toBe('completed');
    expect(asked[0]?.slice(0, 2)).toEqual(['node-a', JOB_ID]);
    // Not known yet: handed back, to be asked again.
    alive = undefined;
    const unknown = leaseOf(work);
    expect(await attempts.begin(unknown, nodeB)).toBeUndefined();
    expect(unknown.settled).toBe('released');
    expect(log.ofType('job.started')).toHaveLength(1);

    alive = false;
    const back = await attempts.begin(leaseOf(work), nodeB);

    expect(back?.number).toBe(2);
    expect(log.ofType('job.started').map((e) => [e.data.executor, e.data.attempt])).toEqual([
      ['node-a', 1],
      ['node-b', 2],
    ]);
    expect(await first!.owns()).toBe(false);

    // node-b's own attempt: while node-b still runs it, a first delivery is a copy; once it runs
    // it no more (it let the work go as the bus went away), its work coming back is a new attempt.
    const own = (runsHere: boolean) => ({
      ...nodeB,
      holder: { ...nodeB.holder, runsHere: () => runsHere },
    });
    expect(await attempts.begin(leaseOf({ ...work }), own(true))).toBeUndefined();
    expect((await attempts.begin(leaseOf(work), own(false)))?.number).toBe(3);
  });
});

/** The `job.queued` data of a job seeded in the log. */
function queuedOf(log: InMemoryEventLog, jobId: string) {
  const queued = log.ofType('job.queued').find((e) => e.aggregateId === jobId);
  if (queued === undefined) throw new Error(`no job.queued of ${jobId}`);
  return queued.data;
}
