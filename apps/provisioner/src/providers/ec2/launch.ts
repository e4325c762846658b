/**
 * Launching one instance for a job: RunInstances for each acceptable type in order (the spec,
 * tags, user data and idempotency token of each), transient failures retried with backoff, a type
 * with no capacity left for the next one, every call recorded as a {@link LaunchAttempt}. What the
 * fleet already has, and its limit, are `capacity.ts`'s business: this module only launches.
 */

import { randomUUID } from 'node:crypto';
import { ProvisioningProblems } from '@acai/contracts';
import type { Ec2Calls, CallOutcome } from './ec2-calls.js';
import {
  capacityAdvice,
  describeEc2Error,
  Ec2CapacityError,
  type LaunchAttempt,
} from './ec2-errors.js';
import type { Ec2Instance, Ec2Repository, LaunchSpec } from './ec2.repository.js';
import {
  ec2PoolName,
  fleetUserDataScript,
  MANAGED_TAG,
  POOL_TAG,
  type FleetSettings,
} from './fleet-config.js';
import type { FleetLog } from './fleet-log.js';
import { encodeUserData } from './user-data.js';

/** An instance launched for a job, and every RunInstances call it took. */
export interface Launched {
  readonly instance: Ec2Instance;
  readonly type: string;
  readonly pool: string;
  readonly attempts: readonly LaunchAttempt[];
}

export class Launcher {
  constructor(
    private readonly repository: Ec2Repository,
    private readonly calls: Ec2Calls,
    private readonly log: FleetLog,
    private readonly settings: FleetSettings,
  ) {}

  /**
   * Launches an instance of the first of `types` that has capacity.
   *
   * @throws Ec2CapacityError `EC2_NO_CAPACITY`: every type failed for capacity or quota.
   * @throws Ec2ThrottledError AWS kept throttling one type after every retry.
   * @throws Ec2RequestError AWS refused for good; no other type is tried.
   */
  async launch(jobId: string, types: readonly string[]): Promise<Launched> {
    const attempts: LaunchAttempt[] = [];
    for (const type of types) {
      const outcome = await this.launchType(jobId, type, attempts);
      if (outcome.ok) {
        return { instance: outcome.value, type, pool: this.poolOf(type), attempts };
      }
      if (outcome.kind === 'capacity') {
        this.log.warn(
          { jobId, type, error: this.log.redact(describeEc2Error(outcome.error)) },
          'no EC2 capacity for this type; trying the next',
        );
        continue;
      }
      throw this.calls.failure(
        outcome.kind,
        outcome.error,
        `launch a ${type} for job ${jobId}`,
        attempts,
      );
    }
    const codes = attempts.map((attempt) => attempt.error?.split(':')[0] ?? '');
    throw new Ec2CapacityError(
      ProvisioningProblems.EC2_NO_CAPACITY,
      `No EC2 capacity for job ${jobId}: tried ${types.join(', ')}.\n` +
        attempts.map((a) => `  ${a.type}: ${a.error ?? 'ok'}`).join('\n') +
        `\nWhat to do: ${capacityAdvice(codes).join('; ')}.`,
      attempts,
    );
  }

  /** RunInstances for one type, retrying transient failures; records every call in `attempts`. */
  private async launchType(
    jobId: string,
    type: string,
    attempts: LaunchAttempt[],
  ): Promise<CallOutcome<Ec2Instance>> {
    const spec = this.spec(type);
    return this.calls.attempt(
      'RunInstances',
      async () => {
        try {
          const instance = await this.repository.launch(spec);
          attempts.push({ type });
          return instance;
        } catch (error) {
          attempts.push({ type, error: this.log.redact(describeEc2Error(error)) });
          throw error;
        }
      },
      { jobId, type },
    );
  }

  private spec(type: string): LaunchSpec {
    const { config } = this.settings;
    const pool = this.poolOf(type);
    return {
      instanceType: type,
      imageId: config.imageId,
      userData: encodeUserData(fleetUserDataScript(this.settings, pool, undefined, type)),
      tags: {
        Name: `acai-executor-${pool}`,
        ...config.tags,
        [MANAGED_TAG]: 'true',
        [POOL_TAG]: pool,
      },
      // One token per type for this request: a retry after a lost answer finds the same instance.
      clientToken: randomUUID(),
      ...(config.subnetId === undefined ? {} : { subnetId: config.subnetId }),
      ...(config.securityGroupIds === undefined
        ? {}
        : { securityGroupIds: config.securityGroupIds }),
      ...(config.keyName === undefined ? {} : { keyName: config.keyName }),
      ...(config.instanceProfileArn === undefined
        ? {}
        : { instanceProfileArn: config.instanceProfileArn }),
    };
  }

  private poolOf(type: string): string {
    return ec2PoolName(type, this.settings.poolPrefix);
  }
}
