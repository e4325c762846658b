import {
  narrowByShare,
  type PlanAlternative,
  type ShareableLimits,
  type RunPlanView,
  type StepPlan,
  type StepShare,
} from '@acai/contracts';
import { formatDollars, formatSeconds } from './format.js';
import { offerRef } from './offers.js';
import type { PlacementOutcome } from './placement.js';

/** The limits a step is placed within: its own `provision` limits, narrowed by its share. */
export type StepLimits = ShareableLimits;

/** One step of a run to plan: its place in the DAG, its own limits, and how it would be placed. */
export interface StepToPlan {
  readonly name: string;
  /** Steps it waits for; one not in the plan has ended (or runs already) and is not waited for. */
  readonly needs: readonly string[];
  /** The step's own `provision` limits, which a share narrows and never loosens. */
  readonly own: StepLimits;
  /**
   * The auto-provisioner's decision for the step within `limits`: `decidePlacement` on facts read
   * once, so that calling it again with other limits reads nothing. Pure.
   */
  readonly place: (limits: StepLimits) => PlacementOutcome;
}

export interface RunPlanRequest {
  /** In the order of the run spec; each name once. */
  readonly steps: readonly StepToPlan[];
  readonly now: Date;
  /** The run's deadline, or null. */
  readonly deadline: Date | null;
  /** What is left of the run's budget, USD (zero or less: spent), or null. */
  readonly budget: number | null;
}

/** What one step costs and takes at best, as far as known: what its share is weighed by. */
export interface StepBounds {
  /** The least it could cost anywhere; booting its configuration when not predicted. */
  readonly cheapestCost: number;
  /** The least time it could take anywhere; null when not predicted. */
  readonly fastestSeconds: number | null;
  /** Its predicted cost at its cheapest, null when not predicted (then not a weight). */
  readonly modelledCost: number | null;
}

/**
 * Plans a run from `now`: each step's share of the deadline and budget, the configuration the
 * auto-provisioner chooses within it, when each step starts and finishes (a step starts when the
 * steps it needs have finished), the critical path, and whether the deadline and budget hold,
 * and if not, whether the plan with every step at its fastest, or at its cheapest, would.
 *
 * How the shares are split (see {@link splitShares}): time by the critical path through each step,
 * money by each step's cheapest cost. A step with no prediction weighs as the average predicted
 * step (or all weigh alike when none is predicted). Pure: time is `now`.
 */
export function planRun(request: RunPlanRequest): RunPlanView {
  const { steps, now, deadline, budget } = request;
  const base = steps.map((s) => s.place(s.own));
  const bounds = base.map(boundsOf);
  const shares = splitShares(steps, bounds, { now, deadline, budget });

  const chosen = steps.map((step, i) => step.place(narrowByShare(step.own, shares[i] ?? null)));
  const timing = schedule(
    steps,
    chosen.map((o) => predictedOf(o).seconds),
  );
  const weights = timeWeights(bounds);
  const critical = criticalPath(steps, weights);

  const stepPlans = steps.map((step, i): StepPlan => {
    const outcome = chosen[i]!;
    const predicted = predictedOf(outcome);
    const bound = bounds[i]!;
    const time = timing[i]!;
    return {
      name: step.name,
      needs: [...step.needs],
      basis: basisOf(outcome),
      configuration: outcome.kind === 'chosen' ? offerRef(outcome.choice.offer) : null,
      predictedSeconds: predicted.seconds,
      predictedCost: predicted.cost,
      start: time.start === null ? null : at(now, time.start),
      finish: time.finish === null ? null : at(now, time.finish),
      critical: critical.includes(step.name),
      share: shares[i] ?? null,
      cheapestCost: bound.cheapestCost,
      fastestSeconds: bound.fastestSeconds,
      success: outcome.kind === 'chosen' && outcome.choice.decision.success,
      reason: reasonOf(outcome),
    };
  });

  const makespan = total(
    timing.map((t) => t.finish),
    Math.max,
  );
  const cost = total(
    stepPlans.map((s) => s.predictedCost),
    (a, b) => a + b,
  );
  const cheapestCost = bounds.reduce((sum, b) => sum + b.cheapestCost, 0);
  const predictedFinish = makespan === null ? null : at(now, makespan);
  const alternatives = (['fastest', 'cheapest'] as const).map((kind) =>
    alternative(kind, steps, request),
  );
  const deadlineView =
    deadline === null
      ? null
      : {
          at: deadline.toISOString(),
          holds: makespan === null ? null : now.getTime() + makespan * 1000 <= deadline.getTime(),
          marginSeconds:
            makespan === null ? null : (deadline.getTime() - now.getTime()) / 1000 - makespan,
        };
  const budgetView =
    budget === null
      ? null
      : {
          amount: budget,
          holds: cost === null ? (cheapestCost > budget ? false : null) : cost <= budget,
          marginCost: cost === null ? null : budget - cost,
        };
  const view: Omit<RunPlanView, 'summary'> = {
    now: now.toISOString(),
    steps: stepPlans,
    criticalPath: critical,
    complete: stepPlans.every((s) => s.predictedSeconds !== null && s.predictedCost !== null),
    predictedFinish,
    predictedSeconds: makespan,
    predictedCost: cost,
    cheapestCost,
    deadline: deadlineView,
    budget: budgetView,
    alternatives,
  };
  return { ...view, summary: summarise(view) };
}

