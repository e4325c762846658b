import os from 'node:os';
import { z } from 'zod';
import { blobConfig, port, positiveInt, type ConfigSpec } from '@acai/platform';
import { DEFAULT_MAX_LOG_BYTES } from '@acai/execution';

export const executorConfig = {
  ACAI_HTTP_PORT: { schema: port(8184), description: 'Port of the executor’s ops endpoints' },
  ACAI_EXECUTOR_POOL: {
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -')
      .default('local'),
    description: 'Work pool this executor pulls jobs from',
  },
  ACAI_EXECUTOR_SLOTS: {
    schema: positiveInt(os.availableParallelism()),
    description: 'Jobs run at once (default: CPUs)',
  },
  ACAI_EXECUTOR_ID: {
    schema: z.string().default(`${os.hostname()}-${process.pid}`),
    description: 'Name of this executor in job history',
  },
  ACAI_WORK_ACK_WAIT_MS: {
    schema: positiveInt(30_000),
    description: 'Without a heartbeat for this long, a job is handed to another executor',
  },
  ACAI_NODE_PROVIDER: {
    schema: z.enum(['local', 'ec2', 'simulated']).default('local'),
    description: 'Which provider made the node this executor runs on (shown by GET /api/v1/nodes)',
  },
  ACAI_NODE_INSTANCE_TYPE: {
    schema: z.string().optional(),
    description: 'The node’s instance type, when it has one (set by the EC2 user data)',
  },
  ACAI_NODE_HEARTBEAT_MS: {
    schema: positiveInt(5_000),
    description: 'How often the executor tells the provisioner it is alive and how busy it is',
  },
  ACAI_MAX_LOG_BYTES: {
    schema: positiveInt(DEFAULT_MAX_LOG_BYTES),
    description:
      'Output one attempt of a job may send to the logs stream; past it, one line says the output was cut',
  },
  ACAI_KEEP_FAILED_WORK_MINUTES: {
    schema: z.coerce.number().nonnegative().default(60),
    description:
      'A failed job’s folder is kept this long (under $ACAI_HOME/work/failed) for debugging; every other job’s folder is removed as soon as its outputs are saved',
  },
  ...blobConfig,
} satisfies ConfigSpec;
