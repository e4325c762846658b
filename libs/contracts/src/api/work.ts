import { z } from 'zod';
import { ResourcesSchema } from '../events/job.events.js';

/** A job assignment on the work stream, pulled by an executor of the pool. */
export const WorkAssignmentSchema = z.object({
  project: z.string(),
  runId: z.string(),
  jobId: z.string(),
  name: z.string(),
  attempt: z.number().int().positive(),
  command: z.array(z.string()).min(1),
  env: z.record(z.string(), z.string()),
  resources: ResourcesSchema,
});
export type WorkAssignment = z.infer<typeof WorkAssignmentSchema>;
