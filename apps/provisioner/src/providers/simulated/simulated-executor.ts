import { Controls, JOB, subjects, type NodeHeartbeat } from '@acai/contracts';
import {
  AggregateRepository,
  BusJobControl,
  describeError,
  encodeJson,
  inSpan,
  silentLogger,
  SpanKind,
  WorkConsumer,
  type Bus,
  type EventingLogger,
  type EventStore,
  type WorkLease,
} from '@acai/eventing';
import { JobAttempts, LogPublisher, type Attempt } from '@acai/execution';
import { formatSeconds, type Offer } from '@acai/provisioning';
import { jobDecider, outcomeOf, type AttemptOutcome, type ProcessExit } from '@acai/runs';
import { jobModelOf, simulatedSeconds, stepPlan, type JobModel } from './simulation-model.js';
import type { VirtualClock } from './virtual-clock.js';

/** A booted simulated instance, as its executor knows itself. */
export interface SimulatedNode {
  /** The instance id; it is also the executor id in `job.started`. */
  readonly id: string;
  readonly pool: string;
  /** The type as launched (`c5.large-spot` for Spot). */
  readonly type: string;
  readonly offer: Offer;
  /** Virtual epoch milliseconds. */
  readonly launchedAt: number;
}

/**
 * What the nodes tell the provider, at once and in process: in virtual time the job events reach
 * the provisioner's consumer far too late (100 ms of event lag is 6 virtual minutes at 3600×,
 * longer than the idle timeout), so a busy node would look idle and be reaped.
 */
export interface NodeHooks {
  /** A node took a job off the queue (its start is recorded next). */
  jobStarted(node: SimulatedNode, jobId: string): void;
  /** The job left the node: it ended, or was not to be run after all. */
  jobEnded(node: SimulatedNode, jobId: string): void;
  /** The node was lost while running the job: its work went back to the queue. */
  jobLost(node: SimulatedNode, jobId: string): void;
}

/**
 * The executors of the simulated nodes, as the provider drives them: told of every node that boots
 * and ends, asked which nodes are free. {@link SimulatedExecutors} is the real one (on the bus);
 * tests of the provider's bookkeeping give a scripted one.
 */
export interface NodeExecutors {
  start(): void;
  /** Stops pulling work and hands running jobs back; resolves when every handler is done. */
  stop(): Promise<void>;
  nodeUp(node: SimulatedNode): void;
  nodeDown(node: Pick<SimulatedNode, 'id' | 'pool'>): void;
  freeNodes(pool: string): number;
  isRunning(jobId: string): boolean;
  stats(): ExecutorStats;
}

export interface SimulatedExecutorsOptions {
  readonly bus: Bus;
  readonly store: EventStore;
  readonly clock: VirtualClock;
  readonly hooks?: NodeHooks;
  readonly logger?: EventingLogger;
  /** Real milliseconds between node heartbeats; 0 sends none. */
  readonly heartbeatMs: number;
  /** Deliveries a job's work may have; each lost node costs one. */
  readonly maxDeliver?: number;
  /** Real milliseconds without a lease heartbeat before JetStream hands the work to another. */
  readonly ackWaitMs?: number;
  /** Has a project's logs stream made when job output finds none (the gateway's command). */
  readonly ensureLogStream?: (project: string) => Promise<void>;
  /**
   * Saves a simulated job's checkpoint (`ACAI_SIM_CHECKPOINT_EVERY`) as a version of its checkpoint
   * file set, idempotent by `commitId`; answers the version.
   */
  readonly saveCheckpoint: SaveSimulatedCheckpoint;
}

/** Commits a simulated checkpoint (a version with no files: the job's state is its step). */
export type SaveSimulatedCheckpoint = (
  work: WorkLease['work'],
  checkpoint: { readonly fileset: string; readonly step: number; readonly commitId: string },
) => Promise<number>;

/** Figures of the simulated executors so far; times are virtual. */
export interface ExecutorStats {
  /** Attempts started (a job lost with its node starts again: one more). */
  readonly started: number;
  /** Attempts after a job's first (work handed back by a lost node, then run again). */
  readonly reattempts: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly cancelled: number;
  /** Attempts that ended after a newer attempt took the job over: nothing of theirs was recorded. */
  readonly superseded: number;
  /** Attempts stopped to move the job to another configuration. */
  readonly rescaled: number;
  /** Attempts lost with their node (a Spot interruption, a termination). */
  readonly lost: number;
  readonly running: number;
  readonly firstStartAt: string | null;
  readonly lastEndAt: string | null;
  /** Virtual hours nodes spent running jobs. */
  readonly busyHours: number;
}

