import {
  AcaiError,
  RunProblems,
  type BestTrial,
  type EventData,
  type PlannedSweep,
  type JobOutcome,
  type PlannedJob,
  type RunLimits,
  type RunOrigin,
  type ReusePlannedStep,
  type StepPlan,
  type StepShare,
  assertUnreachable,
  type Decider,
  type NewEvent,
} from '@acai/contracts';
import { dollars } from './limits.js';

export type RunPhase = 'none' | 'active' | 'cancelling' | 'succeeded' | 'failed' | 'cancelled';

export interface RunState {
  readonly phase: RunPhase;
  readonly name: string | null;
  readonly jobs: readonly PlannedJob[];
  /** Final outcome per job id, once settled. */
  readonly outcomes: Readonly<Record<string, JobOutcome>>;
  /** Why the run is being cancelled, once it is. */
  readonly cancelReason: string | null;
  /** Why acai submitted the run itself (a profiling run); null for users' runs. */
  readonly origin: RunOrigin | null;
  /** Its jobs' priority among their project's waiting jobs, and how many may be out at once. */
  readonly priority: number;
  readonly maxParallel: number | null;
  /** Its swept steps, each with the job ids of its trials. */
  readonly sweeps: readonly PlannedSweep[];
  /** The best trial of each sweep that has completed (every trial ended), by step; null: none. */
  readonly sweepResults: Readonly<Record<string, BestTrial | null>>;
  /** Its deadline and budget (null: neither). */
  readonly limits: RunLimits | null;
  /** What its ended jobs cost, measured, USD. */
  readonly spent: number;
  /** Jobs whose cost was measured (each counted once). */
  readonly measured: Readonly<Record<string, true>>;
  /** Each budgeted job's share and what it is predicted to cost within it, by job id. */
  readonly shares: Readonly<Record<string, BudgetedStep>>;
  /** Why its budget ran out, once it did. */
  readonly exhausted: EventData<'run.budget_exhausted'> | null;
  /**
   * What its reuse plan decided at submit for each job, by job id (empty: no plan recorded, as for
   * a run whose plan left nothing out).
   */
  readonly reusePlan: Readonly<Record<string, ReusePlannedStep>>;
  /** Jobs the plan left out that are needed after all (`run.reuse_plan_revised`). */
  readonly revised: Readonly<Record<string, true>>;
}

/** A job's share of the run's limits, as `run.step_budgeted` recorded it. */
export interface BudgetedStep {
  readonly share: StepShare;
  readonly predictedCost: number | null;
}

/** What is left of a run's deadline and budget at `now`, and what it was worked out from. */
export interface RemainingLimits {
  /** Seconds to the deadline (negative: past), null without one. */
  readonly seconds: number | null;
  /** budget − spent − reserved, null without a budget. */
  readonly budget: number | null;
  readonly spent: number;
  /** Predicted cost of the jobs budgeted and not settled yet, held back from the budget. */
  readonly reserved: number;
}

