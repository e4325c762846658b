import { describeError, withTrace, type EventingLogger } from '@acai/eventing';
import { chooseReleases, jobDecider, type WaitingJob } from '@acai/runs';
import type { JobRepository } from '../runs/job.repository.js';
import type {
  DispatchCandidate,
  DispatchQueue,
  DispatchQueueView,
  RunOut,
  WaitingGroup,
} from './dispatch-queue.repository.js';
import type { PlacementTraces } from './placement-traces.js';
import type { PoolCapacity } from './pool-capacity.js';

/** At most this many jobs released per pass (the next pass follows at once). */
export const RELEASES_PER_PASS = 256;

/** What the dispatcher reports after each pass: gauges and a counter (see `metrics.ts`). */
export interface DispatchReport {
  /** Jobs waiting, per pool and project, as last counted (at most every 2 s). */
  readonly waiting: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Jobs out per pool, after the pass. */
  readonly out: ReadonlyMap<string, number>;
  /** Slots of each gated pool. */
  readonly capacity: ReadonlyMap<string, number>;
  readonly released: readonly WaitingJob[];
}

export interface DispatcherOptions {
  readonly queue: DispatchQueue;
  readonly jobs: JobRepository;
  readonly capacity: PoolCapacity;
  /** Jobs out beyond a gated pool's slots (`ACAI_DISPATCH_PREFETCH`). */
  readonly prefetch: number;
  /**
   * Waits (at most `timeoutMs`) until the read model has applied the log up to `seq`; whether it
   * has (the projection runner's `waitFor`).
   */
  readonly applied: (seq: number, timeoutMs: number) => Promise<boolean>;
  readonly logger: EventingLogger;
  readonly report?: (report: DispatchReport) => void;
  /** A pass at least this often, whatever happens (default 2 s). */
  readonly passEveryMs?: number;
  /** Where each job's placement was traced: its dispatch continues that trace. */
  readonly traces?: PlacementTraces;
  /** A pass slower than this is logged with where its time went (default 1 s). */
  readonly slowPassMs?: number;
}

/** The jobs waiting are counted (for the figures) at most this often. */
const COUNT_EVERY_MS = 2_000;

/** A pass slower than this is logged with where its time went (`slowPassMs`). */
const SLOW_PASS_MS = 1_000;

/** How long a pass waits for its releases to reach the read model before letting the next go. */
const APPLIED_TIMEOUT_MS = 10_000;

/**
 * Releases placed jobs to their pools' work queues as slots free, fairly across projects (see
 * {@link chooseReleases}). A pass reads the `dispatch-queue` read model, chooses, and dispatches
 * each chosen job through the job decider (`dispatch`: idempotent, so a job is dispatched once
 * whoever decides it twice); `job.dispatched` puts its work on the queue (the run workflow's
 * `onDispatched`). Passes run one at a time across replicas (the queue's lock), and each waits
 * until the read model shows its releases, so the next never counts a slot twice. A pass runs when
 * the read model changes (a job placed, dispatched, ended), when a heartbeat changes a pool's
 * slots, and every `passEveryMs`. Everything it knows is in the log or heard again, so a scheduler
 * killed mid-pass loses nothing: the jobs it did not dispatch are still waiting for the next pass.
 */
