import { z } from 'zod';

/** How the materializer chooses: by utility (the default), or least recently used (a baseline). */
export const MaterializationPolicySchema = z.enum(['utility', 'lru', 'lru-strict'], {
  error: 'policy is utility, lru or lru-strict',
});
export type MaterializationPolicy = z.infer<typeof MaterializationPolicySchema>;

/** One artifact the materializer weighed: a derived version, its size and its utility. */
export const WeighedArtifactSchema = z.object({
  fileset: z.string(),
  version: z.number().int().positive(),
  bytes: z.number().int().nonnegative(),
  utility: z.number(),
});
export type WeighedArtifact = z.infer<typeof WeighedArtifactSchema>;

/** Why the materializer evicted a version: its utility, the budget, and what it kept instead. */
export const MaterializationDecisionSchema = z.object({
  by: z.literal('materializer'),
  /** Added compatibly: how it chose (absent: utility). */
  policy: MaterializationPolicySchema.optional(),
  utility: z.number(),
  /** The parts of the utility: seconds to recreate it, its uses, the quality it leads to. */
  recreateSeconds: z.number().nonnegative(),
  uses: z.number().int().nonnegative(),
  quality: z.number().nullable(),
  alpha: z.number().min(0).max(1),
  budgetBytes: z.number().int().nonnegative(),
  /** The project's derived bytes before this round of evictions (each content once). */
  derivedBytes: z.number().int().nonnegative(),
  /** The kept artifacts of lowest utility: the ones that won over it. */
  alternatives: z.array(WeighedArtifactSchema).max(5),
});
export type MaterializationDecision = z.infer<typeof MaterializationDecisionSchema>;

export const SetStorageBudgetSchema = z.strictObject({
  bytes: z
    .number({ error: 'bytes must be a whole number of bytes, or null for no budget' })
    .int('bytes must be a whole number of bytes')
    .nonnegative('bytes must be 0 or more')
    .nullable()
    .describe(
      'The most the project keeps of derived artifacts (versions its jobs made), in bytes; null: no budget (keep everything)',
    ),
  alpha: z
    .number()
    .min(0, 'alpha is from 0 to 1')
    .max(1, 'alpha is from 0 to 1')
    .optional()
    .describe(
      'Weight of model quality against recreation cost per byte in an artifact’s utility (0.5)',
    ),
  policy: MaterializationPolicySchema.optional().describe(
    'utility (default): keep the highest utility; lru: keep the most recently used that fit, skipping one too big (the baseline utility is measured against); lru-strict: evict the least recently used until the rest fits, as a cache does',
  ),
});
export type SetStorageBudget = z.infer<typeof SetStorageBudgetSchema>;

/** A project's storage budget for derived artifacts and where it stands. */
export const StorageBudgetViewSchema = z.object({
  project: z.string(),
  /** null: none (everything is kept). */
  budgetBytes: z.number().int().nonnegative().nullable(),
  alpha: z.number(),
  policy: MaterializationPolicySchema,
  /**
   * Bytes of the derived versions not evicted, versions with the same content (manifest) once, as
   * the catalog stores them (a blob two different manifests share still counts twice).
   */
  derivedBytes: z.number().int().nonnegative(),
  derivedVersions: z.number().int().nonnegative(),
  /** Versions the materializer has evicted, in all. */
  evictedVersions: z.number().int().nonnegative(),
  /** When the materializer last weighed the project (null: never). */
  lastRunAt: z.string().nullable(),
});
export type StorageBudgetView = z.infer<typeof StorageBudgetViewSchema>;

/** The metric saying how good a step's model is, for the materializer (higher or lower better). */
export const QualitySpecSchema = z.strictObject({
  metric: z.string().min(1).max(200),
  goal: z.enum(['max', 'min']).default('max'),
});
export type QualitySpec = z.infer<typeof QualitySpecSchema>;
