import { z } from 'zod';
import {
  JobFailureReasonSchema,
  NetworkSchema,
  ProvisionSpecSchema,
  ResourcesSchema,
} from '../events/job.events.js';
import { FilesetNameSchema, LabelSchema, VersionRefSchema } from './names.js';
import { SecretNameSchema } from './secrets.js';
import { ObjectiveSchema } from '../events/trial.js';
import { AcaiError, type ErrorDetail } from '../errors.js';
import { BudgetSchema, DeadlineSpecSchema } from './deadline.js';
import { CodeRefSchema, ReusePolicySchema } from '../events/reuse.js';
import { QualitySpecSchema } from './materialization.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const nameField = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .regex(
      NAME,
      `${what} must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _');

const RELATIVE_DIR = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))(?!.*\/\/)[^\\\u0000]+$/;

const stagingPath = z.string().regex(RELATIVE_DIR, 'a relative folder without .. or //');

export const FilesetInputSpecSchema = z.strictObject({
  fileset: FilesetNameSchema,
  /** A version number, `latest` (the default, resolved when the job is queued) or a label. */
  version: VersionRefSchema.default('latest'),
  /** Folder of the job's folder to stage it into (default `inputs/<fileset>`). */
  path: stagingPath.optional(),
});

/**
 * Another step's output, `{ "step": "etl", "output": "data" }`: the version of file set `data`
 * that step `etl` committed in this run (not whatever is latest when this step is queued, which a
 * concurrent run may have replaced). It implies `needs: ["etl"]`.
 */
export const StepOutputInputSpecSchema = z
  .strictObject({
    step: nameField('the step of an input'),
    /** The file set name of one of that step's `outputs`. */
    output: FilesetNameSchema,
    /** Folder of the job's folder to stage it into (default `inputs/<output>`). */
    path: stagingPath.optional(),
  })
  .describe(
    "Another step's output: the version of file set `output` that step committed in this run. Implies needing that step.",
  );

export const InputSpecSchema = z.union([FilesetInputSpecSchema, StepOutputInputSpecSchema], {
  error:
    "an input is { fileset, version?, path? } or another step's output { step, output, path? }",
});
export type InputSpec = z.infer<typeof InputSpecSchema>;

/** The most retries a step may ask for, and the longest wait before one (an hour). */
export const MAX_RETRIES = 20;
export const MAX_RETRY_DELAY_SECONDS = 3600;

/** Failure reasons retried when a step's `retries` does not say (`nonzero_exit` never is unless listed). */
export const DEFAULT_RETRY_ON = ['executor_lost', 'no_resources'] as const;

/**
 * Run the step again when it fails for one of the reasons `on` lists, up to `max` more times, each
 * after `backoffSeconds × 2^(n-1)` seconds (capped at an hour). Each retry is a new attempt of the
 * same job.
 */
export const RetrySpecSchema = z
  .strictObject({
    max: z
      .number({ error: 'retries.max must be a number' })
      .int('retries.max must be a whole number')
      .min(0)
      .max(MAX_RETRIES, `retries.max is at most ${MAX_RETRIES}`),
    backoffSeconds: z.number().min(0).max(MAX_RETRY_DELAY_SECONDS).default(10),
    on: z
      .array(JobFailureReasonSchema)
      .max(16)
      .default([...DEFAULT_RETRY_ON]),
  })
  .describe(
    'Run the step again, as a new attempt, when it fails for a reason `on` lists (default executor_lost and no_resources; nonzero_exit only when listed), up to `max` times, the n-th after backoffSeconds × 2^(n-1) s (at most an hour).',
  );
export type RetrySpec = z.infer<typeof RetrySpecSchema>;

/** The most trials one swept step may expand into. */
export const MAX_TRIALS = 1000;

const envValue = z
  .string()
  .max(65536)
  .regex(/^[^\u0000]*$/, 'environment variable values cannot contain a NUL character');

/** A numeric range a random sweep draws a value from, uniformly or (`log`) log-uniformly. */
export const SweepRangeSchema = z
  .strictObject({
    min: z.number({ error: 'a range needs a numeric min' }),
    max: z.number({ error: 'a range needs a numeric max' }),
    /** Draw uniformly in log space (learning rates): min must be above 0. */
    log: z.boolean().optional(),
    /** Draw whole numbers (hidden sizes), min and max included. */
    integer: z.boolean().optional(),
  })
  .describe(
    'A numeric range: uniform (or log-uniform with `log`) in [min, max], whole numbers with `integer`.',
  );

/**
 * Asynchronous successive halving: at each rung (a step the trials report), a trial that reaches
 * it goes on only if its objective is in the best 1/reductionFactor of the trials that reached the
 * rung before it. Rungs are `rungs`, or minSteps × reductionFactor^k below `maxSteps`.
 */
export const AshaSpecSchema = z.strictObject({
  rule: z.literal('asha'),
  reductionFactor: z.number().min(2, 'reductionFactor is at least 2').max(100).default(3),
  minSteps: z.number().int().positive().default(1),
  maxSteps: z.number().int().positive().optional(),
  rungs: z.array(z.number().int().positive()).min(1).max(32).optional(),
});

/**
 * The median stopping rule: a trial whose best objective by step s is worse than the median of
 * the other trials' running averages at s is stopped, once it has reached `minSteps` (a grace
 * period) and at least `minTrials` other trials have reached s.
 */
export const MedianSpecSchema = z.strictObject({
  rule: z.literal('median'),
  minSteps: z.number().int().positive().default(1),
  minTrials: z.number().int().positive().max(MAX_TRIALS).default(3),
});

export const EarlyStoppingSpecSchema = z.discriminatedUnion(
  'rule',
  [MedianSpecSchema, AshaSpecSchema],
  {
    error:
      "earlyStopping is { rule: 'median', minSteps?, minTrials? } or { rule: 'asha', reductionFactor?, minSteps?, maxSteps?, rungs? }",
  },
);
export type EarlyStoppingSpec = z.infer<typeof EarlyStoppingSpecSchema>;

/**
 * Runs the step once per set of `env` values (a trial, a job of its own named `<step>#<n>`):
 * exactly one of `grid` (every combination), `random` (`count` draws, reproducible from `seed`)
 * or `list` (explicit env maps). Steps that need it wait for all its trials; a step that takes its
 * output gets the best trial's (by `objective`).
 */
