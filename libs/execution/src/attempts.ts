import {
  isProblem,
  RunProblems,
  type CheckpointRef,
  type EventData,
  type WorkAssignment,
} from '@acai/contracts';
import {
  silentLogger,
  untilAvailable,
  type AggregateRepository,
  type EventingLogger,
  type WorkLease,
} from '@acai/eventing';
import {
  dispatchedState,
  endedAs,
  jobDecider,
  type JobState,
  type PendingRescale,
} from '@acai/runs';

/** Who runs an attempt: the executor (its id in `job.started`) and the pool it pulled from. */
export interface AttemptNode {
  readonly executor: string;
  readonly pool: string;
  /**
   * Whether the attempt a work message finds running is alive (absent: not asked, and a first
   * delivery is taken for a copy, a redelivery for the work of a lost executor). A NATS server that
   * lost its consumers' state (killed) redelivers work as if for the first time, so the delivery
   * count alone cannot tell.
   */
  readonly holder?: HolderCheck;
}

/** How an executor tells whether another attempt of a job is alive: from node heartbeats. */
export interface HolderCheck {
  /**
   * Whether the attempt `executor` started at `startedAt` (epoch ms, NaN: not known) runs the job
   * still; undefined: not known yet (the work is handed back for {@link retryInMs}, then asked
   * again).
   */
  alive(executor: string, jobId: string, startedAt: number): boolean | undefined;
  /**
   * Whether this executor handles the job now (by another delivery than the one asking): its own
   * attempt that it runs no more is not alive; one it still runs is judged by the delivery count
   * (redelivered to the executor that stalled with it: a new attempt).
   */
  runsHere(jobId: string): boolean;
  retryInMs(): number;
}

/** Thrown from a start decision when whether the running attempt is alive is not known yet. */
class HolderNotKnown extends Error {
  constructor(
    readonly executor: string,
    readonly retryMs: number,
  ) {
    super(`not known yet whether executor ${executor} still runs the job`);
  }
}

/**
 * How a job stands once an attempt has reported its end; `retrying`: the attempt failed for a
 * reason its step retries, and the job runs again as a new attempt after a wait (so its output has
 * no end yet).
 */
export type JobEnd =
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'superseded'
  | 'retrying'
  /** Stopped to move to another configuration: the job goes on with a new attempt there. */
  | 'rescaled';

/** How an attempt ended, as its executor reports it. */
export type AttemptEnd =
  | {
      readonly ok: true;
      readonly durationMs: number;
      readonly outputs: EventData<'job.succeeded'>['outputs'];
      /** How long staging each input took. */
      readonly loads?: EventData<'job.succeeded'>['loads'];
    }
  | { readonly ok: false; readonly failure: EventData<'job.failed'> };

/**
 * The job-attempt protocol, one for every executor (a process on a node, a simulated node): begin
 * the attempt a work lease carries (`job.started`), and record how it ended (`job.succeeded` or
 * `job.failed`) only while it still owns the job. A late or zombie attempt (its executor was
 * thought lost and the work ran again elsewhere) settles nothing and learns it was superseded.
 */
export class JobAttempts {
  constructor(
    private readonly jobs: AggregateRepository<JobState>,
    private readonly logger: EventingLogger = silentLogger,
    /** The executor's clock (a simulated node's is virtual): when an attempt starts. */
    private readonly now: () => Date = () => new Date(),
    /** How many times as fast as real time that clock runs (a simulated node's: its speed-up). */
    private readonly clockRate = 1,
  ) {}

