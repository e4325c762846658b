/**
 * What an EC2 fleet is configured with and the names it gives things: the config and its
 * defaults, its validation (refused at construction, before any EC2 call), the tags and pool names
 * of its instances, and the bootstrap script each one runs. Pure: no I/O, no clock.
 */

import type { EC2Client } from '@aws-sdk/client-ec2';
import { ProvisioningProblems } from '@acai/contracts';
import { DEFAULT_RETRY_POLICY, Ec2ProviderError, type RetryPolicy } from './ec2-errors.js';
import type { Ec2Repository } from './ec2.repository.js';
import {
  DEFAULT_EXECUTOR_COMMAND,
  executorUserDataScript,
  invalidVariableNames,
  MAX_USER_DATA_BYTES,
  userDataBytes,
} from './user-data.js';

/** Tag every instance of the fleet carries; `sync` lists instances by it. */
export const MANAGED_TAG = 'acai:managed';
/** Tag naming the work pool an instance's executor pulls from. */
export const POOL_TAG = 'acai:pool';

/** The first part of every pool name of a fleet, unless its config names another. */
export const DEFAULT_POOL_PREFIX = 'ec2';
/** Pool names are NATS subject tokens. */
const POOL_PREFIX = /^[A-Za-z0-9_-]+$/;
/** DescribeInstances may miss an instance launched this recently (it is eventually consistent). */
const DEFAULT_SYNC_GRACE_MS = 120_000;

/**
 * The work pool of an instance type's executors: `c5.large` → `ec2-c5-large` (with prefix
 * `simulated`: `simulated-c5-large`).
 */