export type RunCommand =
  /**
   * Accept the run. `reusePlan`: what the reuse plan made at submit decided for each job; recorded
   * in `run.submitted` when it leaves a job out, since the run then follows it.
   */
  | {
      kind: 'submit';
      data: EventData<'run.submitted'>;
      reusePlan?: readonly ReusePlannedStep[];
    }
  /**
   * Job `neededBy`, which reads the jobs `jobIds` the plan left out, was to take an earlier result
   * but computes (`reason`): those jobs are needed after all and run (or take their own results).
   */
  | { kind: 'revise_plan'; jobIds: readonly string[]; neededBy: string; reason: string }
  | {
      kind: 'settle_job';
      jobId: string;
      outcome: JobOutcome;
      /** What the job's attempts ran for and cost (counted when the run has limits). */
      measured?: { seconds: number; cost: number };
    }
  /**
   * A ready job of a run with limits gets its share of what is left, from the re-plan made `now`
   * of the steps not budgeted yet (`step` is this job's part of it); or, when what is left of the
   * budget cannot pay for the step at its cheapest, the budget is exhausted.
   */
  | {
      kind: 'budget_step';
      jobId: string;
      now: Date;
      step: StepPlan;
      /** The re-plan's finish and the cost of the steps it planned (null: not predicted). */
      plan: { predictedFinish: string | null; predictedCost: number | null };
    }
  /**
   * A running job is predicted, at its measured pace, to cost more than is left of the whole
   * budget for it (what is left plus what was held back for it), and no configuration costs less:
   * the budget is exhausted and the run stops.
   */
  | {
      kind: 'overspend';
      jobId: string;
      now: Date;
      /**
       * The least it is predicted to cost anywhere it could run, USD, one more Spot interruption
       * held back on Spot (`spotReserve` of it).
       */
      predictedCost: number;
      /** USD of `predictedCost` held back for one more Spot interruption (absent: none). */
      spotReserve?: number;
      /** Why, for a person: the prediction and what it was measured from. */
      basis: string;
    }
  /** Ends the run if every job is settled and it has not ended yet (see {@link conclusion}). */
  | { kind: 'conclude' }
  | { kind: 'cancel'; reason: string }
  /**
   * Every trial of sweep `step` has ended: record its best trial (found by the scheduler from the
   * trials' objectives, see `bestTrial`), and end the run if nothing else is left.
   */
  | { kind: 'complete_sweep'; step: string; best: BestTrial | null };

export const runDecider: Decider<RunState, RunCommand, NewEvent> & {
  creationEvents: ReadonlySet<string>;
} = {
  creationEvents: new Set(['run.submitted']),
  initialState: () => ({
    phase: 'none',
    name: null,
    jobs: [],
    outcomes: {},
    cancelReason: null,
    origin: null,
    priority: 0,
    maxParallel: null,
    limits: null,
    spent: 0,
    measured: {},
    shares: {},
    exhausted: null,
    sweeps: [],
    sweepResults: {},
    reusePlan: {},
    revised: {},
  }),

  decide(command, state) {
    switch (command.kind) {
      case 'submit':
        if (state.phase !== 'none')
          throw new AcaiError(RunProblems.RUN_EXISTS, 'A run with this id exists already');
        return [{ type: 'run.submitted', data: withReusePlan(command.data, command.reusePlan) }];
      case 'revise_plan':
        return revisePlan(command, state);
      case 'settle_job': {
        const job = state.jobs.find((j) => j.id === command.jobId);
        if (job === undefined) return [];
        if (state.phase !== 'active' && state.phase !== 'cancelling') return [];
        // Settled already: the job's end is being handled again because the process that settled
        // it died before the run's end was appended after it. The end is derived again, so a run
        // whose jobs have all ended always ends.
        if (state.outcomes[command.jobId] !== undefined) return conclusion(state);
        const events: NewEvent[] = [];
        if (
          state.limits !== null &&
          command.measured !== undefined &&
          state.measured[job.id] === undefined
        ) {
          events.push({
            type: 'run.job_cost_measured',
            data: { jobId: job.id, name: job.name, ...command.measured },
          });
        }
        events.push({
          type: 'run.job_settled',
          data: { jobId: job.id, name: job.name, outcome: command.outcome },
        });
        const after = events.reduce(runDecider.evolve, state);
        return [...events, ...conclusion(after)];
      }
      case 'budget_step':
        return budgetStep(command, state);
      case 'overspend':
        return overspend(command, state);
      case 'conclude':
        return state.phase === 'active' || state.phase === 'cancelling' ? conclusion(state) : [];
      case 'cancel':
        if (state.phase === 'none')
          throw new AcaiError(RunProblems.RUN_NOT_FOUND, 'No such run in this project');
        if (state.phase === 'cancelling') return [];
        if (state.phase !== 'active') {
          throw new AcaiError(
            RunProblems.RUN_ALREADY_ENDED,
            `The run has already ended (${state.phase}); there is nothing to cancel`,
          );
        }
        return [{ type: 'run.cancel_requested', data: { reason: command.reason } }];
      case 'complete_sweep': {
        const sweep = state.sweeps.find((s) => s.step === command.step);
        if (sweep === undefined || (state.phase !== 'active' && state.phase !== 'cancelling'))
          return [];
        // Completed already (a redelivery): the run's end is derived again, as for a settlement.
        if (command.step in state.sweepResults) return conclusion(state);
        const outcomes = sweep.trials.map((id) => state.outcomes[id]);
        if (outcomes.some((o) => o === undefined)) return [];
        const completed: NewEvent = {
          type: 'run.sweep_completed',
          data: {
            step: sweep.step,
            trials: sweep.trials.length,
            succeeded: outcomes.filter((o) => o === 'succeeded').length,
            earlyStopped: outcomes.filter((o) => o === 'early_stopped').length,
            best: command.best,
          },
        };
        return [completed, ...conclusion(runDecider.evolve(state, completed))];
      }
      default:
        return assertUnreachable(command, 'run command');
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'run.submitted':
        return {
          ...state,
          phase: 'active',
          name: event.data.name,
          jobs: event.data.jobs,
          // Runs recorded before origins existed were all users'.
          origin: event.data.origin ?? null,
          priority: event.data.priority ?? 0,
          maxParallel: event.data.maxParallel ?? null,
          sweeps: event.data.sweeps ?? [],
          limits: event.data.limits ?? null,
          reusePlan: Object.fromEntries((event.data.reusePlan ?? []).map((s) => [s.jobId, s])),
        };
      case 'run.reuse_plan_revised':
        return { ...state, revised: { ...state.revised, [event.data.jobId]: true } };
      case 'run.step_budgeted':
        return {
          ...state,
          shares: {
            ...state.shares,
            [event.data.jobId]: {
              share: event.data.share,
              predictedCost: event.data.predictedCost,
            },
          },
        };
      case 'run.job_cost_measured':
        return {
          ...state,
          spent: state.spent + event.data.cost,
          measured: { ...state.measured, [event.data.jobId]: true },
        };
      case 'run.budget_exhausted':
        return {
          ...state,
          phase: 'cancelling',
          cancelReason: event.data.reason,
          exhausted: event.data,
        };
      case 'run.sweep_completed':
        return {
          ...state,
          sweepResults: { ...state.sweepResults, [event.data.step]: event.data.best },
        };
      case 'run.job_settled':
        return {
          ...state,
          outcomes: { ...state.outcomes, [event.data.jobId]: event.data.outcome },
        };
      case 'run.cancel_requested':
        return { ...state, phase: 'cancelling', cancelReason: event.data.reason };
      case 'run.succeeded':
        return { ...state, phase: 'succeeded' };
      case 'run.failed':
        return { ...state, phase: 'failed' };
      case 'run.cancelled':
        return { ...state, phase: 'cancelled' };
      default:
        return state;
    }
  },
};

