import { JOB, type Projection } from '@acai/contracts';

/** An attempt that has started and whose job has not ended: what the scheduler's watchdog watches. */
export interface ActiveAttempt {
  readonly project: string;
  readonly jobId: string;
  /** The job's run (the correlation id of its events). */
  readonly runId: string | null;
  readonly attempt: number;
  /** The executor running it, as its `job.started` and its node heartbeats name it. */
  readonly executor: string;
  /** When it started (its `job.started`'s time) and that event's id (the cause of its loss). */
  readonly startedAt: string;
  readonly startedBy: string;
}

/** The event types that change the read model: the only ones its runner needs to read. */
export const activeAttemptEvents: ReadonlySet<string> = new Set([
  'job.started',
  'job.succeeded',
  'job.failed',
  'job.cancelled',
  'job.retry_scheduled',
  'job.rescaled',
]);

/**
 * `active-attempts`: one document per job that is running, the attempt that owns it; gone once the
 * job has ended. A newer attempt replaces the one before. Only the events that change it are read.
 */
export const activeAttemptsProjection: Projection<ActiveAttempt> = {
  name: 'active-attempts',
  keys(event) {
    return event.aggregate === JOB && activeAttemptEvents.has(event.type)
      ? [event.aggregateId]
      : [];
  },
  evolve(doc, event) {
    switch (event.type) {
      case 'job.started':
        return {
          project: event.project,
          jobId: event.aggregateId,
          runId: event.correlationId,
          attempt: event.data.attempt,
          executor: event.data.executor,
          startedAt: event.occurredAt,
          startedBy: event.id,
        };
      case 'job.succeeded':
      case 'job.failed':
      case 'job.cancelled':
      case 'job.retry_scheduled':
      case 'job.rescaled':
        return undefined;
      default:
        return doc;
    }
  },
};
