import type { z } from 'zod';
import type { EventDefinition, EventWriter, RawEventEnvelope } from './envelope.js';
import {
  FilesetCreatedV1,
  FilesetLabelsChangedV1,
  FilesetMetadataChangedV1,
  FilesetVersionCommittedV1,
  FilesetVersionEvictedV1,
  FilesetVersionPinnedV1,
} from './fileset.events.js';
import {
  JobCancelledV1,
  JobCheckpointedV1,
  JobDispatchedV1,
  JobFailedV1,
  JobMetricsReportedV1,
  JobProvisionedV1,
  JobQueuedV1,
  JobReusedV1,
  JobRequeuedV1,
  JobRescaleRequestedV1,
  JobRescaledV1,
  JobRetryScheduledV1,
  JobSkippedV1,
  JobStartedV1,
  JobSucceededV1,
} from './job.events.js';
import {
  ProfileJobWaitingV1,
  ProfileProfiledV1,
  ProfileProfilingStartedV1,
} from './profile.events.js';
import { ProjectReuseSharingChangedV1 } from './project.events.js';
import {
  RunBudgetExhaustedV1,
  RunCancelledV1,
  RunCancelRequestedV1,
  RunJobCostMeasuredV1,
  RunStepBudgetedV1,
  RunFailedV1,
  RunJobSettledV1,
  RunSubmittedV1,
  RunSucceededV1,
  RunSweepCompletedV1,
  RunReusePlanRevisedV1,
} from './run.events.js';

/**
 * The event catalogue: every event acai publishes, by type and version. A published schema is
 * never edited; a change is a new version registered beside the old one (with an upcaster).
 */
export const eventCatalogue = [
  RunSubmittedV1,
  RunJobSettledV1,
  RunSucceededV1,
  RunFailedV1,
  RunCancelRequestedV1,
  RunCancelledV1,
  RunStepBudgetedV1,
  RunJobCostMeasuredV1,
  RunBudgetExhaustedV1,
  RunSweepCompletedV1,
  RunReusePlanRevisedV1,
  JobQueuedV1,
  JobReusedV1,
  JobProvisionedV1,
  JobDispatchedV1,
  JobStartedV1,
  JobSucceededV1,
  JobFailedV1,
  JobCancelledV1,
  JobMetricsReportedV1,
  JobCheckpointedV1,
  JobRetryScheduledV1,
  JobRequeuedV1,
  JobRescaleRequestedV1,
  JobRescaledV1,
  JobSkippedV1,
  FilesetCreatedV1,
  FilesetVersionCommittedV1,
  FilesetMetadataChangedV1,
  FilesetLabelsChangedV1,
  FilesetVersionPinnedV1,
  FilesetVersionEvictedV1,
  ProfileProfilingStartedV1,
  ProfileJobWaitingV1,
  ProfileProfiledV1,
  ProjectReuseSharingChangedV1,
] as const;

type Catalogue = (typeof eventCatalogue)[number];

/** A decoded event: the envelope with `data` typed by its `type`. */
export type DomainEvent = {
  [K in Catalogue as K['type']]: Omit<RawEventEnvelope, 'type' | 'version' | 'data'> & {
    type: K['type'];
    version: K['version'];
    data: z.output<K['schema']>;
  };
}[Catalogue['type']];

export type EventType = DomainEvent['type'];
export type EventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;
export type EventData<T extends EventType> = EventOf<T>['data'];

const byKey = new Map<string, EventDefinition<string, number, z.ZodType>>(
  eventCatalogue.map((d) => [`${d.type}@${d.version}`, d]),
);

export function findEventDefinition(
  type: string,
  version: number,
): EventDefinition<string, number, z.ZodType> | undefined {
  return byKey.get(`${type}@${version}`);
}

/** What a decision produces before it is stored: an event without its envelope. */
export type NewEvent = {
  [E in DomainEvent as E['type']]: { type: E['type']; data: E['data'] };
}[DomainEvent['type']];

const writersByType = new Map<string, readonly EventWriter[]>(
  eventCatalogue.map((d) => [d.type, d.writers]),
);

/** Whether `service` may append events of `type` (an unknown type: nobody may). */
export function mayWrite(service: string, type: string): boolean {
  return (writersByType.get(type) as readonly string[] | undefined)?.includes(service) === true;
}

/**
 * Refuses an append by a service the catalogue does not list as a writer of the event: a bug,
 * never a user's mistake, so a plain error that names both.
 */
export function assertWriter(service: string, type: string): void {
  if (mayWrite(service, type)) return;
  const writers = writersByType.get(type);
  throw new Error(
    writers === undefined
      ? `${service} appends '${type}', which is not in the event catalogue`
      : `${service} may not append '${type}': its writers are ${writers.join(', ')} (libs/contracts/src/events)`,
  );
}
