import { z } from 'zod';
import { blobConfig, port, type ConfigSpec } from '@acai/platform';

const DAY = 24 * 60 * 60;

export const catalogConfig = {
  ACAI_HTTP_PORT: { schema: port(8181), description: 'Port of the catalog’s ops endpoints' },
  ...blobConfig,
  ACAI_UPLOAD_GRACE_SECONDS: {
    schema: z.coerce
      .number({ error: 'expected a number of seconds, 0 or more' })
      .int({ error: 'expected a whole number of seconds' })
      .min(0, { error: 'expected a number of seconds, 0 or more' })
      .default(DAY),
    description:
      'How long an upload (or a job’s output) no version of its project uses stays its project’s: older ones are forgotten by the next sweep, and their bytes deleted once nobody has them (default 86400, a day; each upload of the same bytes starts it again)',
  },
  ACAI_UPLOAD_GC_INTERVAL_SECONDS: {
    // A timer waits at most 2^31 - 1 ms.
    schema: z.coerce
      .number({ error: 'expected a number of seconds' })
      .int({ error: 'expected a whole number of seconds' })
      .min(1, { error: 'expected 1 second or more' })
      .max(2_147_483, { error: 'expected at most 2147483 seconds (24 days)' })
      .default(60 * 60),
    description:
      'Seconds between two sweeps of uploads never committed (default 3600); one catalog replica sweeps at a time',
  },
  ACAI_PROJECT_QUOTA_BYTES: {
    schema: z.coerce
      .number({ error: 'expected a number of bytes, 0 or more' })
      .int({ error: 'expected a whole number of bytes' })
      .min(0, { error: 'expected a number of bytes, 0 or more' })
      .max(Number.MAX_SAFE_INTEGER, { error: 'expected at most 2^53 - 1 bytes' })
      .default(0),
    description:
      'The storage quota of a project the platform admin set none for: the most bytes of distinct blobs it may own (0, the default: no quota)',
  },
} satisfies ConfigSpec;
