import {
  FilesetProblems,
  isProblem,
  ProvisioningProblems,
  subjects,
  type Creator,
} from '@acai/contracts';
import {
  encodeJson,
  silentLogger,
  type Bus,
  type CommandSender,
  type EventingLogger,
  type EventStore,
} from '@acai/eventing';
import { fallbackOffers, type Offer } from '@acai/provisioning';
import type { ProvisionerConfig } from '../../config.js';
import { Ec2Fleet, ec2PoolName, fleetNodeView, type Ec2FleetLogger } from '../ec2/index.js';
import { placementFailure, type NodeView, type Provider } from '../provider.js';
import { SimulatedCloud, type CloudStats } from './simulated-cloud.js';
import {
  SimulatedExecutors,
  type ExecutorStats,
  type NodeExecutors,
  type NodeHooks,
  type SaveSimulatedCheckpoint,
  type SimulatedNode,
} from './simulated-executor.js';
import { marketType } from './simulation-model.js';
import { VirtualClock } from './virtual-clock.js';

/** Pools of simulated nodes: `simulated-c5-large`, `simulated-c5-large-spot`. */
export const SIMULATED_POOL_PREFIX = 'simulated';

/**
 * Control topic answering {@link SimulationStats} (core NATS request/reply on
 * `<prefix>.ctl.simulation.stats`), for benchmarks and curious operators.
 */
export const SIMULATION_STATS_TOPIC = 'simulation.stats';

/** What the simulation has done so far; times are virtual. */
export interface SimulationStats {
  readonly provider: 'simulated';
  /** The virtual time now. */
  readonly now: string;
  readonly speedup: number;
  readonly seed: number;
  readonly maxInstances: number;
  readonly idleTimeoutMs: number;
  /** Jobs placed on the simulated cloud that no node has taken yet. */
  readonly waitingForNode: number;
  readonly cloud: CloudStats;
  readonly jobs: ExecutorStats;
}

export interface SimulatedProviderOptions {
  readonly config: ProvisionerConfig;
  /** The nodes' executors, made once the clock exists (see {@link simulatedExecutorsOnBus}). */
  readonly executors: (setup: { clock: VirtualClock; hooks: NodeHooks }) => NodeExecutors;
  /** Serves {@link SimulationStats} to whoever asks (on the bus: {@link serveStatsOnBus}). */
  readonly serveStats?: (stats: () => SimulationStats) => { unsubscribe(): void };
  readonly logger?: EventingLogger;
  /** Default: one at ACAI_SIM_SPEEDUP with seed ACAI_SIM_SEED. */
  readonly clock?: VirtualClock;
  /** Instances per DescribeInstances page of the simulated cloud. */
  readonly pageSize?: number;
}

/** The simulated nodes' executors of a running provisioner: work and job events on the bus. */
export function simulatedExecutorsOnBus(
  bus: Bus,
  store: EventStore,
  config: ProvisionerConfig,
  saveCheckpoint: SaveSimulatedCheckpoint,
  logger?: EventingLogger,
  ensureLogStream?: (project: string) => Promise<void>,
): SimulatedProviderOptions['executors'] {
  return ({ clock, hooks }) =>
    new SimulatedExecutors({
      bus,
      store,
      clock,
      hooks,
      saveCheckpoint,
      heartbeatMs: config.ACAI_SIM_HEARTBEAT_MS,
      ...(ensureLogStream === undefined ? {} : { ensureLogStream }),
      ...(logger === undefined ? {} : { logger }),
    });
}

/**
 * Simulated checkpoints in the catalog: each a version of `checkpoints-<job>` with no files (the
 * simulated job's whole state is its step, in the version's metadata and in `job.checkpointed`),
 * made by the job as the real executor's are, committed once per `commitId`.
 */
export function simulatedCheckpointsInCatalog(commands: CommandSender): SaveSimulatedCheckpoint {
  return async (work, { fileset, step, commitId }) => {
    const createdBy: Creator = {
      kind: 'job',
      jobId: work.jobId,
      runId: work.runId,
      step: work.name,
      parameters: { ...work.env },
      code: work.code,
    };
    try {
      await commands.send('createFileset', {
        project: work.project,
        request: { name: fileset, metadata: { simulated: true }, labels: [] },
        createdBy,
      });
    } catch (error) {
      // Made by an earlier checkpoint of the job.
      if (!isProblem(error, FilesetProblems.FILESET_EXISTS)) throw error;
    }
    const current = await commands.send('getFileset', { project: work.project, name: fileset });
    const version = await commands.send('commitVersion', {
      project: work.project,
      name: fileset,
      request: {
        parent: current.latestVersion,
        put: [],
        delete: [],
        metadata: { simulated: true, step },
        labels: [],
      },
      createdBy,
      commitId,
    });
    return version.version;
  };
}