/**
 * Once every job is settled the run ends: cancelled (it was asked to be), succeeded (every job
 * succeeded), or failed (any job failed, was skipped, or was cancelled otherwise), in that order of
 * precedence. A step that continued on failure changes what ran, not how the run is judged. Only
 * for a run that has not ended (active or cancelling).
 */
function conclusion(state: RunState): NewEvent[] {
  if (state.jobs.some((j) => state.outcomes[j.id] === undefined)) return [];
  if (state.exhausted !== null) {
    return [{ type: 'run.failed', data: { reason: state.exhausted.reason, failedJobs: [] } }];
  }
  // A sweep's best trial is recorded before the run ends.
  if (state.sweeps.some((s) => !(s.step in state.sweepResults))) return [];
  if (state.phase === 'cancelling')
    return [
      { type: 'run.cancelled', data: { reason: state.cancelReason ?? 'cancelled on request' } },
    ];
  const failed = state.jobs.filter((j) => state.outcomes[j.id] === 'failed');
  // A sweep with an objective that no trial that succeeded reported has no result.
  const unresolved = state.sweeps.filter(
    (s) => s.objective !== null && state.sweepResults[s.step] === null,
  );
  if (unresolved.length === 0 && state.jobs.every((j) => OK.has(state.outcomes[j.id]))) {
    return [{ type: 'run.succeeded', data: {} }];
  }
  // The steps that failed are named, not those skipped or cancelled because of them.
  const skipped = state.jobs.some((j) => state.outcomes[j.id] === 'skipped');
  return [
    {
      type: 'run.failed',
      data: {
        reason:
          failed.length > 0
            ? `step(s) failed: ${failed.map((j) => j.name).join(', ')}`
            : unresolved.length > 0
              ? unresolved
                  .map(
                    (s) =>
                      `no trial of sweep '${s.step}' succeeded having reported its objective '${s.objective!.metric}'`,
                  )
                  .join('; ')
              : skipped
                ? 'steps were skipped'
                : 'steps were cancelled',
        failedJobs: failed.map((j) => j.id),
      },
    },
  ];
}

