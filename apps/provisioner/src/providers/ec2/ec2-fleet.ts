import { randomUUID } from 'node:crypto';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { ProvisioningProblems } from '@acai/contracts';
import {
  backoffDelayMs,
  capacityAdvice,
  classifyEc2Error,
  DEFAULT_RETRY_POLICY,
  describeEc2Error,
  ec2ErrorCode,
  Ec2CapacityError,
  Ec2ProviderError,
  Ec2RequestError,
  Ec2ThrottledError,
  type LaunchAttempt,
  type RetryPolicy,
} from './ec2-errors.js';
import {
  SdkEc2Repository,
  type Ec2Instance,
  type Ec2Repository,
  type LaunchSpec,
} from './ec2.repository.js';
import {
  DEFAULT_EXECUTOR_COMMAND,
  encodeUserData,
  executorUserDataScript,
  invalidVariableNames,
  MAX_USER_DATA_BYTES,
  userDataBytes,
} from './user-data.js';

/** Tag every instance of the fleet carries; `sync` lists instances by it. */
export const MANAGED_TAG = 'acai:managed';
/** Tag naming the work pool an instance's executor pulls from. */
export const POOL_TAG = 'acai:pool';

/** Secrets shorter than this are not searched for in log lines (they would mangle them). */
const MIN_REDACTED_LENGTH = 8;
/** TerminateInstances batch size (AWS allows 1000 and recommends smaller batches). */
const TERMINATE_BATCH = 100;
const INSTANCE_TYPE = /^[a-z0-9-]+\.[a-z0-9-]+$/;

/** The first part of every pool name of a fleet, unless its config names another. */
export const DEFAULT_POOL_PREFIX = 'ec2';
const POOL_PREFIX = /^[A-Za-z0-9_-]+$/;

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

/** A job and the instances that may take it. */
export interface CapacityRequest {
  readonly jobId: string;
  /** Acceptable instance types, preferred first. */
  readonly types: readonly string[];
}

/** Where a job will run. */
export interface Capacity {
  /** The pool to send the job to: that of the instance type actually reserved. */
  readonly pool: string;
  readonly instanceType: string;
  readonly instanceId: string;
  /** True when an instance was launched for the job, false when a free one was reused. */
  readonly launched: boolean;
  /** Every RunInstances call made, in order (empty when reused). */
  readonly attempts: readonly LaunchAttempt[];
}

/**
 * What the fleet can do with an instance:
 * - `pending`: booting, reserved for a job;
 * - `running`: booted, reserved for a job its executor has not started yet;
 * - `busy`: running a job;
 * - `idle`: no job (booted or not); terminated once idle for longer than `idleTimeoutMs`;
 * - `terminating`: TerminateInstances was accepted.
 */
export type NodeState = 'pending' | 'running' | 'idle' | 'busy' | 'terminating';

/** What a {@link Ec2Fleet.sync} changed. */
export interface SyncResult {
  /** Instances of the fleet it did not know (after a restart): adopted, idle from now. */
  readonly adopted: readonly string[];
  /** Instances EC2 no longer lists: forgotten, with the job they had (reserved or running). */
  readonly forgotten: readonly { readonly instanceId: string; readonly jobId: string | null }[];
}

/** One instance of the fleet, for ops endpoints and tests. */
export interface NodeView {
  readonly id: string;
  readonly provider: 'ec2';
  readonly instanceType: string;
  readonly pool: string;
  readonly state: NodeState;
  /** The job reserved for or running on it. */
  readonly jobId: string | null;
  readonly launchedAt: Date;
  readonly idleSince: Date | null;
}

interface Ec2Node {
  readonly id: string;
  readonly instanceType: string;
  readonly pool: string;
  readonly launchedAt: Date;
  /** EC2 reports it running (or its executor started a job). */
  booted: boolean;
  jobId: string | null;
  /** The job's executor reported it started. */
  started: boolean;
  idleSince: Date | null;
  terminating: boolean;
}