/**
 * Splits what is left of a run's deadline and budget over its steps.
 *
 * - Time: a step gets `remaining × t / L`, where `t` is its fastest predicted time and `L` the
 *   longest chain of fastest times through it (the steps before it in the plan, it, and the steps
 *   after). Steps on the critical path share the remaining time in proportion to what they need;
 *   a step off it gets the slack its shorter chain leaves. When the deadline has passed the share
 *   has no limit and asks for the fastest configuration (the least late).
 * - Money: a step gets `remaining × c / Σc`, `c` its cheapest predicted cost, and never less than
 *   `c` while what is left covers it. Without any money left the share has no limit (the scheduler
 *   stops the run: see `run.budget_exhausted`).
 */
export function splitShares(
  steps: readonly StepToPlan[],
  bounds: readonly StepBounds[],
  limits: { now: Date; deadline: Date | null; budget: number | null },
): (StepShare | null)[] {
  const { now, deadline, budget } = limits;
  if (deadline === null && budget === null) return steps.map(() => null);
  const remainingSeconds = deadline === null ? null : (deadline.getTime() - now.getTime()) / 1000;
  const times = timeWeights(bounds);
  const through = longestThrough(steps, times);
  const costs = costWeights(bounds);
  const costSum = costs.reduce((a, b) => a + b, 0);
  return steps.map((step, i): StepShare => {
    const reasons: string[] = [];
    let maxSeconds: number | null = null;
    let optimize: StepShare['optimize'] = null;
    if (remainingSeconds !== null) {
      const path = through[i]!;
      const weight = times[i]!;
      if (remainingSeconds <= 0) {
        optimize = 'time';
        reasons.push(
          `the run's deadline passed ${formatSeconds(-remainingSeconds)} ago: no time limit, the fastest configuration`,
        );
      } else {
        maxSeconds = (remainingSeconds * weight) / path;
        reasons.push(
          `time: ${formatSeconds(maxSeconds)} of the ${formatSeconds(remainingSeconds)} left, its ${percent(weight / path)} of the longest chain of steps through it (${formatSeconds(path)} at their fastest${bounds[i]!.fastestSeconds === null ? '; this step has no prediction and weighs as an average one' : ''})`,
        );
      }
    }
    let maxCost: number | null = null;
    if (budget !== null) {
      const cheapest = bounds[i]!.cheapestCost;
      if (budget <= 0) {
        reasons.push(`money: none left (${formatDollars(budget)})`);
      } else {
        const proportional = (budget * costs[i]!) / costSum;
        maxCost = Math.min(budget, Math.max(proportional, cheapest));
        reasons.push(
          `money: ${formatDollars(maxCost)} of the ${formatDollars(budget)} left, ${proportional >= cheapest ? `its ${percent(costs[i]! / costSum)} by cheapest cost` : `what it costs at its cheapest (its proportional share, ${formatDollars(proportional)}, is less)`}`,
        );
      }
    }
    return {
      maxSeconds,
      maxCost,
      optimize,
      reason: `step '${step.name}': ${reasons.join('; ')}`,
    };
  });
}

function boundsOf(outcome: PlacementOutcome): StepBounds {
  switch (outcome.kind) {
    case 'chosen': {
      const { decision, offer } = outcome.choice;
      const seconds = decision.alternatives.flatMap((a) =>
        a.predictedSeconds === null ? [] : [a.predictedSeconds],
      );
      const costs = decision.alternatives.flatMap((a) =>
        a.predictedCost === null ? [] : [a.predictedCost],
      );
      if (decision.predictedSeconds === null || costs.length === 0) {
        // Not predicted: at least its configuration's boot is paid for.
        return {
          cheapestCost: (offer.bootSeconds * offer.pricePerHour) / 3600,
          fastestSeconds: null,
          modelledCost: null,
        };
      }
      const cheapest = Math.min(...costs);
      return {
        cheapestCost: cheapest,
        fastestSeconds: seconds.length === 0 ? null : Math.min(...seconds),
        modelledCost: cheapest,
      };
    }
    case 'profile':
    case 'impossible':
      return { cheapestCost: 0, fastestSeconds: null, modelledCost: null };
  }
}

