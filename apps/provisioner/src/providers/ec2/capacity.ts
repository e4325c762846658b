/**
 * Which instance each job holds. A job gets a free instance of the first acceptable type that has
 * one, else one launched for it (through `launch.ts`) while the fleet is under `maxInstances`;
 * asking twice for one job answers one reservation. As executors report what they started and
 * what ended, reservations follow: any executor of a pool may take any of its jobs.
 */

import { ProvisioningProblems } from '@acai/contracts';
import { Ec2CapacityError, Ec2ProviderError, type LaunchAttempt } from './ec2-errors.js';
import { ec2PoolName, type FleetSettings } from './fleet-config.js';
import type { FleetLog } from './fleet-log.js';
import type { Launcher } from './launch.js';
import { newNode, type Ec2Node, type NodeBook } from './node-book.js';

const INSTANCE_TYPE = /^[a-z0-9-]+\.[a-z0-9-]+$/;

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

export class FleetCapacity {
  /** Launches under way, by job: a second request for the job waits for the same one. */
  private readonly inflight = new Map<string, Promise<Capacity>>();
  /** Launches under way count against `maxInstances` before their instance is known. */
  private launching = 0;
  private closed = false;

  constructor(
    private readonly book: NodeBook,
    private readonly launcher: Launcher,
    private readonly log: FleetLog,
    private readonly clock: () => Date,
    private readonly settings: FleetSettings,
  ) {}

  /** See `Ec2Fleet.ensureCapacity`. */
  async ensure(request: CapacityRequest): Promise<Capacity> {
    const reserved = this.book.reservationOf(request.jobId);
    if (reserved !== undefined) return capacityOf(reserved, false, []);
    const pending = this.inflight.get(request.jobId);
    if (pending !== undefined) return pending;
    const types = this.checkTypes(request);

    const free = this.findFree(types);
    if (free !== undefined) {
      free.jobId = request.jobId;
      free.started = false;
      free.idleSince = null;
      this.log.info(
        { jobId: request.jobId, instanceId: free.id, pool: free.pool },
        'reserved a free EC2 instance',
      );
      return capacityOf(free, false, []);
    }

    const launch = this.launchFor(request.jobId, types);
    this.inflight.set(request.jobId, launch);
    try {
      return await launch;
    } finally {
      this.inflight.delete(request.jobId);
    }
  }

  /** See `Ec2Fleet.jobStarted`. */
  jobStarted(pool: string, jobId: string, executorId?: string): void {
    const reservedOn = this.book.reservationOf(jobId);
    const byId = executorId === undefined ? undefined : this.book.get(executorId);
    const node = byId ?? reservedOn ?? this.book.freeInPool(pool);
    if (node === undefined) {
      this.log.warn(
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
      this.log.info(
        { pool, jobId: displaced, instanceId: node.id },
        `job ${jobId} took the instance reserved for this job; it waits for the next free executor of the pool`,
      );
    }
    node.jobId = jobId;
    node.started = true;
    node.booted = true;
    node.idleSince = null;
  }

  /** See `Ec2Fleet.jobEnded`. */
  jobEnded(pool: string, jobId: string): void {
    const node = this.book.reservationOf(jobId);
    if (node === undefined) return;
    if (node.pool !== pool) {
      this.log.warn(
        { pool, jobId, instanceId: node.id },
        'a job ended in another pool than its own',
      );
    }
    node.jobId = null;
    node.started = false;
    node.idleSince = this.clock();
  }

  /** Refuses new requests and waits for the launches under way. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inflight.values()]);
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

  /** A free instance of the first type that has one. */
  private findFree(types: readonly string[]): Ec2Node | undefined {
    for (const type of types) {
      const node = this.book.freeInPool(ec2PoolName(type, this.settings.poolPrefix));
      if (node !== undefined) return node;
    }
    return undefined;
  }

  private async launchFor(jobId: string, types: readonly string[]): Promise<Capacity> {
    const { maxInstances } = this.settings.config;
    const active = this.book.active();
    if (active.length + this.launching >= maxInstances) {
      const busy = active.filter((node) => node.jobId !== null);
      throw new Ec2CapacityError(
        ProvisioningProblems.EC2_MAX_INSTANCES,
        `The EC2 fleet is at its limit of ${maxInstances} instances ` +
          `(${busy.length} reserved or busy, ${this.launching} launching, none free of ${types.join(', ')}); ` +
          `job ${jobId} waits until one is free. To run more at once, raise maxInstances ` +
          `(and, if needed, the account's EC2 vCPU quota).`,
      );
    }
    this.launching += 1;
    try {
      const { instance, type, pool, attempts } = await this.launcher.launch(jobId, types);
      // A sync running during the launch may have adopted the instance already.
      const node = this.book.get(instance.id) ?? newNode(instance, pool, this.clock(), null);
      node.jobId = jobId;
      node.started = false;
      node.idleSince = null;
      this.book.put(node);
      this.log.info(
        { jobId, instanceId: node.id, pool: node.pool, attempts: attempts.length },
        `launched an EC2 ${type} instance`,
      );
      return capacityOf(node, true, attempts);
    } finally {
      this.launching -= 1;
    }
  }
}

function capacityOf(
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
