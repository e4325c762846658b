import { z } from 'zod';
import { QualitySpecSchema } from '../api/materialization.js';
import { defineEvent } from './envelope.js';
import { JobSignatureSchema, ReusedFromSchema, ReusePolicySchema } from './reuse.js';
import { EarlyStoppedSchema, TrialSchema } from './trial.js';

export const JOB = 'job';

export const JobFailureReasonSchema = z.enum([
  'command_not_found',
  'permission_denied',
  'spawn_error',
  'nonzero_exit',
  'killed',
  'executor_lost',
  'staging_failed',
  'output_failed',
  'out_of_memory',
  'timed_out',
  /** Added compatibly: no configuration could run it, or none could be had (e.g. EC2 capacity). */
  'no_resources',
]);
export type JobFailureReason = z.infer<typeof JobFailureReasonSchema>;

/**
 * A job's retry policy as its run recorded it: up to `max` retries for the reasons `on` lists,
 * the n-th after `backoffSeconds × 2^(n-1)` seconds (see `retryDelayMs` in libs/runs).
 */
export const RetryPolicySchema = z.object({
  max: z.number().int().nonnegative(),
  backoffSeconds: z.number().nonnegative(),
  on: z.array(JobFailureReasonSchema),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

/** The network a job gets: the node's, or `none` (its own namespace with no interfaces). */
export const NetworkSchema = z.enum(['default', 'none'], {
  error: "network must be 'default' or 'none'",
});
export type Network = z.infer<typeof NetworkSchema>;

export const ResourcesSchema = z.object({
  cpu: z.number().positive(),
  memoryMb: z.number().int().positive(),
});
export type Resources = z.infer<typeof ResourcesSchema>;

/** An input as the job will see it: resolved to a version when the job was queued. */
export const StagedInputSchema = z.object({
  fileset: z.string(),
  version: z.number().int().positive(),
  manifestSha256: z.string(),
  path: z.string(),
});
export type StagedInput = z.infer<typeof StagedInputSchema>;

export const DeclaredOutputSchema = z.object({
  fileset: z.string(),
  path: z.string(),
  labels: z.array(z.string()),
  /** Added compatibly: false for a scratch folder that is made but not saved (profiling runs). */
  save: z.boolean().default(true),
});

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Asks the auto-provisioner to choose the step's configuration: the cheapest that finishes within
 * `maxSeconds`, the fastest within `maxCost`, or the best time x cost trade-off when neither is
 * given. `sizeParameters` are numeric variables the runtime grows with (e.g. EPOCHS); `profile`
 * gives the values profiling runs use for them, e.g. `{ "EPOCHS": ["1", "2"] }`.
 */
export const ProvisionSpecSchema = z.strictObject({
  maxSeconds: z
    .number()
    .positive()
    .max(30 * 24 * 3600)
    .optional(),
  maxCost: z.number().positive().max(1_000_000).optional(),
  optimize: z.enum(['time', 'cost']).optional(),
  sizeParameters: z
    .array(z.string().regex(ENV_NAME, 'a size parameter names an environment variable'))
    .max(8)
    .optional(),
  profile: z
    .record(
      z.string().regex(ENV_NAME, 'profile keys name environment variables'),
      z.array(z.string().max(64)).min(1).max(3),
    )
    .optional(),
  providers: z
    .array(z.enum(['local', 'ec2', 'simulated']))
    .min(1)
    .optional(),
  /** Run on exactly this configuration (an offer's name, e.g. `c5.large`): no model, no choice. */
  offer: z.string().min(1).max(100).optional(),
});
export type ProvisionSpec = z.infer<typeof ProvisionSpecSchema>;
export type DeclaredOutput = z.infer<typeof DeclaredOutputSchema>;

/** The share of a run's remaining deadline and budget one step is placed within, and why. */
export const StepShareSchema = z.object({
  /** The step's deadline, seconds from when it is queued (null: none, or the deadline has passed). */
  maxSeconds: z.number().positive().nullable(),
  /** The step's budget, USD (null: the run has none). */
  maxCost: z.number().positive().nullable(),
  /** `optimize: time` when the run's deadline has already passed: the fastest, to be least late. */
  optimize: z.enum(['time', 'cost']).nullable(),
  /** How the share was worked out, for a person. */
  reason: z.string(),
  /**
   * Added compatibly: the instant the step should finish by (ISO 8601): when it was budgeted plus
   * `maxSeconds`, or the run's deadline once that has passed. What rescaling measures against.
   */
  finishBy: z.string().nullable().optional(),
});
export type StepShare = z.infer<typeof StepShareSchema>;

export const JobQueuedV1 = defineEvent({
  type: 'job.queued',
  version: 1,
  writers: ['scheduler'],
  aggregate: JOB,
  description: 'The job is ready to run (its needs succeeded) and waits for a resource.',
  schema: z.object({
    runId: z.string(),
    name: z.string(),
    command: z.array(z.string()).min(1),
    env: z.record(z.string(), z.string()),
    resources: ResourcesSchema,
    /** Added compatibly (absent in early events): file set versions staged before the job starts. */
    inputs: z.array(StagedInputSchema).default([]),
    /** Added compatibly: folders committed as new versions when the job succeeds. */
    outputs: z.array(DeclaredOutputSchema).default([]),
    /** Added compatibly: the job is stopped (reason `timed_out`) after this many seconds. */
    timeoutSeconds: z.number().positive().nullable().default(null),
    /** Added compatibly: the auto-provisioner chooses its configuration (null: as requested). */
    provision: ProvisionSpecSchema.nullable().default(null),
    /** Added compatibly: `none` runs the job with no network at all. */
    network: NetworkSchema.default('default'),
    /** Added compatibly: environment variables set from the project's secrets (names only). */
    secrets: z.record(z.string(), z.string()).default({}),
    /** Added compatibly: when a failed attempt is retried (null: never). */
    retries: RetryPolicySchema.nullable().default(null),
    /** Added compatibly: its run's priority, for the scheduler's dispatcher (absent: 0). */
    priority: z.number().int().optional(),
    /** Added compatibly: its run's `maxParallel`, for the dispatcher (absent: no limit). */
    maxParallel: z.number().int().positive().optional(),
    /**
     * Added compatibly: the step's share of its run's deadline and budget, already applied to
     * `provision` (null: the run has neither).
     */
    share: StepShareSchema.nullable().optional(),
    /** Added compatibly: the sweep trial this job is, and its parameters (null: not a trial). */
    trial: TrialSchema.nullable().optional(),
    /**
     * Added compatibly: its signature, computed before it was queued (its code hashed then), and
     * its parts (absent in events from before signatures).
     */
    signature: JobSignatureSchema.optional(),
    /** Added compatibly: the metric that says how good the model it makes is (absent: none). */
    quality: QualitySpecSchema.optional(),
    /** Added compatibly: why it is computed rather than an earlier result reused. */
    reuse: z.object({ policy: ReusePolicySchema, reason: z.string() }).optional(),
  }),
});

export const JobReusedV1 = defineEvent({
  type: 'job.reused',
  version: 1,
  writers: ['scheduler'],
  aggregate: JOB,
  description:
    "The job was not run: an earlier job of the project with the same signature succeeded and its outputs are intact, so its versions are this job's outputs. It ends the job as succeeded, in place of `job.queued` and everything after.",
  schema: z.object({
    runId: z.string(),
    name: z.string(),
    command: z.array(z.string()).min(1),
    env: z.record(z.string(), z.string()),
    /** The exact versions it would have staged (the signature's inputs). */
    inputs: z.array(StagedInputSchema),
    /** The versions of the earlier job it takes as its own outputs. */
    outputs: z.array(z.object({ fileset: z.string(), version: z.number().int().positive() })),
    signature: JobSignatureSchema,
    from: ReusedFromSchema,
    /** Why, for a person: which job, and what was checked. */
    reason: z.string(),
    trial: TrialSchema.nullable().optional(),
  }),
});

export const OfferRefSchema = z.object({
  provider: z.string(),
  name: z.string(),
  vCpu: z.number().positive(),
  memoryMb: z.number().int().positive(),
  pricePerHour: z.number().nonnegative(),
});
export type OfferRef = z.infer<typeof OfferRefSchema>;

export const CandidateSchema = z.object({
  offer: z.string(),
  provider: z.string(),
  predictedSeconds: z.number().nonnegative().nullable(),
  predictedCost: z.number().nonnegative().nullable(),
  feasible: z.boolean(),
  whyNot: z.string().nullable(),
});
export type CandidateView = z.infer<typeof CandidateSchema>;

/** Why the auto-provisioner chose a configuration: the prediction, the alternatives and the rule. */
export const ProvisionDecisionSchema = z.object({
  rule: z.string(),
  success: z.boolean(),
  reason: z.string(),
  signature: z.string(),
  features: z.record(z.string(), z.number()),
  predictedSeconds: z.number().nonnegative().nullable(),
  predictedCost: z.number().nonnegative().nullable(),
  /** Observations the runtime model was fitted on, and its error on them (MAPE, 0-1). */
  model: z
    .object({
      observations: z.number().int(),
      mape: z.number().nullable(),
      /** Added compatibly: error of this profile's earlier predictions against what the jobs took. */
      predictionMape: z.number().nullable().default(null),
    })
    .nullable(),
  /** Every configuration considered, best first (at most 50). */
  alternatives: z.array(CandidateSchema).max(50),
});
export type ProvisionDecision = z.infer<typeof ProvisionDecisionSchema>;

export const JobProvisionedV1 = defineEvent({
  type: 'job.provisioned',
  version: 1,
  writers: ['provisioner'],
  aggregate: JOB,
  description:
    'The provisioner chose where the job runs: a pool of executors and the resources it gets.',
  schema: z.object({
    provider: z.string(),
    pool: z.string(),
    resources: ResourcesSchema,
    reason: z.string(),
    /** Added compatibly: the configuration chosen and its price (null in early events). */
    offer: OfferRefSchema.nullable().default(null),
    /** Added compatibly: the auto-provisioner's decision, when it chose. */
    decision: ProvisionDecisionSchema.nullable().default(null),
    /** Added compatibly: the share of its run's deadline and budget it was placed within, and why. */
    share: StepShareSchema.nullable().optional(),
    /**
     * Added compatibly: when it was placed (ISO 8601, real time): the instance is billed from here,
     * so the time to its start (the boot, and the wait for an executor to take the work) is counted
     * in what the job spent, at the configuration's price.
     */
    placedAt: z.string().optional(),
  }),
});

export const JobDispatchedV1 = defineEvent({
  type: 'job.dispatched',
  version: 1,
  writers: ['scheduler'],
  aggregate: JOB,
  description: 'The scheduler put the job on the work queue of its pool.',
  schema: z.object({ pool: z.string(), attempt: z.number().int().positive() }),
});

export const JobStartedV1 = defineEvent({
  type: 'job.started',
  version: 1,
  writers: ['executor', 'provisioner'],
  aggregate: JOB,
  description: 'An executor started the job’s process.',
  schema: z.object({
    executor: z.string(),
    attempt: z.number().int().positive(),
    pid: z.number().int().nullable(),
    /**
     * Added compatibly: when the attempt started, by the executor's clock (a simulated node's is
     * virtual). An attempt started while another ran (that one's executor was lost) ends that one's
     * running time, which is counted in what the job cost.
     */
    at: z.string().optional(),
    /**
     * Added compatibly: the executor's clock runs `rate` times as fast as real time, and read `at`
     * when real time read `realAt` (a simulated node's runs hours in seconds). Absent: it is real
     * time. How a deadline is measured in the job's own clock.
     */
    clock: z.object({ rate: z.number().positive(), realAt: z.string() }).optional(),
  }),
});

/** How long an attempt took to stage one input version. */
export const InputLoadSchema = z.object({
  fileset: z.string(),
  version: z.number().int().positive(),
  ms: z.number().nonnegative(),
});
export type InputLoad = z.infer<typeof InputLoadSchema>;

export const JobSucceededV1 = defineEvent({
  type: 'job.succeeded',
  version: 1,
  writers: ['executor', 'provisioner'],
  aggregate: JOB,
  description: 'The job’s process exited with code 0.',
  schema: z.object({
    exitCode: z.literal(0),
    durationMs: z.number().nonnegative(),
    /** Added compatibly: the file set versions the job's outputs became. */
    outputs: z
      .array(z.object({ fileset: z.string(), version: z.number().int().positive() }))
      .default([]),
    /** Added compatibly: the attempt that succeeded (null in events from before it was recorded). */
    attempt: z.number().int().positive().nullable().default(null),
    /**
     * Added compatibly: how long the attempt took to put each input version in place (its load
     * time, the experiment graph's cost of loading an artifact rather than computing it).
     */
    loads: z.array(InputLoadSchema).optional(),
  }),
});

/** How an attempt failed (or why none could run): what `job.failed` and `job.retry_scheduled` say. */
const JobFailureSchema = z.object({
  reason: JobFailureReasonSchema,
  message: z.string(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  durationMs: z.number().nonnegative().nullable(),
  lastLines: z.array(z.string()),
  /**
   * Added compatibly: the attempt that failed; null when no attempt ran (an input that does not
   * exist, no configuration for it) and in events from before it was recorded.
   */
  attempt: z.number().int().positive().nullable().default(null),
});

export const JobFailedV1 = defineEvent({
  type: 'job.failed',
  version: 1,
  writers: ['executor', 'provisioner', 'scheduler'],
  aggregate: JOB,
  description: 'The job ended without success; `reason` says why and `message` what to do.',
  schema: JobFailureSchema,
});

export const MetricPointSchema = z.object({
  name: z.string().min(1).max(200),
  value: z.number(),
  step: z.number().int().nonnegative().nullable(),
  time: z.string(),
});
export type MetricPoint = z.infer<typeof MetricPointSchema>;

export const JobMetricsReportedV1 = defineEvent({
  type: 'job.metrics_reported',
  version: 1,
  writers: ['executor', 'provisioner'],
  aggregate: JOB,
  description:
    'Metrics the job printed (`##acai metric ...` lines), batched: name, value, step, time.',
  schema: z.object({
    attempt: z.number().int().positive(),
    points: z.array(MetricPointSchema).min(1),
    /**
     * Added compatibly: the batch's number within its attempt (1, 2, 3 …). A batch sent again
     * (its answer lost, the bus down) is recorded once.
     */
    batch: z.number().int().positive().optional(),
  }),
});

export const CheckpointRefSchema = z.object({
  fileset: z.string(),
  version: z.number().int().positive(),
  /** The step the job said it had reached (`##acai checkpoint step=N`), if it said. */
  step: z.number().int().nonnegative().nullable(),
});
export type CheckpointRef = z.infer<typeof CheckpointRefSchema>;

export const JobCheckpointedV1 = defineEvent({
  type: 'job.checkpointed',
  version: 1,
  writers: ['executor', 'provisioner'],
  aggregate: JOB,
  description:
    'The job saved a checkpoint (`##acai checkpoint` line): its checkpoint folder became a file set version. A later attempt starts from it.',
  schema: CheckpointRefSchema.extend({ attempt: z.number().int().positive() }),
});

export const JobRetryScheduledV1 = defineEvent({
  type: 'job.retry_scheduled',
  version: 1,
  writers: ['executor', 'provisioner', 'scheduler'],
  aggregate: JOB,
  description:
    'An attempt failed for a reason the step retries: the job waits `delayMs` (from this event) and is queued again as a new attempt.',
  // The failure that is retried, as `job.failed` would have recorded it, and the wait.
  schema: JobFailureSchema.extend({
    /** Which retry this is: 1 for the first. */
    retry: z.number().int().positive(),
    /** How long the job waits before it is queued again, in milliseconds from this event. */
    delayMs: z.number().int().nonnegative(),
  }),
});

export const JobRequeuedV1 = defineEvent({
  type: 'job.requeued',
  version: 1,
  writers: ['scheduler'],
  aggregate: JOB,
  description:
    'The wait of a retry is over: the job is queued again, on the inputs it was first queued with, for its next attempt.',
  schema: z.object({ retry: z.number().int().positive() }),
});

export const JobSkippedV1 = defineEvent({
  type: 'job.skipped',
  version: 1,
  writers: ['scheduler'],
  aggregate: JOB,
  description:
    "The job will not run because a step it needs failed, was skipped or was cancelled (and it does not `continueOnFailure`); `step` names that step. With `notNeeded`, its run's reuse plan left it out instead: only steps that take earlier results read it, so it is neither run nor taken (it settles `not_needed`, which counts as success); `step` then names a step that reads it.",
  schema: z.object({
    reason: z.string(),
    step: z.string(),
    /**
     * Added compatibly: left out by the run's reuse plan (`reusePlan` of `run.submitted`): the earlier job
     * whose result the steps that read it are signed with (null: none recorded).
     */
    notNeeded: z.object({ from: z.string().nullable() }).optional(),
  }),
});

export const JobCancelledV1 = defineEvent({
  type: 'job.cancelled',
  version: 1,
  writers: ['scheduler'],
  aggregate: JOB,
  description:
    'The job will not run (or was stopped): its run was cancelled, or, for a sweep trial, its early-stopping rule stopped it (`earlyStopped`).',
  schema: z.object({
    reason: z.string(),
    /**
     * Added compatibly: a sweep trial stopped by its early-stopping rule: the rule, the trial's
     * objective at `step` and the threshold it did not reach. It does not fail the run.
     */
    earlyStopped: EarlyStoppedSchema.optional(),
  }),
});

/** A configuration a running job is moved to, or was on, as a rescaling decision names it. */
export const RescaleConfigurationSchema = OfferRefSchema.extend({
  /** Predicted seconds from now to the job's end on it (restart and booting included). */
  predictedSeconds: z.number().nonnegative().nullable(),
  /** Predicted cost of the job on it, USD: spent so far plus the rest at its price. */
  predictedCost: z.number().nonnegative().nullable(),
  /** Predicted end (ISO 8601). */
  predictedFinish: z.string().nullable(),
  /**
   * Added compatibly: on Spot, USD held back beyond `predictedCost` for one more interruption
   * (its wait for a new node, start-up and work since the checkpoint) that a budget must still
   * cover (absent: on-demand, or none held back).
   */
  spotReserve: z.number().nonnegative().optional(),
});
export type RescaleConfiguration = z.infer<typeof RescaleConfigurationSchema>;

/** What a rescaling decision measured of the running attempt. */
export const RescaleMeasurementsSchema = z.object({
  step: z.number().nonnegative(),
  totalSteps: z.number().positive(),
  stepsPerSecond: z.number().positive(),
  /** The step of the checkpoint it resumes from (null: none yet; it starts over). */
  checkpointStep: z.number().int().nonnegative().nullable(),
  /** Seconds a new attempt is assumed to take before its first step (a move pays them again). */
  startupSeconds: z.number().nonnegative(),
  /** USD its attempts have cost so far, this one included. */
  spent: z.number().nonnegative(),
  /** How the rate was measured, for a person. */
  basis: z.string(),
});
export type RescaleMeasurements = z.infer<typeof RescaleMeasurementsSchema>;

export const JobRescaleRequestedV1 = defineEvent({
  type: 'job.rescale_requested',
  version: 1,
  writers: ['scheduler'],
  aggregate: JOB,
  description:
    'The scheduler predicted, from the running attempt’s measured rate, that the job misses its share of the run’s deadline (`up`) or budget (`down`) where it runs, and moves it: the executor asks the job to checkpoint (SIGTERM, then SIGKILL after `graceSeconds`), and the job is queued again on `to`, resuming from its checkpoint.',
  schema: z.object({
    attempt: z.number().int().positive(),
    direction: z.enum(['up', 'down']),
    reason: z.string(),
    /**
     * The step's limits the decision measured against (null: none); `finishBy` (and the
     * configurations' `predictedFinish`) by the job's clock, a simulated node's virtual one.
     */
    finishBy: z.string().nullable(),
    maxCost: z.number().positive().nullable(),
    from: RescaleConfigurationSchema,
    to: RescaleConfigurationSchema,
    measurements: RescaleMeasurementsSchema,
    /** The other configurations considered, best first (at most 20). */
    alternatives: z.array(CandidateSchema).max(20),
    /** How long the job has to save its state after SIGTERM. */
    graceSeconds: z.number().int().nonnegative(),
  }),
});

export const JobRescaledV1 = defineEvent({
  type: 'job.rescaled',
  version: 1,
  writers: ['executor', 'provisioner', 'scheduler'],
  aggregate: JOB,
  description:
    'The attempt asked to rescale has stopped (its checkpoint saved): the job is queued again on the configuration `to` of its `job.rescale_requested`, for a new attempt that resumes from `checkpoint`.',
  schema: z.object({
    attempt: z.number().int().positive(),
    /** How long the stopped attempt ran. */
    durationMs: z.number().int().nonnegative().nullable(),
    to: OfferRefSchema,
    /** The checkpoint the next attempt starts from (null: none was saved; it starts over). */
    checkpoint: CheckpointRefSchema.nullable(),
  }),
});
