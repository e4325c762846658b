import type { NodeHeartbeat } from '@acai/contracts';
import {
  describeError,
  type EventingLogger,
  type JobControl,
  type NodeHeartbeats,
} from '@acai/eventing';
import {
  AttemptSightings,
  executorLost,
  jobDecider,
  lostAttempts,
  type LostAttempt,
} from '@acai/runs';
import type { JobRepository } from '../runs/job.repository.js';
import type { ActiveAttempts } from './active-attempts.repository.js';

export interface AttemptWatchdogOptions {
  readonly attempts: ActiveAttempts;
  readonly jobs: JobRepository;
  readonly heartbeats: NodeHeartbeats;
  readonly control: JobControl;
  /** An attempt no heartbeat of its executor has listed for this long is lost. */
  readonly lostAfterMs: number;
  readonly logger: EventingLogger;
  readonly clock?: () => number;
  /** How often it checks by itself (default: see `checkEveryMs`); a test that checks by hand sets it past its length. */
  readonly checkEveryMs?: number;
}

/**
 * Ends the jobs nobody runs any more. Which attempts run comes from the log (the `active-attempts`
 * read model, kept in Postgres, so a restarted scheduler knows them at once); whether they are
 * alive, from the node heartbeats, which list the jobs each executor runs. An attempt its executor
 * has not listed for `lostAfterMs` (see `lostAttempts`) fails its job as `executor_lost`, for that
 * attempt only: if a newer attempt started meanwhile, or the job ended, the job decider decides
 * nothing. That covers work whose deliveries ran out (the executor that had the last one died too)
 * and an executor that stopped heartbeating with no other to take its work over. Heartbeats heard
 * are the only memory, and a restart gives every attempt the whole period again. Every replica
 * watches; the job's version decides which one's failure is recorded.
 */
export class AttemptWatchdog {
  private readonly clock: () => number;
  private readonly sightings: AttemptSightings;
  private listening: { stop(): void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<LostAttempt[]> | undefined;

  constructor(private readonly options: AttemptWatchdogOptions) {
    this.clock = options.clock ?? Date.now;
    this.sightings = new AttemptSightings(this.clock);
  }

  /** How often the attempts are looked at: a few times per period, at least once in 10 s. */
  get checkEveryMs(): number {
    if (this.options.checkEveryMs !== undefined) return this.options.checkEveryMs;
    return Math.max(250, Math.min(Math.floor(this.options.lostAfterMs / 4), 10_000));
  }

  start(): void {
    this.sightings.restart();
    this.listening = this.options.heartbeats.onHeartbeat((h) => this.heard(h));
    this.timer = setInterval(() => {
      this.check().catch((error: unknown) => {
        this.options.logger.warn({ err: describeError(error) }, 'the attempt watchdog failed');
      });
    }, this.checkEveryMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.listening?.stop();
    await this.inFlight?.catch(() => undefined);
  }

  heard(heartbeat: NodeHeartbeat): void {
    this.sightings.heard(heartbeat);
  }

  /**
   * Fails the jobs whose attempt is lost; answers those it failed. While a check runs (a slow
   * database), asking again answers that one.
   */
  check(): Promise<LostAttempt[]> {
    this.inFlight ??= this.checkOnce().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async checkOnce(): Promise<LostAttempt[]> {
    const now = this.clock();
    const { lostAfterMs, logger } = this.options;
    // A sighting older than the period decides nothing any more (see lostAttempts).
    this.sightings.forgetOlderThan(lostAfterMs);
    let active;
    try {
      active = await this.options.attempts.list();
    } catch (error) {
      logger.warn({ err: describeError(error) }, 'could not read the running attempts; next time');
      return [];
    }
    const lost = lostAttempts(active, {
      now,
      lostAfterMs,
      watchingSince: this.sightings.watchingSince,
      lastSeen: (executor, jobId) => this.sightings.lastSeen(executor, jobId),
    });
    const given: LostAttempt[] = [];
    for (const l of lost) {
      try {
        if (await this.giveUp(l)) given.push(l);
      } catch (error) {
        logger.warn(
          { jobId: l.attempt.jobId, err: describeError(error) },
          'could not fail a lost attempt; next time',
        );
      }
    }
    return given;
  }

  private async giveUp(lost: LostAttempt): Promise<boolean> {
    const { project, jobId, runId, executor, attempt, startedBy } = lost.attempt;
    const failure = executorLost(lost);
    const { events } = await this.options.jobs.execute(
      project,
      jobId,
      (s) => jobDecider.decide({ kind: 'fail', data: failure }, s),
      { correlationId: runId, causationId: startedBy },
    );
    if (events.length === 0) return false;
    const retried = events.some((e) => e.type === 'job.retry_scheduled');
    this.options.logger.warn(
      { jobId, runId, project, executor, attempt, silentMs: lost.silentMs },
      retried
        ? 'attempt lost: its executor stopped reporting it; the job is retried (executor_lost)'
        : 'attempt lost: its executor stopped reporting it; the job failed as executor_lost',
    );
    // Whatever may still run this attempt (a zombie that comes back) stops: the job has ended, or
    // waits for a retry that starts only after the backoff, long after this stop was heard.
    this.options.control.cancel({ project, jobId, reason: 'its executor was given up for lost' });
    return true;
  }
}
