import { describe, it, expect } from '@jest/globals';
import {
  fold,
  RunProblems,
  type EventData,
  type JobOutcome,
  type NewEvent,
  type PlannedJob,
} from '@acai/contracts';
import { deciderSpec, plannedJob } from '@acai/testkit';
import {
  isLeftOut,
  jobsToLeaveOut,
  jobsToStop,
  plannedOutput,
  readyJobs,
  runDecider,
  sweepsToComplete,
  unbudgetedJobs,
  type RunCommand,
  type RunPhase,
  type RunState,
} from './run.decider.js';

const spec = deciderSpec(runDecider);

const job = (id: string, name: string, needs: string[] = []): PlannedJob =>
  plannedJob(id, name, needs);

// prepare -> train -> evaluate: each step needs the one before.
const prepare = job('job-p', 'prepare');
const train = job('job-t', 'train', ['prepare']);
const evaluate = job('job-e', 'evaluate', ['train']);

const planOf = (...jobs: PlannedJob[]): EventData<'run.submitted'> => ({
  name: 'nightly',
  jobs,
  submittedBy: 'key-1',
  origin: null,
});
const submittedWith = (...jobs: PlannedJob[]): NewEvent => ({
  type: 'run.submitted',
  data: planOf(...jobs),
});
const submitted = submittedWith(prepare, train, evaluate);
const settled = (j: PlannedJob, outcome: JobOutcome): NewEvent => ({
  type: 'run.job_settled',
  data: { jobId: j.id, name: j.name, outcome },
});
const settle = (j: PlannedJob, outcome: JobOutcome): RunCommand => ({
  kind: 'settle_job',
  jobId: j.id,
  outcome,
});
const cancelRequested: NewEvent = {
  type: 'run.cancel_requested',
  data: { reason: 'superseded' },
};
const runSucceeded: NewEvent = { type: 'run.succeeded', data: {} };
const runCancelled: NewEvent = { type: 'run.cancelled', data: { reason: 'superseded' } };

/** A history that leaves the run in each phase. */
const history: Record<RunPhase, NewEvent[]> = {
  none: [],
  active: [submitted],
  cancelling: [submitted, cancelRequested],
  succeeded: [
    submitted,
    settled(prepare, 'succeeded'),
    settled(train, 'succeeded'),
    settled(evaluate, 'succeeded'),
    runSucceeded,
  ],
  failed: [
    submitted,
    settled(prepare, 'failed'),
    settled(train, 'cancelled'),
    settled(evaluate, 'cancelled'),
    { type: 'run.failed', data: { reason: 'step(s) failed: prepare', failedJobs: ['job-p'] } },
  ],
  cancelled: [
    submitted,
    cancelRequested,
    settled(prepare, 'cancelled'),
    settled(train, 'cancelled'),
    settled(evaluate, 'cancelled'),
    runCancelled,
  ],
};
const PHASES = Object.keys(history) as RunPhase[];
const FINISHED = ['succeeded', 'failed', 'cancelled'] as const;

const state = (events: NewEvent[]): RunState => fold(runDecider, events);
const names = (jobs: PlannedJob[]) => jobs.map((j) => j.name);

