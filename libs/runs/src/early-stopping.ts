import type { EarlyStoppingRule, Objective } from '@acai/contracts';

/** A trial's objective as it reported it: `[step, value]`, by increasing step, one per step. */
export type Series = ReadonlyArray<readonly [step: number, value: number]>;

/** Why a trial is stopped: the rule, its objective at `step`, and the threshold it missed. */
export interface StopDecision {
  readonly rule: EarlyStoppingRule['rule'];
  readonly step: number;
  readonly value: number;
  readonly threshold: number;
  /** How many other trials the threshold came from. */
  readonly compared: number;
  /** For people: what happened, in one sentence. */
  readonly reason: string;
}

/** The steps of a report being judged: the trial reported its objective from `from` to `to`. */
export interface ReportWindow {
  readonly from: number;
  readonly to: number;
}

/**
 * Whether a trial that just reported its objective (steps `window.from` to `window.to`) should be
 * stopped, given its series and the other trials' (as they are now): null to let it go on. Pure:
 * the same series give the same answer.
 *
 * - median: its best value by step s (= window.to) is worse than the median of the running
 *   averages at s of the other trials that have reached s; only once s ≥ minSteps and at least
 *   minTrials others have reached s.
 * - asha: for the highest rung r the report crossed (the trial's last step before it was below r,
 *   and `to` ≥ r), its value at r (at its first step ≥ r) is worse than the 1 − 1/reductionFactor
 *   quantile (best side) of the values at r of the other trials that have reached r; not when none has.
 */
export function earlyStop(
  rule: EarlyStoppingRule,
  objective: Objective,
  series: Series,
  window: ReportWindow,
  others: readonly Series[],
): StopDecision | null {
  const own = series.filter(([step]) => step <= window.to);
  if (own.length === 0) return null;
  const better = (a: number, b: number) => (objective.mode === 'min' ? a < b : a > b);
  const metric = objective.metric;
  switch (rule.rule) {
    case 'median': {
      const s = window.to;
      if (s < rule.minSteps) return null;
      const best = own.map(([, v]) => v).reduce((a, b) => (better(b, a) ? b : a));
      const averages = others
        .filter((o) => o.length > 0 && o[o.length - 1]![0] >= s)
        .map((o) => o.filter(([step]) => step <= s).map(([, v]) => v))
        .filter((values) => values.length > 0)
        .map((values) => values.reduce((a, b) => a + b, 0) / values.length);
      if (averages.length < rule.minTrials) return null;
      const threshold = median(averages);
      if (!better(threshold, best)) return null;
      return {
        rule: 'median',
        step: s,
        value: best,
        threshold,
        compared: averages.length,
        reason: `stopped early by the median rule: its best ${metric} by step ${s} (${round(best)}) is worse than the median ${round(threshold)} of ${averages.length} other trials' running averages at that step`,
      };
    }
    case 'asha': {
      const before = own.filter(([step]) => step < window.from);
      const reachedBefore = before.length === 0 ? 0 : before[before.length - 1]![0];
      const crossed = rule.rungs.filter((r) => r > reachedBefore && r <= window.to);
      const rung = crossed[crossed.length - 1];
      if (rung === undefined) return null;
      const value = valueAt(own, rung)!;
      const recorded = others.map((o) => valueAt(o, rung)).filter((v) => v !== undefined);
      if (recorded.length === 0) return null;
      const keep = 1 / rule.reductionFactor;
      // The value the trial must at least match: the top 1/η of the recorded values begins there.
      const threshold = quantile(recorded, objective.mode === 'min' ? keep : 1 - keep);
      if (!better(threshold, value)) return null;
      return {
        rule: 'asha',
        step: rung,
        value,
        threshold,
        compared: recorded.length,
        reason: `stopped early by asha at rung ${rung}: its ${metric} (${round(value)}) is not in the best 1/${rule.reductionFactor} of the ${recorded.length} other trials that reached that rung (threshold ${round(threshold)})`,
      };
    }
    default: {
      const _exhaustive: never = rule;
      return _exhaustive;
    }
  }
}

/** The value a series had at step `step`: at its first step at or after it; none if it has not reached it. */
function valueAt(series: Series, step: number): number | undefined {
  return series.find(([s]) => s >= step)?.[1];
}

function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** The q-quantile with linear interpolation between the closest ranks (numpy's default). */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

function round(x: number): string {
  return String(Number(x.toPrecision(4)));
}

/** The series with `points` folded in: a step reported again replaces its value. */
export function withPoints(
  series: Series,
  points: ReadonlyArray<{ readonly step: number | null; readonly value: number }>,
): Series {
  const byStep = new Map(series.map(([s, v]) => [s, v]));
  let last = series.length === 0 ? 0 : series[series.length - 1]![0];
  for (const point of points) {
    // A value without a step is the next step after the last one reported.
    const step = point.step ?? last + 1;
    byStep.set(step, point.value);
    last = Math.max(last, step);
  }
  return [...byStep.entries()].sort(([a], [b]) => a - b);
}