/** Each step's time weight: its fastest time, or the average of those known (1 when none is). */
function timeWeights(bounds: readonly StepBounds[]): number[] {
  const known = bounds.flatMap((b) =>
    b.fastestSeconds === null || b.fastestSeconds <= 0 ? [] : [b.fastestSeconds],
  );
  const fallback = known.length === 0 ? 1 : known.reduce((a, b) => a + b, 0) / known.length;
  return bounds.map((b) =>
    b.fastestSeconds === null || b.fastestSeconds <= 0 ? fallback : b.fastestSeconds,
  );
}

/** Each step's money weight: its cheapest predicted cost, or the average of those known. */
function costWeights(bounds: readonly StepBounds[]): number[] {
  const known = bounds.flatMap((b) =>
    b.modelledCost === null || b.modelledCost <= 0 ? [] : [b.modelledCost],
  );
  const fallback = known.length === 0 ? 1 : known.reduce((a, b) => a + b, 0) / known.length;
  return bounds.map((b) =>
    b.modelledCost === null || b.modelledCost <= 0 ? fallback : b.modelledCost,
  );
}

/** Index of each step's needs within the plan (needs outside it have ended). */
function needIndexes(steps: readonly StepToPlan[]): number[][] {
  const index = new Map(steps.map((s, i) => [s.name, i]));
  return steps.map((s) => s.needs.flatMap((n) => (index.has(n) ? [index.get(n)!] : [])));
}

/** Step indexes in an order where every step comes after the steps it needs. */
function topological(steps: readonly StepToPlan[]): number[] {
  const needs = needIndexes(steps);
  const order: number[] = [];
  const state = new Array<0 | 1 | 2>(steps.length).fill(0);
  const visit = (i: number): void => {
    if (state[i] !== 0) return; // done, or a cycle (refused at submit): not followed again
    state[i] = 1;
    for (const n of needs[i]!) visit(n);
    state[i] = 2;
    order.push(i);
  };
  steps.forEach((_, i) => visit(i));
  return order;
}

/** The longest chain of `weights` through each step: before it, it, and after it. */
function longestThrough(steps: readonly StepToPlan[], weights: readonly number[]): number[] {
  const needs = needIndexes(steps);
  const order = topological(steps);
  const upTo = new Array<number>(steps.length).fill(0);
  for (const i of order) {
    upTo[i] = weights[i]! + Math.max(0, ...needs[i]!.map((n) => upTo[n]!));
  }
  const from = new Array<number>(steps.length).fill(0);
  for (const i of [...order].reverse()) {
    from[i] = Math.max(from[i]!, weights[i]!);
    for (const n of needs[i]!) from[n] = Math.max(from[n]!, weights[n]! + from[i]);
  }
  return steps.map((_, i) => upTo[i]! + from[i]! - weights[i]!);
}

/** The steps of the longest chain of `weights`, first to last (ties: the first in the spec). */
function criticalPath(steps: readonly StepToPlan[], weights: readonly number[]): string[] {
  if (steps.length === 0) return [];
  const needs = needIndexes(steps);
  const order = topological(steps);
  const upTo = new Array<number>(steps.length).fill(0);
  const before = new Array<number | null>(steps.length).fill(null);
  for (const i of order) {
    let best: number | null = null;
    for (const n of needs[i]!) if (best === null || upTo[n]! > upTo[best]!) best = n;
    before[i] = best;
    upTo[i] = weights[i]! + (best === null ? 0 : upTo[best]!);
  }
  let last = 0;
  upTo.forEach((v, i) => {
    if (v > upTo[last]!) last = i;
  });
  const path: string[] = [];
  for (let i: number | null = last; i !== null; i = before[i]!) path.unshift(steps[i]!.name);
  return path;
}

/** Start and finish of each step, seconds from now; null after a step with no prediction. */
function schedule(
  steps: readonly StepToPlan[],
  seconds: readonly (number | null)[],
): { start: number | null; finish: number | null }[] {
  const needs = needIndexes(steps);
  const out = steps.map(() => ({ start: null as number | null, finish: null as number | null }));
  for (const i of topological(steps)) {
    const before = needs[i]!.map((n) => out[n]!.finish);
    const start = before.some((f) => f === null) ? null : Math.max(0, ...(before as number[]));
    const own = seconds[i] ?? null;
    out[i] = { start, finish: start === null || own === null ? null : start + own };
  }
  return out;
}

function predictedOf(outcome: PlacementOutcome): { seconds: number | null; cost: number | null } {
  if (outcome.kind !== 'chosen') return { seconds: null, cost: null };
  const d = outcome.choice.decision;
  return { seconds: d.predictedSeconds, cost: d.predictedCost };
}

