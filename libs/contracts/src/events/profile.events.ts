import { z } from 'zod';
import { defineEvent } from './envelope.js';

/**
 * A job profile of a project, as the auto-provisioner profiles it: its id is the profile's
 * signature (the sha256 of the command, the environment but its size parameters, and the input
 * versions). A profile is profiled once; the jobs that came while it was wait for it.
 */
export const PROFILE = 'profile';

export const ProfilingOutcomeSchema = z.enum(['succeeded', 'failed', 'cancelled']);

export const ProfileProfilingStartedV1 = defineEvent({
  type: 'profile.profiling_started',
  version: 1,
  writers: ['provisioner'],
  aggregate: PROFILE,
  description:
    'Nothing was known of the profile: the auto-provisioner started a profiling run (its id, the configurations it tries), for the job that asked first.',
  schema: z.object({
    runId: z.string(),
    jobId: z.string(),
    configurations: z.array(z.string()),
  }),
});

export const ProfileJobWaitingV1 = defineEvent({
  type: 'profile.job_waiting',
  version: 1,
  writers: ['provisioner'],
  aggregate: PROFILE,
  description: 'A job of the profile waits, queued, for the profiling run to end.',
  schema: z.object({ jobId: z.string() }),
});

export const ProfileProfiledV1 = defineEvent({
  type: 'profile.profiled',
  version: 1,
  writers: ['provisioner'],
  aggregate: PROFILE,
  description:
    'The profiling run ended (`outcome`): the jobs that waited are placed with what it taught, and the profile is never profiled again.',
  schema: z.object({ runId: z.string(), outcome: ProfilingOutcomeSchema }),
});