/** Answers {@link SimulationStats} requests on `<prefix>.ctl.simulation.stats`. */
export function serveStatsOnBus(bus: Bus): NonNullable<SimulatedProviderOptions['serveStats']> {
  return (stats) =>
    bus.nc.subscribe(subjects.control(bus.topology, SIMULATION_STATS_TOPIC), {
      callback: (err, msg) => {
        if (err === null) msg.respond(encodeJson(stats()));
      },
    });
}

/**
 * Housekeeping (reaping idle nodes, syncing the fleet, nodes for waiting jobs) runs every this many
 * virtual milliseconds, or every quarter of the idle timeout if that is shorter...
 */
const MAX_TICK_MS = 10_000;
/** ...but never more often than every this many real milliseconds, whatever the speed-up. */
const MIN_TICK_REAL_MS = 10;
/** The fleet re-reads the cloud every so many ticks... */
const SYNC_EVERY_TICKS = 20;
/** ...and after an interruption at the next tick, if it has not for this many. */
const RESYNC_EVERY_TICKS = 5;

/**
 * The simulated provider: instance types with price, speed, boot time and Spot interruption rate,
 * on a virtual clock. It is the EC2 fleet (`Ec2Fleet`: reservations, reuse of free instances,
 * fallback types, idle reaping, sync) on a {@link SimulatedCloud} in place of the EC2 API, with
 * {@link SimulatedExecutors} for the instances' executors. Around the fleet it does what the EC2
 * provider leaves to time and to a human, in virtual time:
 *
 * - at `ACAI_EC2_MAX_INSTANCES` a job waits in its pool's queue instead of failing, and gets a
 *   node when one frees up (an autoscaler's pending work);
 * - a lost Spot instance is forgotten at once (the fleet syncs) and its job gets a replacement;
 * - idle instances are reaped on the virtual clock, not every 30 real seconds.
 */
export class SimulatedProvider implements Provider {
  readonly name = 'simulated' as const;
  readonly clock: VirtualClock;
  readonly cloud: SimulatedCloud;
  readonly executors: NodeExecutors;
  private readonly fleet: Ec2Fleet;
  private readonly logger: EventingLogger;
  private readonly maxInstances: number;
  private readonly idleTimeoutMs: number;
  private readonly tickMs: number;
  /** The pool of every job placed here that has not ended. */
  private readonly pools = new Map<string, string>();
  /** Jobs placed here that no node runs now (waiting, or handed back), with the type they need. */
  private readonly unstarted = new Map<string, string>();
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private resync = false;
  /** A job began to wait without a node, or capacity came free, since the last provideForWaiting. */
  private waitingChanged = false;
  private ticks = 0;
  private lastSync = 0;
  private atLimit = false;
  private statsSubscription: { unsubscribe(): void } | undefined;

