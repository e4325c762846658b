import { z } from 'zod';

/**
 * When a step's earlier result is reused instead of computed again:
 * - `auto` (the default): when an earlier job of the project had the same signature, succeeded,
 *   and saved every output it declares (a step with no saved outputs has no result to reuse: its
 *   effect is what it did), unless the step is `nondeterministic`;
 * - `always`: also a step with no outputs, and a `nondeterministic` one;
 * - `never`: always computed.
 */
export const ReusePolicySchema = z.enum(['auto', 'always', 'never'], {
  error: 'reuse is auto, always or never',
});
export type ReusePolicy = z.infer<typeof ReusePolicySchema>;

/**
 * Code a step runs, named so that a change to it changes the step's signature: an absolute path
 * (a file, or a folder hashed whole) on the machine acai's scheduler runs on, or a file-set version.
 */
export const CodeRefSchema = z.union(
  [
    z
      .string()
      .regex(/^\//, 'a code path is absolute, e.g. /srv/project/train.py')
      .max(4096)
      .refine((p) => !p.split('/').includes('..'), 'a code path has no ..'),
    z.strictObject({
      fileset: z.string().min(1).max(200),
      version: z.union([z.number().int().positive(), z.string().min(1).max(200)]).default('latest'),
    }),
  ],
  { error: 'code is an absolute path or { fileset, version }' },
);
export type CodeRef = z.infer<typeof CodeRefSchema>;

/** One piece of a job's code as it was hashed before the job was queued. */
export const HashedCodeSchema = z.object({
  /** What was hashed: a path, or `fileset@version`. */
  ref: z.string(),
  /** Where it came from: named in the step's `code`, the program, or its script. */
  role: z.enum(['code', 'program', 'script']),
  /** sha256 of its content (a folder: of its sorted files' paths and hashes); null: not hashed. */
  sha256: z.string().nullable(),
  /** Why it could not be hashed (null: it was). */
  problem: z.string().nullable(),
});
export type HashedCode = z.infer<typeof HashedCodeSchema>;

/**
 * A job's signature, computed before it runs: equal signatures mean the same code, run the same
 * way, on the same data. Its parts are kept so that "why was this (not) reused?" is answered
 * from the log.
 */
export const JobSignatureSchema = z.object({
  /** sha256 over the parts below. */
  sha256: z.string(),
  parts: z.object({
    /** The command line, exactly. */
    argv: z.array(z.string()),
    code: z.array(HashedCodeSchema),
    /**
     * The step's environment without `ACAI_*` and the variables that only size resources (thread
     * counts): its parameters.
     */
    parameters: z.record(z.string(), z.string()),
    /** Environment variable → secret name (the values are not part of it). */
    secrets: z.record(z.string(), z.string()),
    /** Each input by content: the manifest hash of the exact version staged. */
    inputs: z.array(z.object({ path: z.string(), manifestSha256: z.string() })),
    /** The outputs it declares (file set and folder). */
    outputs: z.array(z.object({ fileset: z.string(), path: z.string() })),
  }),
  /** False when some code could not be hashed: such a job is never reused. */
  complete: z.boolean(),
  /**
   * Added compatibly: sha256 over its code alone (null: some could not be hashed), what the
   * versions it commits record as `createdBy.code`.
   */
  codeSha256: z.string().nullable().optional(),
});
export type JobSignature = z.infer<typeof JobSignatureSchema>;

/** The earlier job a reused step points at, and what reusing it saved. */
export const ReusedFromSchema = z.object({
  jobId: z.string(),
  runId: z.string(),
  /** How long the earlier job ran (null: not known). */
  savedSeconds: z.number().nonnegative().nullable(),
  /** What the earlier job's attempts cost, USD (null: not known). */
  savedCost: z.number().nonnegative().nullable(),
});
export type ReusedFrom = z.infer<typeof ReusedFromSchema>;

/** An earlier result a job could take instead of running: the job and what it committed. */
export const ReusableResultSchema = z.object({
  jobId: z.string(),
  runId: z.string(),
  name: z.string(),
  outputs: z.array(z.object({ fileset: z.string(), version: z.number().int().positive() })),
  durationMs: z.number().nonnegative().nullable(),
  pricePerHour: z.number().nonnegative().nullable(),
  /** The job it reused in turn (null: it ran). */
  reusedFrom: z.string().nullable(),
  /**
   * The project that made it, when not the asking one (a project that shares its results with it):
   * its versions are that project's, to be copied before they are taken.
   */
  project: z.string().optional(),
});
export type ReusableResult = z.infer<typeof ReusableResultSchema>;

/** Why a job was or was not reused, and how its signature compares with the nearest earlier job. */
export const ReuseExplanationSchema = z.object({
  jobId: z.string(),
  /**
   * `reused`; `computed`; `not_needed`: its run's reuse plan left it out (only steps that took
   * earlier results read it), so it was neither run nor taken; `unsigned`: it was queued before
   * signatures, or not queued yet.
   */
  decision: z.enum(['reused', 'computed', 'not_needed', 'unsigned']),
  reason: z.string(),
  signature: z.string().nullable(),
  reusedFrom: z.string().nullable(),
  /** The project's nearest earlier job of the same step (null: none). */
  nearest: z
    .object({
      jobId: z.string(),
      runId: z.string(),
      status: z.string(),
      sameSignature: z.boolean(),
      /** Each part that differs (empty: the same signature). */
      differences: z.array(
        z.object({
          part: z.enum(['argv', 'code', 'parameters', 'secrets', 'inputs', 'outputs']),
          what: z.string(),
        }),
      ),
    })
    .nullable(),
  /** The signature's parts (null: unsigned). */
  parts: JobSignatureSchema.shape.parts.nullable(),
});
export type ReuseExplanation = z.infer<typeof ReuseExplanationSchema>;

/** A version's bytes checked against its manifest: every file's blob there, at its size. */
export const VersionIntegritySchema = z.object({
  fileset: z.string(),
  version: z.number().int().positive(),
  intact: z.boolean(),
  /** What is wrong (null: intact). */
  problem: z.string().nullable(),
});
export type VersionIntegrity = z.infer<typeof VersionIntegritySchema>;
