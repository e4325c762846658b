import { z } from 'zod';
import {
  CheckpointRefSchema,
  DeclaredOutputSchema,
  NetworkSchema,
  ResourcesSchema,
  RetryPolicySchema,
  StagedInputSchema,
} from '../events/job.events.js';

/** The `PATH` a job gets unless the executor is told otherwise (`ACAI_JOB_PATH`) or its step's `env` sets one. */
export const DEFAULT_JOB_PATH = '/usr/local/bin:/usr/bin:/bin';

/** A job assignment on the work stream, pulled by an executor of the pool. */
export const WorkAssignmentSchema = z.object({
  project: z.string(),
  runId: z.string(),
  jobId: z.string(),
  name: z.string(),
  attempt: z.number().int().positive(),
  /** Stream sequence of the job's `job.dispatched` event: its version when it was put on the queue. */
  dispatchedSeq: z.number().int().nonnegative(),
  command: z.array(z.string()).min(1),
  env: z.record(z.string(), z.string()),
  resources: ResourcesSchema,
  inputs: z.array(StagedInputSchema).default([]),
  outputs: z.array(DeclaredOutputSchema).default([]),
  timeoutSeconds: z.number().positive().nullable().default(null),
  network: NetworkSchema.default('default'),
  /** Environment variable → secret name; the executor asks the gateway for the values. */
  secrets: z.record(z.string(), z.string()).default({}),
  /**
   * Added compatibly: the job's retry policy and the retries it had, so that an executor decides a
   * failure (retried or final) from the work message as the log would.
   */
  retries: RetryPolicySchema.nullable().default(null),
  retry: z.number().int().nonnegative().default(0),
  /**
   * Added compatibly: the checkpoint the attempt starts from (the last one any attempt saved), so
   * that a job queued again (a retry, a move to another configuration) resumes as a redelivered
   * one does.
   */
  checkpoint: CheckpointRefSchema.nullable().default(null),
  /**
   * Added compatibly: sha256 of the job's code as hashed into its signature (null: not known),
   * recorded as `createdBy.code` on the versions it commits.
   */
  code: z.string().nullable().default(null),
});
export type WorkAssignment = z.infer<typeof WorkAssignmentSchema>;
