import { z } from 'zod';
import { RunSpecSchema } from './api/run-spec.js';
import type { ErrorBody } from './errors.js';

/**
 * Commands are core NATS request/reply on `<prefix>.cmd.<service>.<name>`, served by a queue
 * group per service. Each is named here with its request schema.
 */
export function defineCommand<S extends z.ZodType>(service: string, name: string, request: S) {
  return { service, name, pattern: `${service}.${name}`, request } as const;
}

const projectScoped = { project: z.string().min(1) };

export const Commands = {
  submitRun: defineCommand(
    'scheduler',
    'submit_run',
    z.object({ ...projectScoped, spec: RunSpecSchema, submittedBy: z.string().nullable() }),
  ),
  cancelRun: defineCommand(
    'scheduler',
    'cancel_run',
    z.object({ ...projectScoped, runId: z.string(), reason: z.string() }),
  ),
  getRun: defineCommand('provenance', 'get_run', z.object({ ...projectScoped, runId: z.string() })),
  listRuns: defineCommand(
    'provenance',
    'list_runs',
    z.object({
      ...projectScoped,
      limit: z.number().int().min(1).max(500),
      cursor: z.string().nullable(),
    }),
  ),
  getJob: defineCommand('provenance', 'get_job', z.object({ ...projectScoped, jobId: z.string() })),
  getJobHistory: defineCommand(
    'provenance',
    'get_job_history',
    z.object({ ...projectScoped, jobId: z.string() }),
  ),
  replayProjection: defineCommand(
    'provenance',
    'replay_projection',
    z.object({ projection: z.string() }),
  ),
} as const;

export type CommandName = keyof typeof Commands;
export type CommandRequest<K extends CommandName> = z.input<(typeof Commands)[K]['request']>;

/** What a command handler answers on the wire. */
export type CommandReply<T> = { ok: true; result: T } | { ok: false; error: ErrorBody };

/** Subjects of core NATS control messages. */
export const Controls = {
  /** Broadcast to every executor: stop this job if you run it. */
  cancelJob: 'job.cancel',
} as const;

export const CancelJobControlSchema = z.object({
  project: z.string(),
  jobId: z.string(),
  reason: z.string(),
});
export type CancelJobControl = z.infer<typeof CancelJobControlSchema>;
