import os from 'node:os';
import { z } from 'zod';
import {
  nonNegativeInt,
  port,
  positiveInt,
  type CommonConfig,
  type ConfigOf,
  type ConfigSpec,
} from '@acai/platform';

const PROVIDERS = ['local', 'ec2', 'simulated'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** A comma-separated list of positive numbers, e.g. `0.5,1,2`. */
const numberList = (what: string) =>
  z
    .string()
    .transform((text, ctx) => {
      const values = text.split(',').map((t) => Number(t.trim()));
      if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v <= 0)) {
        ctx.addIssue({
          code: 'custom',
          message: `expected ${what}, comma-separated, e.g. 0.5,1,2`,
        });
        return z.NEVER;
      }
      return values;
    })
    .optional();

export const provisionerConfig = {
  ACAI_HTTP_PORT: { schema: port(8182), description: 'Port of the provisioner’s ops endpoints' },
  ACAI_PROVIDERS: {
    schema: z
      .string()
      .default('local')
      .transform((text, ctx) => {
        const names = text.split(',').map((t) => t.trim());
        const unknown = names.filter((n) => !(PROVIDERS as readonly string[]).includes(n));
        if (unknown.length > 0 || names.length === 0) {
          ctx.addIssue({
            code: 'custom',
            message: `unknown provider(s) ${unknown.join(', ')}; choose from ${PROVIDERS.join(', ')}`,
          });
          return z.NEVER;
        }
        return [...new Set(names)] as ProviderName[];
      }),
    description:
      'Providers jobs may run on, comma-separated: local, ec2, simulated. The first is where a job without `provision` runs',
  },
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
  ACAI_LOCAL_CPU_SIZES: {
    schema: numberList('CPU counts'),
    description:
      'Slot sizes the auto-provisioner may give a job on this machine, in cores (default 0.5, 1, 1.5, 2, 3, 4, 6, 8, … up to ACAI_LOCAL_CPUS)',
  },
  ACAI_LOCAL_MEMORY_SIZES_MB: {
    schema: numberList('memory sizes in MiB'),
    description:
      'Memory sizes the auto-provisioner may give a job on this machine (default 512, 1024, 2048, … up to ACAI_LOCAL_MEMORY_MB)',
  },
  ACAI_PROFILING_RUNS: {
    schema: positiveInt(4),
    description:
      'Configurations a job with a `profile` is first profiled on (short runs) before the auto-provisioner chooses',
  },
  ACAI_PROJECTION_BATCH_INTERVAL_MS: {
    schema: nonNegativeInt(50),
    description:
      'While job events keep coming, the shortest time between two transactions of the runtime observations (the events of a busy moment are applied together, an event after a quiet spell at once); 0 applies each batch as soon as it arrives',
  },
  ACAI_EC2_REGION: {
    schema: z.string().optional(),
    description: 'AWS region for the ec2 provider (default: the SDK’s, e.g. AWS_REGION)',
  },
  ACAI_EC2_IMAGE_ID: {
    schema: z.string().optional(),
    description: 'AMI the ec2 provider launches executors from (needed when ec2 is enabled)',
  },
  ACAI_EC2_SUBNET_ID: { schema: z.string().optional(), description: 'Subnet for executors' },
  ACAI_EC2_SECURITY_GROUP_IDS: {
    schema: z.string().optional(),
    description: 'Security groups for executors, comma-separated',
  },
  ACAI_EC2_KEY_NAME: { schema: z.string().optional(), description: 'SSH key pair name' },
  ACAI_EC2_INSTANCE_PROFILE_ARN: {
    schema: z.string().optional(),
    description: 'IAM instance profile of executors (S3 access to the blob store)',
  },
  ACAI_EC2_IDLE_TIMEOUT_MS: {
    schema: positiveInt(5 * 60_000),
    description: 'An EC2 executor without a job this long is terminated',
  },
  ACAI_EC2_MAX_INSTANCES: {
    schema: positiveInt(20),
    description: 'At most this many EC2 instances at once',
  },
  ACAI_EC2_EXECUTOR_COMMAND: {
    schema: z.string().optional(),
    description: 'Command the instance’s user data runs to start the executor',
  },
  ACAI_EC2_EXECUTOR_NATS_URL: {
    schema: z.string().optional(),
    description:
      'NATS URL as executors on EC2 reach it (default NATS_URL); credentials in it are secret',
    secret: true,
  },
  ACAI_EC2_EXECUTOR_NATS_PASSWORD: {
    schema: z.string().optional(),
    description:
      'Password of the NATS user `executor` that executors on EC2 log in as (the bus requires one; docs/bus-permissions.md)',
    secret: true,
  },
  ACAI_EC2_EXECUTOR_BLOB_STORE: {
    schema: z.string().optional(),
    description: 'Blob store URL executors on EC2 use (an s3:// URL)',
  },
  ACAI_EC2_EXECUTOR_DATABASE_URL: {
    schema: z.string().optional(),
    description: 'DATABASE_URL for executors on EC2 (their dead letters)',
    secret: true,
  },
  ACAI_SIM_SPEEDUP: {
    schema: z.coerce.number().positive().max(1_000_000).default(3600),
    description:
      'The simulated provider’s virtual clock runs this many times faster than real time (3600: a virtual hour per real second). Its ACAI_EC2_IDLE_TIMEOUT_MS and every duration it records are virtual',
  },
  ACAI_SIM_SEED: {
    schema: z.coerce.number().int().default(1),
    description:
      'Seed of the simulated provider’s randomness (Spot interruptions, ACAI_SIM_FAIL_RATE): the same seed gives the same draws',
  },
  ACAI_SIM_BOOT_SECONDS: {
    schema: z.coerce.number().nonnegative().optional(),
    description:
      'Virtual seconds from launch to a simulated node pulling work (default: the catalogue’s, 60)',
  },
  ACAI_SIM_SPOT_INTERRUPTIONS_PER_HOUR: {
    schema: z.coerce.number().nonnegative().optional(),
    description:
      'How often a simulated Spot instance is reclaimed, per instance-hour of running (default: the catalogue’s assumption, 0.01)',
  },
  ACAI_SIM_HEARTBEAT_MS: {
    schema: z.coerce.number().int().nonnegative().default(5_000),
    description:
      'Real milliseconds between the heartbeats of each simulated node (0: none; GET /api/v1/nodes then shows the simulated cloud’s own view)',
  },
} satisfies ConfigSpec;

export type ProvisionerConfig = CommonConfig & ConfigOf<typeof provisionerConfig>;
