import os from 'node:os';
import { z } from 'zod';
import { blobConfig, port, positiveInt, type ConfigSpec } from '@acai/platform';
import { DEFAULT_MAX_LOG_BYTES } from '@acai/execution';
import { DEFAULT_JOB_PATH } from '@acai/contracts';

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
  ACAI_JOB_RECHECK_MS: {
    schema: positiveInt(30_000),
    description:
      'How often the executor checks its running jobs against the log and stops those cancelled or taken over meanwhile (a cancel sent while it was disconnected); also done at once on reconnect',
  },
  ACAI_MAX_LOG_BYTES: {
    schema: positiveInt(DEFAULT_MAX_LOG_BYTES),
    description:
      'Output one attempt of a job may send to the logs stream; past it, one line says the output was cut',
  },
  ACAI_KEEP_FAILED_WORK_MINUTES: {
    schema: z.coerce.number().nonnegative().default(60),
    description:
      'A failed job’s folder is kept this long (under $ACAI_WORK_DIR/failed, readable by root only) for debugging; every other job’s folder is removed as soon as its outputs are saved',
  },
  ACAI_WORK_DIR: {
    schema: z.string().min(1).optional(),
    description:
      'Where jobs’ folders are made (default: /var/lib/acai-work/<hash of $ACAI_HOME> when sandboxed, outside $ACAI_HOME which jobs cannot enter and outside /tmp which each job has its own of; $ACAI_HOME/work with ACAI_SANDBOX=none)',
  },
  ACAI_SANDBOX: {
    schema: z.enum(['auto', 'uid', 'none']).default('auto'),
    description:
      'auto/uid: jobs run as an unprivileged user per slot (acai-job-<uid>), which needs the executor to run as root (auto refuses to start otherwise); none: jobs run as the executor’s own user (a machine you trust)',
  },
  ACAI_SANDBOX_UID_BASE: {
    schema: z.coerce.number().int().min(1000).max(4_000_000_000).default(61000),
    description:
      'Host slot n runs its jobs as user acai-job-<uid>, uid and gid base + n (created when missing); the range must be free',
  },
  ACAI_JOB_PATH: {
    schema: z.string().min(1).default(DEFAULT_JOB_PATH),
    description:
      'The PATH jobs get (nothing else of the executor’s environment reaches a job); a step’s env may set its own',
  },
  ...blobConfig,
} satisfies ConfigSpec;
