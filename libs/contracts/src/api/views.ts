import { z } from 'zod';
import {
  BestTrialSchema,
  EarlyStoppedSchema,
  EarlyStoppingRuleSchema,
  ObjectiveSchema,
} from '../events/trial.js';

export const RunStatusSchema = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export type RunStatus = z.infer<typeof RunStatusSchema>;

export const JobStatusSchema = z.enum([
  'pending',
  'queued',
  'provisioned',
  'dispatched',
  'running',
  /** Added: an attempt failed for a reason its step retries; the job waits to be queued again. */
  'retrying',
  'succeeded',
  'failed',
  'cancelled',
  /** Added: a step it needs did not succeed, and it does not continue on failure. */
  'skipped',
]);
export type JobStatus = z.infer<typeof JobStatusSchema>;

/** The statuses a job never leaves. */
export const TERMINAL_JOB_STATUSES: ReadonlySet<JobStatus> = new Set([
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
]);

export const RunJobSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  status: JobStatusSchema,
  /** Added: the earlier job whose result it took instead of running (absent: it ran, or will). */
  reusedFrom: z.string().optional(),
  /**
   * Added: why it was neither run nor taken (its run's reuse plan left it out: only steps that
   * take earlier results read it; its status is `skipped`, and it counts as success). Absent: it
   * was not left out.
   */
  notNeeded: z.string().optional(),
});

/** A run's deadline and budget against what it has spent and is predicted to need. */
export const RunLimitsViewSchema = z.object({
  /** The instant it must be finished by (ISO 8601), or null. */
  deadline: z.string().nullable(),
  /** The most it may cost, USD, or null. */
  budget: z.number().nullable(),
  /** What its ended jobs cost, measured (running time × price), USD. */
  spent: z.number(),
  /** When it is predicted to finish and what it will cost in all, as last planned (null: unknown). */
  predictedFinish: z.string().nullable(),
  predictedCost: z.number().nullable(),
  /** Why its budget ran out, if it did (the run then failed with this reason). */
  budgetExhausted: z.string().nullable(),
  /**
   * Added compatibly, while it runs: each running job's predicted end and cost from its measured
   * pace, against its share of the deadline and budget (what rescaling acts on).
   */
  running: z
    .array(
      z.object({
        jobId: z.string(),
        name: z.string(),
        /** The configuration it runs on (null: not known). */
        configuration: z.string().nullable(),
        step: z.number().nullable(),
        totalSteps: z.number().nullable(),
        predictedFinish: z.string().nullable(),
        /** Its share: the instant it should finish by, and the most it should cost (null: none). */
        finishBy: z.string().nullable(),
        predictedCost: z.number().nullable(),
        maxCost: z.number().nullable(),
        /** Predicted to finish after `finishBy` (null: not known). */
        late: z.boolean().nullable(),
        /** Times it was moved to another configuration. */
        rescales: z.number().int().nonnegative(),
      }),
    )
    .optional(),
});
export type RunLimitsView = z.infer<typeof RunLimitsViewSchema>;
/** A swept step of a run, in short: its trials are in GET /api/v1/runs/{id}/trials. */
export const RunSweepSummarySchema = z.object({
  step: z.string(),
  trials: z.number().int(),
  objective: ObjectiveSchema.nullable(),
  /** Every trial has ended and the best is chosen. */
  completed: z.boolean(),
  succeeded: z.number().int(),
  earlyStopped: z.number().int(),
  /** The best trial, once the sweep completed (null: none, or not yet). */
  best: BestTrialSchema.nullable(),
});
export type RunSweepSummary = z.infer<typeof RunSweepSummarySchema>;