type LaunchOutcome =
  | { readonly ok: true; readonly instance: Ec2Instance }
  | {
      readonly ok: false;
      readonly kind: 'capacity' | 'transient' | 'fatal';
      readonly error: unknown;
    };

/**
 * A fleet of EC2 instances, each running one executor with one slot in the pool of its instance
 * type (`ec2-c5-large`). It reuses a free instance before launching one, falls back to the next
 * acceptable type when a type has no capacity, retries throttled calls with backoff, terminates
 * instances idle for too long, and rebuilds itself from EC2's tags after a restart.
 *
 * Bookkeeping is in memory. After a restart, call {@link sync}, then {@link jobStarted} (with
 * the executor id) for every job the job read model says is running, before the first
 * {@link reapIdle}: otherwise a busy instance looks idle and is reaped when the idle timeout ends.
 */
export class Ec2Fleet {
  private readonly repository: Ec2Repository;
  private readonly clock: () => Date;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly config: Ec2FleetConfig;
  private readonly executorEnv: Readonly<Record<string, string>>;
  private readonly executorCommand: string;
  private readonly retry: RetryPolicy;
  private readonly syncGraceMs: number;
  private readonly poolPrefix: string;
  private readonly logger: Ec2FleetLogger | undefined;
  private readonly secrets: readonly string[];
  private readonly instances = new Map<string, Ec2Node>();
  private readonly inflight = new Map<string, Promise<Capacity>>();
  private launching = 0;
  private closed = false;

