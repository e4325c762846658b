import os from 'node:os';
import { z } from 'zod';
import { port, type ConfigSpec } from '@acai/platform';

export const provisionerConfig = {
  ACAI_HTTP_PORT: { schema: port(8182), description: 'Port of the provisioner’s ops endpoints' },
  ACAI_LOCAL_CPUS: {
    schema: z.coerce.number().positive().default(os.availableParallelism()),
    description: 'CPUs the local provider offers (default: this machine’s)',
  },
  ACAI_LOCAL_MEMORY_MB: {
    schema: z.coerce
      .number()
      .int()
      .positive()
      .default(Math.floor(os.totalmem() / 1024 / 1024)),
    description: 'Memory the local provider offers, in MiB (default: this machine’s)',
  },
} satisfies ConfigSpec;