export const SweepSpecSchema = z
  .strictObject({
    grid: z.record(envName, z.array(envValue).min(1).max(MAX_TRIALS)).optional(),
    random: z
      .strictObject({
        seed: z
          .number()
          .int()
          .min(0)
          .max(2 ** 32 - 1),
        count: z.number().int().min(1).max(MAX_TRIALS, `a sweep runs at most ${MAX_TRIALS} trials`),
        params: z.record(
          envName,
          z.union([z.array(envValue).min(1).max(MAX_TRIALS), SweepRangeSchema], {
            error: 'a random parameter is a list of values or a range { min, max, log?, integer? }',
          }),
        ),
      })
      .optional(),
    list: z
      .array(z.record(envName, envValue))
      .min(1)
      .max(MAX_TRIALS, `a sweep runs at most ${MAX_TRIALS} trials`)
      .optional(),
    /** Trials queued or running at once (default: all). */
    maxParallel: z.number().int().min(1).max(MAX_TRIALS).optional(),
    /** The metric the trials are compared by; needed for earlyStopping and a best trial. */
    objective: ObjectiveSchema.optional(),
    earlyStopping: EarlyStoppingSpecSchema.optional(),
  })
  .describe(
    'Run the step once per set of env values (a trial, job `<step>#<n>`): exactly one of grid, random or list; at most 1000 trials.',
  );
export type SweepSpec = z.infer<typeof SweepSpecSchema>;