  constructor(options: Ec2FleetOptions) {
    this.repository =
      'repository' in options ? options.repository : new SdkEc2Repository(options.client);
    this.clock = options.clock;
    this.sleep = options.sleep;
    this.random = options.random ?? Math.random;
    this.config = options.config;
    this.executorEnv = { ...options.executorEnv };
    this.executorCommand = options.config.executorCommand ?? DEFAULT_EXECUTOR_COMMAND;
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.config.retry };
    this.syncGraceMs = options.config.syncGraceMs ?? 120_000;
    this.poolPrefix = options.config.poolPrefix ?? DEFAULT_POOL_PREFIX;
    this.logger = options.logger;
    this.secrets = [...new Set(Object.values(this.executorEnv))]
      .filter((value) => value.length >= MIN_REDACTED_LENGTH)
      .sort((a, b) => b.length - a.length);
    this.validate();
  }

  /**
   * Finds an instance for a job: a free one of the first acceptable type that has one (booting or
   * running), reserved for the job; otherwise one launched for it, trying the types in order.
   * Asking again for the same job returns its reservation.
   *
   * @throws Ec2CapacityError every type failed for capacity or quota, or `maxInstances` is
   *   reached (retryable: the job can wait).
   * @throws Ec2ThrottledError AWS kept throttling after every retry (retryable).
   * @throws Ec2RequestError AWS refused for good, e.g. `UnauthorizedOperation` (not retryable).
   */
  async ensureCapacity(request: CapacityRequest): Promise<Capacity> {
    const reserved = this.reservationOf(request.jobId);
    if (reserved !== undefined) return this.capacityOf(reserved, false, []);
    const pending = this.inflight.get(request.jobId);
    if (pending !== undefined) return pending;
    const types = this.checkTypes(request);

    const free = this.findFree(types);
    if (free !== undefined) {
      free.jobId = request.jobId;
      free.started = false;
      free.idleSince = null;
      this.info(
        { jobId: request.jobId, instanceId: free.id, pool: free.pool },
        'reserved a free EC2 instance',
      );
      return this.capacityOf(free, false, []);
    }

    const launch = this.launchFor(request.jobId, types);
    this.inflight.set(request.jobId, launch);
    try {
      return await launch;
    } finally {
      this.inflight.delete(request.jobId);
    }
  }

  /**
   * The bootstrap script for an executor of `pool`, base64-encoded for RunInstances. Without
   * `instanceId` the script asks the metadata service (IMDSv2) for it.
   */
  userData(pool: string, instanceId?: string, instanceType?: string): string {
    return encodeUserData(this.userDataScript(pool, instanceId, instanceType));
  }

  /** The bootstrap script for an executor of `pool`, as text (see `executorUserDataScript`). */
  userDataScript(pool: string, instanceId?: string, instanceType?: string): string {
    return executorUserDataScript({
      pool,
      executorEnv: this.executorEnv,
      executorCommand: this.executorCommand,
      ...(instanceId === undefined ? {} : { instanceId }),
      ...(instanceType === undefined ? {} : { instanceType }),
    });
  }

  /**
   * An executor of `pool` started `jobId`. Pass `executorId` (the instance id, from `job.started`)
   * when known: any executor of a pool may take any of its jobs, so the job may run elsewhere than
   * where it was reserved; the reservations are then swapped.
   */
  jobStarted(pool: string, jobId: string, executorId?: string): void {
    const reservedOn = this.reservationOf(jobId);
    const byId = executorId === undefined ? undefined : this.instances.get(executorId);
    const node = byId ?? reservedOn ?? this.findFreeInPool(pool);
    if (node === undefined) {
      this.warn(
        { pool, jobId, ...(executorId === undefined ? {} : { instanceId: executorId }) },
        'a job started on an EC2 instance this fleet does not know; run sync to adopt it',
      );
      return;
    }
    const displaced =
      node.jobId !== null && node.jobId !== jobId && !node.started ? node.jobId : null;
    if (reservedOn !== undefined && reservedOn !== node) {
      // The job's own reservation goes to the job that had reserved this instance, if any.
      reservedOn.jobId = displaced;
      reservedOn.started = false;
      reservedOn.idleSince = displaced === null ? this.clock() : null;
    } else if (displaced !== null) {
      this.info(
        { pool, jobId: displaced, instanceId: node.id },
        `job ${jobId} took the instance reserved for this job; it waits for the next free executor of the pool`,
      );
    }
    node.jobId = jobId;
    node.started = true;
    node.booted = true;
    node.idleSince = null;
  }

  /** The job on (or reserved for) an instance ended or was withdrawn: it is idle from now. */
  jobEnded(pool: string, jobId: string): void {
    const node = this.reservationOf(jobId);
    if (node === undefined) return;
    if (node.pool !== pool) {
      this.warn({ pool, jobId, instanceId: node.id }, 'a job ended in another pool than its own');
    }
    node.jobId = null;
    node.started = false;
    node.idleSince = this.clock();
  }

  /**
   * Terminates every instance with no job for longer than `idleTimeoutMs` (booted or still
   * booting, e.g. after its reservation was withdrawn). Returns the ids EC2 accepted.
   *
   * @throws Ec2ThrottledError or Ec2RequestError; those instances stay idle for the next call.
   */
  async reapIdle(): Promise<string[]> {
    const now = this.clock().getTime();
    const expired = [...this.instances.values()].filter(
      (node) =>
        !node.terminating &&
        node.jobId === null &&
        node.idleSince !== null &&
        now - node.idleSince.getTime() > this.config.idleTimeoutMs,
    );
    return this.terminateNodes(expired, 'idle for longer than the idle timeout');
  }

  /** Terminates every instance of the fleet, busy ones included (their jobs are redelivered). */
  async terminateAll(): Promise<string[]> {
    const all = [...this.instances.values()].filter((node) => !node.terminating);
    return this.terminateNodes(all, 'the fleet is shutting down');
  }

  /**
   * Refuses new launches and waits for those under way. Instances are left running so a restarted
   * provisioner adopts them (see {@link sync}); call {@link terminateAll} to end them.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inflight.values()]);
  }

  /**
   * Rebuilds the fleet from EC2: adopts managed instances it does not know (after a restart; idle
   * from now) and forgets those EC2 no longer lists as pending or running (terminated outside
   * acai, e.g. a spot interruption: their jobs are redelivered by the work queue).
   */
  async sync(): Promise<SyncResult> {
    const adopted: string[] = [];
    const forgotten: { instanceId: string; jobId: string | null }[] = [];
    const listed = new Map<string, Ec2Instance>();
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const page = await this.withRetry('DescribeInstances', () =>
        this.repository.describe({ tags: this.fleetTags(), states: ['pending', 'running'] }, token),
      );
      for (const instance of page.instances) listed.set(instance.id, instance);
      nextToken = page.nextToken;
    } while (nextToken !== undefined);

    const now = this.clock();
    for (const instance of listed.values()) {
      const node = this.instances.get(instance.id);
      if (node !== undefined) {
        node.booted = node.booted || instance.state === 'running';
        continue;
      }
      const pool = instance.tags[POOL_TAG] ?? ec2PoolName(instance.instanceType, this.poolPrefix);
      this.instances.set(instance.id, {
        id: instance.id,
        instanceType: instance.instanceType,
        pool,
        launchedAt: instance.launchedAt ?? now,
        booted: instance.state === 'running',
        jobId: null,
        started: false,
        idleSince: now,
        terminating: false,
      });
      adopted.push(instance.id);
      this.info({ instanceId: instance.id, pool }, 'adopted an EC2 instance of this fleet');
    }
    for (const node of [...this.instances.values()]) {
      if (listed.has(node.id)) continue;
      const young = now.getTime() - node.launchedAt.getTime() < this.syncGraceMs;
      if (young && !node.terminating) continue;
      this.instances.delete(node.id);
      if (node.terminating) continue;
      forgotten.push({ instanceId: node.id, jobId: node.jobId });
      this.warn(
        { instanceId: node.id, pool: node.pool, jobId: node.jobId },
        node.jobId === null
          ? 'an EC2 instance is gone (terminated outside acai); forgetting it'
          : 'an EC2 instance is gone with its job (terminated outside acai, e.g. a spot interruption); the work queue redelivers the job',
      );
    }
    return { adopted, forgotten };
  }

  /**
   * The instance is gone now (a Spot interruption notice, or the cloud said so): it is forgotten
   * at once rather than at the next {@link sync}, so its job (reserved or running) no longer
   * counts as placed and can be given another instance. Answers that job, if it had one.
   */
  instanceGone(instanceId: string): string | null {
    const node = this.instances.get(instanceId);
    if (node === undefined) return null;
    this.instances.delete(instanceId);
    if (!node.terminating) {
      this.warn(
        { instanceId, pool: node.pool, jobId: node.jobId },
        node.jobId === null
          ? 'an EC2 instance is gone; forgetting it'
          : 'an EC2 instance is gone with its job (e.g. a spot interruption); the work queue redelivers the job',
      );
    }
    return node.jobId;
  }

  /** Every instance the fleet knows, oldest first. */
  nodes(): NodeView[] {
    return [...this.instances.values()]
      .sort((a, b) => a.launchedAt.getTime() - b.launchedAt.getTime() || a.id.localeCompare(b.id))
      .map((node) => ({
        id: node.id,
        provider: 'ec2' as const,
        instanceType: node.instanceType,
        pool: node.pool,
        state: stateOf(node),
        jobId: node.jobId,
        launchedAt: node.launchedAt,
        idleSince: node.idleSince,
      }));
  }

  private validate(): void {
    const problems: string[] = [];
    if (this.config.imageId.trim() === '') problems.push('imageId is empty: name the AMI to boot');
    if (!Number.isInteger(this.config.maxInstances) || this.config.maxInstances < 1) {
      problems.push(`maxInstances must be a whole number ≥ 1, not ${this.config.maxInstances}`);
    }
    if (!(this.config.idleTimeoutMs >= 0)) {
      problems.push(`idleTimeoutMs must be ≥ 0, not ${this.config.idleTimeoutMs}`);
    }
    if (!Number.isInteger(this.retry.attempts) || this.retry.attempts < 1) {
      problems.push(`retry.attempts must be a whole number ≥ 1, not ${this.retry.attempts}`);
    }
    if (this.executorCommand.trim() === '') problems.push('executorCommand is empty');
    if (!POOL_PREFIX.test(this.poolPrefix)) {
      problems.push(
        `poolPrefix must be letters, digits, '_' or '-' (a NATS subject token), not '${this.poolPrefix}'`,
      );
    }
    const badNames = invalidVariableNames(this.executorEnv);
    if (badNames.length > 0) {
      problems.push(`executorEnv has names that are not shell variables: ${badNames.join(', ')}`);
    } else {
      // Measured with a long pool name: the only part that varies between instances.
      const bytes = userDataBytes(
        this.userDataScript(
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
    if (problems.length > 0) {
      throw new Ec2ProviderError(
        ProvisioningProblems.EC2_INVALID_CONFIG,
        `Invalid EC2 fleet configuration:\n  ${problems.join('\n  ')}`,
      );
    }
  }

  private checkTypes(request: CapacityRequest): string[] {
    const types = [...new Set(request.types)];
    if (types.length === 0) {
      throw new Ec2ProviderError(
        ProvisioningProblems.EC2_INVALID_REQUEST,
        `No EC2 instance type given for job ${request.jobId}: name at least one, e.g. c5.large`,
      );
    }
    const bad = types.filter((type) => !INSTANCE_TYPE.test(type));
    if (bad.length > 0) {
      throw new Ec2ProviderError(
        ProvisioningProblems.EC2_INVALID_REQUEST,
        `Not EC2 instance types: ${bad.join(', ')} (job ${request.jobId}); expected names such as c5.large`,
      );
    }
    if (this.closed) {
      throw new Ec2ProviderError(
        ProvisioningProblems.EC2_INVALID_REQUEST,
        `The EC2 fleet is closed; job ${request.jobId} was not placed`,
      );
    }
    return types;
  }

  private async launchFor(jobId: string, types: readonly string[]): Promise<Capacity> {
    const active = [...this.instances.values()].filter((node) => !node.terminating).length;
    if (active + this.launching >= this.config.maxInstances) {
      const busy = [...this.instances.values()].filter((n) => !n.terminating && n.jobId !== null);
      throw new Ec2CapacityError(
        ProvisioningProblems.EC2_MAX_INSTANCES,
        `The EC2 fleet is at its limit of ${this.config.maxInstances} instances ` +
          `(${busy.length} reserved or busy, ${this.launching} launching, none free of ${types.join(', ')}); ` +
          `job ${jobId} waits until one is free. To run more at once, raise maxInstances ` +
          `(and, if needed, the account's EC2 vCPU quota).`,
      );
    }
    this.launching += 1;
    const attempts: LaunchAttempt[] = [];
    try {
      for (const type of types) {
        const outcome = await this.launchType(jobId, type, attempts);
        if (outcome.ok) {
          const node = this.record(outcome.instance, ec2PoolName(type, this.poolPrefix), jobId);
          this.info(
            { jobId, instanceId: node.id, pool: node.pool, attempts: attempts.length },
            `launched an EC2 ${type} instance`,
          );
          return this.capacityOf(node, true, attempts);
        }
        if (outcome.kind === 'capacity') {
          this.warn(
            { jobId, type, error: this.redact(describeEc2Error(outcome.error)) },
            'no EC2 capacity for this type; trying the next',
          );
          continue;
        }
        throw this.failure(
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
    } finally {
      this.launching -= 1;
    }
  }

  /** RunInstances for one type, retrying transient failures; records every call in `attempts`. */
  private async launchType(
    jobId: string,
    type: string,
    attempts: LaunchAttempt[],
  ): Promise<LaunchOutcome> {
    const pool = ec2PoolName(type, this.poolPrefix);
    const spec: LaunchSpec = {
      instanceType: type,
      imageId: this.config.imageId,
      userData: this.userData(pool, undefined, type),
      tags: {
        Name: `acai-executor-${pool}`,
        ...this.config.tags,
        [MANAGED_TAG]: 'true',
        [POOL_TAG]: pool,
      },
      // One token per type for this request: a retry after a lost answer finds the same instance.
      clientToken: randomUUID(),
      ...(this.config.subnetId === undefined ? {} : { subnetId: this.config.subnetId }),
      ...(this.config.securityGroupIds === undefined
        ? {}
        : { securityGroupIds: this.config.securityGroupIds }),
      ...(this.config.keyName === undefined ? {} : { keyName: this.config.keyName }),
      ...(this.config.instanceProfileArn === undefined
        ? {}
        : { instanceProfileArn: this.config.instanceProfileArn }),
    };
    for (let call = 1; ; call += 1) {
      try {
        const instance = await this.repository.launch(spec);
        attempts.push({ type });
        return { ok: true, instance };
      } catch (error) {
        attempts.push({ type, error: this.redact(describeEc2Error(error)) });
        const kind = classifyEc2Error(error);
        if (kind !== 'transient' || call >= this.retry.attempts) return { ok: false, kind, error };
        await this.backoff(call, 'RunInstances', error, { jobId, type });
      }
    }
  }

  private record(instance: Ec2Instance, pool: string, jobId: string): Ec2Node {
    // A sync running during the launch may have adopted the instance already.
    const known = this.instances.get(instance.id);
    const node: Ec2Node = known ?? {
      id: instance.id,
      instanceType: instance.instanceType,
      pool,
      launchedAt: instance.launchedAt ?? this.clock(),
      booted: instance.state === 'running',
      jobId: null,
      started: false,
      idleSince: null,
      terminating: false,
    };
    node.jobId = jobId;
    node.started = false;
    node.idleSince = null;
    this.instances.set(node.id, node);
    return node;
  }

  private async terminateNodes(nodes: readonly Ec2Node[], why: string): Promise<string[]> {
    if (nodes.length === 0) return [];
    // Marked first, so no job is reserved on them while the call is under way.
    for (const node of nodes) node.terminating = true;
    const terminated: string[] = [];
    try {
      for (let i = 0; i < nodes.length; i += TERMINATE_BATCH) {
        const batch = nodes.slice(i, i + TERMINATE_BATCH);
        terminated.push(...(await this.terminateBatch(batch)));
      }
    } catch (error) {
      const done = new Set(terminated);
      for (const node of nodes) if (!done.has(node.id)) node.terminating = false;
      throw error;
    }
    if (terminated.length > 0) {
      this.info({ instanceIds: terminated }, `terminating EC2 instances: ${why}`);
    }
    return terminated;
  }

  private async terminateBatch(batch: readonly Ec2Node[]): Promise<string[]> {
    const ids = batch.map((node) => node.id);
    try {
      await this.withRetry('TerminateInstances', () => this.repository.terminate(ids));
      return ids;
    } catch (error) {
      if (!(error instanceof Ec2RequestError) || error.awsCode !== 'InvalidInstanceID.NotFound') {
        throw error;
      }
    }
    // One of them is already gone, which fails the whole call: go one by one.
    const terminated: string[] = [];
    for (const id of ids) {
      try {
        await this.withRetry('TerminateInstances', () => this.repository.terminate([id]));
        terminated.push(id);
      } catch (error) {
        if (!(error instanceof Ec2RequestError) || error.awsCode !== 'InvalidInstanceID.NotFound') {
          throw error;
        }
        this.instances.delete(id);
      }
    }
    return terminated;
  }

  /** Calls `call`, retrying transient failures; translates the final failure. */
  private async withRetry<T>(operation: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await call();
      } catch (error) {
        const kind = classifyEc2Error(error);
        if (kind !== 'transient' || attempt >= this.retry.attempts) {
          throw this.failure(kind, error, operation, []);
        }
        await this.backoff(attempt, operation, error, {});
      }
    }
  }

  private async backoff(
    call: number,
    operation: string,
    error: unknown,
    fields: object,
  ): Promise<void> {
    const delayMs = backoffDelayMs(call - 1, this.retry, this.random);
    this.warn(
      { ...fields, operation, error: this.redact(describeEc2Error(error)), retry: call, delayMs },
      `${operation} was throttled or briefly unavailable; retrying`,
    );
    await this.sleep(delayMs);
  }

  private failure(
    kind: 'capacity' | 'transient' | 'fatal',
    error: unknown,
    what: string,
    attempts: readonly LaunchAttempt[],
  ): Ec2ProviderError {
    const reason = this.redact(describeEc2Error(error));
    switch (kind) {
      case 'transient':
        return new Ec2ThrottledError(
          `AWS was still throttling after ${this.retry.attempts} tries to ${what}: ${reason}. ` +
            'Try again later; if it persists, other callers share this account’s EC2 API rate.',
          attempts,
          { cause: error },
        );
      case 'capacity':
      case 'fatal':
        return new Ec2RequestError(
          ec2ErrorCode(error) ?? 'Unknown',
          `AWS refused to ${what}: ${reason}. ${adviceFor(ec2ErrorCode(error))}`,
          attempts,
          { cause: error },
        );
      default: {
        const _exhaustive: never = kind;
        return _exhaustive;
      }
    }
  }

  private capacityOf(
    node: Ec2Node,
    launched: boolean,
    attempts: readonly LaunchAttempt[],
  ): Capacity {
    return {
      pool: node.pool,
      instanceType: node.instanceType,
      instanceId: node.id,
      launched,
      attempts: [...attempts],
    };
  }

  private reservationOf(jobId: string): Ec2Node | undefined {
    for (const node of this.instances.values()) {
      if (node.jobId === jobId && !node.terminating) return node;
    }
    return undefined;
  }

  /** A free instance of the first type that has one: booted before booting, most recent first. */
  private findFree(types: readonly string[]): Ec2Node | undefined {
    for (const type of types) {
      const node = this.findFreeInPool(ec2PoolName(type, this.poolPrefix));
      if (node !== undefined) return node;
    }
    return undefined;
  }

  private findFreeInPool(pool: string): Ec2Node | undefined {
    const free = [...this.instances.values()].filter(
      (node) => node.pool === pool && node.jobId === null && !node.terminating,
    );
    // Reusing the most recently idle keeps a warm few and lets the surplus reach its timeout.
    free.sort(
      (a, b) =>
        Number(b.booted) - Number(a.booted) ||
        (b.idleSince?.getTime() ?? 0) - (a.idleSince?.getTime() ?? 0),
    );
    return free[0];
  }

  private fleetTags(): Record<string, string> {
    return { ...this.config.tags, [MANAGED_TAG]: 'true' };
  }

  private redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.replaceAll(secret, '[redacted]');
    return out;
  }

  private info(fields: object, msg: string): void {
    this.logger?.info(fields, this.redact(msg));
  }

  private warn(fields: object, msg: string): void {
    this.logger?.warn(fields, this.redact(msg));
  }
}

function stateOf(node: Ec2Node): NodeState {
  if (node.terminating) return 'terminating';
  if (node.jobId === null) return 'idle';
  if (node.started) return 'busy';
  return node.booted ? 'running' : 'pending';
}

function adviceFor(code: string | undefined): string {
  switch (code) {
    case 'UnauthorizedOperation':
    case 'AuthFailure':
      return 'Give the provisioner’s role ec2:RunInstances, ec2:DescribeInstances, ec2:TerminateInstances, ec2:CreateTags (and iam:PassRole for an instance profile).';
    case 'InvalidAMIID.NotFound':
    case 'InvalidAMIID.Malformed':
      return 'Check imageId: the AMI must exist in this region and be shared with this account.';
    case 'InvalidSubnetID.NotFound':
    case 'InvalidGroup.NotFound':
      return 'Check subnetId and securityGroupIds: they must exist in this region and VPC.';
    default:
      return 'Fix the EC2 fleet configuration; retrying the same request will not help.';
  }
}
