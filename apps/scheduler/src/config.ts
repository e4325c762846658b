import { port, type ConfigSpec } from '@acai/platform';

export const schedulerConfig = {
  ACAI_HTTP_PORT: {
    schema: port(8183),
    description: 'Port of the scheduler’s ops endpoints (/healthz, /readyz, /metrics)',
  },
} satisfies ConfigSpec;
