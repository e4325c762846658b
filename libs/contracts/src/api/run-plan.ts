import { z } from 'zod';
import {
  OfferRefSchema,
  ProvisionSpecSchema,
  ResourcesSchema,
  StepShareSchema,
} from '../events/job.events.js';

/**
 * One step as the run planner sees it: what the auto-provisioner needs to place it, and the steps
 * it waits for. A step it needs that is not in the list has ended (or runs already): it is not
 * waited for.
 */
export const StepToEstimateSchema = z.object({
  name: z.string(),
  needs: z.array(z.string()),
  command: z.array(z.string()).min(1),
  env: z.record(z.string(), z.string()),
  resources: ResourcesSchema,
  /** File set inputs (another step's output is not known before it runs, and is left out). */
  inputs: z.array(z.object({ fileset: z.string(), version: z.union([z.number(), z.string()]) })),
  /** The step's `provision` (null: it runs as requested). */
  provision: ProvisionSpecSchema.nullable(),
});
export type StepToEstimate = z.infer<typeof StepToEstimateSchema>;

/** How a step's prediction was made. */
export const StepBasisSchema = z.enum([
  /** A runtime model of the step's profile predicted every configuration. */
  'model',
  /** The step is pinned to a configuration, and nothing predicts how long it takes there. */
  'pinned',
  /** No runtime model yet: it runs as requested, and nothing predicts how long it takes. */
  'as-requested',
  /** Nothing is known of the step yet: it would be profiled first. */
  'profile-first',
  /** No configuration can run it. */
  'impossible',
]);

export const StepPlanSchema = z.object({
  name: z.string(),
  needs: z.array(z.string()),
  basis: StepBasisSchema,
  /** The configuration the auto-provisioner would choose within the step's share. */
  configuration: OfferRefSchema.nullable(),
  /** Predicted wall-clock seconds (booting included) and cost, USD; null when not predicted. */
  predictedSeconds: z.number().nonnegative().nullable(),
  predictedCost: z.number().nonnegative().nullable(),
  /** When it is predicted to start and finish (null once a step before it has no prediction). */
  start: z.string().nullable(),
  finish: z.string().nullable(),
  /** On the run's critical path (the longest chain of steps by time). */
  critical: z.boolean(),
  /** Its share of the run's deadline and budget (null: the run has neither). */
  share: StepShareSchema.nullable(),
  /** The least it could cost anywhere, USD (for a step without a prediction: booting its configuration). */
  cheapestCost: z.number().nonnegative(),
  /** The least time it could take anywhere, seconds (null: not predicted). */
  fastestSeconds: z.number().nonnegative().nullable(),
  /** Whether the choice meets the step's share (false: the closest was taken). */
  success: z.boolean(),
  reason: z.string(),
});
export type StepPlan = z.infer<typeof StepPlanSchema>;

/** A whole plan other than the one chosen: every step at its fastest, or at its cheapest. */
export const PlanAlternativeSchema = z.object({
  kind: z.enum(['fastest', 'cheapest']),
  predictedFinish: z.string().nullable(),
  predictedCost: z.number().nonnegative().nullable(),
  /** Null when it cannot be told (a step without a prediction), or there is no such limit. */
  meetsDeadline: z.boolean().nullable(),
  meetsBudget: z.boolean().nullable(),
});
export type PlanAlternative = z.infer<typeof PlanAlternativeSchema>;

/** What a run would do (`POST /api/v1/runs/plan`), or what is left of it at a placement. */
export const RunPlanViewSchema = z.object({
  /** The instant the plan starts from (submission). */
  now: z.string(),
  steps: z.array(StepPlanSchema),
  /** The steps of the critical path, first to last. */
  criticalPath: z.array(z.string()),
  /** Every step has a prediction: otherwise finish and cost below are unknown (null). */
  complete: z.boolean(),
  predictedFinish: z.string().nullable(),
  predictedSeconds: z.number().nonnegative().nullable(),
  predictedCost: z.number().nonnegative().nullable(),
  /** The least the run could cost (every step at its cheapest; booting only where not predicted). */
  cheapestCost: z.number().nonnegative(),
  deadline: z
    .object({
      at: z.string(),
      /** Null when it cannot be told (a step without a prediction). */
      holds: z.boolean().nullable(),
      /** Seconds to spare (negative: how late), null when not predicted. */
      marginSeconds: z.number().nullable(),
    })
    .nullable(),
  budget: z
    .object({
      amount: z.number(),
      holds: z.boolean().nullable(),
      /** USD to spare (negative: how much over), null when not predicted. */
      marginCost: z.number().nullable(),
    })
    .nullable(),
  /** Every step at its fastest, and every step at its cheapest: what would hold instead. */
  alternatives: z.array(PlanAlternativeSchema),
  /** The plan in a sentence or two, saying what holds and, if not, by how much and what would. */
  summary: z.string(),
});
export type RunPlanView = z.infer<typeof RunPlanViewSchema>;

/**
 * What reuse would do with each step of a run, planned at once (the Experiment Graph paper's
 * forward and backward passes): `reuse` takes an earlier intact result; `compute` runs it;
 * `not_needed` neither (only steps that take their own earlier results need it); `when_ready` is
 * decided when the steps it reads have committed their outputs in the run.
 */
export const ReusePlanDecisionSchema = z.enum(['reuse', 'compute', 'not_needed', 'when_ready']);
export type ReusePlanDecision = z.infer<typeof ReusePlanDecisionSchema>;

export const RunReusePlanSchema = z.object({
  /** Each step in dependency order (a swept step once). */
  steps: z.array(
    z.object({
      step: z.string(),
      decision: ReusePlanDecisionSchema,
      /** Why, for a person. */
      reason: z.string(),
      /** The earlier job whose result was found for its signature (null: none). */
      from: z.string().nullable(),
    }),
  ),
  counts: z.record(ReusePlanDecisionSchema, z.number().int().nonnegative()),
});
export type RunReusePlan = z.infer<typeof RunReusePlanSchema>;

/** `POST /api/v1/runs/plan`: the provisioner's plan, and (added compatibly) the reuse plan. */
export const RunPlanWithReuseSchema = RunPlanViewSchema.extend({
  /** Absent when earlier results could not be looked up (the plan says nothing about reuse). */
  reuse: RunReusePlanSchema.optional(),
});
export type RunPlanWithReuse = z.infer<typeof RunPlanWithReuseSchema>;
