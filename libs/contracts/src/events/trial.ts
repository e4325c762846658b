import { z } from 'zod';

/** What a sweep's trials are compared by: a metric they report, smaller or larger being better. */
export const ObjectiveSchema = z.strictObject({
  metric: z
    .string({ error: 'objective.metric must be a string' })
    .min(1, 'objective.metric names a metric the trials report')
    .max(200),
  mode: z.enum(['min', 'max'], { error: "objective.mode must be 'min' or 'max'" }),
});
export type Objective = z.infer<typeof ObjectiveSchema>;

/**
 * The median stopping rule as a sweep recorded it: a trial whose best objective by its step s is
 * worse than the median of the other trials' running averages at s is stopped, once it has
 * reported step `minSteps` and at least `minTrials` other trials have reached s.
 */
export const MedianRuleSchema = z.object({
  rule: z.literal('median'),
  minSteps: z.number().int().positive(),
  minTrials: z.number().int().positive(),
});

/**
 * Asynchronous successive halving as a sweep recorded it: at each rung (a step), a trial that
 * reaches it is stopped unless its objective is in the best 1/`reductionFactor` of the trials
 * that reached that rung before it.
 */
export const AshaRuleSchema = z.object({
  rule: z.literal('asha'),
  reductionFactor: z.number().min(2),
  rungs: z.array(z.number().int().positive()).min(1),
});

export const EarlyStoppingRuleSchema = z.discriminatedUnion('rule', [
  MedianRuleSchema,
  AshaRuleSchema,
]);
export type EarlyStoppingRule = z.infer<typeof EarlyStoppingRuleSchema>;
export const EarlyStoppingRuleNameSchema = z.enum(['median', 'asha']);

/**
 * One trial of a swept step: the step, its number (1-based, in expansion order) and the parameter
 * values it sets in the step's env; `objective` is the sweep's (null: trials are not compared).
 */
export const TrialSchema = z.object({
  step: z.string(),
  index: z.number().int().positive(),
  params: z.record(z.string(), z.string()),
  objective: ObjectiveSchema.nullable(),
});
export type Trial = z.infer<typeof TrialSchema>;

/** The best trial of a sweep: the one that succeeded with the best last objective value. */
export const BestTrialSchema = z.object({
  jobId: z.string(),
  name: z.string(),
  params: z.record(z.string(), z.string()),
  value: z.number(),
});
export type BestTrial = z.infer<typeof BestTrialSchema>;

/** Why a trial was stopped early: the rule, its objective at `step`, and the threshold it missed. */
export const EarlyStoppedSchema = z.object({
  rule: EarlyStoppingRuleNameSchema,
  objective: ObjectiveSchema,
  step: z.number().int().nonnegative(),
  value: z.number(),
  threshold: z.number(),
  /** How many other trials the threshold was computed from. */
  compared: z.number().int().nonnegative(),
});
export type EarlyStopped = z.infer<typeof EarlyStoppedSchema>;
