import { EC2Client } from '@aws-sdk/client-ec2';
import { AcaiError, isProblem, ProvisioningProblems } from '@acai/contracts';
import { fallbackOffers, type Offer } from '@acai/provisioning';
import type { ProvisionerConfig } from '../../config.js';
import { placementFailure, type NodeView, type Provider } from '../provider.js';
import { Ec2CapacityError } from './ec2-errors.js';
import { Ec2Fleet, ec2PoolName, type Ec2FleetLogger } from './ec2-fleet.js';
import type { Ec2Repository } from './ec2.repository.js';
import { fleetNodeView } from './node-view.js';

/** How often idle instances are looked for, at most: twice per idle timeout when that is short. */
const REAP_EVERY_MS = 30_000;

/**
 * EC2 instances as nodes, one executor with one slot each, through {@link Ec2Fleet}: a free
 * instance of the type is reused, else one is launched (falling back to bigger types when a type
 * has no capacity), and instances idle past ACAI_EC2_IDLE_TIMEOUT_MS are terminated. Also drives
 * the simulated cloud, which implements the same repository on a virtual clock.
 */
export class Ec2Provider implements Provider {
  readonly name: 'ec2' | 'simulated';
  private readonly fleet: Ec2Fleet;
  private readonly pools = new Map<string, string>();
  /** Jobs sent to their type's pool while the fleet was at its instance limit. */
  private readonly waiting = new Map<string, Offer>();
  private reaper: NodeJS.Timeout | undefined;
  private readonly reapEveryMs: number;

  constructor(
    private readonly offers: () => readonly Offer[],
    options: {
      name?: 'ec2' | 'simulated';
      config: ProvisionerConfig;
      logger: Ec2FleetLogger;
      repository?: Ec2Repository;
      clock?: () => Date;
      sleep?: (ms: number) => Promise<void>;
    },
  ) {
    this.name = options.name ?? 'ec2';
    const config = options.config;
    this.reapEveryMs = Math.min(REAP_EVERY_MS, Math.max(250, config.ACAI_EC2_IDLE_TIMEOUT_MS / 2));
    const executorEnv: Record<string, string> = {
      NATS_URL: config.ACAI_EC2_EXECUTOR_NATS_URL ?? config.NATS_URL,
      ACAI_BUS_PREFIX: config.ACAI_BUS_PREFIX,
    };
    if (config.ACAI_EC2_EXECUTOR_NATS_PASSWORD !== undefined) {
      executorEnv['ACAI_NATS_USER'] = 'executor';
      executorEnv['ACAI_NATS_PASSWORD'] = config.ACAI_EC2_EXECUTOR_NATS_PASSWORD;
    }
    if (config.ACAI_EC2_EXECUTOR_BLOB_STORE !== undefined)
      executorEnv['ACAI_BLOB_STORE'] = config.ACAI_EC2_EXECUTOR_BLOB_STORE;
    if (config.ACAI_EC2_EXECUTOR_DATABASE_URL !== undefined)
      executorEnv['DATABASE_URL'] = config.ACAI_EC2_EXECUTOR_DATABASE_URL;
    const imageId = config.ACAI_EC2_IMAGE_ID ?? (this.name === 'simulated' ? 'ami-simulated' : '');
    if (imageId === '') {
      throw new AcaiError(
        ProvisioningProblems.PROVIDER_NOT_CONFIGURED,
        'The ec2 provider needs ACAI_EC2_IMAGE_ID: an AMI with Node.js 20 and the acai executor',
      );
    }
    const fleetConfig = {
      imageId,
      idleTimeoutMs: config.ACAI_EC2_IDLE_TIMEOUT_MS,
      maxInstances: config.ACAI_EC2_MAX_INSTANCES,
      ...(config.ACAI_EC2_SUBNET_ID !== undefined ? { subnetId: config.ACAI_EC2_SUBNET_ID } : {}),
      ...(config.ACAI_EC2_SECURITY_GROUP_IDS !== undefined
        ? { securityGroupIds: config.ACAI_EC2_SECURITY_GROUP_IDS.split(',').map((s) => s.trim()) }
        : {}),
      ...(config.ACAI_EC2_KEY_NAME !== undefined ? { keyName: config.ACAI_EC2_KEY_NAME } : {}),
      ...(config.ACAI_EC2_INSTANCE_PROFILE_ARN !== undefined
        ? { instanceProfileArn: config.ACAI_EC2_INSTANCE_PROFILE_ARN }
        : {}),
      ...(config.ACAI_EC2_EXECUTOR_COMMAND !== undefined
        ? { executorCommand: config.ACAI_EC2_EXECUTOR_COMMAND }
        : {}),
    };
    const base = {
      clock: options.clock ?? (() => new Date()),
      sleep: options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
      config: fleetConfig,
      executorEnv,
      logger: options.logger,
    };
    this.fleet =
      options.repository !== undefined
        ? new Ec2Fleet({ ...base, repository: options.repository })
        : new Ec2Fleet({
            ...base,
            client: new EC2Client({
              ...(config.ACAI_EC2_REGION !== undefined ? { region: config.ACAI_EC2_REGION } : {}),
              // The fleet has its own retry policy (backoff, fallback to other types).
              maxAttempts: 1,
            }),
          });
  }

