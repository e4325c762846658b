import type { JobProgress } from '@acai/contracts';

/** A metric point as the job reported it, with the attempt that reported it. */
export interface ProgressPoint {
  readonly name: string;
  readonly value: number;
  readonly step: number | null;
  readonly time: string;
  readonly attempt: number;
}

/** The metric a job prints to declare how many steps its work has (`steps_total=5`). */
export const STEPS_TOTAL_METRIC = 'steps_total';
/** The metric a job prints to say how far it is, 0 to 1, when it counts no steps. */
export const PROGRESS_METRIC = 'progress';

/**
 * How far a running attempt is and when it should end, from the metrics it reported: the steps
 * it reached (the largest `step` of any of its points) against the total it declared (the last
 * `steps_total`), or its last `progress` (0 to 1) when it declared none. The rate is measured
 * between the first and the last step this attempt reported (so loading data before the first
 * step does not count), or from the attempt's start when it reported one step only; the attempt
 * resumes after `resumedAfterStep` (its checkpoint's). Nothing when the attempt reported neither
 * a total nor a progress.
 */
export function estimateProgress(input: {
  readonly points: readonly ProgressPoint[];
  readonly attempt: number;
  readonly startedAt: string;
  readonly resumedAfterStep: number;
}): JobProgress | null {
  const points = input.points.filter((p) => p.attempt === input.attempt);
  const declared = points.filter((p) => p.name === STEPS_TOTAL_METRIC).at(-1)?.value;
  const totalSteps =
    declared !== undefined && Number.isInteger(declared) && declared > 0 ? declared : null;
  // When each step was first reached, in the order reported.
  const reached = new Map<number, number>();
  for (const p of points) {
    if (p.step !== null && !reached.has(p.step)) reached.set(p.step, Date.parse(p.time));
  }
  const steps = [...reached.entries()].sort((a, b) => a[0] - b[0]);
  const last = steps.at(-1);
  if (totalSteps !== null && last !== undefined) {
    const [step, at] = last;
    const [firstStep, firstAt] = steps[0]!;
    const measured =
      steps.length >= 2
        ? { steps: step - firstStep, ms: at - firstAt, since: `step ${firstStep}` }
        : {
            steps: step - input.resumedAfterStep,
            ms: at - Date.parse(input.startedAt),
            since: 'the attempt’s start',
          };
    const stepsPerSecond =
      measured.steps > 0 && measured.ms > 0 ? (measured.steps * 1000) / measured.ms : null;
    const left = Math.max(0, totalSteps - step);
    const finish =
      stepsPerSecond === null ? null : new Date(at + (left / stepsPerSecond) * 1000).toISOString();
    return {
      step,
      totalSteps,
      fraction: Math.min(1, step / totalSteps),
      stepsPerSecond,
      predictedFinish: finish,
      basis:
        stepsPerSecond === null
          ? `step ${step} of ${totalSteps}; no rate yet (one step reported)`
          : `step ${step} of ${totalSteps}: ${measured.steps} step(s) in ${(measured.ms / 1000).toFixed(1)} s since ${measured.since} (${stepsPerSecond.toPrecision(3)} steps/s)`,
    };
  }
  const progress = points.filter((p) => p.name === PROGRESS_METRIC && Number.isFinite(p.value));
  const lastProgress = progress.at(-1);
  if (lastProgress === undefined) return null;
  const fraction = Math.min(1, Math.max(0, lastProgress.value));
  const at = Date.parse(lastProgress.time);
  const first = progress[0]!;
  const span =
    progress.length >= 2 && lastProgress.value > first.value
      ? { done: fraction - first.value, ms: at - Date.parse(first.time) }
      : { done: fraction, ms: at - Date.parse(input.startedAt) };
  const perMs = span.done > 0 && span.ms > 0 ? span.done / span.ms : null;
  return {
    step: lastProgress.step,
    totalSteps: null,
    fraction,
    stepsPerSecond: null,
    predictedFinish: perMs === null ? null : new Date(at + (1 - fraction) / perMs).toISOString(),
    basis:
      perMs === null
        ? `progress ${fraction}; no rate yet`
        : `progress ${fraction}: ${span.done.toPrecision(3)} in ${(span.ms / 1000).toFixed(1)} s`,
  };
}