export const OutputSpecSchema = z.strictObject({
  fileset: FilesetNameSchema,
  /** Folder of the job's folder whose files become the new version (default `outputs/<fileset>`). */
  path: z.string().regex(RELATIVE_DIR, 'a relative folder without .. or //').optional(),
  labels: z.array(LabelSchema).max(32).optional(),
  /** false: the folder is made and named for the job, but not saved (a scratch output). */
  save: z.boolean().optional(),
});
export type OutputSpec = z.infer<typeof OutputSpecSchema>;

export const StepSpecSchema = z.strictObject({
  name: nameField('step name'),
  command: z
    .array(z.string().min(1, 'an argument must not be empty').max(8192), {
      error: 'command must be an array of strings (argv), e.g. ["python", "train.py"]',
    })
    .min(1, 'command must name a program to run')
    .max(1024),
  needs: z.array(nameField('a needed step')).max(256).optional(),
  /**
   * Run once the steps it needs have ended, whatever their outcome (failed, skipped), instead of
   * being skipped when one did not succeed. Overrides the run's `continueOnFailure`.
   */
  continueOnFailure: z
    .boolean()
    .optional()
    .describe(
      "Run once the steps it needs have ended, whatever their outcome, instead of ending skipped when one did not succeed (still skipped when a step whose output it takes did not succeed). Overrides the run's.",
    ),
  retries: RetrySpecSchema.optional(),
  env: z.record(envName, envValue).optional(),
  resources: ResourcesSchema.partial().optional(),
  /** Wall-clock limit: the job is stopped, with reason `timed_out`, after this many seconds. */
  timeoutSeconds: z
    .number()
    .positive()
    .max(30 * 24 * 3600)
    .optional(),
  /** File set versions (or other steps' outputs) staged into the job's folder before it starts. */
  inputs: z.array(InputSpecSchema).max(64).optional(),
  /** Folders of the job's folder committed as new file set versions when it succeeds. */
  outputs: z.array(OutputSpecSchema).max(64).optional(),
  /** Let the auto-provisioner choose the configuration (see ProvisionSpecSchema). */
  provision: ProvisionSpecSchema.optional(),
  /**
   * `none`: the job runs in its own network namespace with no interfaces (not even loopback up),
   * so it can reach nothing; `default`: the node's network.
   */
  network: NetworkSchema.optional(),
  /**
   * Environment variables set from the project's secrets when the job starts: `{ "HF_TOKEN":
   * "hf-token" }`. Only the names travel (events, the job's view); the value never does.
   */
  secrets: z.record(envName, SecretNameSchema).optional(),
  /** Run the step once per set of env values: a sweep of trials (see SweepSpecSchema). */
  sweep: SweepSpecSchema.optional(),
  /**
   * The code the step runs, hashed into its signature before it is queued, so that a change to it
   * means computing again: absolute paths (files or folders) or file-set versions. By default the
   * program and, for an interpreter (node, python, sh...), its script file.
   */
  code: z
    .array(CodeRefSchema)
    .max(64, 'a step names at most 64 pieces of code')
    .optional()
    .describe(
      'The code the step runs, hashed into its signature: absolute paths (files or folders) or { fileset, version }. By default: the program and, for an interpreter, its script.',
    ),
  /** Reuse an earlier identical job's result (see ReusePolicySchema); overrides the run's. */
  reuse: ReusePolicySchema.optional().describe(
    "auto (default): reuse an earlier identical job's saved outputs instead of running; always: also for a step with no outputs or a nondeterministic one; never: always run. Overrides the run's.",
  ),
  /**
   * The metric (as the step reports it) that says how good the model it makes is: what the
   * materializer weighs, beside recreation cost, when it keeps artifacts under a storage budget.
   */
  quality: QualitySpecSchema.optional().describe(
    'The metric that says how good the model this step makes is ({ metric, goal: max|min }), for the materializer.',
  ),
  /** Its result differs from run to run on the same inputs: never reused under `auto`. */
  nondeterministic: z
    .boolean()
    .optional()
    .describe('Its result differs from run to run on the same inputs: never reused under auto.'),
});
export type StepSpec = z.infer<typeof StepSpecSchema>;

/** The range of a run's `priority`: higher runs go first among a project's waiting jobs. */
export const MIN_PRIORITY = -100;
export const MAX_PRIORITY = 100;