/**
 * Outcomes a run succeeds with: an early-stopped trial did what its sweep asked, a job its reuse
 * plan left out was not needed.
 */
const OK: ReadonlySet<JobOutcome | undefined> = new Set([
  'succeeded',
  'early_stopped',
  'not_needed',
]);

/** Outcomes that let a step that needs it run (a step left out: its readers take earlier results). */
const DONE: ReadonlySet<JobOutcome | undefined> = new Set(['succeeded', 'not_needed']);

/** The submission with its reuse plan, when the plan leaves a job out (the run follows it only then). */
function withReusePlan(
  data: EventData<'run.submitted'>,
  plan: readonly ReusePlannedStep[] | undefined,
): EventData<'run.submitted'> {
  const ids = new Set(data.jobs.map((j) => j.id));
  const steps = (plan ?? []).filter((s) => ids.has(s.jobId));
  if (!steps.some((s) => s.decision === 'not_needed')) return data;
  return { ...data, reusePlan: steps };
}

function revisePlan(
  command: Extract<RunCommand, { kind: 'revise_plan' }>,
  state: RunState,
): NewEvent[] {
  const by = state.jobs.find((j) => j.id === command.neededBy);
  if (by === undefined || state.phase !== 'active') return [];
  return state.jobs
    .filter((j) => command.jobIds.includes(j.id) && isLeftOut(state, j.id))
    .map((j) => ({
      type: 'run.reuse_plan_revised',
      data: {
        jobId: j.id,
        name: j.name,
        neededBy: { jobId: by.id, name: by.name },
        reason: command.reason,
      },
    }));
}

/**
 * Whether the run's reuse plan leaves job `jobId` out now: the plan said `not_needed`, no step
 * that reads it has needed it after all, and it has not ended otherwise.
 */
export function isLeftOut(state: RunState, jobId: string): boolean {
  return (
    state.reusePlan[jobId]?.decision === 'not_needed' &&
    state.revised[jobId] === undefined &&
    state.outcomes[jobId] === undefined
  );
}

/**
 * The version of `fileset` a step that reads step `step` takes while the plan leaves `step` out:
 * the one its earlier result committed, which the plan signed the reader with. Undefined when the
 * step is not left out (its own job commits what its readers take).
 */
export function plannedOutput(
  state: RunState,
  step: string,
  fileset: string,
): { version: number; from: string | null } | undefined {
  const job = state.jobs.find((j) => j.name === step);
  if (job === undefined || !isLeftOut(state, job.id)) return undefined;
  const planned = state.reusePlan[job.id]!;
  const output = planned.outputs.find((o) => o.fileset === fileset);
  return output === undefined ? undefined : { version: output.version, from: planned.from };
}

/** A job the plan left out whose readers have all ended: it ends `not_needed` (see {@link jobsToLeaveOut}). */
export interface JobToLeaveOut {
  readonly job: PlannedJob;
  /** A step that needs it (the first in the run's order). */
  readonly step: string;
  /** The earlier job whose result its readers were signed with (null: none recorded). */
  readonly from: string | null;
  readonly reason: string;
}

/**
 * Jobs the reuse plan leaves out that can end now: every job that needs one has ended (had one
 * computed after all, it would have revised the plan first and waited), so none will read it. A
 * job left out is ended after its readers, never before: until then a reader whose earlier result
 * turns out gone can still call for it.
 */
