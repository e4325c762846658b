/**
 * The EC2 fleet as its callers see it: one class, {@link Ec2Fleet}, composed of parts that each
 * own one concern (see README.md): `fleet-config.ts` (config, names, boot script), `node-book.ts`
 * (what each instance holds), `capacity.ts` (reservations), `launch.ts` (RunInstances),
 * `reaping.ts` (termination and sync), `ec2-calls.ts` (retries) and `fleet-log.ts` (redaction).
 */

import { Ec2Calls } from './ec2-calls.js';
import { SdkEc2Repository, type Ec2Repository } from './ec2.repository.js';
import { FleetCapacity, type Capacity, type CapacityRequest } from './capacity.js';
import {
  fleetSettings,
  fleetUserDataScript,
  type Ec2FleetOptions,
  type FleetSettings,
} from './fleet-config.js';
import { FleetLog } from './fleet-log.js';
import { Launcher } from './launch.js';
import { NodeBook, type NodeView } from './node-book.js';
import { Reaper, type SyncResult } from './reaping.js';
import { encodeUserData } from './user-data.js';

// What callers imported from this module before it was split; they need not change.
export {
  DEFAULT_POOL_PREFIX,
  ec2PoolName,
  MANAGED_TAG,
  POOL_TAG,
  type Ec2FleetConfig,
  type Ec2FleetLogger,
  type Ec2FleetOptions,
} from './fleet-config.js';
export type { Capacity, CapacityRequest } from './capacity.js';
export type { NodeState, NodeView } from './node-book.js';
export type { SyncResult } from './reaping.js';

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
  private readonly settings: FleetSettings;
  private readonly book = new NodeBook();
  private readonly capacity: FleetCapacity;
  private readonly reaper: Reaper;

  /** @throws Ec2ProviderError `EC2_INVALID_CONFIG` when the config cannot work. */
  constructor(options: Ec2FleetOptions) {
    const repository: Ec2Repository =
      'repository' in options ? options.repository : new SdkEc2Repository(options.client);
    this.settings = fleetSettings(options.config, options.executorEnv);
    const log = new FleetLog(options.logger, this.settings.executorEnv);
    const calls = new Ec2Calls(
      this.settings.retry,
      log,
      options.sleep,
      options.random ?? Math.random,
    );
    const launcher = new Launcher(repository, calls, log, this.settings);
    this.capacity = new FleetCapacity(this.book, launcher, log, options.clock, this.settings);
    this.reaper = new Reaper(this.book, repository, calls, log, options.clock, this.settings);
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
  ensureCapacity(request: CapacityRequest): Promise<Capacity> {
    return this.capacity.ensure(request);
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
    return fleetUserDataScript(this.settings, pool, instanceId, instanceType);
  }

  /**
   * An executor of `pool` started `jobId`. Pass `executorId` (the instance id, from `job.started`)
   * when known: any executor of a pool may take any of its jobs, so the job may run elsewhere than
   * where it was reserved; the reservations are then swapped.
   */
  jobStarted(pool: string, jobId: string, executorId?: string): void {
    this.capacity.jobStarted(pool, jobId, executorId);
  }

  /** The job on (or reserved for) an instance ended or was withdrawn: it is idle from now. */
  jobEnded(pool: string, jobId: string): void {
    this.capacity.jobEnded(pool, jobId);
  }

  /**
   * Terminates every instance with no job for longer than `idleTimeoutMs` (booted or still
   * booting, e.g. after its reservation was withdrawn). Returns the ids EC2 accepted.
   *
   * @throws Ec2ThrottledError or Ec2RequestError; those instances stay idle for the next call.
   */
  reapIdle(): Promise<string[]> {
    return this.reaper.reapIdle();
  }

  /** Terminates every instance of the fleet, busy ones included (their jobs are redelivered). */
  terminateAll(): Promise<string[]> {
    return this.reaper.terminateAll();
  }

  /**
   * Refuses new launches and waits for those under way. Instances are left running so a restarted
   * provisioner adopts them (see {@link sync}); call {@link terminateAll} to end them.
   */
  close(): Promise<void> {
    return this.capacity.close();
  }

  /**
   * Rebuilds the fleet from EC2: adopts managed instances it does not know (after a restart; idle
   * from now) and forgets those EC2 no longer lists as pending or running (terminated outside
   * acai, e.g. a spot interruption: their jobs are redelivered by the work queue).
   */
  sync(): Promise<SyncResult> {
    return this.reaper.sync();
  }

  /**
   * The instance is gone now (a Spot interruption notice, or the cloud said so): it is forgotten
   * at once rather than at the next {@link sync}, so its job (reserved or running) no longer
   * counts as placed and can be given another instance. Answers that job, if it had one.
   */
  instanceGone(instanceId: string): string | null {
    return this.reaper.instanceGone(instanceId);
  }

  /** Every instance the fleet knows, oldest first. */
  nodes(): NodeView[] {
    return this.book.views();
  }
}