  async place(offer: Offer, jobId: string): Promise<{ pool: string }> {
    try {
      const capacity = await this.fleet.ensureCapacity({
        jobId,
        types: [offer.name, ...this.fallbacks(offer)],
      });
      this.pools.set(jobId, capacity.pool);
      return { pool: capacity.pool };
    } catch (error) {
      if (isProblem(error, ProvisioningProblems.EC2_MAX_INSTANCES)) {
        // At the limit: the job waits in its type's pool. An instance of the type that finishes
        // its job pulls it; otherwise each reaper round tries again once instances are freed.
        const pool = ec2PoolName(offer.name);
        this.pools.set(jobId, pool);
        this.waiting.set(jobId, offer);
        return { pool };
      }
      throw placementFailure(error);
    }
  }

  started(jobId: string, executor: string): void {
    this.waiting.delete(jobId);
    const pool = this.pools.get(jobId);
    if (pool !== undefined) this.fleet.jobStarted(pool, jobId, executor);
  }

  released(jobId: string): void {
    this.waiting.delete(jobId);
    const pool = this.pools.get(jobId);
    if (pool === undefined) return;
    this.pools.delete(jobId);
    this.fleet.jobEnded(pool, jobId);
  }

  nodes(): readonly NodeView[] {
    const offers = new Map(this.offers().map((o) => [o.name, o]));
    return this.fleet
      .nodes()
      .map((n) => fleetNodeView(n, this.name, offers.get(n.instanceType), null));
  }

  /** Idle instances past their timeout are terminated (also called by the periodic reaper). */
  reapIdle(): Promise<string[]> {
    return this.fleet.reapIdle();
  }

  async start(): Promise<void> {
    await this.fleet.sync();
    // Each round first asks EC2 which instances still exist (a Spot reclaim or a terminate from
    // outside frees their reservation; their jobs come back through the work queue), then
    // terminates those idle too long.
    this.reaper = setInterval(() => {
      this.fleet
        .sync()
        .then(() => this.fleet.reapIdle())
        .then(() => this.placeWaiting())
        .catch(() => undefined);
    }, this.reapEveryMs);
    this.reaper.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.reaper);
    await this.fleet.close();
  }

  /**
   * Jobs that wait at the instance limit get an instance of their own type once there is room
   * (only their type: the job is already on that type's pool). Still at the limit: they wait on.
   */
  private async placeWaiting(): Promise<void> {
    for (const [jobId, offer] of [...this.waiting]) {
      try {
        await this.fleet.ensureCapacity({ jobId, types: [offer.name] });
        this.waiting.delete(jobId);
      } catch (error) {
        if (!(error instanceof Ec2CapacityError)) throw error;
        if (error.is(ProvisioningProblems.EC2_MAX_INSTANCES)) return;
      }
    }
  }

  /** Bigger types of the same shape that can stand in when the chosen one has no capacity. */
  private fallbacks(offer: Offer): string[] {
    return fallbackOffers(this.offers(), offer).map((o) => o.name);
  }
}