export const RunViewSchema = z.object({
  id: z.string(),
  project: z.string(),
  name: z.string(),
  status: RunStatusSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  jobs: z.array(RunJobSummarySchema),
  /** Its deadline and budget, spent and predicted; absent for a run with neither. */
  limits: RunLimitsViewSchema.optional(),
  /** Added: the run's swept steps (absent when it has none). */
  sweeps: z.array(RunSweepSummarySchema).optional(),
  /**
   * Added: its priority among its project's runs and the most of its jobs out at once, as the spec
   * gave them (absent: priority 0, no limit).
   */
  priority: z.number().int().optional(),
  maxParallel: z.number().int().positive().optional(),
  /**
   * Added: its jobs that took an earlier result instead of running, and what those earlier jobs
   * ran for and cost (absent: none was reused).
   */
  reuse: z
    .object({
      jobs: z.number().int().nonnegative(),
      savedSeconds: z.number().nonnegative(),
      savedCost: z.number().nonnegative(),
    })
    .optional(),
});
export type RunView = z.infer<typeof RunViewSchema>;

/** How far a running job is, and when it should end, from the metrics it reported. */
export const JobProgressSchema = z.object({
  /** The furthest step the running attempt reported. */
  step: z.number().int().nullable(),
  /** The steps it declared (`##acai metric steps_total=…`), if it did. */
  totalSteps: z.number().int().nullable(),
  /** Done, 0 to 1: step / totalSteps, or the last `progress` metric. */
  fraction: z.number().nullable(),
  stepsPerSecond: z.number().nullable(),
  /** When it ends at the measured rate. */
  predictedFinish: z.string().nullable(),
  /** What the prediction was measured from, in words. */
  basis: z.string(),
});
export type JobProgress = z.infer<typeof JobProgressSchema>;

export const JobViewSchema = z.object({
  id: z.string(),
  project: z.string(),
  runId: z.string(),
  name: z.string(),
  status: JobStatusSchema,
  command: z.array(z.string()),
  attempt: z.number().int(),
  pool: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  reason: z.string().nullable(),
  message: z.string().nullable(),
  /** The last checkpoint the job saved, which a new attempt resumes from. */
  checkpoint: z
    .object({ fileset: z.string(), version: z.number().int(), step: z.number().int().nullable() })
    .nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /**
   * While it runs and reports a declared total or its progress: how far it is and when it should
   * end at the measured rate (worked out when asked, not stored).
   */
  progress: JobProgressSchema.nullable().optional(),
  /** The earlier job whose result it took instead of running (absent: it ran, or will). */
  reusedFrom: z.string().optional(),
});
export type JobView = z.infer<typeof JobViewSchema>;

export const HistoryEntrySchema = z.object({
  seq: z.number().int(),
  type: z.string(),
  version: z.number().int(),
  time: z.string(),
  data: z.unknown(),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

/**
 * One entry of a run's timeline: an event of the run or of one of its jobs, with a sentence for a
 * person and the payload of the decision it records (provisioning, rescaling, a retry, …).
 */
export const TimelineEntrySchema = z.object({
  /** The event's position in the log; entries are in this order. */
  seq: z.number().int(),
  time: z.string(),
  type: z.string(),
  /** The job it is about (null: the whole run). */
  jobId: z.string().nullable(),
  /** That job's step, and its trial's number for a trial of a swept step. */
  step: z.string().nullable(),
  trial: z.number().int().nullable(),
  attempt: z.number().int().nullable(),
  summary: z.string(),
  data: z.unknown(),
});
export type TimelineEntryView = z.infer<typeof TimelineEntrySchema>;

/** A page of a run's timeline. */
export const RunTimelineViewSchema = z.object({
  runId: z.string(),
  items: z.array(TimelineEntrySchema),
  /** Pass as `after` for the next page; null on the last (for now: later entries come after it). */
  next: z.number().int().nullable(),
});
export type RunTimelineView = z.infer<typeof RunTimelineViewSchema>;

export const SubmitRunResponseSchema = z.object({
  id: z.string(),
  jobs: z.array(z.object({ id: z.string(), name: z.string() })),
});
export type SubmitRunResponse = z.infer<typeof SubmitRunResponseSchema>;

export const PageSchema = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    /** Pass as `cursor` for the next page; null on the last. */
    nextCursor: z.string().nullable(),
  });

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/** One batch of output lines of a job, as stored on the logs stream. */
export const LogChunkSchema = z.object({
  jobId: z.string(),
  attempt: z.number().int(),
  lines: z.array(z.object({ t: z.string(), s: z.enum(['out', 'err']), l: z.string() })),
  /** Set on the last chunk of an attempt: the job ended. */
  end: z.object({ status: z.enum(['succeeded', 'failed', 'cancelled']) }).optional(),
});
export type LogChunk = z.infer<typeof LogChunkSchema>;

