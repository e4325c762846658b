import { JOB, type Projection } from '@acai/contracts';

/**
 * Where a job stands in the dispatcher's eyes: `queued` (not placed yet, or waiting for a retry),
 * `waiting` (placed on a pool, held by the dispatcher until a slot frees), `out` (dispatched to its
 * pool's work queue, or running).
 */
export type DispatchState = 'queued' | 'waiting' | 'out';

/** A job that is queued and has not ended: what the scheduler's dispatcher orders and counts. */
export interface DispatchQueueEntry {
  readonly project: string;
  readonly jobId: string;
  /** The job's run (the correlation id of its events). */
  readonly runId: string | null;
  /** Its run's priority (higher first within the project) and `maxParallel` (null: no limit). */
  readonly priority: number;
  readonly maxParallel: number | null;
  readonly state: DispatchState;
  /** Where the provisioner placed it (null until it is placed, and again after a retry). */
  readonly pool: string | null;
  /** The provider that made the pool (`local`, `ec2`, `simulated`). */
  readonly provider: string | null;
  /** Its last placement: the stream position (the FIFO order), the event and its time. */
  readonly placedSeq: number | null;
  readonly placedBy: string | null;
  readonly placedAt: string | null;
}

/** The event types that change the read model: the only ones its runner needs to read. */
export const dispatchQueueEvents: ReadonlySet<string> = new Set([
  'job.queued',
  'job.provisioned',
  'job.dispatched',
  'job.retry_scheduled',
  'job.requeued',
  'job.rescaled',
  'job.succeeded',
  'job.failed',
  'job.cancelled',
  'job.skipped',
]);

/**
 * `dispatch-queue`: one document per job from its `job.queued` to its end. A placement makes it
 * `waiting` (at the placement's stream position: the FIFO order), a dispatch `out` (its starts,
 * a redelivery's new attempt included, change nothing: it stays out until it ends or retries); a
 * retry puts it back to `queued` until it is placed again (behind what was placed meanwhile); its
 * end (succeeded, failed, cancelled, skipped) removes it. A pure fold of the job's own events, so a
 * replay builds the same documents.
 */
export const dispatchQueueProjection: Projection<DispatchQueueEntry> = {
  name: 'dispatch-queue',
  keys(event) {
    return event.aggregate === JOB && dispatchQueueEvents.has(event.type)
      ? [event.aggregateId]
      : [];
  },
  evolve(doc, event) {
    switch (event.type) {
      case 'job.queued':
        return {
          project: event.project,
          jobId: event.aggregateId,
          runId: event.data.runId,
          priority: event.data.priority ?? 0,
          maxParallel: event.data.maxParallel ?? null,
          state: 'queued',
          pool: null,
          provider: null,
          placedSeq: null,
          placedBy: null,
          placedAt: null,
        };
      case 'job.provisioned':
        return {
          ...(doc ?? unknownJob(event.project, event.aggregateId, event.correlationId)),
          state: 'waiting',
          pool: event.data.pool,
          provider: event.data.provider,
          placedSeq: event.position.seq,
          placedBy: event.id,
          placedAt: event.occurredAt,
        };
      case 'job.dispatched':
        return doc === undefined ? undefined : { ...doc, state: 'out', pool: event.data.pool };
      case 'job.retry_scheduled':
      case 'job.requeued':
      case 'job.rescaled':
        return doc === undefined
          ? undefined
          : {
              ...doc,
              state: 'queued',
              pool: null,
              provider: null,
              placedSeq: null,
              placedBy: null,
              placedAt: null,
            };
      case 'job.succeeded':
      case 'job.failed':
      case 'job.cancelled':
      case 'job.skipped':
        return undefined;
      default:
        return doc;
    }
  },
};

/** A placement whose `job.queued` the model never saw: the defaults of a run that says nothing. */
function unknownJob(project: string, jobId: string, runId: string | null): DispatchQueueEntry {
  return {
    project,
    jobId,
    runId,
    priority: 0,
    maxParallel: null,
    state: 'queued',
    pool: null,
    provider: null,
    placedSeq: null,
    placedBy: null,
    placedAt: null,
  };
}
