import type { JobState } from './job.decider.js';

/** A job is moved at most this many times: each move costs a restart, and predictions err. */
export const MAX_RESCALES = 2;

/**
 * Seconds a new attempt is assumed to take before its first step (spawn, staging, restoring the
 * checkpoint): a move pays it again, on top of booting the configuration and the steps since the
 * checkpoint. Not measured per job yet: MNIST's trainer here takes 1-2 s to start.
 */
export const MIN_RESTART_SECONDS = 2;

/**
 * Seconds a job asked to rescale has, after SIGTERM, to save its state and exit before it is
 * killed: what Kubernetes gives a pod by default.
 */
export const RESCALE_GRACE_SECONDS = 30;

/** How far past its limit a prediction must be before a job is moved (a fraction of the limit). */
export const RESCALE_TOLERANCE = 0.03;

/** What a running job's measured pace predicts against its step's limits. */
export interface RescaleCheck {
  /** What the job is predicted to miss where it runs. */
  readonly misses: 'deadline' | 'budget';
  readonly step: number;
  readonly totalSteps: number;
  readonly stepsLeft: number;
  /** Steps done since the last checkpoint: recomputed after a move. */
  readonly lostSteps: number;
  readonly stepsPerSecond: number;
  readonly checkpointStep: number | null;
  readonly startupSeconds: number;
  /** USD its attempts have cost so far, the running one included (estimated from its steps). */
  readonly spent: number;
  /** Now, by the job's clock (its executor's: a simulated node's is virtual). */
  readonly now: string;
  /** By the job's clock, as `finishBy`. */
  readonly predictedFinish: string;
  readonly predictedCost: number | null;
  /**
   * The step's deadline by the job's clock: its share's seconds from when it was budgeted, that
   * instant read on the job's clock (real time unless its executor's clock runs faster).
   */
  readonly finishBy: string | null;
  readonly maxCost: number | null;
  readonly basis: string;
}

/**
 * Whether a running job is predicted, from the pace of its running attempt (SMLT: measure each
 * iteration, re-plan as training goes), to miss its share of its run's deadline or budget where
 * it runs; null when it is on course, cannot be judged (no declared total, fewer than two steps
 * reported, no limits), is pinned to its configuration by its step (`provision.offer`), is being
 * moved already, or was moved {@link MAX_RESCALES} times.
 * Pure: the time is `now`.
 */
export function rescaleCheck(state: JobState, now: Date): RescaleCheck | null {
  const pace = state.pace ?? null;
  const share = state.share ?? null;
  if (state.status !== 'running' || (state.rescale ?? null) !== null) return null;
  // The step said where to run: acai does not choose for it.
  if (state.pinned === true) return null;
  if ((state.rescales ?? 0) >= MAX_RESCALES) return null;
  if (pace === null || pace.attempt !== state.attempt || pace.totalSteps === null) return null;
  if (share === null) return null;
  const limit = finishByOnJobClock(state, share);
  const maxCost = share.maxCost;
  if (limit === null && maxCost === null) return null;
  const steps = pace.lastStep - pace.firstStep;
  const ms = pace.lastAt - pace.firstAt;
  if (steps <= 0 || ms <= 0) return null;
  const stepsPerSecond = (steps * 1000) / ms;
  const stepsLeft = Math.max(0, pace.totalSteps - pace.lastStep);
  if (stepsLeft === 0) return null;
  const secondsLeft = stepsLeft / stepsPerSecond;
  // The pace's times are the job's own (its executor's clock): so are now and the deadline here.
  const nowMs = onJobClock(state, now.getTime());
  const predictedFinishMs = Math.max(nowMs, pace.lastAt + secondsLeft * 1000);
  const checkpointStep = state.checkpoint?.step ?? null;
  // The steps this attempt ran: from where it resumed (its checkpoint's step) to the last.
  const resumedFrom =
    checkpointStep !== null && checkpointStep < pace.firstStep ? checkpointStep : 0;
  const attemptSeconds = (pace.lastStep - resumedFrom) / stepsPerSecond;
  const price = state.pricePerHour ?? null;
  const spent = (state.spent?.cost ?? 0) + (price === null ? 0 : (attemptSeconds * price) / 3600);
  const predictedCost = price === null ? null : spent + (secondsLeft * price) / 3600;
  const basis = `step ${pace.lastStep} of ${pace.totalSteps}: ${steps} step(s) in ${(ms / 1000).toFixed(1)} s (${stepsPerSecond.toPrecision(3)} steps/s)`;
  const common = {
    step: pace.lastStep,
    totalSteps: pace.totalSteps,
    stepsLeft,
    lostSteps: Math.max(0, pace.lastStep - (checkpointStep ?? 0)),
    stepsPerSecond,
    checkpointStep,
    startupSeconds: MIN_RESTART_SECONDS,
    spent,
    now: new Date(nowMs).toISOString(),
    predictedFinish: new Date(predictedFinishMs).toISOString(),
    predictedCost,
    finishBy: limit === null ? null : new Date(limit).toISOString(),
    maxCost,
    basis,
  };
  if (limit !== null) {
    const slack = Math.max(1000, RESCALE_TOLERANCE * Math.max(0, limit - pace.firstAt));
    if (predictedFinishMs > limit + slack) return { misses: 'deadline', ...common };
  }
  if (
    maxCost !== null &&
    predictedCost !== null &&
    predictedCost > maxCost * (1 + RESCALE_TOLERANCE)
  ) {
    return { misses: 'budget', ...common };
  }
  return null;
}