export class Dispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(private readonly options: DispatcherOptions) {}

  start(): void {
    this.stopped = false;
    this.options.capacity.start(() => this.poke());
    this.timer = setInterval(() => this.poke(), this.options.passEveryMs ?? 2_000);
    this.timer.unref();
    this.poke();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.options.capacity.stop();
    await this.running;
    await this.options.queue.close();
  }

  /** Asks for a pass: at once, or right after the one running (many asks, one pass). */
  poke(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        const released = await this.pass();
        // The pass stopped at its limit or at a run's maxParallel: there may be more to release.
        if (released > 0) this.again = true;
      } catch (error) {
        this.options.logger.warn(
          { err: describeError(error) },
          'a dispatch pass failed; the next one tries again',
        );
        return;
      }
    } while (this.again && !this.stopped);
  }

  /** One pass; answers how many jobs it released (0 too when another replica dispatches). */
  async pass(): Promise<number> {
    const began = performance.now();
    const took: Record<string, number> = {};
    let mark = began;
    const lap = (name: string): void => {
      const now = performance.now();
      took[name] = Math.round(now - mark);
      mark = now;
    };
    const released = await this.options.queue.pass(async (view) => {
      lap('lockMs');
      const { out, groups } = await view.state();
      lap('stateMs');
      const { chosen, capacity } = await this.choose(view, out, groups);
      lap('chooseMs');
      let lastSeq = 0;
      let released = 0;
      for (const job of chosen) {
        try {
          const dispatch = () =>
            this.options.jobs.execute(
              job.project,
              job.jobId,
              (s) => jobDecider.decide({ kind: 'dispatch', pool: job.pool }, s),
              { correlationId: job.runId, causationId: job.placedBy },
            );
          const trace = this.options.traces?.of(job.jobId);
          const { events } = await (trace === undefined ? dispatch() : withTrace(trace, dispatch));
          this.options.traces?.forget(job.jobId);
          for (const e of events) lastSeq = Math.max(lastSeq, e.position.seq);
          released += events.length;
        } catch (error) {
          this.options.logger.warn(
            { jobId: job.jobId, runId: job.runId, project: job.project, err: describeError(error) },
            'could not dispatch a job; the next pass tries again',
          );
        }
      }
      lap('dispatchMs');
      if (lastSeq > 0 && !(await this.options.applied(lastSeq, APPLIED_TIMEOUT_MS))) {
        this.options.logger.warn(
          { seq: lastSeq },
          'the dispatch-queue read model has not applied the jobs just dispatched; passing on',
        );
      }
      lap('appliedMs');
      if (this.options.report !== undefined) {
        // Counting every waiting job reads them all: for the figures, once in a while.
        const now = Date.now();
        if (groups.length === 0) this.waiting = [];
        else if (now - this.countedAt >= COUNT_EVERY_MS) {
          this.countedAt = now;
          this.waiting = await view.waitingCounts();
        }
        this.options.report(reportOf(this.waiting, out, capacity, chosen));
      }
      return released;
    });
    const total = performance.now() - began;
    if (total >= (this.options.slowPassMs ?? SLOW_PASS_MS)) {
      // Every job placed meanwhile waited this long: where the time went says what to look at.
      this.options.logger.warn(
        { ms: Math.round(total), ...took, released: released ?? 0 },
        'a dispatch pass was slow: jobs placed meanwhile waited for it',
      );
    }
    return released ?? 0;
  }

  /** Jobs waiting per pool and project, as last counted. */
  private waiting: readonly { pool: string; project: string; jobs: number }[] = [];
  private countedAt = 0;

  private async choose(
    view: DispatchQueueView,
    out: readonly RunOut[],
    groups: readonly WaitingGroup[],
  ): Promise<{ chosen: DispatchCandidate[]; capacity: ReadonlyMap<string, number> }> {
    const providers = new Map(groups.map((g) => [g.pool, g.provider ?? '']));
    const capacity = this.options.capacity.capacities(providers);
    if (groups.length === 0) return { chosen: [], capacity };
    const outInPool = new Map<string, number>();
    const outOfRun = new Map<string, number>();
    for (const o of out) {
      outInPool.set(o.pool, (outInPool.get(o.pool) ?? 0) + o.jobs);
      outOfRun.set(o.runId ?? '', (outOfRun.get(o.runId ?? '') ?? 0) + o.jobs);
    }
    // Runs at their limit, whatever pool their jobs are out in.
    const full = new Set<string>();
    for (const o of out) {
      if (o.maxParallel !== null && (outOfRun.get(o.runId ?? '') ?? 0) >= o.maxParallel) {
        full.add(o.runId ?? '');
      }
    }
    // Each project needs at most as many candidates as its pool has room for.
    let room = 0;
    const withRoom = groups.filter((g) => {
      const slots = capacity.get(g.pool);
      const free =
        slots === undefined
          ? RELEASES_PER_PASS
          : slots + this.options.prefetch - (outInPool.get(g.pool) ?? 0);
      room = Math.max(room, Math.min(free, RELEASES_PER_PASS));
      return free > 0;
    });
    if (withRoom.length === 0) return { chosen: [], capacity };
    const candidates = await view.candidates(withRoom, room, [...full]);
    const chosen = chooseReleases({
      waiting: candidates,
      out,
      capacity,
      prefetch: this.options.prefetch,
      limit: RELEASES_PER_PASS,
    });
    return { chosen, capacity };
  }
}

function reportOf(
  waitingCounts: readonly { pool: string; project: string; jobs: number }[],
  runsOut: readonly RunOut[],
  capacity: ReadonlyMap<string, number>,
  released: readonly WaitingJob[],
): DispatchReport {
  const waiting = new Map<string, Map<string, number>>();
  for (const c of waitingCounts) {
    const pool = waiting.get(c.pool) ?? new Map<string, number>();
    waiting.set(c.pool, pool);
    pool.set(c.project, c.jobs);
  }
  const out = new Map<string, number>();
  for (const o of runsOut) out.set(o.pool, (out.get(o.pool) ?? 0) + o.jobs);
  for (const job of released) out.set(job.pool, (out.get(job.pool) ?? 0) + 1);
  return { waiting, out, capacity, released };
}
