import {
  AcaiError,
  narrowByShare,
  RunProblems,
  type DeadlineSpec,
  type ProvisionSpec,
  type RunLimits,
  type RunPlanView,
  type StepShare,
} from '@acai/contracts';

export interface Admission {
  /** What the spec said, or null. */
  readonly deadlineSpec: DeadlineSpec | null;
  /** The deadline resolved at submission, or null. */
  readonly deadline: Date | null;
  readonly budget: number | null;
  /** The submission's time. */
  readonly now: Date;
  /** The plan of the whole run from `now` within its limits. */
  readonly plan: RunPlanView;
}

/**
 * Accepts a run's deadline and budget, or refuses them with the estimate that shows why: a
 * deadline already past (`RUN_DEADLINE_PASSED`), or a budget below the cheapest the run could
 * possibly cost (`RUN_BUDGET_BELOW_CHEAPEST_PLAN`: every step at its cheapest, or booting its
 * configuration where nothing predicts it). A deadline the plan predicts to miss is accepted:
 * predictions err, and the run is placed to be as little late as it can. Pure: time is `now`.
 * @throws AcaiError with the estimate as extension members (`deadline`, `now`, `budget`,
 * `cheapestCost`, `predictedCost`, `predictedFinish`) and one detail per step for a budget.
 */
export function admitRun(admission: Admission): RunLimits {
  const { deadline, budget, now, plan } = admission;
  const estimate = {
    predictedFinish: plan.predictedFinish,
    predictedCost: plan.predictedCost,
    cheapestCost: plan.cheapestCost,
  };
  if (deadline !== null && deadline.getTime() <= now.getTime()) {
    const ago = Math.round((now.getTime() - deadline.getTime()) / 1000);
    throw new AcaiError(
      RunProblems.RUN_DEADLINE_PASSED,
      `Run refused: its deadline, ${deadline.toISOString()}, passed ${ago} s before it was submitted (${now.toISOString()})${plan.predictedSeconds === null ? '' : `; the run is predicted to take ${Math.ceil(plan.predictedSeconds)} s`}: give a later deadline, or a duration from submission such as "45m"`,
      [{ path: 'deadline', message: `${deadline.toISOString()} is in the past` }],
      {
        extensions: {
          deadline: deadline.toISOString(),
          now: now.toISOString(),
          predictedSeconds: plan.predictedSeconds,
          ...estimate,
        },
      },
    );
  }
  if (budget !== null && budget < plan.cheapestCost) {
    const steps = plan.steps.map((s) => ({
      path: 'budget',
      message: `step '${s.name}' costs at least ${dollars(s.cheapestCost)}${s.configuration === null ? '' : ` (${s.predictedSeconds === null ? `booting ${s.configuration.name}, as nothing predicts how long it runs` : 'at its cheapest configuration'})`}`,
    }));
    throw new AcaiError(
      RunProblems.RUN_BUDGET_BELOW_CHEAPEST_PLAN,
      `Run refused: its budget, ${dollars(budget)}, is below the least it could cost, ${dollars(plan.cheapestCost)} (every step at its cheapest${plan.complete ? '' : '; a step without a prediction counts only its boot, so it will cost more'}): raise the budget to at least ${dollars(plan.cheapestCost)}${plan.predictedCost === null ? '' : ` (the plan within it predicts ${dollars(plan.predictedCost)})`}; POST /api/v1/runs/plan shows every step`,
      [
        { path: 'budget', message: `below the cheapest plan, ${dollars(plan.cheapestCost)}` },
        ...steps,
      ],
      { extensions: { budget, ...estimate } },
    );
  }
  return {
    deadline: deadline?.toISOString() ?? null,
    deadlineSpec: admission.deadlineSpec,
    budget,
    predictedFinish: plan.predictedFinish,
    predictedCost: plan.predictedCost,
    cheapestCost: plan.cheapestCost,
  };
}

/**
 * The provision a job is placed with under its share: its own limits narrowed by the share (the
 * smaller of each). A job pinned to a configuration, or without `provision` (as requested), is
 * placed as it says: the share is recorded, not applied.
 */
export function limitedProvision(
  provision: ProvisionSpec | null,
  share: StepShare | null,
): ProvisionSpec | null {
  if (provision === null || share === null || provision.offer !== undefined) return provision;
  const { maxSeconds: _s, maxCost: _c, optimize: _o, ...rest } = provision;
  return { ...rest, ...narrowByShare(provision, share) };
}

/** `$12.35`, `$0.0123`: cents from a dollar, three significant digits below. */
export function dollars(usd: number): string {
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  if (usd === 0) return '$0.00';
  return `$${Number(usd.toPrecision(3)).toString()}`;
}
