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
  /**
   * Whether it may still be moved: false once moved {@link MAX_RESCALES} times, when only its
   * budget is judged, for its run to be stopped before it overspends.
   */
  readonly movable: boolean;
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
  /**
   * On Spot capacity: seconds one interruption would cost it from now (its last placement's wait
   * to start, as measured, its start-up, and the work since its checkpoint, at least one step);
   * the provisioner weighs it by the configuration's interruption rate (absent: not on Spot).
   */
  readonly spotLossSeconds?: number;
  readonly basis: string;
}

/**
 * Whether a running job is predicted, from the pace of its running attempt (SMLT: measure each
 * iteration, re-plan as training goes), to miss its share of its run's deadline or budget where
 * it runs; null when it is on course, cannot be judged (no declared total, fewer than two steps
 * reported, no limits), is pinned to its configuration by its step (`provision.offer`), or is being
 * moved already. A job moved {@link MAX_RESCALES} times is not moved again (`movable` false), but
 * its budget is still judged, one more Spot interruption held back: a loss must not pass it.
 * Pure: the time is `now`.
 */
export function rescaleCheck(state: JobState, now: Date): RescaleCheck | null {
  const pace = state.pace ?? null;
  const share = state.share ?? null;
  if (state.status !== 'running' || (state.rescale ?? null) !== null) return null;
  // The step said where to run: acai does not choose for it.
  if (state.pinned === true) return null;
  const movable = (state.rescales ?? 0) < MAX_RESCALES;
  if (pace === null || pace.attempt !== state.attempt || pace.totalSteps === null) return null;
  if (share === null) return null;
  const limit = finishByOnJobClock(state, share);
  const maxCost = share.maxCost;
  if (limit === null && maxCost === null) return null;
  const steps = pace.lastStep - pace.firstStep;
  const ms = pace.lastAt - pace.firstAt;
  // One report in this attempt: the previous attempt's rate, if it ran on the same configuration.
  const earlier = pace.earlier ?? null;
  const sameAsEarlier =
    earlier !== null && earlier.offer !== null && earlier.offer === (state.offer?.name ?? null);
  if ((steps <= 0 || ms <= 0) && !sameAsEarlier) return null;
  const stepsPerSecond =
    steps > 0 && ms > 0 ? (steps * 1000) / ms : (earlier?.stepsPerSecond ?? Number.NaN);
  if (!(stepsPerSecond > 0)) return null;
  const stepsLeft = Math.max(0, pace.totalSteps - pace.lastStep);
  if (stepsLeft === 0) return null;
  const secondsLeft = stepsLeft / stepsPerSecond;
  // The pace's times are the job's own (its executor's clock): so are now and the deadline here.
  const nowMs = onJobClock(state, now.getTime());
  const predictedFinishMs = Math.max(nowMs, pace.lastAt + secondsLeft * 1000);
  const checkpointStep = state.checkpoint?.step ?? null;
  // What the running attempt is billed for: its time since it started, by its clock (the steps it
  // ran, from where it resumed, when its start's time is not known).
  const resumedFrom =
    checkpointStep !== null && checkpointStep < pace.firstStep ? checkpointStep : 0;
  const startedMs = state.startedAt == null ? Number.NaN : Date.parse(state.startedAt);
  const attemptSeconds = Number.isFinite(startedMs)
    ? Math.max(0, nowMs - startedMs) / 1000
    : (pace.lastStep - resumedFrom) / stepsPerSecond;
  const price = state.pricePerHour ?? null;
  const spent = (state.spent?.cost ?? 0) + (price === null ? 0 : (attemptSeconds * price) / 3600);
  // The bill runs on until the predicted end: from now, or (counted by its steps) its last step.
  const billedLeft = Number.isFinite(startedMs) ? (predictedFinishMs - nowMs) / 1000 : secondsLeft;
  const predictedCost = price === null ? null : spent + (billedLeft * price) / 3600;
  const lostSteps = Math.max(0, pace.lastStep - (checkpointStep ?? 0));
  const spotLossSeconds = onSpot(state)
    ? (state.placedToStartSeconds ?? 0) +
      MIN_RESTART_SECONDS +
      Math.max(1, lostSteps) / stepsPerSecond
    : undefined;
  const basis =
    steps > 0 && ms > 0
      ? `step ${pace.lastStep} of ${pace.totalSteps}: ${steps} step(s) in ${(ms / 1000).toFixed(1)} s (${stepsPerSecond.toPrecision(3)} steps/s)`
      : `step ${pace.lastStep} of ${pace.totalSteps}, the first of attempt ${pace.attempt}: ${stepsPerSecond.toPrecision(3)} steps/s, as its previous attempt measured on ${state.offer?.name ?? 'the same configuration'}`;
  const common = {
    movable,
    step: pace.lastStep,
    totalSteps: pace.totalSteps,
    stepsLeft,
    lostSteps,
    stepsPerSecond,
    checkpointStep,
    startupSeconds: MIN_RESTART_SECONDS,
    spent,
    now: new Date(nowMs).toISOString(),
    predictedFinish: new Date(predictedFinishMs).toISOString(),
    predictedCost,
    finishBy: limit === null ? null : new Date(limit).toISOString(),
    maxCost,
    ...(spotLossSeconds === undefined ? {} : { spotLossSeconds }),
    basis,
  };
  if (limit !== null && movable) {
    // On Spot, the next interruption's cost is counted while the deadline can still absorb it
    // (the provisioner weighs it by the offer's rate): a job is moved before its margin is gone,
    // not after the loss that spends it.
    if (spotLossSeconds !== undefined && predictedFinishMs + spotLossSeconds * 1000 > limit)
      return { misses: 'deadline', ...common };
    const slack = Math.max(1000, RESCALE_TOLERANCE * Math.max(0, limit - pace.firstAt));
    if (predictedFinishMs > limit + slack) return { misses: 'deadline', ...common };
  }
  // A budget is a bill not to pass: no tolerance above it, and on Spot the next interruption's
  // cost counted (weighed by the offer's rate where it is planned).
  const lossCost =
    spotLossSeconds === undefined || price === null ? 0 : (spotLossSeconds * price) / 3600;
  if (maxCost !== null && predictedCost !== null && predictedCost + lossCost > maxCost) {
    return { misses: 'budget', ...common };
  }
  return null;
}