  /**
   * Begins the attempt the lease carries, from the dispatched state the work message holds (no
   * read unless the job moved on since: then the append conflicts, the job is read, and the start
   * is decided on what it really is). Answers undefined, with the lease completed, when the job is
   * not to run: cancelled before it started, or already ended.
   */
  async begin(
    lease: WorkLease,
    node: AttemptNode,
    pid: number | null = null,
  ): Promise<Attempt | undefined> {
    const work = lease.work;
    this.jobs.prime(work.project, work.jobId, {
      version: work.dispatchedSeq,
      state: dispatchedState(work, node.pool),
    });
    let started: { events: unknown[]; state: JobState };
    try {
      started = await this.jobs.execute(
        work.project,
        work.jobId,
        (s) =>
          jobDecider.decide(
            {
              kind: 'start',
              executor: node.executor,
              pid,
              firstDelivery: lease.deliveries === 1,
              ...holderAlive(node.holder, node, work.jobId, s),
              dispatchedAttempt: work.attempt,
              at: this.now().toISOString(),
              ...(this.clockRate === 1
                ? {}
                : { clock: { rate: this.clockRate, realAt: new Date().toISOString() } }),
            },
            s,
          ),
        { correlationId: work.runId },
      );
    } catch (error) {
      if (error instanceof HolderNotKnown) {
        // Heartbeats have not been heard for long enough to tell: asked again a little later.
        this.logger.info(
          { jobId: work.jobId, executor: error.executor, retryMs: error.retryMs },
          'the job runs elsewhere and whether that attempt is alive is not known yet; handing its work back for now',
        );
        lease.release(error.retryMs);
        return undefined;
      }
      // The job is not to run (cancelled first, or not in a state to start): drop its work.
      if (!isProblem(error, RunProblems.JOB_CANNOT_START, RunProblems.JOB_CANCELLED_BEFORE_START))
        throw error;
      this.logger.info(
        { jobId: work.jobId, runId: work.runId, reason: error.message },
        'job cannot start; dropping its work',
      );
      await lease.complete();
      return undefined;
    }
    if (started.events.length === 0) {
      this.logger.info(
        { jobId: work.jobId, status: started.state.status },
        'job already ended; dropping its work',
      );
      await lease.complete();
      return undefined;
    }
    return new Attempt(this.jobs, lease, started.state, this.logger);
  }
}

/** One attempt at a job, begun by {@link JobAttempts.begin}. */
export class Attempt {
  /** Its number: 1 for the first, one more for each redelivery. */
  readonly number: number;
  /** The checkpoint an earlier attempt saved, to resume from. */
  readonly checkpoint: CheckpointRef | null;

  readonly work: WorkAssignment;

  constructor(
    private readonly jobs: AggregateRepository<JobState>,
    private readonly lease: WorkLease,
    started: JobState,
    private readonly logger: EventingLogger = silentLogger,
  ) {
    this.work = lease.work;
    this.number = started.attempt;
    this.checkpoint = started.checkpoint;
  }

  /**
   * Whether this attempt still owns the job, as the log says now (the cached state caught up with
   * what was appended since): no newer attempt has started and the job has not ended. Asked before
   * committing outputs, so a superseded attempt's files never become versions.
   */
  async owns(): Promise<boolean> {
    return (await this.standing()) === 'owner';
  }

  /**
   * Whether this attempt still owns the job, and the move to another configuration asked of it and
   * not done yet (null: none), from one read of the log. Asked when the executor checks its jobs
   * against the log: cancels and moves are core NATS messages, which an executor that was
   * disconnected never got.
   */
  async check(): Promise<{ owns: boolean; rescale: PendingRescale | null }> {
    const { state } = await this.jobs.refresh(this.work.project, this.work.jobId);
    const owns = state.attempt === this.number && state.status === 'running';
    const pending = state.rescale ?? null;
    return {
      owns,
      rescale: owns && pending !== null && pending.attempt === this.number ? pending : null,
    };
  }

  /**
   * How the job stands for this attempt, as the log says now: it still owns it, or how the job
   * ended without it (`superseded`: a newer attempt owns it).
   */
  async standing(): Promise<'owner' | JobEnd> {
    const { state } = await this.jobs.refresh(this.work.project, this.work.jobId);
    if (state.attempt !== this.number) return 'superseded';
    return state.status === 'running' ? 'owner' : endOf(state);
  }

  /**
   * Settles the attempt's work once its end is recorded: taken off the queue, unless a newer
   * attempt holds it (then it is let go of without a word, see `WorkLease.abandon`: an
   * acknowledgement from here would settle the newer attempt's delivery, so that if its executor
   * died too nothing would run the job again).
   */
  async letGo(end: JobEnd): Promise<void> {
    if (end === 'superseded') this.lease.abandon();
    else await this.lease.complete();
  }

