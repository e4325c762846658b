import { z } from 'zod';
import { defineEvent } from './envelope.js';
import { QualitySpecSchema } from '../api/materialization.js';
import { CodeRefSchema, ReusePolicySchema } from './reuse.js';
import {
  NetworkSchema,
  ProvisionSpecSchema,
  ResourcesSchema,
  RetryPolicySchema,
  StepShareSchema,
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
  /**
   * Added compatibly: whether an earlier result may be reused for it (absent: `auto`), whether
   * its step said it is nondeterministic, and the code its step names (see `CodeRefSchema`).
   */
  /** Added compatibly: the metric that says how good its model is (absent: none). */
  quality: QualitySpecSchema.optional(),
  reuse: z
    .object({
      policy: ReusePolicySchema,
      nondeterministic: z.boolean(),
      code: z.array(CodeRefSchema),
    })
    .optional(),
});
export type PlannedJob = z.infer<typeof PlannedJobSchema>;

/** A run acai submitted itself: the profiling run of a job profile (its signature). */
export const RunOriginSchema = z.object({ kind: z.literal('profiling'), profile: z.string() });
export type RunOrigin = z.infer<typeof RunOriginSchema>;

/**
 * A run's deadline and budget, as accepted: the deadline resolved to an instant at submission,
 * what the spec said, and what the plan predicted then (null where nothing could be predicted).
 */
export const RunLimitsSchema = z.object({
  /** The instant the run must be finished by (ISO 8601), or null for none. */
  deadline: z.string().nullable(),
  /** What the spec said (`45m`, `PT45M`, an instant, seconds), or null for none. */
  deadlineSpec: z.union([z.string(), z.number()]).nullable(),
  /** The most the run may cost, USD, or null for none. */
  budget: z.number().positive().nullable(),
  /** When the plan at submission predicted the run to finish (null: some step has no prediction). */
  predictedFinish: z.string().nullable(),
  /** What the plan at submission predicted the run to cost, USD (null: some step has none). */
  predictedCost: z.number().nonnegative().nullable(),
  /** The cheapest the run could possibly cost, USD, as known at submission. */
  cheapestCost: z.number().nonnegative(),
});
export type RunLimits = z.infer<typeof RunLimitsSchema>;

/** What the run's reuse plan decided for one of its jobs at submit (see `planReuse` in libs/runs). */
export const ReusePlannedStepSchema = z.object({
  jobId: z.string(),
  name: z.string(),
  /**
   * `reuse`: an earlier intact result with its signature was found (taken when it is ready, once
   * checked again); `compute`: none; `not_needed`: neither run nor taken, since only steps that
   * take earlier results read it; `when_ready`: decided once the steps it reads have committed.
   */
  decision: z.enum(['reuse', 'compute', 'not_needed', 'when_ready']),
  /** Why, for a person. */
  reason: z.string(),
  /** The earlier job whose result was found for it (null: none). */
  from: z.string().nullable(),
  /**
   * The versions that earlier job committed: for a `not_needed` step, what the steps that read it
   * are signed (and, reused, take their inputs) with.
   */
  outputs: z.array(z.object({ fileset: z.string(), version: z.number().int().positive() })),
});
export type ReusePlannedStep = z.infer<typeof ReusePlannedStepSchema>;

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
    /** Added compatibly: the run's priority among its project's waiting jobs (absent: 0). */
    priority: z.number().int().optional(),
    /** Added compatibly: at most this many of its jobs out at once (absent: no limit). */
    maxParallel: z.number().int().positive().optional(),
    /** Added compatibly: the run's swept steps, each with the jobs of its trials. */
    sweeps: z.array(PlannedSweepSchema).optional(),
    /** Added compatibly: the run's deadline and budget and the plan it was accepted on (null: none). */
    limits: RunLimitsSchema.nullable().optional(),
    /**
     * Added compatibly: the reuse plan made at submit (the Experiment Graph paper's forward and
     * backward passes over earlier results), one entry per step, when it leaves steps out: those
     * (`not_needed`) are neither run nor taken (they end `job.skipped` with `notNeeded`) unless a
     * step that reads one computes after all (`run.reuse_plan_revised`). In the submission itself,
     * so that whoever handles the run's start, and a replay, follows the same plan. Absent: none
     * left anything out; every step is decided when it is ready.
     */
    reusePlan: z.array(ReusePlannedStepSchema).min(1).optional(),
  }),
});