  constructor(
    private readonly offers: () => readonly Offer[],
    private readonly options: SimulatedProviderOptions,
  ) {
    const config = options.config;
    this.logger = options.logger ?? silentLogger;
    this.clock =
      options.clock ??
      new VirtualClock({ speedup: config.ACAI_SIM_SPEEDUP, seed: config.ACAI_SIM_SEED });
    this.maxInstances = config.ACAI_EC2_MAX_INSTANCES;
    this.idleTimeoutMs = config.ACAI_EC2_IDLE_TIMEOUT_MS;
    this.tickMs = Math.max(
      MIN_TICK_REAL_MS * this.clock.speedup,
      Math.min(MAX_TICK_MS, this.idleTimeoutMs / 4),
    );
    this.cloud = new SimulatedCloud({
      clock: this.clock,
      offers: offers().filter((o) => o.provider === 'simulated'),
      ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
    });
    this.executors = options.executors({
      clock: this.clock,
      hooks: {
        jobStarted: (node, jobId) => this.nodeTook(node, jobId),
        jobEnded: (node, jobId) => this.fleet.jobEnded(node.pool, jobId),
        jobLost: (node, jobId) => this.nodeLost(node, jobId),
      },
    });
    this.cloud.listen({
      running: (instance) =>
        this.executors.nodeUp({
          id: instance.id,
          pool: instance.pool,
          type: instance.type,
          offer: instance.offer,
          launchedAt: instance.launchedAt,
        }),
      gone: (instance) => {
        this.executors.nodeDown(instance);
        // The fleet hears of it now, not at its next sync: until then it would count the job
        // reserved on (or running on) the lost node as placed, and find it no other.
        this.fleet.instanceGone(instance.id);
        this.waitingChanged = true;
        if (instance.endReason === 'interrupted') {
          this.resync = true;
          this.logger.debug(
            { instanceId: instance.id, pool: instance.pool },
            'a simulated Spot instance was interrupted',
          );
        }
      },
    });
    // The fleet's routine lines (a launch, a reservation) are debug here: thousands of them are
    // the point of a simulation. Its warnings describe simulated events (a lost Spot instance).
    const fleetLogger: Ec2FleetLogger = {
      info: (fields, msg) => this.logger.debug(fields, msg),
      warn: (fields, msg) => this.logger.info(fields, msg),
    };
    this.fleet = new Ec2Fleet({
      repository: this.cloud,
      clock: () => this.clock.now(),
      sleep: (ms) => this.clock.sleep(ms),
      random: this.clock.random('fleet-jitter'),
      config: {
        imageId: 'ami-simulated',
        idleTimeoutMs: this.idleTimeoutMs,
        maxInstances: this.maxInstances,
        poolPrefix: SIMULATED_POOL_PREFIX,
        // The simulated cloud's listings are consistent at once.
        syncGraceMs: 1_000,
      },
      executorEnv: {},
      logger: fleetLogger,
    });
  }

  /**
   * A node of the offer for the job: a free one of its type, else one launched (or a bigger type
   * of the same market). At the instance limit the job still gets its pool and waits there.
   */
  async place(offer: Offer, jobId: string): Promise<{ pool: string }> {
    const type = marketType(offer);
    const pool = ec2PoolName(type, SIMULATED_POOL_PREFIX);
    if (this.cloud.active >= this.maxInstances && this.executors.freeNodes(pool) === 0) {
      // At the limit with no idle node of its type: the fleet would refuse (after scanning every
      // instance and building an error), and the job would wait in its pool all the same.
      return { pool: this.wait(jobId, pool, type) };
    }
    try {
      const capacity = await this.fleet.ensureCapacity({
        jobId,
        types: [type, ...this.fallbacks(offer)],
      });
      this.track(jobId, capacity.pool, capacity.instanceType);
      return { pool: capacity.pool };
    } catch (error) {
      if (isProblem(error, ProvisioningProblems.EC2_MAX_INSTANCES)) {
        return { pool: this.wait(jobId, pool, type) };
      }
      throw placementFailure(error);
    }
  }

  /** Nothing to do: the node told the fleet when it took the job (see `NodeHooks`). */
  started(): void {}

  /** The job ended (or was cancelled): a node reserved for it and not running it is free again. */
  released(jobId: string): void {
    const pool = this.pools.get(jobId);
    if (pool === undefined) return;
    this.pools.delete(jobId);
    this.unstarted.delete(jobId);
    if (!this.executors.isRunning(jobId)) this.fleet.jobEnded(pool, jobId);
  }

  nodes(): readonly NodeView[] {
    return this.fleet
      .nodes()
      .map((n) => fleetNodeView(n, this.name, this.cloud.offerOf(n.instanceType), 'simulated'));
  }

  stats(): SimulationStats {
    return {
      provider: 'simulated',
      now: this.clock.now().toISOString(),
      speedup: this.clock.speedup,
      seed: this.clock.seed,
      maxInstances: this.maxInstances,
      idleTimeoutMs: this.idleTimeoutMs,
      waitingForNode: this.unstarted.size,
      cloud: this.cloud.stats(),
      jobs: this.executors.stats(),
    };
  }

  async start(): Promise<void> {
    this.executors.start();
    await this.fleet.sync();
    this.statsSubscription = this.options.serveStats?.(() => this.stats());
    this.loop = this.run();
    this.logger.info(
      {
        speedup: this.clock.speedup,
        seed: this.clock.seed,
        maxInstances: this.maxInstances,
        idleTimeoutMs: this.idleTimeoutMs,
        types: this.cloud.types().length,
      },
      `simulated cloud ready: a virtual hour is ${formatReal(this.clock.realMs(3_600_000))} of real time`,
    );
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    this.statsSubscription?.unsubscribe();
    await this.executors.stop();
    await this.fleet.close();
    this.cloud.close();
    const stats = this.stats();
    this.logger.info(
      { cloud: stats.cloud, jobs: stats.jobs },
      'simulated cloud stopped (its instances end with it)',
    );
  }