/** How many redeliveries a job's work may have here: interruptions can be frequent in a test. */
const DEFAULT_MAX_DELIVER = 100;

interface RunningJob {
  readonly jobId: string;
  readonly project: string;
  readonly abort: AbortController;
  /** Its node is gone (or the simulation is stopping): the work goes back to the queue. */
  lost: boolean;
  cancelled: boolean;
  /** The lease was released, not settled: someone else runs the job next. */
  handedBack: boolean;
  /** The attempt it runs, once begun. */
  attempt: number | null;
  /** Asked to stop and move to another configuration: it resumes from its last checkpoint. */
  rescaling: boolean;
}

interface Slot {
  readonly node: SimulatedNode;
  up: boolean;
  job: RunningJob | undefined;
}

/** The nodes of one pool and the one work consumer they share. */
class PoolAgent {
  readonly slots = new Map<string, Slot>();
  private readonly free: Slot[] = [];
  private readonly waiting: ((slot: Slot | undefined) => void)[] = [];

  constructor(readonly consumer: WorkConsumer) {}

  add(slot: Slot): void {
    this.slots.set(slot.node.id, slot);
    this.consumer.resize(this.slots.size);
    this.give(slot);
  }

  remove(id: string): Slot | undefined {
    const slot = this.slots.get(id);
    if (slot === undefined) return undefined;
    slot.up = false;
    this.slots.delete(id);
    const at = this.free.indexOf(slot);
    if (at >= 0) this.free.splice(at, 1);
    this.consumer.resize(this.slots.size);
    return slot;
  }

  /** Nodes up with no job. */
  get idle(): number {
    return this.free.length;
  }

  /** A free node: at once when there is one, else the next that comes free or up. */
  acquire(): Promise<Slot | undefined> {
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  give(slot: Slot): void {
    if (!slot.up) return;
    const waiter = this.waiting.shift();
    if (waiter !== undefined) waiter(slot);
    else this.free.push(slot);
  }

  /** No node will come: every job waiting for one gives its work back. */
  close(): void {
    for (const waiter of this.waiting.splice(0)) waiter(undefined);
  }
}

/**
 * The executors of the simulated nodes, all in this process. Each node runs one job at a time, on
 * the real executor's bookkeeping: work pulled from its pool's queue with `WorkConsumer`, and
 * `start` then `succeed`/`fail` recorded on the job through `AggregateRepository` and
 * `jobDecider`; a lost node hands its job's work back (a new attempt elsewhere). Only the
 * command is simulated: it "runs" for its modelled duration on the virtual clock.
 *
 * One JetStream consumer per pool, not per node: its slots grow and shrink with the pool's running
 * nodes, and each job it pulls is given to a free node of the pool.
 */
export class SimulatedExecutors implements NodeExecutors {
  private readonly attempts: JobAttempts;
  private readonly agents = new Map<string, PoolAgent>();
  private readonly byJob = new Map<string, Slot>();
  private readonly logger: EventingLogger;
  private readonly random: () => number;
  private cancels: { stop(): void } | undefined;
  private rescales: { stop(): void } | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly counts = {
    started: 0,
    reattempts: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    superseded: 0,
    lost: 0,
    rescaled: 0,
    busyMs: 0,
  };
  private firstStartAt: number | null = null;
  private lastEndAt: number | null = null;

  constructor(private readonly options: SimulatedExecutorsOptions) {
    this.logger = options.logger ?? silentLogger;
    this.attempts = new JobAttempts(
      new AggregateRepository(options.store, JOB, jobDecider, 20_000),
      this.logger,
      // Simulated attempts start and end in virtual time, as their durations are measured; their
      // start says how fast that clock runs, so that deadlines are measured in it.
      () => options.clock.now(),
      options.clock.speedup,
    );
    this.random = options.clock.random('job-failures');
  }