/** Whether it runs on Spot capacity: its configuration's name says so (`c5.large:spot`). */
function onSpot(state: JobState): boolean {
  return state.offer?.name.endsWith(':spot') ?? false;
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

/** The least share of a job taken to be left after a checkpoint (none is free to resume). */
const LEAST_LEFT = 0.05;

/**
 * How long a job placed again after it lost its place (a Spot loss, an executor lost, a retry)
 * may take, whole, for what is left of it to end within its share of the deadline: the seconds
 * the share has left, on the job's clock, stretched by the part of the work its last checkpoint
 * saved (`step` of the total its attempts declared). Its share was measured from when the step was
 * budgeted: placed again against it whole, a job that lost an hour is placed as if it had not.
 * Undefined without a deadline in its share; at least one second (a deadline passed asks for the
 * fastest).
 */
export function secondsToPlaceAgain(state: JobState, now: Date): number | undefined {
  const share = state.share ?? null;
  if (share === null) return undefined;
  const finishBy = finishByOnJobClock(state, share);
  if (finishBy === null) return undefined;
  const left = (finishBy - onJobClock(state, now.getTime())) / 1000;
  const total = state.pace?.totalSteps ?? null;
  const saved = state.checkpoint?.step ?? null;
  const toDo =
    total === null || saved === null || total <= 0
      ? 1
      : Math.max(LEAST_LEFT, 1 - Math.min(saved, total) / total);
  return Math.max(1, left / toDo);
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