export function ec2PoolName(instanceType: string, prefix = DEFAULT_POOL_PREFIX): string {
  return `${prefix}-${instanceType.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

/** How the fleet launches instances and when it lets them go. */
export interface Ec2FleetConfig {
  /** AMI with bash, curl, base64 and what `executorCommand` needs (Node.js ≥ 20 by default). */
  readonly imageId: string;
  /** Subnet to launch into (its VPC's default otherwise). */
  readonly subnetId?: string;
  readonly securityGroupIds?: readonly string[];
  /** EC2 key pair for SSH; none by default. */
  readonly keyName?: string;
  /** Instance profile giving the executor its AWS role (e.g. for an S3 blob store). */
  readonly instanceProfileArn?: string;
  /** An instance with no job for longer than this is terminated by `reapIdle`. */
  readonly idleTimeoutMs: number;
  /** Instances (booting, idle or busy, not terminating) the fleet may have at once. */
  readonly maxInstances: number;
  /**
   * Extra tags for instances and volumes. `sync` also lists instances by them, so two acai
   * systems in one account can keep apart by a tag such as `acai:system`.
   */
  readonly tags?: Readonly<Record<string, string>>;
  /** Shell command that runs the executor in the foreground (default `npx --yes @acai/executor`). */
  readonly executorCommand?: string;
  /** Retries of throttled calls (default 5 calls, 500 ms base, 20 s cap, full jitter). */
  readonly retry?: Partial<RetryPolicy>;
  /**
   * DescribeInstances is eventually consistent: an instance launched less than this long ago is
   * kept even if a listing misses it (default 2 minutes).
   */
  readonly syncGraceMs?: number;
  /**
   * The first part of the fleet's pool names (default `ec2`: `ec2-c5-large`). The simulated cloud
   * uses `simulated`, so its pools never take work meant for real instances.
   */
  readonly poolPrefix?: string;
}

/** The logging surface the fleet needs; a pino logger fits. */
export interface Ec2FleetLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

interface Ec2FleetBase {
  /** Time is an input: every idle and grace period is measured with it. */
  readonly clock: () => Date;
  /** Waits between retries; injected so tests do not wait. */
  readonly sleep: (ms: number) => Promise<void>;
  readonly config: Ec2FleetConfig;
  /** Environment of the executor on each instance (bus URL, blob store, …). Treated as secret. */
  readonly executorEnv: Readonly<Record<string, string>>;
  readonly logger?: Ec2FleetLogger;
  /** Source of the backoff jitter, in [0, 1) (default Math.random). */
  readonly random?: () => number;
}

/** What the fleet is built from: the SDK client, or any {@link Ec2Repository} (a simulated cloud). */
export type Ec2FleetOptions = Ec2FleetBase &
  ({ readonly client: EC2Client } | { readonly repository: Ec2Repository });

/** A fleet's config with every default applied, as the fleet's parts read it. */
export interface FleetSettings {
  readonly config: Ec2FleetConfig;
  readonly executorEnv: Readonly<Record<string, string>>;
  readonly executorCommand: string;
  readonly retry: RetryPolicy;
  readonly syncGraceMs: number;
  readonly poolPrefix: string;
}

/**
 * The config with its defaults, once it is known to work.
 *
 * @throws Ec2ProviderError `EC2_INVALID_CONFIG`, listing every problem found.
 */
export function fleetSettings(
  config: Ec2FleetConfig,
  executorEnv: Readonly<Record<string, string>>,
): FleetSettings {
  const settings: FleetSettings = {
    config,
    executorEnv: { ...executorEnv },
    executorCommand: config.executorCommand ?? DEFAULT_EXECUTOR_COMMAND,
    retry: { ...DEFAULT_RETRY_POLICY, ...config.retry },
    syncGraceMs: config.syncGraceMs ?? DEFAULT_SYNC_GRACE_MS,
    poolPrefix: config.poolPrefix ?? DEFAULT_POOL_PREFIX,
  };
  const problems = configProblems(settings);
  if (problems.length > 0) {
    throw new Ec2ProviderError(
      ProvisioningProblems.EC2_INVALID_CONFIG,
      `Invalid EC2 fleet configuration:\n  ${problems.join('\n  ')}`,
    );
  }
  return settings;
}

/** The bootstrap script for an executor of `pool`, as text (see `executorUserDataScript`). */
export function fleetUserDataScript(
  settings: FleetSettings,
  pool: string,
  instanceId?: string,
  instanceType?: string,
): string {
  return executorUserDataScript({
    pool,
    executorEnv: settings.executorEnv,
    executorCommand: settings.executorCommand,
    ...(instanceId === undefined ? {} : { instanceId }),
    ...(instanceType === undefined ? {} : { instanceType }),
  });
}

/** The tags every instance of the fleet carries, and so those `sync` lists instances by. */
export function fleetTags(settings: FleetSettings): Record<string, string> {
  return { ...settings.config.tags, [MANAGED_TAG]: 'true' };
}

function configProblems(settings: FleetSettings): string[] {
  const { config, retry, executorCommand, poolPrefix, executorEnv } = settings;
  const problems: string[] = [];
  if (config.imageId.trim() === '') problems.push('imageId is empty: name the AMI to boot');
  if (!Number.isInteger(config.maxInstances) || config.maxInstances < 1) {
    problems.push(`maxInstances must be a whole number ≥ 1, not ${config.maxInstances}`);
  }
  if (!(config.idleTimeoutMs >= 0)) {
    problems.push(`idleTimeoutMs must be ≥ 0, not ${config.idleTimeoutMs}`);
  }
  if (!Number.isInteger(retry.attempts) || retry.attempts < 1) {
    problems.push(`retry.attempts must be a whole number ≥ 1, not ${retry.attempts}`);
  }
  if (executorCommand.trim() === '') problems.push('executorCommand is empty');
  if (!POOL_PREFIX.test(poolPrefix)) {
    problems.push(
      `poolPrefix must be letters, digits, '_' or '-' (a NATS subject token), not '${poolPrefix}'`,
    );
  }
  const badNames = invalidVariableNames(executorEnv);
  if (badNames.length > 0) {
    problems.push(`executorEnv has names that are not shell variables: ${badNames.join(', ')}`);
  } else {
    // Measured with a long pool name: the only part that varies between instances.
    const bytes = userDataBytes(
      fleetUserDataScript(
        settings,
        `ec2-${'x'.repeat(40)}`,
        undefined,
        `${'x'.repeat(16)}.${'x'.repeat(16)}`,
      ),
    );
    if (bytes > MAX_USER_DATA_BYTES) {
      problems.push(
        `the user data would be ${bytes} bytes, over EC2's ${MAX_USER_DATA_BYTES}: pass fewer or shorter executorEnv values`,
      );
    }
  }
  return problems;
}
