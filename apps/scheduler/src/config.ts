import { z } from 'zod';
import { DEFAULT_JOB_PATH } from '@acai/contracts';
import { nonNegativeInt, port, positiveInt, type ConfigSpec } from '@acai/platform';

export const schedulerConfig = {
  ACAI_HTTP_PORT: {
    schema: port(8183),
    description: 'Port of the scheduler’s ops endpoints (/healthz, /readyz, /metrics)',
  },
  ACAI_JOB_LOST_AFTER_MS: {
    schema: positiveInt(120_000),
    description:
      'A running job whose executor has not listed it in a heartbeat for this long, and that no other executor took over, fails as executor_lost (keep it well above the executors’ ACAI_WORK_ACK_WAIT_MS and ACAI_NODE_HEARTBEAT_MS)',
  },
  ACAI_DISPATCH_PREFETCH: {
    schema: nonNegativeInt(1),
    description:
      'Jobs dispatched to a pool’s work queue beyond its slots (its nodes’ heartbeats say how many), so a slot that frees finds work at once. A job of a project with nothing running waits for at most this many plus one jobs to end: keep it below the pool’s slots to start it within one job’s time; 0 dispatches only when a slot is free',
  },
  ACAI_JOB_PATH: {
    schema: z.string().min(1).default(DEFAULT_JOB_PATH),
    description:
      'The PATH a step’s program is found on when its code is hashed into its signature (set it as the executors’ ACAI_JOB_PATH; a step’s env may set its own)',
  },
} satisfies ConfigSpec;