export function jobsToLeaveOut(state: RunState): JobToLeaveOut[] {
  if (state.phase !== 'active') return [];
  return state.jobs.flatMap((job): JobToLeaveOut[] => {
    if (!isLeftOut(state, job.id)) return [];
    const readers = state.jobs.filter((j) => j.needs.includes(job.name));
    if (readers.some((r) => state.outcomes[r.id] === undefined)) return [];
    const planned = state.reusePlan[job.id]!;
    return [
      {
        job,
        step: readers[0]?.name ?? job.name,
        from: planned.from,
        reason: `not needed: only steps that take earlier results read it (${readers.map((r) => `'${r.name}'`).join(', ')}), so it was neither run nor taken`,
      },
    ];
  });
}

/**
 * Sweeps whose trials have all ended but whose best trial is not recorded yet: the scheduler finds
 * it (from the trials' objectives) and completes them.
 */
export function sweepsToComplete(state: RunState): PlannedSweep[] {
  if (state.phase !== 'active' && state.phase !== 'cancelling') return [];
  return state.sweeps.filter(
    (s) =>
      !(s.step in state.sweepResults) && s.trials.every((id) => state.outcomes[id] !== undefined),
  );
}

/** An outcome that lets a dependant run without `continueOnFailure`. */
const STOPS_DEPENDANTS: ReadonlySet<JobOutcome | undefined> = new Set([
  'failed',
  'skipped',
  'cancelled',
]);

/** The steps whose outputs a job takes as inputs. */
function producers(job: PlannedJob): string[] {
  return job.inputs.flatMap((i) => ('fromStep' in i ? [i.fromStep] : []));
}

/**
 * Jobs the scheduler queues now: not settled, not left out by the reuse plan, and every job they
 * need succeeded (or is left out: they take earlier results), or, for a job that continues on
 * failure, ended (and every step whose output it takes succeeded or is left out).
 */
export function readyJobs(state: RunState): PlannedJob[] {
  if (state.phase !== 'active') return [];
  const outcome = outcomeByName(state);
  const leftOut = new Set(state.jobs.filter((j) => isLeftOut(state, j.id)).map((j) => j.name));
  // A step left out lets the steps that need it go: they take earlier results.
  const done = (n: string) => leftOut.has(n) || DONE.has(outcome(n));
  // A sweep runs its first maxParallel unsettled trials: the ones it queued before are among them.
  const held = new Set(
    state.sweeps.flatMap((s) =>
      s.maxParallel === null
        ? []
        : s.trials.filter((id) => state.outcomes[id] === undefined).slice(s.maxParallel),
    ),
  );
  return state.jobs.filter(
    (j) =>
      state.outcomes[j.id] === undefined &&
      !held.has(j.id) &&
      !leftOut.has(j.name) &&
      (j.continueOnFailure
        ? j.needs.every((n) => leftOut.has(n) || outcome(n) !== undefined) &&
          producers(j).every(done)
        : j.needs.every(done)),
  );
}

/** What the scheduler does with a job that will never run (see {@link jobsToStop}). */
export interface JobToStop {
  readonly job: PlannedJob;
  /** `cancel`: the run is being cancelled; `skip`: a step it needs did not succeed. */
  readonly action: 'cancel' | 'skip';
  /** For a skip: the step that did not succeed. */
  readonly step: string | null;
  readonly reason: string;
}

/**
 * Jobs that will never run: every unsettled job of a run being cancelled (cancelled), and a job
 * a step of which it needs failed, was skipped or was cancelled (skipped, naming that step), unless
 * it continues on failure; a job that continues on failure is still skipped when a step whose
 * output it takes did not succeed, since there is nothing to stage.
 */
export function jobsToStop(state: RunState): JobToStop[] {
  const unsettled = state.jobs.filter((j) => state.outcomes[j.id] === undefined);
  if (state.phase === 'cancelling') {
    return unsettled.map((job) => ({
      job,
      action: 'cancel',
      step: null,
      reason: state.exhausted === null ? 'the run was cancelled' : "the run's budget is exhausted",
    }));
  }
  if (state.phase !== 'active') return [];
  const outcome = outcomeByName(state);
  const stops: JobToStop[] = [];
  for (const job of unsettled) {
    const fromStep = producers(job).find((n) => STOPS_DEPENDANTS.has(outcome(n)));
    if (fromStep !== undefined) {
      const input = job.inputs.find((i) => 'fromStep' in i && i.fromStep === fromStep)!;
      stops.push({
        job,
        action: 'skip',
        step: fromStep,
        reason: `its input '${input.fileset}' is the output of step '${fromStep}', which ${describeStep(state, fromStep, outcome(fromStep))}`,
      });
      continue;
    }
    if (job.continueOnFailure) continue;
    const need = job.needs.find((n) => STOPS_DEPENDANTS.has(outcome(n)));
    if (need !== undefined) {
      stops.push({
        job,
        action: 'skip',
        step: need,
        reason: `step '${need}', which it needs, ${describeStep(state, need, outcome(need))}`,
      });
    }
  }
  return stops;
}