  /** A node took the job: the fleet marks it busy (moving reservations if it was not the one). */
  private nodeTook(node: SimulatedNode, jobId: string): void {
    this.unstarted.delete(jobId);
    if (!this.pools.has(jobId)) this.pools.set(jobId, node.pool);
    this.fleet.jobStarted(node.pool, jobId, node.id);
  }

  /** The node was lost with the job: it waits for a node again (a replacement if need be). */
  private nodeLost(node: SimulatedNode, jobId: string): void {
    if (this.stopping.signal.aborted) return;
    this.resync = true;
    if (this.pools.has(jobId)) this.unstarted.set(jobId, node.type);
    this.waitingChanged = true;
  }

  private track(jobId: string, pool: string, type: string): void {
    this.pools.set(jobId, pool);
    if (!this.executors.isRunning(jobId)) this.unstarted.set(jobId, type);
  }

  /** The job waits in its pool's queue, with no node of its own yet (see provideForWaiting). */
  private wait(jobId: string, pool: string, type: string): string {
    this.track(jobId, pool, type);
    this.waitingChanged = true;
    if (!this.atLimit) {
      this.atLimit = true;
      this.logger.info(
        { maxInstances: this.maxInstances, pool },
        'the simulated cloud is at ACAI_EC2_MAX_INSTANCES: jobs wait in their pools for a node',
      );
    }
    return pool;
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      await this.clock.sleep(this.tickMs, signal);
      if (signal.aborted) break;
      try {
        await this.tick();
      } catch (error) {
        this.logger.warn(
          { err: error instanceof Error ? error.message : String(error) },
          'the simulated fleet’s housekeeping failed; retrying at the next tick',
        );
      }
    }
  }

  /** Forget lost instances, reap idle ones, then find nodes for jobs that have none. */
  private async tick(): Promise<void> {
    this.ticks += 1;
    const synced = this.ticks - this.lastSync;
    if ((this.resync && synced >= RESYNC_EVERY_TICKS) || synced >= SYNC_EVERY_TICKS) {
      this.resync = false;
      this.lastSync = this.ticks;
      const synced = await this.fleet.sync();
      // A node forgotten with its job: that job has no node now.
      if (synced.forgotten.some((f) => f.jobId !== null)) this.waitingChanged = true;
    }
    await this.fleet.reapIdle();
    await this.provideForWaiting();
  }

  /**
   * Every job that waits for a node and has none reserved gets one: a free node of its type, or a
   * new one, until the instance limit. (Any free node of the pool may take it first; then the
   * fleet moves the reservation, and the extra node serves the next job of the pool.)
   */
  private async provideForWaiting(): Promise<void> {
    if (!this.waitingChanged || this.unstarted.size === 0) return;
    if (this.cloud.active >= this.maxInstances) return;
    this.waitingChanged = false;
    this.atLimit = false;
    const reserved = new Set<string>();
    for (const node of this.fleet.nodes()) {
      if (node.jobId === null || node.state === 'terminating') continue;
      if (this.cloud.instance(node.id)?.state === 'terminated') continue;
      reserved.add(node.jobId);
    }
    // Launches stop at the limit (reserving a free node takes no room); counting them spares the
    // fleet a refusal, which costs it a scan of every instance and an error.
    let room = this.maxInstances - this.cloud.active;
    for (const [jobId, type] of this.unstarted) {
      if (reserved.has(jobId)) continue;
      if (room <= 0) {
        this.waitingChanged = true;
        return;
      }
      try {
        const capacity = await this.fleet.ensureCapacity({ jobId, types: [type] });
        if (capacity.launched) room -= 1;
      } catch (error) {
        if (!isProblem(error, ProvisioningProblems.EC2_MAX_INSTANCES)) {
          this.logger.warn(
            { jobId, type, err: error instanceof Error ? error.message : String(error) },
            'could not launch a simulated node for a waiting job',
          );
        }
        // Try again at the next tick (the limit: once capacity comes free).
        this.waitingChanged = true;
        return;
      }
    }
  }

  /** Bigger types of the same market that can stand in when the chosen one has no capacity. */
  private fallbacks(offer: Offer): string[] {
    return fallbackOffers(this.offers(), offer).map(marketType);
  }
}

function formatReal(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s` : `${ms.toFixed(0)} ms`;
}
