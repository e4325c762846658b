import os from 'node:os';
import type { NodeHeartbeat } from '@acai/contracts';
import {
  describeError,
  type EventingLogger,
  type JobControl,
  type NodeHeartbeats,
  type WorkConsumer,
} from '@acai/eventing';
import type { AttemptSightings } from '@acai/runs';
import type { JobRunner } from '../jobs/job-runner.js';
import type { Limits } from '../jobs/limits.js';
import type { Sandbox } from '../jobs/sandbox.js';
import type { WorkFolders } from '../jobs/work-folders.js';

/** How often failed jobs' folders past their time (and dead executors' folders) are removed. */
const SWEEP_EVERY_MS = 5 * 60_000;

export interface ExecutorNodeOptions {
  readonly runner: JobRunner;
  /** Pulls the pool's work, at most one job per slot, and hands each lease to the runner. */
  readonly consumer: WorkConsumer;
  readonly control: JobControl;
  readonly folders: WorkFolders;
  readonly limits: Limits;
  readonly sandbox: Sandbox;
  /** Tells the provisioner this node is alive (`GET /api/v1/nodes`). */
  readonly heartbeat: (heartbeat: NodeHeartbeat) => void;
  readonly heartbeatMs: number;
  readonly identity: Pick<NodeHeartbeat, 'id' | 'pool' | 'provider' | 'instanceType' | 'slots'>;
  readonly logger: EventingLogger;
  /**
   * Calls back each time the bus connection comes back: cancels sent meanwhile were not heard, so
   * the running jobs are checked against the log at once.
   */
  readonly onReconnect?: (listener: () => void) => { stop(): void };
  /** How often running jobs are checked against the log anyway (a lost cancel); default 30 s. */
  readonly reconcileMs?: number;
  /**
   * The other nodes' heartbeats, remembered for `keepMs` in `sightings` (forgotten on a
   * reconnect): whether a job's attempt elsewhere is alive when its work comes here.
   */
  readonly hearing?: {
    readonly heartbeats: NodeHeartbeats;
    readonly sightings: AttemptSightings;
    readonly keepMs: number;
  };
}

/**
 * The executor as a node: pulls its pool's work for the runner, stops jobs on request, says it is
 * alive every few seconds, and tidies work folders. On shutdown it stops pulling, lets running
 * jobs finish within the grace period, then stops them and hands their work back so another
 * executor runs them again.
 */
export class ExecutorNode {
  private readonly startedAt = new Date().toISOString();
  private cancels: { stop(): void } | undefined;
  private rescales: { stop(): void } | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private reconciler: NodeJS.Timeout | undefined;
  private reconnects: { stop(): void } | undefined;
  private listening: { stop(): void } | undefined;
  private reconciling: Promise<unknown> | undefined;

  constructor(private readonly options: ExecutorNodeOptions) {}

  /** How many jobs this node runs now. */
  get activeJobs(): number {
    return this.options.runner.jobIds.length;
  }

  async start(): Promise<void> {
    const { folders, logger } = this.options;
    const swept = await folders.sweep({ atStart: true });
    if (swept.length > 0)
      logger.info({ folders: swept }, 'removed work folders left by earlier executors');
    this.sweeper = setInterval(() => {
      folders.sweep({ atStart: false }).catch((error: unknown) => {
        logger.warn({ err: describeError(error) }, 'could not sweep work folders');
      });
    }, SWEEP_EVERY_MS);
    this.sweeper.unref();
    logger.info(
      { limits: this.options.limits.mode },
      `job limits are enforced with ${this.options.limits.mode}`,
    );
    const { sandbox } = this.options;
    if (sandbox.mode === 'uid') {
      logger.info(
        { sandbox: sandbox.mode, users: sandbox.slots.map((s) => s.user?.name) },
        'jobs run as the unprivileged users of their slots',
      );
    } else {
      logger.warn(
        { sandbox: sandbox.mode },
        'ACAI_SANDBOX=none: jobs run as the executor’s own user and can read what it can',
      );
    }
    this.cancels = this.options.control.onCancel((c) =>
      this.options.runner.cancel(c.jobId, c.reason),
    );
    this.rescales = this.options.control.onRescale((c) =>
      this.options.runner.rescale(c.jobId, c.attempt, c.graceSeconds, c.reason),
    );
    const hearing = this.options.hearing;
    this.listening = hearing?.heartbeats.onHeartbeat((h) => hearing.sightings.heard(h));
    this.reconnects = this.options.onReconnect?.(() => {
      // Heartbeats sent while the connection was away were missed.
      hearing?.sightings.restart();
      this.reconcile();
    });
    this.reconciler = setInterval(() => this.reconcile(), this.options.reconcileMs ?? 30_000);
    this.reconciler.unref();
    await this.options.consumer.start();
    this.beat();
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Graceful stop: no new work; running jobs get the grace period, then are handed back. */
  async stop(graceMs: number): Promise<void> {
    this.cancels?.stop();
    this.rescales?.stop();
    this.reconnects?.stop();
    this.listening?.stop();
    clearInterval(this.reconciler);
    clearInterval(this.heartbeat);
    clearInterval(this.sweeper);
    await this.options.consumer.stop();
    const drained = this.options.consumer.drained();
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref()),
    ]);
    if (timedOut) {
      this.options.runner.handBackAll();
      // One last heartbeat without them: whoever gets their work next knows they run here no more.
      this.beat();
      await drained;
    }
    await this.options.limits.releaseSlots(this.options.sandbox.slots.map((s) => s.name));
    await this.options.sandbox.release();
  }

  /** Checks the running jobs against the log (one check at a time); see JobRunner.reconcile. */
  reconcile(): void {
    this.reconciling ??= this.options.runner
      .reconcile()
      .catch((error: unknown) => {
        this.options.logger.warn({ err: describeError(error) }, 'could not check running jobs');
      })
      .finally(() => {
        this.reconciling = undefined;
      });
  }

  private beat(): void {
    const hearing = this.options.hearing;
    hearing?.sightings.forgetOlderThan(hearing.keepMs);
    const jobs = this.options.runner.jobIds;
    try {
      this.options.heartbeat({
        ...this.options.identity,
        cpu: os.availableParallelism(),
        memoryMb: Math.floor(os.totalmem() / 1024 / 1024),
        busy: jobs.length,
        jobs,
        projects: this.options.runner.jobProjects,
        startedAt: this.startedAt,
        limits: this.options.limits.mode,
      });
    } catch (error) {
      this.options.logger.warn({ err: describeError(error) }, 'could not send a node heartbeat');
    }
  }
}
