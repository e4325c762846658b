import type { EventData } from '@acai/contracts';
import type { ActiveAttempt } from './active-attempts.projection.js';

/** What the watchdog knows at one moment, besides the attempts the log says are running. */
export interface Watch {
  /** Epoch milliseconds now. */
  readonly now: number;
  /** An attempt nobody has seen alive for this long is lost. */
  readonly lostAfterMs: number;
  /**
   * Since when the watchdog has been listening to node heartbeats (its start): an attempt is
   * given the whole grace period from then, since what it heard before is gone with its memory.
   */
  readonly watchingSince: number;
  /** When the executor running the job last said so in a heartbeat, if it did since the start. */
  readonly lastSeen: (executor: string, jobId: string) => number | undefined;
}

/**
 * What node heartbeats said of which executor runs which job, since listening began: the memory
 * behind a {@link Watch} (the scheduler's watchdog) and behind an executor's question whether the
 * attempt a work message finds running is still alive elsewhere.
 */
export class AttemptSightings {
  /** When the executor (by id) last listed the job, keyed `executor \0 job`. */
  private readonly seen = new Map<string, number>();
  /** Each executor's latest heartbeat: when it was heard, and the jobs it listed. */
  private readonly latest = new Map<string, { at: number; jobs: ReadonlySet<string> }>();
  private since: number;

  constructor(private readonly clock: () => number = Date.now) {
    this.since = clock();
  }

  /** Since when heartbeats have been heard without a gap (the start, or the last {@link restart}). */
  get watchingSince(): number {
    return this.since;
  }

  /**
   * Listens afresh from now: heartbeats sent while the connection was away were missed, so what
   * was heard before says nothing of who fell silent since.
   */
  restart(): void {
    this.seen.clear();
    this.latest.clear();
    this.since = this.clock();
  }

  heard(heartbeat: { readonly id: string; readonly jobs: readonly string[] }): void {
    const at = this.clock();
    for (const jobId of heartbeat.jobs) this.seen.set(sighting(heartbeat.id, jobId), at);
    this.latest.set(heartbeat.id, { at, jobs: new Set(heartbeat.jobs) });
  }

  lastSeen(executor: string, jobId: string): number | undefined {
    return this.seen.get(sighting(executor, jobId));
  }

  /** Forgets sightings older than `ms`: they decide nothing any more. */
  forgetOlderThan(ms: number): void {
    const now = this.clock();
    for (const [key, at] of this.seen) if (now - at > ms) this.seen.delete(key);
    for (const [executor, { at }] of this.latest) if (now - at > ms) this.latest.delete(executor);
  }

  /**
   * Whether the attempt `executor` started at `startedAt` (epoch ms; NaN: not known) is alive, as
   * its executor's latest heartbeat tells: heard within `windowMs` and listing the job (true), or
   * from before the attempt started (true: its next one will list it); heard since the attempt
   * started and leaving the job out (false: it let the job go, e.g. handed it back as it stopped);
   * none within `windowMs` (false), once heartbeats have been heard for `listenMs` (every executor
   * alive has sent one by then); until then, not known (undefined: ask again in {@link knownInMs}).
   */
  alive(
    executor: string,
    jobId: string,
    startedAt: number,
    { windowMs, listenMs }: { readonly windowMs: number; readonly listenMs: number },
  ): boolean | undefined {
    const now = this.clock();
    const latest = this.latest.get(executor);
    if (latest !== undefined && now - latest.at < windowMs) {
      return latest.jobs.has(jobId) || (!Number.isNaN(startedAt) && latest.at <= startedAt);
    }
    return now - this.since < listenMs ? undefined : false;
  }

  /** How long until heartbeats will have been heard for `listenMs` (0: they have). */
  knownInMs(listenMs: number): number {
    return Math.max(0, this.since + listenMs - this.clock());
  }
}

function sighting(executor: string, jobId: string): string {
  return `${executor}\u0000${jobId}`;
}

/** An attempt given up for lost, and for how long nothing was heard of it. */
export interface LostAttempt {
  readonly attempt: ActiveAttempt;
  readonly silentMs: number;
}

/**
 * The attempts whose executor has not said it runs them (node heartbeats list the jobs each
 * executor runs) for `lostAfterMs`, counting from the latest of: the attempt's start, the
 * watchdog's own start, the last heartbeat of its executor that listed the job. An executor that
 * died, hung, or lost its connection stops listing its jobs; so does one whose job's work ran out of
 * deliveries (no executor takes it up again). Work that is only redelivered starts a newer attempt
 * well within the period (the executors' ack wait), which replaces this one in the log. Pure.
 */
export function lostAttempts(active: readonly ActiveAttempt[], watch: Watch): LostAttempt[] {
  const lost: LostAttempt[] = [];
  for (const attempt of active) {
    const started = Date.parse(attempt.startedAt);
    const seen = watch.lastSeen(attempt.executor, attempt.jobId);
    const alive = Math.max(
      Number.isNaN(started) ? 0 : started,
      watch.watchingSince,
      seen ?? Number.NEGATIVE_INFINITY,
    );
    const silentMs = watch.now - alive;
    if (silentMs >= watch.lostAfterMs) lost.push({ attempt, silentMs });
  }
  return lost;
}

/**
 * How a lost attempt ends its job: `executor_lost`, for that attempt only (if a newer attempt owns
 * the job by now, the job decider ignores it), saying what happened and what to do.
 */
export function executorLost({ attempt, silentMs }: LostAttempt): EventData<'job.failed'> {
  const seconds = Math.round(silentMs / 1000);
  const times = attempt.attempt > 1 ? `; this was its attempt ${attempt.attempt}` : '';
  return {
    reason: 'executor_lost',
    message:
      `executor ${attempt.executor} stopped reporting the job ${seconds} s ago and no other executor took it over${times}: ` +
      'its node died or lost its connection, or the job brought it down (e.g. by exhausting the node’s memory). ' +
      'Submit the run again; if it happens again, read the executor’s log.',
    exitCode: null,
    signal: null,
    durationMs: null,
    lastLines: [],
    attempt: attempt.attempt,
  };
}