function basisOf(outcome: PlacementOutcome): StepPlan['basis'] {
  switch (outcome.kind) {
    case 'profile':
      return 'profile-first';
    case 'impossible':
      return 'impossible';
    case 'chosen': {
      const rule = outcome.choice.decision.rule;
      return rule === 'pinned' ? 'pinned' : rule === 'as-requested' ? 'as-requested' : 'model';
    }
  }
}

function reasonOf(outcome: PlacementOutcome): string {
  switch (outcome.kind) {
    case 'chosen':
      return outcome.choice.reason;
    case 'impossible':
      return outcome.reason;
    case 'profile':
      return `nothing is known of this step yet: it would first run short profiling runs on ${outcome.grid.length} configurations, then choose`;
  }
}

/** Every step at its fastest (or cheapest), within its own limits only. */
function alternative(
  kind: 'fastest' | 'cheapest',
  steps: readonly StepToPlan[],
  request: RunPlanRequest,
): PlanAlternative {
  const optimize = kind === 'fastest' ? 'time' : 'cost';
  const outcomes = steps.map((s) => s.place({ ...s.own, optimize }));
  const predicted = outcomes.map(predictedOf);
  const timing = schedule(
    steps,
    predicted.map((p) => p.seconds),
  );
  const makespan = total(
    timing.map((t) => t.finish),
    Math.max,
  );
  const cost = total(
    predicted.map((p) => p.cost),
    (a, b) => a + b,
  );
  return {
    kind,
    predictedFinish: makespan === null ? null : at(request.now, makespan),
    predictedCost: cost,
    meetsDeadline:
      request.deadline === null || makespan === null
        ? null
        : request.now.getTime() + makespan * 1000 <= request.deadline.getTime(),
    meetsBudget: request.budget === null || cost === null ? null : cost <= request.budget,
  };
}

/** Folds values with `op`; null when any is null (unknown), 0 for none. */
function total(
  values: readonly (number | null)[],
  op: (a: number, b: number) => number,
): number | null {
  let sum = 0;
  for (const v of values) {
    if (v === null) return null;
    sum = op(sum, v);
  }
  return sum;
}

function at(now: Date, seconds: number): string {
  return new Date(now.getTime() + Math.round(seconds * 1000)).toISOString();
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

/** What holds, and if not by how much and what would instead. */
function summarise(view: Omit<RunPlanView, 'summary'>): string {
  const parts: string[] = [];
  const steps = view.steps.length;
  const unknown = view.steps.filter((s) => s.predictedSeconds === null).map((s) => s.name);
  if (unknown.length > 0) {
    parts.push(
      `${unknown.length} of ${steps} step${steps === 1 ? '' : 's'} (${unknown.join(', ')}) ${unknown.length === 1 ? 'has' : 'have'} no runtime prediction yet (give ${unknown.length === 1 ? 'it' : 'them'} provision.profile, or run ${unknown.length === 1 ? 'it' : 'them'} once), so the run's finish and cost are not known; it costs at least ${formatDollars(view.cheapestCost)}`,
    );
  } else {
    parts.push(
      `${steps} step${steps === 1 ? '' : 's'}, predicted to take ${formatSeconds(view.predictedSeconds ?? 0)} (critical path: ${view.criticalPath.join(' → ')}) and cost ${formatDollars(view.predictedCost ?? 0)}`,
    );
  }
  const fastest = view.alternatives.find((a) => a.kind === 'fastest');
  const cheapest = view.alternatives.find((a) => a.kind === 'cheapest');
  if (view.deadline !== null) {
    const margin = view.deadline.marginSeconds;
    if (view.deadline.holds === true && margin !== null) {
      parts.push(`the deadline holds with ${formatSeconds(margin)} to spare`);
    } else if (view.deadline.holds === false && margin !== null) {
      parts.push(
        `it misses the deadline by ${formatSeconds(-margin)}${fastest?.meetsDeadline === true ? `; every step at its fastest would finish at ${fastest.predictedFinish} for ${formatDollars(fastest.predictedCost ?? 0)}, in time` : '; not even every step at its fastest would be in time'}`,
      );
    }
  }
  if (view.budget !== null) {
    const margin = view.budget.marginCost;
    if (view.budget.holds === true && margin !== null) {
      parts.push(`the budget holds with ${formatDollars(margin)} to spare`);
    } else if (view.budget.holds === false) {
      const over =
        margin === null
          ? `its cheapest possible cost, ${formatDollars(view.cheapestCost)}, is over the budget of ${formatDollars(view.budget.amount)}`
          : `it is over the budget by ${formatDollars(-margin)}`;
      parts.push(
        `${over}${cheapest?.meetsBudget === true ? `; every step at its cheapest would cost ${formatDollars(cheapest.predictedCost ?? 0)} and finish at ${cheapest.predictedFinish}, within it` : '; not even every step at its cheapest would fit'}`,
      );
    }
  }
  return `${parts.join('; ')}.`;
}