/** One value of a metric a job printed (`##acai metric`). */
export const MetricSampleSchema = z.object({
  step: z.number().nullable(),
  value: z.number(),
  time: z.string(),
  attempt: z.number().int(),
});
export type MetricSample = z.infer<typeof MetricSampleSchema>;

/** A job's metrics as series by name: `{ series: { loss: [{ step, value, time, attempt }] } }`. */
export const MetricSeriesSchema = z.object({
  series: z.record(z.string(), z.array(MetricSampleSchema)),
});
export type MetricSeries = z.infer<typeof MetricSeriesSchema>;

/** A read model rebuilt from the log. */
export const ReplayResultSchema = z.object({
  projection: z.string(),
  /** The stream sequence it was rebuilt up to. */
  lastSeq: z.number().int().nonnegative(),
  documents: z.number().int().nonnegative(),
});
export type ReplayResult = z.infer<typeof ReplayResultSchema>;

/**
 * A replay of a read model: built beside the live one (which readers keep seeing) from the first
 * event, then swapped in at once. `done` of `total`: the log position reached and the one it
 * started for.
 */
export const ReplayStatusSchema = z.object({
  projection: z.string(),
  status: z.enum(['running', 'succeeded', 'failed']),
  done: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  /** Documents (or rows) of the read model swapped in. */
  documents: z.number().int().nonnegative().nullable(),
  error: z.string().nullable(),
});
export type ReplayStatus = z.infer<typeof ReplayStatusSchema>;

/** A read model: how far it has applied the log, and its latest replay. */
export const ProjectionViewSchema = z.object({
  projection: z.string(),
  lastSeq: z.number().int().nonnegative(),
  replay: ReplayStatusSchema.nullable(),
});
export type ProjectionView = z.infer<typeof ProjectionViewSchema>;

/** One trial of a sweep, as GET /api/v1/runs/{id}/trials lists it. */
export const TrialViewSchema = z.object({
  jobId: z.string(),
  name: z.string(),
  index: z.number().int(),
  params: z.record(z.string(), z.string()),
  status: JobStatusSchema,
  /** The objective's last reported value, and its step (null: not reported yet). */
  objective: z.number().nullable(),
  step: z.number().int().nullable(),
  /** The last value of each metric it reported. */
  lastMetrics: z.record(
    z.string(),
    z.object({ value: z.number(), step: z.number().int().nullable() }),
  ),
  /** Why it did not run to the end: stopped early, cancelled, failed or skipped (null: it did). */
  stoppedReason: z.string().nullable(),
  /** The early-stopping decision, when the rule stopped it. */
  earlyStopped: EarlyStoppedSchema.nullable(),
});
export type TrialView = z.infer<typeof TrialViewSchema>;

export const SweepViewSchema = z.object({
  step: z.string(),
  objective: ObjectiveSchema.nullable(),
  earlyStopping: EarlyStoppingRuleSchema.nullable(),
  maxParallel: z.number().int().nullable(),
  completed: z.boolean(),
  /** The best trial: once completed, the one the run recorded; before, the leader so far. */
  best: BestTrialSchema.nullable(),
  trials: z.array(TrialViewSchema),
});
export type SweepView = z.infer<typeof SweepViewSchema>;

/** GET /api/v1/runs/{id}/trials: every sweep of the run with all its trials. */
export const RunTrialsViewSchema = z.object({
  runId: z.string(),
  sweeps: z.array(SweepViewSchema),
});
export type RunTrialsView = z.infer<typeof RunTrialsViewSchema>;