/**
 * The outcome of a step by name. A swept step's is known once its sweep completed: failed (or
 * cancelled, or skipped) if a trial was, failed if it has an objective and no best trial, else
 * succeeded (early-stopped trials included).
 */
function outcomeByName(state: RunState): (name: string) => JobOutcome | undefined {
  const byName = new Map(state.jobs.map((j) => [j.name, j.id]));
  const sweeps = new Map(state.sweeps.map((s) => [s.step, s]));
  return (name) => {
    const sweep = sweeps.get(name);
    if (sweep === undefined) return state.outcomes[byName.get(name) ?? ''];
    if (!(name in state.sweepResults)) return undefined;
    const outcomes = new Set(sweep.trials.map((id) => state.outcomes[id]));
    const bad = (['failed', 'cancelled', 'skipped'] as const).find((o) => outcomes.has(o));
    if (bad !== undefined) return bad;
    return sweep.objective !== null && state.sweepResults[name] === null ? 'failed' : 'succeeded';
  };
}

/** How a step ended, for a reason: a sweep that failed for want of a best trial says so. */
function describeStep(state: RunState, name: string, outcome: JobOutcome | undefined): string {
  const sweep = state.sweeps.find((s) => s.step === name);
  if (
    sweep !== undefined &&
    outcome === 'failed' &&
    !sweep.trials.some((id) => state.outcomes[id] === 'failed')
  ) {
    return `is a sweep with no best trial (no trial that succeeded reported its objective '${sweep.objective?.metric ?? ''}')`;
  }
  return describe(outcome);
}

function describe(outcome: JobOutcome | undefined): string {
  switch (outcome) {
    case 'failed':
      return 'failed';
    case 'skipped':
      return 'was skipped';
    case 'cancelled':
      return 'was cancelled';
    case 'not_needed':
      return 'was not needed';
    default:
      return 'did not succeed';
  }
}

/**
 * What is left of the run's deadline and budget at `now`: the deadline less now, and the budget
 * less what ended jobs cost (measured) and what the jobs budgeted and not ended yet are predicted
 * to cost (held back until they end and are measured).
 */
export function remainingLimits(state: RunState, now: Date): RemainingLimits {
  const reserved = Object.entries(state.shares)
    .filter(([jobId]) => state.outcomes[jobId] === undefined)
    .reduce((sum, [, step]) => sum + (step.predictedCost ?? 0), 0);
  const limits = state.limits;
  return {
    seconds:
      limits?.deadline == null
        ? null
        : (new Date(limits.deadline).getTime() - now.getTime()) / 1000,
    budget: limits?.budget == null ? null : limits.budget - state.spent - reserved,
    spent: state.spent,
    reserved,
  };
}

/** `run.budget_exhausted`: what was left of `budget` when `job` could not be paid for, and why. */
function budgetExhausted(
  job: PlannedJob,
  budget: number,
  left: RemainingLimits,
  cheapestCost: number,
  reason: string,
): NewEvent {
  return {
    type: 'run.budget_exhausted',
    data: {
      jobId: job.id,
      name: job.name,
      budget,
      spent: left.spent,
      reserved: left.reserved,
      remainingBudget: left.budget ?? 0,
      cheapestCost,
      reason,
    },
  };
}