/**
 * A real instant (epoch ms) read on the job's clock: its running attempt's executor's, which may
 * run faster than real time (a simulated node's runs hours in seconds; `job.started` says how
 * fast). Real time when the attempt's start said nothing of its clock.
 */
export function onJobClock(state: JobState, realMs: number): number {
  const clock = state.clock ?? null;
  const startedAt = state.startedAt ?? null;
  if (clock === null || startedAt === null) return realMs;
  return Date.parse(startedAt) + (realMs - Date.parse(clock.realAt)) * clock.rate;
}

/**
 * The share's deadline on the job's clock (epoch ms; null: none): the share's seconds counted from
 * when it was budgeted, that instant read on the job's clock, so that the seconds are the job's
 * own; a deadline already passed when it was budgeted (no seconds) is that instant, read so.
 * On real time it is the share's `finishBy`.
 */
function finishByOnJobClock(state: JobState, share: NonNullable<JobState['share']>): number | null {
  const finishBy = share.finishBy ?? null;
  if (finishBy === null) return null;
  const limit = Date.parse(finishBy);
  if (share.maxSeconds === null) return onJobClock(state, limit);
  const budgetedAt = limit - share.maxSeconds * 1000;
  return onJobClock(state, budgetedAt) + share.maxSeconds * 1000;
}

/** A job's check when the provisioner last answered that it stays where it is. */
export interface Stayed {
  readonly attempt: number;
  readonly now: string;
  readonly predictedFinish: string;
  readonly predictedCost: number | null;
}

/**
 * Whether a job judged to stay is planned again: only for another attempt, or once its prediction
 * got worse than when it was judged (its finish later by more than {@link RESCALE_TOLERANCE} of the
 * time it had left then, or its cost higher by more than that share): the same prediction gets the
 * same answer, and each plan weighs every configuration. Pure.
 */
export function planAgain(
  stayed: Stayed | undefined,
  attempt: number,
  check: RescaleCheck,
): boolean {
  if (stayed === undefined || stayed.attempt !== attempt) return true;
  const before = Date.parse(stayed.predictedFinish);
  const left = Math.max(0, before - Date.parse(stayed.now));
  if (Date.parse(check.predictedFinish) > before + Math.max(1000, RESCALE_TOLERANCE * left))
    return true;
  return (
    check.predictedCost !== null &&
    stayed.predictedCost !== null &&
    check.predictedCost > stayed.predictedCost * (1 + RESCALE_TOLERANCE)
  );
}