  /** Records metric points the attempt reported (dropped once a newer attempt owns the job). */
  /**
   * Records a batch of metrics (numbered within the attempt: the same batch sent again is recorded
   * once), waiting out the bus being away; only the attempt that runs the job records any.
   */
  async reportMetrics(
    points: EventData<'job.metrics_reported'>['points'],
    batch?: number,
  ): Promise<void> {
    const data = {
      attempt: this.number,
      points: [...points],
      ...(batch === undefined ? {} : { batch }),
    };
    const record = () =>
      this.jobs.execute(
        this.work.project,
        this.work.jobId,
        (s) => jobDecider.decide({ kind: 'report_metrics', data }, s),
        { correlationId: this.work.runId },
      );
    if (batch === undefined) await record();
    else {
      await untilAvailable(record, {
        logger: this.logger,
        context: { jobId: this.work.jobId, attempt: this.number, metricsBatch: batch },
      });
    }
  }

  /** Records a checkpoint the attempt saved; only the attempt that owns the job moves it. */
  async recordCheckpoint(checkpoint: CheckpointRef): Promise<void> {
    await this.jobs.execute(
      this.work.project,
      this.work.jobId,
      (s) =>
        jobDecider.decide(
          { kind: 'record_checkpoint', data: { attempt: this.number, ...checkpoint } },
          s,
        ),
      { correlationId: this.work.runId },
    );
  }

  /**
   * Records that the attempt stopped because it was asked to move to another configuration
   * (`job.rescale_requested`): the job is queued again there. Answers how the job stands (a job
   * that ended meanwhile, e.g. cancelled, or was taken over, says so).
   */
  async endForRescale(durationMs: number | null): Promise<JobEnd> {
    // The request came after this attempt's start: what is cached here may not hold it yet, and
    // a decision of nothing on a stale state would not find out.
    await this.jobs.refresh(this.work.project, this.work.jobId);
    const { events, state } = await this.jobs.execute(
      this.work.project,
      this.work.jobId,
      (s) => jobDecider.decide({ kind: 'end_for_rescale', attempt: this.number, durationMs }, s),
      { correlationId: this.work.runId },
    );
    if (events.length > 0) return 'rescaled';
    if (state.attempt !== this.number) return 'superseded';
    return endOf(state);
  }

  /**
   * Records how the attempt ended. The job settles only if this attempt still owns it; otherwise
   * nothing is recorded and the answer says why (it ended otherwise, e.g. cancelled, or a newer
   * attempt owns it).
   */
  async end(end: AttemptEnd): Promise<JobEnd> {
    const { events, state } = await this.jobs.execute(
      this.work.project,
      this.work.jobId,
      (s) =>
        jobDecider.decide(
          end.ok
            ? {
                kind: 'succeed',
                attempt: this.number,
                durationMs: end.durationMs,
                outputs: [...end.outputs],
                ...(end.loads === undefined ? {} : { loads: [...end.loads] }),
              }
            : { kind: 'fail', data: { ...end.failure, attempt: this.number } },
          s,
        ),
      { correlationId: this.work.runId },
    );
    if (events.length > 0) return endOf(state);
    if (state.attempt !== this.number) return 'superseded';
    return endOf(state);
  }
}

/** How a job stands for the attempt that last owned it, once that attempt is over. */
function endOf(state: JobState): Exclude<JobEnd, 'superseded'> {
  if (state.status === 'retrying') return 'retrying';
  // Queued again after this attempt, which it still counts as its last: it was moved.
  if (state.status === 'queued' && (state.rescales ?? 0) > 0) return 'rescaled';
  return endedAs(state);
}

/** What the holder check says of the job's running attempt, as the start command's field. */
function holderAlive(
  holder: HolderCheck | undefined,
  node: AttemptNode,
  jobId: string,
  state: JobState,
): { holderAlive?: boolean } {
  if (holder === undefined || state.status !== 'running' || state.executor == null) return {};
  if (state.executor === node.executor) return holder.runsHere(jobId) ? {} : { holderAlive: false };
  const alive = holder.alive(state.executor, jobId, Date.parse(state.startedAt ?? ''));
  if (alive === undefined) throw new HolderNotKnown(state.executor, holder.retryInMs());
  return { holderAlive: alive };
}
