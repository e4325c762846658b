import type { JobState } from './job.decider.js';

/**
 * How far ahead of the scheduler's clock a job's reported times may be and still be its clock:
 * further, they are a virtual clock's (the simulated provider runs hours in seconds).
 */
const FUTURE_SLACK_MS = 5_000;

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
  readonly predictedFinish: string;
  readonly predictedCost: number | null;
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
  const finishBy = share.finishBy ?? null;
  const maxCost = share.maxCost;
  if (finishBy === null && maxCost === null) return null;
  const steps = pace.lastStep - pace.firstStep;
  const ms = pace.lastAt - pace.firstAt;
  if (steps <= 0 || ms <= 0) return null;
  const stepsPerSecond = (steps * 1000) / ms;
  const stepsLeft = Math.max(0, pace.totalSteps - pace.lastStep);
  if (stepsLeft === 0) return null;
  const secondsLeft = stepsLeft / stepsPerSecond;
  const predictedFinishMs = Math.max(now.getTime(), pace.lastAt + secondsLeft * 1000);
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
    predictedFinish: new Date(predictedFinishMs).toISOString(),
    predictedCost,
    finishBy,
    maxCost,
    basis,
  };
  // Times reported ahead of this clock come from a virtual one (a simulated node's): they cannot
  // be held against a wall-clock deadline, only against a budget (cost is the same in both).
  const virtual = pace.lastAt > now.getTime() + FUTURE_SLACK_MS;
  if (finishBy !== null && !virtual) {
    const limit = Date.parse(finishBy);
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