describe('runDecider', () => {
  it('has a history for each phase', () => {
    for (const phase of PHASES) expect(spec.given(history[phase]).state.phase).toBe(phase);
  });

  describe('submit', () => {
    const submit: RunCommand = { kind: 'submit', data: planOf(prepare, train, evaluate) };

    it('accepts a new run', () => {
      spec.given([]).when(submit).then([submitted]);
    });

    it.each(PHASES.filter((p) => p !== 'none'))('refuses a run that exists (%s)', (phase) => {
      spec.given(history[phase]).when(submit).thenThrows(RunProblems.RUN_EXISTS);
    });

    it('remembers the name and the planned jobs', () => {
      expect(state([submitted])).toEqual({
        phase: 'active',
        name: 'nightly',
        jobs: [prepare, train, evaluate],
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
      });
    });

    it('remembers the run’s priority and maxParallel, for its jobs’ dispatch', () => {
      const ranked: NewEvent = {
        type: 'run.submitted',
        data: { ...planOf(prepare, train, evaluate), priority: 5, maxParallel: 2 },
      };
      expect(state([ranked])).toMatchObject({ priority: 5, maxParallel: 2 });
    });
  });

  describe('cancel', () => {
    const cancel: RunCommand = { kind: 'cancel', reason: 'superseded' };

    it('asks to cancel an active run', () => {
      spec.given(history.active).when(cancel).then([cancelRequested]);
    });

    it('does nothing for a run already being cancelled', () => {
      spec.given(history.cancelling).when(cancel).then([]);
    });

    it('is NOT_FOUND for an unknown run', () => {
      spec.given([]).when(cancel).thenThrows(RunProblems.RUN_NOT_FOUND);
    });

    it.each(FINISHED)('is refused as RUN_ALREADY_ENDED for a finished run (%s)', (phase) => {
      spec.given(history[phase]).when(cancel).thenThrows(RunProblems.RUN_ALREADY_ENDED);
      expect(() => runDecider.decide(cancel, state(history[phase]))).toThrow(
        `The run has already ended (${phase}); there is nothing to cancel`,
      );
    });
  });

  describe('settle_job', () => {
    it('records the outcome of a job of an active run', () => {
      spec
        .given(history.active)
        .when(settle(prepare, 'succeeded'))
        .then([settled(prepare, 'succeeded')]);
    });

    it('records the outcome of a job of a run being cancelled', () => {
      spec
        .given(history.cancelling)
        .when(settle(prepare, 'succeeded'))
        .then([settled(prepare, 'succeeded')]);
    });

    it.each(['none', ...FINISHED] as const)('ignores a job when the run is %s', (phase) => {
      spec.given(history[phase]).when(settle(prepare, 'succeeded')).then([]);
    });

    it('settles a job once: a redelivered or later outcome is ignored', () => {
      const once = [submitted, settled(prepare, 'succeeded')];

      spec.given(once).when(settle(prepare, 'succeeded')).then([]);
      spec.given(once).when(settle(prepare, 'failed')).then([]);
    });

    it('ignores a job that is not part of the run', () => {
      spec
        .given(history.active)
        .when({ kind: 'settle_job', jobId: 'job-other', outcome: 'failed' })
        .then([]);
    });
  });

  describe('conclusion, once every job is settled', () => {
    it('succeeds when every job succeeded', () => {
      spec
        .given([submitted, settled(prepare, 'succeeded'), settled(train, 'succeeded')])
        .when(settle(evaluate, 'succeeded'))
        .then([settled(evaluate, 'succeeded'), runSucceeded]);
    });

    it('fails naming the step that failed', () => {
      spec
        .given([submitted, settled(prepare, 'succeeded'), settled(train, 'succeeded')])
        .when(settle(evaluate, 'failed'))
        .then([
          settled(evaluate, 'failed'),
          {
            type: 'run.failed',
            data: { reason: 'step(s) failed: evaluate', failedJobs: ['job-e'] },
          },
        ]);
    });

    it('names the failed step, not the steps cancelled because of it', () => {
      spec
        .given([submitted, settled(prepare, 'succeeded'), settled(train, 'failed')])
        .when(settle(evaluate, 'cancelled'))
        .then([
          settled(evaluate, 'cancelled'),
          { type: 'run.failed', data: { reason: 'step(s) failed: train', failedJobs: ['job-t'] } },
        ]);
    });

    it('names every failed step, in plan order', () => {
      const a = job('job-a', 'a');
      const b = job('job-b', 'b');
      const c = job('job-c', 'c');

      spec
        .given([submittedWith(a, b, c), settled(c, 'failed'), settled(b, 'succeeded')])
        .when(settle(a, 'failed'))
        .then([
          settled(a, 'failed'),
          {
            type: 'run.failed',
            data: { reason: 'step(s) failed: a, c', failedJobs: ['job-a', 'job-c'] },
          },
        ]);
    });

    it('fails when a job was cancelled although none failed', () => {
      spec
        .given([submitted, settled(prepare, 'succeeded'), settled(train, 'succeeded')])
        .when(settle(evaluate, 'cancelled'))
        .then([
          settled(evaluate, 'cancelled'),
          { type: 'run.failed', data: { reason: 'steps were cancelled', failedJobs: [] } },
        ]);
    });

    it('is cancelled when it was being cancelled, whatever the jobs did', () => {
      spec
        .given([
          submitted,
          cancelRequested,
          settled(prepare, 'succeeded'),
          settled(train, 'failed'),
        ])
        .when(settle(evaluate, 'cancelled'))
        .then([settled(evaluate, 'cancelled'), runCancelled]);
    });

    it('does not conclude while a job is unsettled', () => {
      spec
        .given([submitted, settled(prepare, 'failed')])
        .when(settle(train, 'cancelled'))
        .then([settled(train, 'cancelled')]);
    });
  });

  describe('a run whose last settlement was stored without its end (the process died between)', () => {
    const allSettled = [
      submitted,
      settled(prepare, 'succeeded'),
      settled(train, 'succeeded'),
      settled(evaluate, 'succeeded'),
    ];

    it('ends when a job’s end is delivered again, with nothing settled twice', () => {
      spec.given(allSettled).when(settle(evaluate, 'succeeded')).then([runSucceeded]);
      spec.given(allSettled).when(settle(evaluate, 'failed')).then([runSucceeded]);
    });

    it('ends when asked to conclude (its last settlement delivered)', () => {
      spec.given(allSettled).when({ kind: 'conclude' }).then([runSucceeded]);
    });

    it('ends cancelled when a cancel came in between', () => {
      spec
        .given([...allSettled, cancelRequested])
        .when(settle(prepare, 'succeeded'))
        .then([runCancelled]);
    });

    it('ends failed, naming the step, when a step failed', () => {
      spec
        .given([submitted, settled(prepare, 'failed'), settled(train, 'cancelled')])
        .when(settle(evaluate, 'cancelled'))
        .then([
          settled(evaluate, 'cancelled'),
          {
            type: 'run.failed',
            data: { reason: 'step(s) failed: prepare', failedJobs: ['job-p'] },
          },
        ]);
      spec
        .given([
          submitted,
          settled(prepare, 'failed'),
          settled(train, 'cancelled'),
          settled(evaluate, 'cancelled'),
        ])
        .when({ kind: 'conclude' })
        .then([
          {
            type: 'run.failed',
            data: { reason: 'step(s) failed: prepare', failedJobs: ['job-p'] },
          },
        ]);
    });

    it.each(PHASES)('is not concluded again, nor early, when %s', (phase) => {
      const unfinished = phase === 'active' || phase === 'cancelling';
      // Active and cancelling runs here still have jobs to settle; the others have ended.
      if (unfinished) expect(spec.given(history[phase]).state.jobs.length).toBeGreaterThan(0);
      spec.given(history[phase]).when({ kind: 'conclude' }).then([]);
      spec
        .given(history[phase])
        .when(settle(prepare, 'succeeded'))
        .then(unfinished ? [settled(prepare, 'succeeded')] : []);
    });
  });

  describe('readyJobs', () => {
    it('starts with the jobs that need nothing', () => {
      expect(names(readyJobs(state([submitted])))).toEqual(['prepare']);
    });

    it('releases a job once everything it needs succeeded', () => {
      const a = job('job-a', 'a');
      const b = job('job-b', 'b', ['a']);
      const c = job('job-c', 'c', ['a']);
      const d = job('job-d', 'd', ['b', 'c']);
      const run = [submittedWith(a, b, c, d), settled(a, 'succeeded')];

      expect(names(readyJobs(state(run)))).toEqual(['b', 'c']);
      expect(names(readyJobs(state([...run, settled(b, 'succeeded')])))).toEqual(['c']);
      expect(
        names(readyJobs(state([...run, settled(b, 'succeeded'), settled(c, 'succeeded')]))),
      ).toEqual(['d']);
    });

    it('holds back a job whose need failed', () => {
      expect(readyJobs(state([submitted, settled(prepare, 'failed')]))).toEqual([]);
    });

    it.each(['none', 'cancelling', ...FINISHED] as const)('releases nothing when %s', (phase) => {
      expect(readyJobs(state(history[phase]))).toEqual([]);
    });
  });

  describe('jobsToStop', () => {
    const stops = (run: RunState) =>
      jobsToStop(run).map((s) => [s.job.name, s.action, s.step, s.reason]);

    it('stops nothing while nothing went wrong', () => {
      expect(jobsToStop(state([submitted, settled(prepare, 'succeeded')]))).toEqual([]);
    });

    it('skips the jobs that directly need a failed or skipped job, naming it, one level at a time', () => {
      expect(stops(state([submitted, settled(prepare, 'failed')]))).toEqual([
        ['train', 'skip', 'prepare', "step 'prepare', which it needs, failed"],
      ]);
      expect(
        stops(state([submitted, settled(prepare, 'failed'), settled(train, 'skipped')])),
      ).toEqual([['evaluate', 'skip', 'train', "step 'train', which it needs, was skipped"]]);
    });

    it('skips a job whose need was cancelled (runs recorded before skipping existed)', () => {
      expect(
        stops(state([submitted, settled(prepare, 'failed'), settled(train, 'cancelled')])),
      ).toEqual([['evaluate', 'skip', 'train', "step 'train', which it needs, was cancelled"]]);
    });

    it('leaves a job that does not depend on the failure alone', () => {
      const other = job('job-x', 'other');
      const run = state([submittedWith(prepare, train, other), settled(prepare, 'failed')]);

      expect(jobsToStop(run).map((s) => s.job.name)).toEqual(['train']);
      expect(names(readyJobs(run))).toEqual(['other']);
    });

    it('skips the whole chain after a failure when the scheduler settles round by round', () => {
      let events = [submitted, settled(prepare, 'failed')];
      const rounds: string[][] = [];
      for (let stopped = jobsToStop(state(events)); stopped.length > 0;) {
        rounds.push(stopped.map((s) => s.job.name));
        for (const s of stopped) {
          events = [...events, ...runDecider.decide(settle(s.job, 'skipped'), state(events))];
        }
        stopped = jobsToStop(state(events));
      }

      expect(rounds).toEqual([['train'], ['evaluate']]);
      expect(events.at(-1)).toEqual({
        type: 'run.failed',
        data: { reason: 'step(s) failed: prepare', failedJobs: ['job-p'] },
      });
      expect(state(events).phase).toBe('failed');
    });

    it('cancels every unsettled job of a run being cancelled', () => {
      expect(jobsToStop(state(history.cancelling)).map((s) => [s.job.name, s.action])).toEqual([
        ['prepare', 'cancel'],
        ['train', 'cancel'],
        ['evaluate', 'cancel'],
      ]);
      expect(
        jobsToStop(state([...history.cancelling, settled(prepare, 'succeeded')])).map(
          (s) => s.job.name,
        ),
      ).toEqual(['train', 'evaluate']);
    });

    it.each(['none', ...FINISHED] as const)('stops nothing when %s', (phase) => {
      expect(jobsToStop(state(history[phase]))).toEqual([]);
    });
  });

  describe('continueOnFailure', () => {
    const report = { ...job('job-r', 'report', ['prepare']), continueOnFailure: true };

    it('runs a job that continues on failure once its needs ended, whatever their outcome', () => {
      const run = [submittedWith(prepare, report)];
      expect(names(readyJobs(state(run)))).toEqual(['prepare']);
      for (const outcome of ['failed', 'skipped', 'succeeded'] as const) {
        const after = state([...run, settled(prepare, outcome)]);
        expect(names(readyJobs(after))).toEqual(['report']);
        expect(jobsToStop(after)).toEqual([]);
      }
    });

    it('still skips it when the step whose output it takes did not succeed: there is nothing to stage', () => {
      const consumer: PlannedJob = {
        ...job('job-c', 'consume', ['prepare']),
        continueOnFailure: true,
        inputs: [{ fileset: 'data', fromStep: 'prepare', path: 'inputs/data' }],
      };
      const after = state([submittedWith(prepare, consumer), settled(prepare, 'failed')]);
      expect(readyJobs(after)).toEqual([]);
      expect(jobsToStop(after).map((s) => [s.job.name, s.action, s.step, s.reason])).toEqual([
        [
          'consume',
          'skip',
          'prepare',
          "its input 'data' is the output of step 'prepare', which failed",
        ],
      ]);
    });

    it('fails the run when a step failed even though the one after it ran and succeeded', () => {
      spec
        .given([submittedWith(prepare, report), settled(prepare, 'failed')])
        .when(settle(report, 'succeeded'))
        .then([
          settled(report, 'succeeded'),
          {
            type: 'run.failed',
            data: { reason: 'step(s) failed: prepare', failedJobs: ['job-p'] },
          },
        ]);
    });
  });

  describe('a sweep', () => {
    const objective = { metric: 'loss', mode: 'min' } as const;
    const trial = (n: number): PlannedJob => ({
      ...job(`job-t${n}`, `train#${n}`),
      env: { LR: String(n) },
      trial: { step: 'train', index: n, params: { LR: String(n) }, objective },
    });
    const trials = [1, 2, 3, 4].map(trial);
    const [t1, t2, t3, t4] = trials as [PlannedJob, PlannedJob, PlannedJob, PlannedJob];
    const report = {
      ...job('job-r', 'report', ['train']),
      inputs: [{ fileset: 'model', fromStep: 'train', path: 'inputs/model' }],
    };
    const best = { jobId: 'job-t2', name: 'train#2', params: { LR: '2' }, value: 0.1 };
    const sweepSubmitted: NewEvent = {
      type: 'run.submitted',
      data: {
        ...planOf(...trials, report),
        sweeps: [
          {
            step: 'train',
            trials: trials.map((t) => t.id),
            maxParallel: 2,
            objective,
            earlyStopping: { rule: 'median', minSteps: 1, minTrials: 2 },
          },
        ],
      },
    };
    const allEnded = [
      sweepSubmitted,
      settled(t1, 'succeeded'),
      settled(t2, 'succeeded'),
      settled(t3, 'early_stopped'),
      settled(t4, 'early_stopped'),
    ];
    const completed = (b: typeof best | null): NewEvent => ({
      type: 'run.sweep_completed',
      data: { step: 'train', trials: 4, succeeded: 2, earlyStopped: 2, best: b },
    });

    it('runs maxParallel trials at once, the next as one ends', () => {
      expect(names(readyJobs(state([sweepSubmitted])))).toEqual(['train#1', 'train#2']);
      expect(names(readyJobs(state([sweepSubmitted, settled(t2, 'early_stopped')])))).toEqual([
        'train#1',
        'train#3',
      ]);
    });

    it('holds the steps that need it until every trial ended and the best is recorded', () => {
      expect(names(readyJobs(state(allEnded)))).toEqual([]);
      expect(sweepsToComplete(state(allEnded)).map((s) => s.step)).toEqual(['train']);
      expect(sweepsToComplete(state(allEnded.slice(0, -1)))).toEqual([]);
      expect(names(readyJobs(state([...allEnded, completed(best)])))).toEqual(['report']);
      expect(sweepsToComplete(state([...allEnded, completed(best)]))).toEqual([]);
    });

    it('does not end the run on its last trial: completing the sweep does', () => {
      spec
        .given(allEnded.slice(0, -1))
        .when(settle(t4, 'early_stopped'))
        .then([settled(t4, 'early_stopped')]);
    });

    it('records the best trial once every trial ended, and only then', () => {
      const complete: RunCommand = { kind: 'complete_sweep', step: 'train', best };
      spec.given(allEnded.slice(0, -1)).when(complete).then([]);
      spec
        .given(allEnded)
        .when(complete)
        .then([completed(best)]);
      // A redelivery records nothing more.
      spec
        .given([...allEnded, completed(best)])
        .when(complete)
        .then([]);
    });

    it('succeeds with early-stopped trials: they did what the sweep asked', () => {
      spec
        .given([...allEnded, completed(best)])
        .when(settle(report, 'succeeded'))
        .then([settled(report, 'succeeded'), runSucceeded]);
    });

    it('fails the run, and skips what takes its output, when no trial that succeeded reported the objective', () => {
      const noBest = state([...allEnded, completed(null)]);
      expect(readyJobs(noBest)).toEqual([]);
      expect(jobsToStop(noBest)).toEqual([
        expect.objectContaining({
          action: 'skip',
          step: 'train',
          reason:
            "its input 'model' is the output of step 'train', which is a sweep with no best trial (no trial that succeeded reported its objective 'loss')",
        }),
      ]);
      spec
        .given([...allEnded, completed(null)])
        .when(settle(report, 'skipped'))
        .then([
          settled(report, 'skipped'),
          {
            type: 'run.failed',
            data: {
              reason: "no trial of sweep 'train' succeeded having reported its objective 'loss'",
              failedJobs: [],
            },
          },
        ]);
    });

    it('fails the run when a trial failed, naming it', () => {
      const failed = [
        sweepSubmitted,
        settled(t1, 'failed'),
        settled(t2, 'succeeded'),
        settled(t3, 'succeeded'),
        settled(t4, 'succeeded'),
        completed(best),
      ];
      expect(jobsToStop(state(failed))).toEqual([
        expect.objectContaining({ action: 'skip', step: 'train', job: report }),
      ]);
      spec
        .given(failed)
        .when(settle(report, 'skipped'))
        .then([
          settled(report, 'skipped'),
          {
            type: 'run.failed',
            data: { reason: 'step(s) failed: train#1', failedJobs: ['job-t1'] },
          },
        ]);
    });

    it('is completed while the run is cancelled, and then the run ends cancelled', () => {
      const cancelling = [
        sweepSubmitted,
        cancelRequested,
        ...trials.map((t) => settled(t, 'cancelled')),
        settled(report, 'cancelled'),
      ];
      spec
        .given(cancelling)
        .when({ kind: 'complete_sweep', step: 'train', best: null })
        .then([
          {
            type: 'run.sweep_completed',
            data: { step: 'train', trials: 4, succeeded: 0, earlyStopped: 0, best: null },
          },
          runCancelled,
        ]);
    });
  });

  describe('the reuse plan made at submit', () => {
    // prepare -> train -> evaluate run again: evaluate's earlier result is taken, so prepare and
    // train, which only it (through train) reads, are neither run nor taken.
    const planned = (
      j: PlannedJob,
      decision: 'reuse' | 'compute' | 'not_needed' | 'when_ready',
      outputs: { fileset: string; version: number }[] = [],
    ) => ({
      jobId: j.id,
      name: j.name,
      decision,
      reason: `${j.name}: ${decision}`,
      from: `earlier-${j.name}`,
      outputs,
    });
    const plan = [
      planned(prepare, 'not_needed', [{ fileset: 'data', version: 3 }]),
      planned(train, 'not_needed', [{ fileset: 'model', version: 7 }]),
      planned(evaluate, 'reuse', [{ fileset: 'report', version: 2 }]),
    ];
    // The submission with its plan: the run follows what it recorded, not a new lookup.
    const reusePlanned: NewEvent = {
      type: 'run.submitted',
      data: { ...planOf(prepare, train, evaluate), reusePlan: plan },
    };
    const revised = (j: PlannedJob, by: PlannedJob): NewEvent => ({
      type: 'run.reuse_plan_revised',
      data: {
        jobId: j.id,
        name: j.name,
        neededBy: { jobId: by.id, name: by.name },
        reason: 'its earlier result was evicted',
      },
    });

    it('is recorded with the submission when it leaves a step out', () => {
      spec
        .given([])
        .when({ kind: 'submit', data: planOf(prepare, train, evaluate), reusePlan: plan })
        .then([reusePlanned]);
    });

    it('is not recorded when it leaves nothing out: the run decides each step when it is ready', () => {
      spec
        .given([])
        .when({
          kind: 'submit',
          data: planOf(prepare, train, evaluate),
          reusePlan: [
            planned(prepare, 'reuse'),
            planned(train, 'reuse'),
            planned(evaluate, 'reuse'),
          ],
        })
        .then([submitted]);
    });

    it('never queues a step it leaves out, and lets the steps that need it go at once', () => {
      const run = state([reusePlanned]);
      expect(names(readyJobs(run))).toEqual(['evaluate']);
      expect(isLeftOut(run, train.id)).toBe(true);
      expect(isLeftOut(run, evaluate.id)).toBe(false);
    });

    it('gives the steps that read a step left out the versions of its earlier result', () => {
      const run = state([reusePlanned]);
      expect(plannedOutput(run, 'train', 'model')).toEqual({ version: 7, from: 'earlier-train' });
      expect(plannedOutput(run, 'train', 'other')).toBeUndefined();
      // A step not left out commits what its readers take.
      expect(plannedOutput(run, 'evaluate', 'report')).toBeUndefined();
    });

    it('ends a step left out only once every step that needs it has ended, last first', () => {
      const leaveOut = (events: NewEvent[]) =>
        jobsToLeaveOut(state(events)).map((l) => [l.job.name, l.step, l.from, l.reason]);
      expect(leaveOut([reusePlanned])).toEqual([]);
      const reused = [reusePlanned, settled(evaluate, 'succeeded')];
      expect(leaveOut(reused)).toEqual([
        [
          'train',
          'evaluate',
          'earlier-train',
          "not needed: only steps that take earlier results read it ('evaluate'), so it was neither run nor taken",
        ],
      ]);
      expect(leaveOut([...reused, settled(train, 'not_needed')])).toEqual([
        [
          'prepare',
          'train',
          'earlier-prepare',
          "not needed: only steps that take earlier results read it ('train'), so it was neither run nor taken",
        ],
      ]);
    });

    it('leaves a step left out out of what is left of a budget to split: it costs nothing', () => {
      expect(names(unbudgetedJobs(state([reusePlanned])))).toEqual(['evaluate']);
    });

    it('counts a step left out as success for the run', () => {
      spec
        .given([reusePlanned, settled(evaluate, 'succeeded'), settled(train, 'not_needed')])
        .when(settle(prepare, 'not_needed'))
        .then([settled(prepare, 'not_needed'), runSucceeded]);
    });

    it('calls a step left out back when a step that reads it must compute after all', () => {
      const given = [reusePlanned];
      spec
        .given(given)
        .when({
          kind: 'revise_plan',
          jobIds: [train.id],
          neededBy: evaluate.id,
          reason: 'its earlier result was evicted',
        })
        .then([revised(train, evaluate)]);
      const run = state([...given, revised(train, evaluate)]);
      // train runs (or takes its own earlier result) first, reading prepare's from the plan;
      // evaluate waits for it; prepare is still left out.
      expect(names(readyJobs(run))).toEqual(['train']);
      expect(plannedOutput(run, 'train', 'model')).toBeUndefined();
      expect(plannedOutput(run, 'prepare', 'data')).toEqual({
        version: 3,
        from: 'earlier-prepare',
      });
      expect(jobsToLeaveOut(run)).toEqual([]);
      // Once called back, again is nothing.
      spec
        .given([...given, revised(train, evaluate)])
        .when({ kind: 'revise_plan', jobIds: [train.id], neededBy: evaluate.id, reason: 'again' })
        .then([]);
    });
  });
});