export const RunStepBudgetedV1 = defineEvent({
  type: 'run.step_budgeted',
  version: 1,
  writers: ['scheduler'],
  aggregate: RUN,
  description:
    "A step of a run with a deadline or budget is about to be queued: its share of what is left of them (split by the plan, critical path first), the measurements it was split from, and the run's predicted finish and cost.",
  schema: z.object({
    jobId: z.string(),
    name: z.string(),
    share: StepShareSchema,
    /** Seconds from now to the run's deadline (negative: past), null without a deadline. */
    remainingSeconds: z.number().nullable(),
    /** What is left of the budget: budget − spent − reserved (null without a budget). */
    remainingBudget: z.number().nullable(),
    /** What the run's finished jobs cost so far, measured (USD). */
    spent: z.number().nonnegative(),
    /** Predicted cost of the jobs placed and not ended yet (USD), held back from the budget. */
    reserved: z.number().nonnegative(),
    /** What the plan predicts this step takes and costs within its share (null: no prediction). */
    predictedSeconds: z.number().nonnegative().nullable(),
    predictedCost: z.number().nonnegative().nullable(),
    /** When the run is predicted to finish and what it will cost in all, as re-planned now. */
    runPredictedFinish: z.string().nullable(),
    runPredictedCost: z.number().nonnegative().nullable(),
  }),
});

export const RunJobCostMeasuredV1 = defineEvent({
  type: 'run.job_cost_measured',
  version: 1,
  writers: ['scheduler'],
  aggregate: RUN,
  description:
    'A job of a run with a deadline or budget ended: what its attempts ran for and cost (running time × the price per hour of the configuration each ran on), counted against the budget.',
  schema: z.object({
    jobId: z.string(),
    name: z.string(),
    seconds: z.number().nonnegative(),
    cost: z.number().nonnegative(),
  }),
});

export const RunBudgetExhaustedV1 = defineEvent({
  type: 'run.budget_exhausted',
  version: 1,
  writers: ['scheduler'],
  aggregate: RUN,
  description:
    'What is left of the run’s budget cannot pay for its next step: the run stops (its jobs not ended are cancelled) and fails with this reason. Carries the measurements and the prediction that decided it.',
  schema: z.object({
    /** The step that could not be placed. */
    jobId: z.string(),
    name: z.string(),
    budget: z.number().positive(),
    spent: z.number().nonnegative(),
    reserved: z.number().nonnegative(),
    remainingBudget: z.number(),
    /** The least the step could cost anywhere (its cheapest configuration), USD. */
    cheapestCost: z.number().nonnegative(),
    reason: z.string(),
  }),
});

/**
 * `skipped` added compatibly: a step it needs did not succeed and it did not continue on failure.
 * `early_stopped` added compatibly: a sweep's trial stopped by its early-stopping rule (it does
 * not fail the run). `not_needed` added compatibly: left out by the run's reuse plan.
 */
export const JobOutcomeSchema = z.enum([
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
  'early_stopped',
  /**
   * Added compatibly: the run's reuse plan left it out (only steps that take earlier results read
   * it) and nothing needed it after all: neither run nor taken, it counts as success.
   */
  'not_needed',
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

export const RunReusePlanRevisedV1 = defineEvent({
  type: 'run.reuse_plan_revised',
  version: 1,
  writers: ['scheduler'],
  aggregate: RUN,
  description:
    'A step the reuse plan left out is needed after all: a step that reads it was to take an earlier result, but when it was ready that result could not be taken (evicted, damaged, the lookup failed), so it computes, and the step left out runs (or takes its own earlier result) first.',
  schema: z.object({
    jobId: z.string(),
    name: z.string(),
    /** The step that computes after all and reads it. */
    neededBy: z.object({ jobId: z.string(), name: z.string() }),
    /** Why that step computes, for a person. */
    reason: z.string(),
  }),
});
