import { z } from 'zod';
import { DeclaredOutputSchema, StagedInputSchema } from './job.events.js';
import { HashedCodeSchema, ReusableResultSchema } from './reuse.js';

/**
 * A step of a run to look up by signature, with what signing it takes: provenance signs it (the
 * signing of `libs/runs`) once the steps it reads have results, so that a run's steps are looked
 * up in one round trip.
 */
export const ReuseLookupStepSchema = z.object({
  /** The step's id in the request: what the inputs of the steps after it name. */
  id: z.string(),
  /** The job asking (never its own result). */
  excludeJobId: z.string(),
  command: z.array(z.string()).min(1),
  env: z.record(z.string(), z.string()),
  secrets: z.record(z.string(), z.string()),
  outputs: z.array(DeclaredOutputSchema),
  code: z.array(HashedCodeSchema),
  /**
   * Its inputs, in order: a version resolved by the caller, or the output `fileset` of an earlier
   * step of the request (its newest result's version, by content).
   */
  inputs: z.array(
    z.union([
      StagedInputSchema,
      z.object({ fileset: z.string(), fromStep: z.string(), path: z.string() }),
    ]),
  ),
});
export type ReuseLookupStep = z.infer<typeof ReuseLookupStepSchema>;

/** What looking a step up found, or why it was not looked up. */
export const ReuseStepLookupSchema = z.discriminatedUnion('kind', [
  /** Signed and looked up: its signature, and its newest earlier results, newest first. */
  z.object({
    kind: z.literal('looked_up'),
    signature: z.string(),
    results: z.array(ReusableResultSchema),
  }),
  /** A step it reads has no earlier result (or was not in the request): nothing to sign it with. */
  z.object({ kind: z.literal('not_looked_up') }),
  /** The newest result of a step it reads committed no version of a file set it reads. */
  z.object({ kind: z.literal('no_input'), fileset: z.string() }),
  /**
   * Provenance cannot sign it (the content of a version it reads is not known to it, or it is
   * loading its index): the caller looks it up on its own.
   */
  z.object({ kind: z.literal('unknown'), reason: z.string() }),
]);
export type ReuseStepLookup = z.infer<typeof ReuseStepLookupSchema>;
