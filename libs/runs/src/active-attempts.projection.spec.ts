import { describe, expect, it } from '@jest/globals';
import { eventLog, projectEvents } from '@acai/testkit';
import type { EventData } from '@acai/contracts';
import { activeAttemptsProjection } from './active-attempts.projection.js';

const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);

/** Stored events of one run, a second apart, at increasing stream sequences. */

const failure = (attempt: number | null): EventData<'job.failed'> => ({
  reason: 'nonzero_exit',
  message: 'exit 1',
  exitCode: 1,
  signal: null,
  durationMs: 5,
  lastLines: [],
  attempt,
});

describe('the active-attempts read model', () => {
  it('lets go of an attempt that failed into a retry, and watches the next one once it starts', () => {
    const e = eventLog();
    const waiting = [
      e('job.started', 'job-a', { executor: 'node-a', attempt: 1, pid: 10 }),
      e('job.retry_scheduled', 'job-a', { ...failure(1), retry: 1, delayMs: 1000 }),
    ];
    // Nobody runs it while it waits: the watchdog must not fail it as executor_lost.
    expect(projectEvents(activeAttemptsProjection, waiting)).toEqual({});
    const again = [
      ...waiting,
      e('job.requeued', 'job-a', { retry: 1 }),
      e('job.started', 'job-a', { executor: 'node-b', attempt: 2, pid: 12 }),
    ];
    expect(projectEvents(activeAttemptsProjection, again)['job-a']).toMatchObject({
      attempt: 2,
      executor: 'node-b',
    });
  });

  it('holds the attempt that owns each running job, the newer replacing the older', () => {
    const e = eventLog();
    const events = [
      e('job.dispatched', 'job-a', { pool: 'local', attempt: 1 }),
      e('job.started', 'job-a', { executor: 'node-a', attempt: 1, pid: 10 }),
      e('job.started', 'job-b', { executor: 'node-a', attempt: 1, pid: 11 }),
      e('job.metrics_reported', 'job-a', {
        attempt: 1,
        points: [{ name: 'loss', value: 1, step: 1, time: new Date(T0).toISOString() }],
      }),
      e('job.started', 'job-a', { executor: 'node-b', attempt: 2, pid: 12 }),
    ];

    expect(projectEvents(activeAttemptsProjection, events)).toEqual({
      'job-a': {
        project: 'default',
        jobId: 'job-a',
        runId: 'run-1',
        attempt: 2,
        executor: 'node-b',
        startedAt: events[4]!.occurredAt,
        startedBy: events[4]!.id,
      },
      'job-b': expect.objectContaining({ attempt: 1, executor: 'node-a' }),
    });
  });

  it('forgets a job once it has ended, however it ended', () => {
    const e = eventLog();
    const started = (job: string) =>
      e('job.started', job, { executor: 'node-a', attempt: 1, pid: null });

    expect(
      projectEvents(activeAttemptsProjection, [
        started('job-a'),
        started('job-b'),
        started('job-c'),
        e('job.succeeded', 'job-a', { exitCode: 0, durationMs: 5, outputs: [], attempt: 1 }),
        e('job.failed', 'job-b', failure(1)),
        e('job.cancelled', 'job-c', { reason: 'the run was cancelled' }),
        // Failed before it was queued: never watched.
        e('job.failed', 'job-d', failure(null)),
      ]),
    ).toEqual({});
  });

  it('reads only the events that change it', () => {
    const e = eventLog();

    expect(
      activeAttemptsProjection.keys(e('job.dispatched', 'job-a', { pool: 'p', attempt: 1 })),
    ).toEqual([]);
    expect(
      activeAttemptsProjection.keys(
        e('job.checkpointed', 'job-a', { fileset: 'c', version: 1, step: 1, attempt: 1 }),
      ),
    ).toEqual([]);
  });
});
