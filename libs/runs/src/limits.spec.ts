import { describe, expect, it } from '@jest/globals';
import {
  fold,
  isProblem,
  RunProblems,
  type AcaiError,
  type NewEvent,
  type PlannedJob,
  type RunLimits,
  type RunPlanView,
  type StepPlan,
} from '@acai/contracts';
import { deciderSpec, plannedJob } from '@acai/testkit';
import { admitRun, limitedProvision } from './limits.js';
import {
  jobsToStop,
  readyJobs,
  remainingLimits,
  runDecider,
  unbudgetedJobs,
  type RunCommand,
} from './run.decider.js';

const spec = deciderSpec(runDecider);
const NOW = new Date('2026-12-04T12:00:00.000Z');

const job = (id: string, name: string, needs: string[] = []): PlannedJob =>
  plannedJob(id, name, needs, { command: ['train'], provision: { sizeParameters: ['EPOCHS'] } });
const etl = job('job-e', 'etl');
const train = job('job-t', 'train', ['etl']);

const limits: RunLimits = {
  deadline: '2026-12-04T13:00:00.000Z',
  deadlineSpec: '1h',
  budget: 0.1,
  predictedFinish: '2026-12-04T12:30:00.000Z',
  predictedCost: 0.06,
  cheapestCost: 0.02,
};
const submitted: NewEvent = {
  type: 'run.submitted',
  data: { name: 'nightly', jobs: [etl, train], submittedBy: 'key-1', origin: null, limits },
};

/** The planner's answer for a step: its share, what it costs at least, and within its share. */
const stepPlan = (name: string, over: Partial<StepPlan> = {}): StepPlan => ({
  name,
  needs: [],
  basis: 'model',
  configuration: {
    provider: 'simulated',
    name: 'c5.large',
    vCpu: 2,
    memoryMb: 4096,
    pricePerHour: 0.085,
  },
  predictedSeconds: 600,
  predictedCost: 0.03,
  start: NOW.toISOString(),
  finish: '2026-12-04T12:10:00.000Z',
  critical: true,
  share: { maxSeconds: 1800, maxCost: 0.05, optimize: null, reason: `step '${name}': …` },
  cheapestCost: 0.01,
  fastestSeconds: 300,
  success: true,
  reason: 'c5.large: the cheapest',
  ...over,
});

const budgetStep = (j: PlannedJob, over: Partial<StepPlan> = {}): RunCommand => ({
  kind: 'budget_step',
  jobId: j.id,
  now: NOW,
  step: stepPlan(j.name, over),
  plan: { predictedFinish: '2026-12-04T12:40:00.000Z', predictedCost: 0.06 },
});

const budgeted = (j: PlannedJob, reserved = 0, spent = 0): NewEvent => ({
  type: 'run.step_budgeted',
  data: {
    jobId: j.id,
    name: j.name,
    // Budgeted at NOW: it should finish 1,800 s later.
    share: { ...stepPlan(j.name).share!, finishBy: '2026-12-04T12:30:00.000Z' },
    remainingSeconds: 3600,
    remainingBudget: 0.1 - spent - reserved,
    spent,
    reserved,
    predictedSeconds: 600,
    predictedCost: 0.03,
    runPredictedFinish: '2026-12-04T12:40:00.000Z',
    runPredictedCost: spent + reserved + 0.06,
  },
});
const measured = (j: PlannedJob, cost: number): NewEvent => ({
  type: 'run.job_cost_measured',
  data: { jobId: j.id, name: j.name, seconds: 600, cost },
});
const settled = (j: PlannedJob, outcome: 'succeeded' | 'cancelled'): NewEvent => ({
  type: 'run.job_settled',
  data: { jobId: j.id, name: j.name, outcome },
});