function overspend(
  command: Extract<RunCommand, { kind: 'overspend' }>,
  state: RunState,
): NewEvent[] {
  const job = state.jobs.find((j) => j.id === command.jobId);
  const budget = state.limits?.budget ?? null;
  if (job === undefined || state.phase !== 'active' || budget === null) return [];
  if (state.outcomes[job.id] !== undefined) return [];
  const left = remainingLimits(state, command.now);
  const heldForIt = state.shares[job.id]?.predictedCost ?? 0;
  const available = (left.budget ?? 0) + heldForIt;
  if (command.predictedCost <= available) return [];
  return [
    budgetExhausted(
      job,
      budget,
      left,
      command.predictedCost,
      `budget exhausted: step '${job.name}' is predicted to cost ${dollars(command.predictedCost)} at the pace measured (${command.basis})${(command.spotReserve ?? 0) > 0 ? `, ${dollars(command.spotReserve ?? 0)} of it held back for one more Spot interruption, which the budget must still pay for when it comes` : ''}, more than the ${dollars(Math.max(0, available))} of the ${dollars(budget)} budget left for it, and no configuration costs less: raise the budget and run it again`,
    ),
  ];
}

/**
 * Jobs of the run not budgeted, not settled and not left out by its reuse plan (they cost
 * nothing): what a re-plan splits what is left over.
 */
export function unbudgetedJobs(state: RunState): PlannedJob[] {
  return state.jobs.filter(
    (j) =>
      state.shares[j.id] === undefined &&
      state.outcomes[j.id] === undefined &&
      !isLeftOut(state, j.id),
  );
}

/** What a step's least cost is: its cheapest configuration, or booting the one it must run on. */
function cheapestOf(step: StepPlan): string {
  if (step.configuration === null) return 'nothing predicts it';
  return step.predictedSeconds === null
    ? `booting ${step.configuration.name}; nothing predicts how long it runs`
    : 'on its cheapest configuration';
}

function budgetStep(
  command: Extract<RunCommand, { kind: 'budget_step' }>,
  state: RunState,
): NewEvent[] {
  const job = state.jobs.find((j) => j.id === command.jobId);
  if (job === undefined || state.phase !== 'active' || state.limits === null) return [];
  // Budgeted already (a redelivery): the share stands.
  if (state.shares[job.id] !== undefined) return [];
  const left = remainingLimits(state, command.now);
  const step = command.step;
  const budget = state.limits.budget;
  // Nothing left, or less than the step costs at its cheapest: it cannot be paid for.
  if (
    budget !== null &&
    left.budget !== null &&
    (left.budget <= 0 || left.budget < step.cheapestCost)
  ) {
    return [
      budgetExhausted(
        job,
        budget,
        left,
        step.cheapestCost,
        `budget exhausted: step '${job.name}' costs at least ${dollars(step.cheapestCost)} (${cheapestOf(step)}), but ${left.budget > 0 ? `only ${dollars(left.budget)} of the ${dollars(budget)} budget is left` : `nothing of the ${dollars(budget)} budget is left${left.budget < 0 ? ` (it is ${dollars(-left.budget)} over)` : ''}`}: ${dollars(left.spent)} spent${left.reserved > 0 ? `, ${dollars(left.reserved)} held for steps still running` : ''}; raise the budget and run it again`,
      ),
    ];
  }
  const planned: StepShare = step.share ?? {
    maxSeconds: null,
    maxCost: null,
    optimize: null,
    reason: `step '${job.name}': no share (${step.reason})`,
  };
  // The instant it should finish by, which its running attempts are measured against.
  const share: StepShare = {
    ...planned,
    finishBy:
      planned.maxSeconds !== null
        ? new Date(command.now.getTime() + planned.maxSeconds * 1000).toISOString()
        : state.limits.deadline,
  };
  return [
    {
      type: 'run.step_budgeted',
      data: {
        jobId: job.id,
        name: job.name,
        share,
        remainingSeconds: left.seconds,
        remainingBudget: left.budget,
        spent: left.spent,
        reserved: left.reserved,
        predictedSeconds: step.predictedSeconds,
        predictedCost: step.predictedCost,
        runPredictedFinish: command.plan.predictedFinish,
        runPredictedCost:
          command.plan.predictedCost === null
            ? null
            : left.spent + left.reserved + command.plan.predictedCost,
      },
    },
  ];
}
