import type { EventData, EventType, PlannedJob, Projection, StoredEvent } from '@acai/contracts';

export interface EventLogOptions {
  /** The stream sequence before the first event (its sequence is one more). */
  readonly firstSeq?: number;
  /** Epoch milliseconds the first event is a second after. */
  readonly start?: number;
  /** Every event's correlation id (a run's id). */
  readonly correlationId?: string;
  readonly project?: string;
}

/**
 * Builds stored events the way the log holds them: each a second after the last, at the next
 * stream sequence, on its aggregate's subject, with one correlation id (the run's).
 */
export function eventLog({
  firstSeq = 100,
  start = Date.UTC(2026, 10, 20, 9, 0, 0),
  correlationId = 'run-1',
  project = 'default',
}: EventLogOptions = {}) {
  let seq = firstSeq;
  return <T extends EventType>(type: T, aggregateId: string, data: EventData<T>): StoredEvent => {
    seq += 1;
    const aggregate = type.slice(0, type.indexOf('.'));
    return {
      id: `evt-${seq}`,
      type,
      version: 1,
      project,
      aggregate,
      aggregateId,
      occurredAt: new Date(start + (seq - firstSeq) * 1000).toISOString(),
      causationId: null,
      correlationId,
      data,
      position: {
        stream: 'ACAI_EVENTS',
        subject: `acai.evt.${project}.${aggregate}.${aggregateId}`,
        seq,
      },
    } as StoredEvent;
  };
}

/** A planned job of a run (as `run.submitted` holds it): a step with nothing but its command. */
export function plannedJob(
  id: string,
  name: string,
  needs: readonly string[] = [],
  overrides: Partial<PlannedJob> = {},
): PlannedJob {
  return {
    id,
    name,
    command: ['run', name],
    needs: [...needs],
    env: {},
    resources: { cpu: 1, memoryMb: 512 },
    inputs: [],
    outputs: [],
    timeoutSeconds: null,
    network: 'default',
    secrets: {},
    provision: null,
    retries: null,
    continueOnFailure: false,
    ...overrides,
  };
}

/**
 * What a scheduler records when it queues a job: a step `train` of run `run-1` on 1 CPU and
 * 512 MiB, with no inputs, outputs, limits or retries, then `overrides`.
 */
export function queuedJob(
  overrides: Partial<EventData<'job.queued'>> = {},
): EventData<'job.queued'> {
  return {
    runId: 'run-1',
    name: 'train',
    command: ['node', 'train.js'],
    env: {},
    resources: { cpu: 1, memoryMb: 512 },
    inputs: [],
    outputs: [],
    timeoutSeconds: null,
    network: 'default',
    secrets: {},
    provision: null,
    retries: null,
    ...overrides,
  };
}

/**
 * What a projection runner does with a document projection: each event, for each key it names,
 * evolved (undefined deletes). `times` folds the log again over what it made, as a replay that
 * must change nothing does.
 */
export function projectEvents<Doc>(
  projection: Projection<Doc>,
  events: readonly StoredEvent[],
  times = 1,
): Record<string, Doc> {
  const docs = new Map<string, Doc>();
  for (let i = 0; i < times; i++) {
    for (const event of events) {
      for (const key of projection.keys(event)) {
        const next = projection.evolve(docs.get(key), event, key);
        if (next === undefined) docs.delete(key);
        else docs.set(key, next);
      }
    }
  }
  return Object.fromEntries(docs);
}