describe('a run with a deadline and budget', () => {
  it('given a ready step, when budgeted, then its share is recorded with what it was split from', () => {
    spec
      .given([submitted])
      .when(budgetStep(etl))
      .then([budgeted(etl)]);
  });

  it('given a step budgeted already (a redelivery), when budgeted again, then nothing changes', () => {
    spec
      .given([submitted, budgeted(etl)])
      .when(budgetStep(etl))
      .then([]);
  });

  it('given a running step, when the next is budgeted, then its predicted cost is held back', () => {
    const other = job('job-o', 'other');
    const run: NewEvent = {
      type: 'run.submitted',
      data: { name: 'nightly', jobs: [etl, other], submittedBy: 'key-1', origin: null, limits },
    };
    const [event] = spec
      .given([run, budgeted(etl)])
      .when(budgetStep(other))
      .then([budgeted(other, 0.03)]);
    expect(event).toBeDefined();
  });

  it('given a step that ended, when settled with its measured cost, then the cost is counted once', () => {
    const settle: RunCommand = {
      kind: 'settle_job',
      jobId: etl.id,
      outcome: 'succeeded',
      measured: { seconds: 600, cost: 0.04 },
    };
    spec
      .given([submitted, budgeted(etl)])
      .when(settle)
      .then([measured(etl, 0.04), settled(etl, 'succeeded')]);
    const state = fold(runDecider, [
      submitted,
      budgeted(etl),
      measured(etl, 0.04),
      settled(etl, 'succeeded'),
    ]);
    // What is left: the budget less what it cost, nothing held back any more.
    expect(remainingLimits(state, NOW)).toEqual({
      seconds: 3600,
      budget: expect.closeTo(0.06, 10),
      spent: 0.04,
      reserved: 0,
    });
    expect(unbudgetedJobs(state).map((j) => j.name)).toEqual(['train']);
  });

  describe('a running step that overspends', () => {
    const overspend = (predictedCost: number): RunCommand => ({
      kind: 'overspend',
      jobId: etl.id,
      now: NOW,
      predictedCost,
      basis: 'step 3 of 10: 2 step(s) in 20.0 s (0.1 steps/s)',
    });

    it('given what is left covers it, when it is predicted over its share, then the run goes on', () => {
      // $0.10 budget, nothing spent, $0.03 held for it: all of it is its to spend.
      spec
        .given([submitted, budgeted(etl)])
        .when(overspend(0.1))
        .then([]);
    });

    it('given it costs more than the whole budget left for it, then the budget is exhausted', () => {
      const [event] = runDecider.decide(
        overspend(0.12),
        fold(runDecider, [submitted, budgeted(etl)]),
      );
      expect(event).toMatchObject({
        type: 'run.budget_exhausted',
        data: { jobId: etl.id, name: 'etl', budget: 0.1, cheapestCost: 0.12, reserved: 0.03 },
      });
      const reason = (event!.data as { reason: string }).reason;
      expect(reason).toContain("step 'etl' is predicted to cost $0.12 at the pace measured");
      expect(reason).toContain('raise the budget');
      // The run stops: what is not settled is cancelled.
      const state = fold(runDecider, [submitted, budgeted(etl), event!]);
      expect(state.phase).toBe('cancelling');
    });
  });

  it('given a run without limits, when a job is settled, then no cost is recorded', () => {
    const plain: NewEvent = {
      type: 'run.submitted',
      data: { name: 'plain', jobs: [etl], submittedBy: null, origin: null },
    };
    spec
      .given([plain])
      .when({
        kind: 'settle_job',
        jobId: etl.id,
        outcome: 'succeeded',
        measured: { seconds: 1, cost: 1 },
      })
      .then([settled(etl, 'succeeded'), { type: 'run.succeeded', data: {} }]);
  });

  it('given a budget spent past what the next step costs at its cheapest, when it is budgeted, then the budget is exhausted with the measurements', () => {
    const spent = [submitted, budgeted(etl), measured(etl, 0.095), settled(etl, 'succeeded')];
    expect(runDecider.decide(budgetStep(train), fold(runDecider, spent))).toEqual([
      {
        type: 'run.budget_exhausted',
        data: {
          jobId: train.id,
          name: 'train',
          budget: 0.1,
          spent: 0.095,
          reserved: 0,
          remainingBudget: expect.closeTo(0.005, 10),
          cheapestCost: 0.01,
          reason:
            "budget exhausted: step 'train' costs at least $0.01 (on its cheapest configuration), but only $0.005 of the $0.1 budget is left: $0.095 spent; raise the budget and run it again",
        },
      },
    ]);
  });

  it('given a budget spent to the cent, when a step that costs nothing predicted is budgeted, then the budget is exhausted all the same', () => {
    const spent = [submitted, budgeted(etl), measured(etl, 0.1), settled(etl, 'succeeded')];
    const events = runDecider.decide(
      budgetStep(train, { cheapestCost: 0, predictedCost: null, predictedSeconds: null }),
      fold(runDecider, spent),
    );
    expect(events.map((e) => e.type)).toEqual(['run.budget_exhausted']);
  });

  it('given an exhausted budget, then the steps left are cancelled, nothing is queued, and the run fails with the reason', () => {
    const spent = [submitted, budgeted(etl), measured(etl, 0.095), settled(etl, 'succeeded')];
    const history = [...spent, ...runDecider.decide(budgetStep(train), fold(runDecider, spent))];
    expect(history.at(-1)!.type).toBe('run.budget_exhausted');
    const state = fold(runDecider, history);
    expect(readyJobs(state)).toEqual([]);
    expect(jobsToStop(state).map((s) => [s.job.name, s.action, s.reason])).toEqual([
      ['train', 'cancel', "the run's budget is exhausted"],
    ]);
    const reason = (history.at(-1)!.data as { reason: string }).reason;
    spec
      .given(history)
      .when({ kind: 'settle_job', jobId: train.id, outcome: 'cancelled' })
      .then([
        settled(train, 'cancelled'),
        { type: 'run.failed', data: { reason, failedJobs: [] } },
      ]);
  });

  it('given a run being cancelled, when a step is budgeted, then nothing is recorded', () => {
    spec
      .given([submitted, { type: 'run.cancel_requested', data: { reason: 'no' } }])
      .when(budgetStep(etl))
      .then([]);
  });
});

