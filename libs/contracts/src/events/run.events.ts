import { z } from 'zod';
import { defineEvent } from './envelope.js';
import {
  NetworkSchema,
  ProvisionSpecSchema,
  ResourcesSchema,
  RetryPolicySchema,
} from './job.events.js';
import { BestTrialSchema, EarlyStoppingRuleSchema, ObjectiveSchema, TrialSchema } from './trial.js';
export { type BestTrial } from './trial.js';

export const RUN = 'run';

/** A swept step as its run recorded it: its trials' job ids in order, and how they are run. */
export const PlannedSweepSchema = z.object({
  step: z.string(),
  trials: z.array(z.string()).min(1),
  /** Trials queued or running at once (null: all). */
  maxParallel: z.number().int().positive().nullable(),
  objective: ObjectiveSchema.nullable(),
  earlyStopping: EarlyStoppingRuleSchema.nullable(),
});
export type PlannedSweep = z.infer<typeof PlannedSweepSchema>;

export const PlannedJobSchema = z.object({
  id: z.string(),
  name: z.string(),
  command: z.array(z.string()).min(1),
  needs: z.array(z.string()),
  env: z.record(z.string(), z.string()),
  resources: ResourcesSchema,
  /**
   * Added compatibly: inputs as the step declared them; resolved to versions when it is queued.
   * One with `fromStep` (added compatibly) is that step's output `fileset`, resolved to the version
   * its job committed in this run.
   */
  inputs: z
    .array(
      z.union([
        z.object({
          fileset: z.string(),
          version: z.union([z.number().int().positive(), z.string()]),
          path: z.string(),
        }),
        z.object({ fileset: z.string(), fromStep: z.string(), path: z.string() }),
      ]),
    )
    .default([]),
  outputs: z
    .array(
      z.object({
        fileset: z.string(),
        path: z.string(),
        labels: z.array(z.string()),
        save: z.boolean().default(true),
      }),
    )
    .default([]),
  /** Added compatibly: the step's wall-clock limit in seconds. */
  timeoutSeconds: z.number().positive().nullable().default(null),
  /** Added compatibly: the auto-provisioner's limits for the step (null: run as requested). */
  provision: ProvisionSpecSchema.nullable().default(null),
  /** Added compatibly: `none` runs the step with no network. */
  network: NetworkSchema.default('default'),
  /** Added compatibly: environment variables set from the project's secrets (names only). */
  secrets: z.record(z.string(), z.string()).default({}),
  /** Added compatibly: when a failed attempt is retried (null: never). */
  retries: RetryPolicySchema.nullable().default(null),
  /** Added compatibly: runs once its needs have ended, whatever their outcome (false: skipped). */
  continueOnFailure: z.boolean().default(false),
  /** Added compatibly: the trial of a swept step this job is (null: a step's only job). */
  trial: TrialSchema.nullable().optional(),
});
export type PlannedJob = z.infer<typeof PlannedJobSchema>;

/** A run acai submitted itself: the profiling run of a job profile (its signature). */
export const RunOriginSchema = z.object({ kind: z.literal('profiling'), profile: z.string() });
export type RunOrigin = z.infer<typeof RunOriginSchema>;

export const RunSubmittedV1 = defineEvent({
  type: 'run.submitted',
  version: 1,
  writers: ['scheduler'],
  aggregate: RUN,
  description: 'A run was accepted: its name and every job it will run, in dependency order.',
  schema: z.object({
    name: z.string(),
    jobs: z.array(PlannedJobSchema).min(1),
    submittedBy: z.string().nullable(),
    /** Added compatibly: why acai itself submitted the run (null: a user did). */
    origin: RunOriginSchema.nullable().default(null),
    /** Added compatibly: the run's swept steps, each with the jobs of its trials. */
    sweeps: z.array(PlannedSweepSchema).optional(),
  }),
});

/**
 * `skipped` added compatibly: a step it needs did not succeed and it did not continue on failure.
 * `early_stopped` added compatibly: a sweep's trial stopped by its early-stopping rule (it does
 * not fail the run).
 */
export const JobOutcomeSchema = z.enum([
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
  'early_stopped',
]);
export type JobOutcome = z.infer<typeof JobOutcomeSchema>;

export const RunJobSettledV1 = defineEvent({
  type: 'run.job_settled',
  version: 1,
  writers: ['scheduler'],
  aggregate: RUN,
  description:
    'One job of the run reached a final state; the scheduler uses it to release dependants.',
  schema: z.object({ jobId: z.string(), name: z.string(), outcome: JobOutcomeSchema }),
});

export const RunSucceededV1 = defineEvent({
  type: 'run.succeeded',
  version: 1,
  writers: ['scheduler'],
  aggregate: RUN,
  description: 'Every job of the run succeeded.',
  schema: z.object({}),
});

export const RunFailedV1 = defineEvent({
  type: 'run.failed',
  version: 1,
  writers: ['scheduler'],
  aggregate: RUN,
  description:
    'At least one job failed, was skipped or was cancelled (not by a cancel of the run); the jobs that needed a failed one were skipped, unless they continue on failure.',
  schema: z.object({ reason: z.string(), failedJobs: z.array(z.string()) }),
});

export const RunCancelRequestedV1 = defineEvent({
  type: 'run.cancel_requested',
  version: 1,
  writers: ['scheduler'],
  aggregate: RUN,
  description:
    'A client asked to cancel the run; queued jobs are cancelled and running ones killed.',
  schema: z.object({ reason: z.string() }),
});

export const RunCancelledV1 = defineEvent({
  type: 'run.cancelled',
  version: 1,
  writers: ['scheduler'],
  aggregate: RUN,
  description: 'The run stopped because it was cancelled; no job of it is still running.',
  schema: z.object({ reason: z.string() }),
});

export const RunSweepCompletedV1 = defineEvent({
  type: 'run.sweep_completed',
  version: 1,
  writers: ['scheduler'],
  aggregate: RUN,
  description:
    "Every trial of a swept step has ended: how many succeeded and were stopped early, and the best trial (by the objective's last reported value, among those that succeeded), whose output the steps that take the swept step's output get.",
  schema: z.object({
    step: z.string(),
    trials: z.number().int().nonnegative(),
    succeeded: z.number().int().nonnegative(),
    earlyStopped: z.number().int().nonnegative(),
    /** Null when the sweep has no objective, or no trial that succeeded reported it. */
    best: BestTrialSchema.nullable(),
  }),
});
