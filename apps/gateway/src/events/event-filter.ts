import { z } from 'zod';
import {
  AcaiError,
  CommonProblems,
  eventCatalogue,
  subjects,
  type RawEventEnvelope,
  type Topology,
} from '@acai/contracts';

/** Every event type of the catalogue, sorted (a type has one entry whatever its versions). */
export const EVENT_TYPES: readonly string[] = [
  ...new Set(eventCatalogue.map((d) => d.type)),
].sort();

/** The families of event types (`job` of `job.succeeded`), each usable as `job.*` in a filter. */
export const EVENT_FAMILIES: readonly string[] = [
  ...new Set(EVENT_TYPES.map((type) => type.slice(0, type.indexOf('.')))),
].sort();

/**
 * The `type` parameter of `GET /api/v1/events`: comma-separated event types or family prefixes
 * (`job.*`). Anything the catalogue does not know is refused with the valid values listed.
 */
export const EventTypesParamSchema = z
  .string()
  .max(4096)
  .superRefine((value, ctx) => {
    const unknown = value
      .split(',')
      .map((part) => part.trim())
      .filter((part) => !isKnownType(part));
    if (unknown.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `unknown event type or family ${unknown.map((u) => `'${u}'`).join(', ')}; valid: ${EVENT_FAMILIES.map((f) => `${f}.*`).join(', ')}, ${EVENT_TYPES.join(', ')}`,
      });
    }
  })
  .describe(
    'Comma-separated event types (`job.succeeded,run.failed`) or families (`job.*`); see /api/asyncapi.json',
  );

function isKnownType(part: string): boolean {
  if (part.endsWith('.*')) return EVENT_FAMILIES.includes(part.slice(0, -2));
  return EVENT_TYPES.includes(part);
}

/** A log position: the JetStream sequence of an event, as `after` or `Last-Event-ID` gives it. */
export const LogPositionSchema = z
  .string()
  .regex(/^\d{1,15}$/, 'a log position is the integer `id` of an event (0 or more)')
  .transform(Number);

/** What a subscriber asked for: every filter is optional, and all of them must match. */
export interface EventFilter {
  /** Exact types, and families (`job`) whose every type is wanted; null: any type. */
  readonly types: {
    readonly exact: ReadonlySet<string>;
    readonly families: ReadonlySet<string>;
  } | null;
  readonly run: string | null;
  readonly job: string | null;
  readonly fileset: string | null;
}

export function eventFilter(query: {
  type?: string | undefined;
  run?: string | undefined;
  job?: string | undefined;
  fileset?: string | undefined;
}): EventFilter {
  let types: EventFilter['types'] = null;
  if (query.type !== undefined) {
    const parts = query.type.split(',').map((p) => p.trim());
    types = {
      exact: new Set(parts.filter((p) => !p.endsWith('.*'))),
      families: new Set(parts.filter((p) => p.endsWith('.*')).map((p) => p.slice(0, -2))),
    };
  }
  return {
    types,
    run: query.run ?? null,
    job: query.job ?? null,
    fileset: query.fileset ?? null,
  };
}

/**
 * The one subject the stream's consumer reads (nats-server 2.9 takes one filter per consumer): the
 * file set's own subject when the filter names one, else every event of the project. The other
 * filters are applied to each event read.
 */
export function filterSubject(t: Topology, project: string, filter: EventFilter): string {
  return filter.fileset === null
    ? subjects.projectEvents(t, project)
    : subjects.aggregate(t, project, 'fileset', filter.fileset);
}

function dataField(event: RawEventEnvelope, name: string): unknown {
  const data = event.data;
  return typeof data === 'object' && data !== null
    ? (data as Record<string, unknown>)[name]
    : undefined;
}

/**
 * Whether an event passes the filter. An event is about a run when it is the run's, or one of its
 * jobs' (their correlation id is the run), or names it in its data; about a job when it is the
 * job's, or a run's or profile's event that names the job (`jobId`: a step settled, budgeted).
 */
export function matchesFilter(filter: EventFilter, event: RawEventEnvelope): boolean {
  const { types, run, job, fileset } = filter;
  if (types !== null) {
    const family = event.type.slice(0, event.type.indexOf('.'));
    if (!types.exact.has(event.type) && !types.families.has(family)) return false;
  }
  if (
    run !== null &&
    !(event.aggregate === 'run' && event.aggregateId === run) &&
    event.correlationId !== run &&
    dataField(event, 'runId') !== run
  ) {
    return false;
  }
  if (
    job !== null &&
    !(event.aggregate === 'job' && event.aggregateId === job) &&
    dataField(event, 'jobId') !== job
  ) {
    return false;
  }
  return fileset === null || (event.aggregate === 'fileset' && event.aggregateId === fileset);
}

/** `Last-Event-ID` wins over `after`; neither: null (new events only). */
export function startPosition(after: number | undefined, lastEventId: unknown): number | null {
  if (lastEventId !== undefined) {
    const parsed = LogPositionSchema.safeParse(lastEventId);
    if (!parsed.success) {
      throw new AcaiError(
        CommonProblems.INVALID_REQUEST,
        'Invalid header Last-Event-ID: send the `id` of the last event you received (an integer), or leave it out to get new events only',
      );
    }
    return parsed.data;
  }
  return after ?? null;
}