const plan = (over: Partial<RunPlanView> = {}): RunPlanView => ({
  now: NOW.toISOString(),
  steps: [stepPlan('etl'), stepPlan('train', { cheapestCost: 0.012 })],
  criticalPath: ['etl', 'train'],
  complete: true,
  predictedFinish: '2026-12-04T12:20:00.000Z',
  predictedSeconds: 1200,
  predictedCost: 0.06,
  cheapestCost: 0.022,
  deadline: null,
  budget: null,
  alternatives: [],
  summary: '',
  ...over,
});

function refusal(run: () => unknown): AcaiError {
  try {
    run();
  } catch (error) {
    return error as AcaiError;
  }
  throw new Error('not refused');
}

describe('admitRun', () => {
  it('given a deadline and budget the plan fits, when submitted, then they are accepted with the prediction', () => {
    const deadline = new Date(NOW.getTime() + 3600_000);
    expect(admitRun({ deadlineSpec: '1h', deadline, budget: 0.1, now: NOW, plan: plan() })).toEqual(
      {
        deadline: deadline.toISOString(),
        deadlineSpec: '1h',
        budget: 0.1,
        predictedFinish: '2026-12-04T12:20:00.000Z',
        predictedCost: 0.06,
        cheapestCost: 0.022,
      },
    );
  });

  it('given a deadline already past, when submitted, then it is refused (422) with when and the estimate', () => {
    const deadline = new Date(NOW.getTime() - 90_000);
    const error = refusal(() =>
      admitRun({
        deadlineSpec: deadline.toISOString(),
        deadline,
        budget: null,
        now: NOW,
        plan: plan(),
      }),
    );
    expect(isProblem(error, RunProblems.RUN_DEADLINE_PASSED)).toBe(true);
    expect(error.code).toBe('UNPROCESSABLE');
    expect(error.message).toContain('passed 90 s before it was submitted');
    expect(error.message).toContain('predicted to take 1200 s');
    expect(error.details).toEqual([
      { path: 'deadline', message: `${deadline.toISOString()} is in the past` },
    ]);
    expect(error.extensions).toMatchObject({
      deadline: deadline.toISOString(),
      predictedSeconds: 1200,
    });
  });

  it('given a budget below the cheapest plan, when submitted, then it is refused with the cheapest cost and each step’s', () => {
    const error = refusal(() =>
      admitRun({ deadlineSpec: null, deadline: null, budget: 0.02, now: NOW, plan: plan() }),
    );
    expect(isProblem(error, RunProblems.RUN_BUDGET_BELOW_CHEAPEST_PLAN)).toBe(true);
    expect(error.message).toContain('its budget, $0.02, is below the least it could cost, $0.022');
    expect(error.message).toContain('raise the budget to at least $0.022');
    expect(error.extensions).toEqual({
      budget: 0.02,
      cheapestCost: 0.022,
      predictedCost: 0.06,
      predictedFinish: '2026-12-04T12:20:00.000Z',
    });
    expect(error.details?.map((d) => d.message)).toEqual([
      'below the cheapest plan, $0.022',
      "step 'etl' costs at least $0.01 (at its cheapest configuration)",
      "step 'train' costs at least $0.012 (at its cheapest configuration)",
    ]);
  });

  it('given a budget between the cheapest and the predicted plan, when submitted, then it is accepted (the steps are placed cheaper)', () => {
    expect(
      admitRun({ deadlineSpec: null, deadline: null, budget: 0.03, now: NOW, plan: plan() }).budget,
    ).toBe(0.03);
  });
});

describe('limitedProvision', () => {
  const share = { maxSeconds: 300, maxCost: 0.05, optimize: null, reason: '' };

  it('narrows the step’s own limits by its share, never loosening them', () => {
    expect(limitedProvision({ maxSeconds: 100, sizeParameters: ['N'] }, share)).toEqual({
      sizeParameters: ['N'],
      maxSeconds: 100,
      maxCost: 0.05,
    });
  });

  it('asks for the fastest once the deadline has passed', () => {
    expect(
      limitedProvision({ optimize: 'cost' }, { ...share, maxSeconds: null, optimize: 'time' }),
    ).toEqual({ maxCost: 0.05, optimize: 'time' });
  });

  it('leaves a pinned step and a step without provision as they are', () => {
    expect(limitedProvision({ offer: 'c5.large' }, share)).toEqual({ offer: 'c5.large' });
    expect(limitedProvision(null, share)).toBeNull();
  });
});