export const RunSpecSchema = z.strictObject({
  name: nameField('run name'),
  steps: z
    .array(StepSpecSchema, { error: 'steps must be an array of steps' })
    .min(1, { error: 'a run needs at least one step: steps is empty' })
    .max(10000, { error: 'a run has at most 10000 steps' }),
  /** The default of every step's `continueOnFailure` (false: a step whose needs failed is skipped). */
  continueOnFailure: z
    .boolean()
    .optional()
    .describe("The default of every step's continueOnFailure (false)."),
  /**
   * Among its project's jobs waiting for a slot of the same pool, a run's go first the higher its
   * priority (then first placed, first run). It never takes slots from another project's share.
   */
  priority: z
    .number({ error: 'priority must be a whole number from -100 to 100' })
    .int('priority must be a whole number from -100 to 100')
    .min(MIN_PRIORITY, `priority is at least ${MIN_PRIORITY}`)
    .max(MAX_PRIORITY, `priority is at most ${MAX_PRIORITY}`)
    .optional()
    .describe(
      "Among its project's jobs waiting for a slot, a run's go first the higher its priority, -100 to 100 (default 0); it never takes another project's share.",
    ),
  /** At most this many of the run's jobs are dispatched or running at once (default: no limit). */
  maxParallel: z
    .number({ error: 'maxParallel must be a whole number of at least 1' })
    .int('maxParallel must be a whole number of at least 1')
    .min(1, 'maxParallel must be at least 1')
    .max(10000, 'maxParallel is at most 10000')
    .optional()
    .describe(
      "At most this many of the run's jobs are dispatched or running at once, across pools (default: no limit).",
    ),
  /** When the whole run must be finished (see `DeadlineSpec`): split over its steps by the plan. */
  deadline: DeadlineSpecSchema.optional(),
  /** The most the whole run may cost, USD: split over its steps by the plan. */
  budget: BudgetSchema.optional(),
  /** The default of every step's `reuse` (auto). */
  reuse: ReusePolicySchema.optional().describe(
    "The default of every step's reuse: auto (default), always or never.",
  ),
});
export type RunSpec = z.infer<typeof RunSpecSchema>;

export const DEFAULT_RESOURCES = { cpu: 1, memoryMb: 512 } as const;

/**
 * The run spec as JSON Schema (draft 2020-12), generated from {@link RunSpecSchema}: what a client
 * may send, JSON or YAML. `docs/run-spec.schema.json` is this, kept in step by a test.
 */
export function runSpecJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://acai.dev/schemas/run-spec.json',
    title: 'acai run spec',
    description:
      'POST /api/v1/runs, as application/json or application/yaml: a named run of steps, each an argv run in `needs` order.',
    ...z.toJSONSchema(RunSpecSchema, { io: 'input', unrepresentable: 'any' }),
  };
}

/**
 * The same refusal, each detail about a step saying which step by name as well as by index
 * (`steps.2.retries.max` of step 'train'), read from the spec as it was sent.
 */
export function withStepNames(error: AcaiError, raw: unknown): AcaiError {
  const steps =
    typeof raw === 'object' && raw !== null && 'steps' in raw && Array.isArray(raw.steps)
      ? (raw.steps as unknown[])
      : [];
  const details = (error.details ?? []).map((detail): ErrorDetail => {
    const index = /^steps\.(\d+)(\.|$)/.exec(detail.path ?? '')?.[1];
    const step: unknown = index === undefined ? undefined : steps[Number(index)];
    const name =
      typeof step === 'object' && step !== null && 'name' in step && typeof step.name === 'string'
        ? step.name
        : undefined;
    return name === undefined || detail.message.includes(`'${name}'`)
      ? detail
      : { ...detail, message: `step '${name}': ${detail.message}` };
  });
  const first = details[0];
  if (first === undefined) return error;
  return new AcaiError(
    error,
    `Invalid run spec: ${first.path === undefined ? '' : `${first.path}: `}${first.message}`,
    details,
    { cause: error },
  );
}
