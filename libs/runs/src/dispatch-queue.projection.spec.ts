import { describe, expect, it } from '@jest/globals';
import type { EventData, EventType, StoredEvent } from '@acai/contracts';
import { projectEvents } from '@acai/testkit';
import { dispatchQueueProjection } from './dispatch-queue.projection.js';

const T0 = Date.UTC(2026, 11, 4, 9, 0, 0);

/** Stored events, a second apart, at increasing stream sequences. */
function eventLog() {
  let seq = 100;
  return <T extends EventType>(
    type: T,
    jobId: string,
    data: EventData<T>,
    project = 'default',
  ): StoredEvent => {
    seq += 1;
    return {
      id: `evt-${seq}`,
      type,
      version: 1,
      project,
      aggregate: 'job',
      aggregateId: jobId,
      occurredAt: new Date(T0 + (seq - 100) * 1000).toISOString(),
      causationId: null,
      correlationId: 'run-1',
      data,
      position: { stream: 'ACAI_EVENTS', subject: `acai.evt.${project}.job.${jobId}`, seq },
    } as StoredEvent;
  };
}

const queued = (more: Partial<EventData<'job.queued'>> = {}): EventData<'job.queued'> => ({
  runId: 'run-1',
  name: 'train',
  command: ['train'],
  env: {},
  resources: { cpu: 1, memoryMb: 512 },
  inputs: [],
  outputs: [],
  timeoutSeconds: null,
  provision: null,
  network: 'default',
  secrets: {},
  retries: null,
  ...more,
});

const provisioned = (pool = 'local'): EventData<'job.provisioned'> => ({
  provider: 'local',
  pool,
  resources: { cpu: 1, memoryMb: 512 },
  reason: 'as requested',
  offer: null,
  decision: null,
});

const failure = (attempt: number | null): EventData<'job.failed'> => ({
  reason: 'executor_lost',
  message: 'lost',
  exitCode: null,
  signal: null,
  durationMs: null,
  lastLines: [],
  attempt,
});

describe('the dispatch-queue read model', () => {
  it('holds a placed job as waiting, in the order of its placement, with its run’s priority and limit', () => {
    const e = eventLog();
    const log = [
      e('job.queued', 'job-a', queued({ priority: 7, maxParallel: 3 })),
      e('job.provisioned', 'job-a', provisioned()),
    ];
    expect(projectEvents(dispatchQueueProjection, log)).toEqual({
      'job-a': {
        project: 'default',
        jobId: 'job-a',
        runId: 'run-1',
        priority: 7,
        maxParallel: 3,
        state: 'waiting',
        pool: 'local',
        provider: 'local',
        placedSeq: 102,
        placedBy: 'evt-102',
        placedAt: new Date(T0 + 2000).toISOString(),
      },
    });
  });

  it('reads a job queued before runs had priorities as priority 0 with no limit, and is not placed until provisioned', () => {
    const e = eventLog();
    const docs = projectEvents(dispatchQueueProjection, [e('job.queued', 'job-a', queued())]);
    expect(docs['job-a']).toMatchObject({
      state: 'queued',
      priority: 0,
      maxParallel: null,
      pool: null,
    });
  });

  it('counts a job out from its dispatch through its run, and forgets it once it ends, however it ends', () => {
    const e = eventLog();
    const placed = [
      e('job.queued', 'job-a', queued()),
      e('job.provisioned', 'job-a', provisioned()),
    ];
    const dispatched = [...placed, e('job.dispatched', 'job-a', { pool: 'local', attempt: 1 })];
    expect(projectEvents(dispatchQueueProjection, dispatched)['job-a']?.state).toBe('out');
    const running = [
      ...dispatched,
      e('job.started', 'job-a', { executor: 'n', attempt: 1, pid: 1 }),
    ];
    expect(projectEvents(dispatchQueueProjection, running)['job-a']?.state).toBe('out');
    const ends = [
      e('job.succeeded', 'job-a', { exitCode: 0, durationMs: 1, outputs: [], attempt: 1 }),
      e('job.failed', 'job-a', failure(1)),
      e('job.cancelled', 'job-a', { reason: 'asked' }),
      e('job.skipped', 'job-a', { reason: 'needs failed', step: 'etl' }),
    ];
    for (const end of ends)
      expect(projectEvents(dispatchQueueProjection, [...running, end])).toEqual({});
    // Cancelled while it waited: gone too.
    expect(
      projectEvents(dispatchQueueProjection, [
        ...placed,
        e('job.cancelled', 'job-a', { reason: 'asked' }),
      ]),
    ).toEqual({});
  });

  it('takes a retried job out of the count while it waits for its retry, and places it again behind the jobs placed meanwhile', () => {
    const e = eventLog();
    const log = [
      e('job.queued', 'job-a', queued({ priority: 1 })),
      e('job.provisioned', 'job-a', provisioned()),
      e('job.dispatched', 'job-a', { pool: 'local', attempt: 1 }),
      e('job.started', 'job-a', { executor: 'n', attempt: 1, pid: 1 }),
      e('job.retry_scheduled', 'job-a', { ...failure(1), retry: 1, delayMs: 1000 }),
    ];
    expect(projectEvents(dispatchQueueProjection, log)['job-a']).toMatchObject({
      state: 'queued',
      pool: null,
      placedSeq: null,
    });
    const other = [
      e('job.queued', 'job-b', queued()),
      e('job.provisioned', 'job-b', provisioned()),
    ];
    const again = [
      e('job.requeued', 'job-a', { retry: 1 }),
      e('job.provisioned', 'job-a', provisioned('other-pool')),
    ];
    const docs = projectEvents(dispatchQueueProjection, [...log, ...other, ...again]);
    expect(docs['job-a']).toMatchObject({ state: 'waiting', pool: 'other-pool', priority: 1 });
    expect(docs['job-a']!.placedSeq).toBeGreaterThan(docs['job-b']!.placedSeq ?? Infinity);
  });

  it('ignores other aggregates and the job events that change nothing here', () => {
    const e = eventLog();
    const log = [
      e('job.queued', 'job-a', queued()),
      e('job.metrics_reported', 'job-a', {
        attempt: 1,
        points: [{ name: 'loss', value: 1, step: 1, time: new Date(T0).toISOString() }],
      }),
    ];
    expect(Object.keys(projectEvents(dispatchQueueProjection, log))).toEqual(['job-a']);
    expect(dispatchQueueProjection.keys({ ...log[0]!, aggregate: 'run' })).toEqual([]);
  });

  it('builds the same documents when the log is replayed over them (idempotent)', () => {
    const e = eventLog();
    const log = [
      e('job.queued', 'job-a', queued({ maxParallel: 2 }), 'alpha'),
      e('job.provisioned', 'job-a', provisioned(), 'alpha'),
      e('job.queued', 'job-b', queued(), 'beta'),
      e('job.provisioned', 'job-b', provisioned(), 'beta'),
      e('job.dispatched', 'job-b', { pool: 'local', attempt: 1 }, 'beta'),
      e('job.queued', 'job-c', queued(), 'beta'),
      e('job.cancelled', 'job-c', { reason: 'asked' }, 'beta'),
    ];
    expect(projectEvents(dispatchQueueProjection, log, 2)).toEqual(
      projectEvents(dispatchQueueProjection, log),
    );
    expect(
      Object.values(projectEvents(dispatchQueueProjection, log)).map((d) => [
        d.project,
        d.jobId,
        d.state,
      ]),
    ).toEqual([
      ['alpha', 'job-a', 'waiting'],
      ['beta', 'job-b', 'out'],
    ]);
  });
});