  start(): void {
    this.stopping = false;
    const control = new BusJobControl(this.options.bus, this.logger);
    this.cancels = control.onCancel((request) => {
      const job = this.byJob.get(request.jobId)?.job;
      if (job === undefined) return;
      job.cancelled = true;
      job.abort.abort();
    });
    // A simulated job saves nothing when asked to stop: it resumes from its last checkpoint.
    this.rescales = control.onRescale((request) => {
      const job = this.byJob.get(request.jobId)?.job;
      if (job === undefined || job.attempt !== request.attempt || job.rescaling) return;
      job.rescaling = true;
      job.abort.abort();
    });
    if (this.options.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.beatAll(), this.options.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  /** The node booted: its pool has one more slot, and it says hello. */
  nodeUp(node: SimulatedNode): void {
    if (this.stopping) return;
    const slot: Slot = { node, up: true, job: undefined };
    this.agent(node.pool).add(slot);
    this.beat(slot);
  }

  /** The node is gone: its pool has one slot less, and its job (if any) is handed back. */
  nodeDown(node: Pick<SimulatedNode, 'id' | 'pool'>): void {
    const slot = this.agents.get(node.pool)?.remove(node.id);
    if (slot?.job === undefined) return;
    slot.job.lost = true;
    slot.job.abort.abort();
  }

  /** Nodes of the pool that are up and have no job. */
  freeNodes(pool: string): number {
    return this.agents.get(pool)?.idle ?? 0;
  }

  /** Whether a node here is running the job now. */
  isRunning(jobId: string): boolean {
    return this.byJob.has(jobId);
  }

  stats(): ExecutorStats {
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      started: this.counts.started,
      reattempts: this.counts.reattempts,
      succeeded: this.counts.succeeded,
      failed: this.counts.failed,
      cancelled: this.counts.cancelled,
      superseded: this.counts.superseded,
      rescaled: this.counts.rescaled,
      lost: this.counts.lost,
      running: this.byJob.size,
      firstStartAt: iso(this.firstStartAt),
      lastEndAt: iso(this.lastEndAt),
      busyHours: this.counts.busyMs / 3_600_000,
    };
  }

  /**
   * Stops pulling work, hands every running job's work back to its queue (as an executor that
   * stops does when its grace period ends) and waits for the handlers to finish.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.cancels?.stop();
    this.rescales?.stop();
    clearInterval(this.heartbeat);
    const agents = [...this.agents.values()];
    await Promise.all(agents.map((a) => a.consumer.stop()));
    for (const slot of this.byJob.values()) {
      if (slot.job === undefined) continue;
      slot.job.lost = true;
      slot.job.abort.abort();
    }
    for (const agent of agents) agent.close();
    await Promise.all(agents.map((a) => a.consumer.drained()));
  }

  private agent(pool: string): PoolAgent {
    const known = this.agents.get(pool);
    if (known !== undefined) return known;
    const consumer: WorkConsumer = new WorkConsumer(this.options.bus, {
      pool,
      slots: 0,
      maxDeliver: this.options.maxDeliver ?? DEFAULT_MAX_DELIVER,
      ...(this.options.ackWaitMs === undefined ? {} : { ackWaitMs: this.options.ackWaitMs }),
      logger: this.logger,
      handle: (lease): Promise<void> => this.handle(agent, lease),
    });
    const agent: PoolAgent = new PoolAgent(consumer);
    this.agents.set(pool, agent);
    void this.startConsumer(pool, consumer);
    return agent;
  }

  private async startConsumer(pool: string, consumer: WorkConsumer): Promise<void> {
    for (let delayMs = 250; !this.stopping; delayMs = Math.min(delayMs * 2, 10_000)) {
      try {
        await consumer.start();
        return;
      } catch (error) {
        this.logger.error(
          { pool, err: describeError(error) },
          'cannot start the work consumer of a simulated pool; retrying',
        );
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  }

  private async handle(agent: PoolAgent, lease: WorkLease): Promise<void> {
    const slot = await agent.acquire();
    if (slot === undefined) {
      lease.release();
      return;
    }
    const work = lease.work;
    const job: RunningJob = {
      jobId: work.jobId,
      project: work.project,
      abort: new AbortController(),
      lost: false,
      cancelled: false,
      handedBack: false,
      attempt: null,
      rescaling: false,
    };
    slot.job = job;
    this.byJob.set(work.jobId, slot);
    this.options.hooks?.jobStarted(slot.node, work.jobId);
    try {
      await inSpan(
        `simulate ${work.name}`,
        {
          kind: SpanKind.INTERNAL,
          attributes: {
            'acai.job': work.jobId,
            'acai.run': work.runId,
            'acai.node': slot.node.id,
          },
          parent: lease.trace,
        },
        () => this.execute(slot, job, lease),
      );
    } finally {
      if (this.byJob.get(work.jobId) === slot) this.byJob.delete(work.jobId);
      slot.job = undefined;
      if (job.handedBack) {
        this.options.hooks?.jobLost(slot.node, work.jobId);
      } else {
        this.options.hooks?.jobEnded(slot.node, work.jobId);
        agent.give(slot);
      }
    }
  }

  private async execute(slot: Slot, job: RunningJob, lease: WorkLease): Promise<void> {
    const work = lease.work;
    const node = slot.node;
    // The same protocol as the real executor: start from the dispatched state the work carries.
    const attempt = await this.attempts.begin(lease, { executor: node.id, pool: node.pool });
    if (attempt === undefined) return;
    job.attempt = attempt.number;
    const clock = this.options.clock;
    const logs = new LogPublisher(this.options.bus, work.project, work.jobId, attempt.number, {
      now: () => clock.now(),
      ...(this.options.ensureLogStream ? { ensureStream: this.options.ensureLogStream } : {}),
    });
    const startedAt = clock.nowMs();
    this.counts.started += 1;
    if (attempt.number > 1) this.counts.reattempts += 1;
    this.firstStartAt ??= startedAt;

    const model = jobModelOf(work.env);
    const facts = {
      attempt: attempt.number,
      timedOut: false,
      outOfMemory: false,
      timeoutSeconds: work.timeoutSeconds,
      memoryMb: work.resources.memoryMb,
    };
    let outcome: AttemptOutcome;
    let durationMs = 0;
    if (!model.ok) {
      logs.line('err', `acai: ${model.message}`);
      outcome = outcomeOf({
        ...facts,
        exit: { code: 2, signal: null },
        durationMs,
        lastLines: logs.lastLines(),
      });
    } else {
      // After a checkpoint, only the steps it does not cover are left.
      const plan = stepPlan(
        model.model,
        simulatedSeconds(model.model, node.offer),
        attempt.checkpoint?.step ?? 0,
      );
      const seconds = plan.seconds;
      const failsAfter =
        model.model.failRate > 0 && this.random() < model.model.failRate
          ? this.random() * seconds
          : Infinity;
      const limit = work.timeoutSeconds ?? Infinity;
      const runSeconds = Math.min(seconds, failsAfter, limit);
      await this.runSteps(
        work,
        attempt,
        model.model,
        plan,
        runSeconds,
        startedAt,
        job.abort.signal,
      );
      await clock.sleep(startedAt + runSeconds * 1000 - clock.nowMs(), job.abort.signal);
      durationMs = job.abort.signal.aborted
        ? Math.max(0, clock.nowMs() - startedAt)
        : Math.round(runSeconds * 1000);
      this.counts.busyMs += durationMs;
      const where = `${node.offer.name}${node.offer.spot ? ' (spot)' : ''} ${node.id}`;
      if (job.lost) {
        this.counts.lost += 1;
        logs.line(
          'err',
          `acai: simulated node ${where} was lost after ${formatSeconds(durationMs / 1000)}; the job goes back to its queue`,
        );
        void logs.close();
        job.handedBack = true;
        lease.release();
        return;
      }
      if (job.rescaling && !job.cancelled) {
        logs.line(
          'err',
          `acai: stopped after ${formatSeconds(durationMs / 1000)} on ${where} to move to another configuration; it resumes there`,
        );
        const end = await attempt.endForRescale(durationMs);
        this.lastEndAt = Math.max(this.lastEndAt ?? 0, clock.nowMs());
        if (end === 'rescaled') this.counts.rescaled += 1;
        else if (end === 'superseded') this.counts.superseded += 1;
        if (end === 'rescaled' || end === 'retrying' || end === 'superseded') void logs.close();
        else await logs.end(end);
        await attempt.letGo(end).catch((error: unknown) => {
          this.logger.debug(
            { jobId: work.jobId, err: describeError(error) },
            'work already settled',
          );
        });
        return;
      }
      let exit: ProcessExit;
      let timedOut = false;
      if (job.cancelled) {
        logs.line('err', `acai: stopped on request after ${formatSeconds(durationMs / 1000)}`);
        exit = { code: null, signal: 'SIGTERM' };
      } else if (failsAfter <= limit && failsAfter < seconds) {
        logs.line(
          'err',
          `simulated failure after ${formatSeconds(runSeconds)} on ${where} (ACAI_SIM_FAIL_RATE=${model.model.failRate})`,
        );
        exit = { code: 1, signal: null };
      } else if (limit < seconds) {
        logs.line('err', `simulated: stopped at its limit of ${formatSeconds(limit)} on ${where}`);
        exit = { code: null, signal: 'SIGTERM' };
        timedOut = true;
      } else {
        logs.line(
          'out',
          `simulated: ${formatSeconds(seconds)} on ${where} (${node.offer.vCpu} vCPU at speed ${node.offer.speed}; ${model.model.seconds} s of work, ${Math.round(model.model.parallel * 100)} % parallel)`,
        );
        exit = { code: 0, signal: null };
      }
      outcome = outcomeOf({ ...facts, exit, timedOut, durationMs, lastLines: logs.lastLines() });
    }
    const end = await attempt.end(
      outcome.ok ? { ok: true, durationMs, outputs: [] } : { ok: false, failure: outcome.failure },
    );
    this.lastEndAt = Math.max(this.lastEndAt ?? 0, clock.nowMs());
    if (end === 'superseded') {
      this.counts.superseded += 1;
      void logs.close();
    } else if (end === 'retrying') {
      // The attempt failed; the job runs again (a retry), so its output has no end yet.
      this.counts.failed += 1;
      await logs.close();
    } else if (end === 'rescaled') {
      // Asked to move as it ended: it runs again there.
      this.counts.rescaled += 1;
      await logs.close();
    } else {
      this.counts[end] += 1;
      await logs.end(end);
    }
    await attempt.letGo(end).catch((error: unknown) => {
      this.logger.debug({ jobId: work.jobId, err: describeError(error) }, 'work already settled');
    });
  }

  /**
   * The steps done within `runSeconds` of virtual time from `startedAt`: each reported as the
   * metrics `progress` (done / total) and `steps_total` at its `step`, with a checkpoint every
   * `checkpointEvery` steps (the last step needs none: the job is done). Times are kept against
   * the start, so the bus's answers, slow in virtual time, do not stretch the job.
   */
  private async runSteps(
    work: WorkLease['work'],
    attempt: Attempt,
    model: JobModel,
    plan: ReturnType<typeof stepPlan>,
    runSeconds: number,
    startedAt: number,
    signal: AbortSignal,
  ): Promise<void> {
    const clock = this.options.clock;
    let saves = 0;
    for (const [i, atSeconds] of plan.atSeconds.entries()) {
      if (atSeconds > runSeconds) return;
      await clock.sleep(startedAt + atSeconds * 1000 - clock.nowMs(), signal);
      if (signal.aborted) return;
      const step = plan.from + i;
      const time = clock.now().toISOString();
      await attempt.reportMetrics(
        [
          { name: 'progress', value: step / model.steps, step, time },
          { name: 'steps_total', value: model.steps, step, time },
        ],
        i + 1,
      );
      if (model.checkpointEvery > 0 && step % model.checkpointEvery === 0 && step < model.steps) {
        saves += 1;
        const fileset = `checkpoints-${work.jobId}`;
        const version = await this.options.saveCheckpoint(work, {
          fileset,
          step,
          commitId: `${work.jobId}.${attempt.number}.checkpoint.${saves}`,
        });
        await attempt.recordCheckpoint({ fileset, version, step });
      }
    }
  }

  private beatAll(): void {
    for (const agent of this.agents.values())
      for (const slot of agent.slots.values()) this.beat(slot);
  }

  /** A node heartbeat, as the real executor sends it (`GET /api/v1/nodes`). */
  private beat(slot: Slot): void {
    if (this.options.heartbeatMs <= 0) return;
    const node = slot.node;
    const heartbeat: NodeHeartbeat = {
      id: node.id,
      pool: node.pool,
      provider: 'simulated',
      instanceType: node.offer.name,
      cpu: node.offer.vCpu,
      memoryMb: node.offer.memoryMb,
      slots: 1,
      busy: slot.job === undefined ? 0 : 1,
      jobs: slot.job === undefined ? [] : [slot.job.jobId],
      projects: slot.job === undefined ? {} : { [slot.job.jobId]: slot.job.project },
      startedAt: new Date(node.launchedAt).toISOString(),
      limits: 'simulated',
    };
    const bus = this.options.bus;
    try {
      bus.nc.publish(subjects.control(bus.topology, Controls.nodeHeartbeat), encodeJson(heartbeat));
    } catch (error) {
      this.logger.debug({ err: describeError(error) }, 'could not send a node heartbeat');
    }
  }
}
