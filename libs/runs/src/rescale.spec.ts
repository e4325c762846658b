import { describe, expect, it } from '@jest/globals';
import type { StepShare } from '@acai/contracts';
import { jobDecider, type JobState, type Pace } from './job.decider.js';
import { MAX_RESCALES, planAgain, rescaleCheck, secondsToPlaceAgain } from './rescale.js';

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);
const at = (seconds: number) => new Date(T0 + seconds * 1000);

/** A Spot configuration at the 1-CPU slot's price. */
const SPOT_OFFER = {
  provider: 'simulated',
  name: 'c5.large:spot',
  vCpu: 2,
  memoryMb: 4096,
  pricePerHour: 0.036,
} as const;

/** A running job, placed on a 1-CPU slot at $0.036/h, with `share` and the `pace` reported. */
function running(pace: Partial<Pace> | null, share: Partial<StepShare> | null): JobState {
  return {
    ...jobDecider.initialState(),
    status: 'running',
    attempt: 1,
    pricePerHour: 0.036,
    share:
      share === null
        ? null
        : {
            maxSeconds: 100,
            maxCost: null,
            optimize: null,
            reason: 'test',
            finishBy: at(100).toISOString(),
            ...share,
          },
    // Steps 1 to 3 at 10 s a step, from 10 s to 30 s: 5 steps in all.
    pace:
      pace === null
        ? null
        : {
            attempt: 1,
            firstStep: 1,
            firstAt: T0 + 10_000,
            lastStep: 3,
            lastAt: T0 + 30_000,
            totalSteps: 5,
            ...pace,
          },
  };
}

describe('rescaleCheck', () => {
  it('finds a job that finishes after its step’s deadline at the pace it goes', () => {
    // 2 steps left at 10 s each: it ends at 50 s, its share ends at 40 s.
    const check = rescaleCheck(running({}, { finishBy: at(40).toISOString() }), at(31));
    expect(check).toMatchObject({
      misses: 'deadline',
      step: 3,
      totalSteps: 5,
      stepsLeft: 2,
      stepsPerSecond: 0.1,
      predictedFinish: at(50).toISOString(),
      finishBy: at(40).toISOString(),
      // No checkpoint: all three steps would be done again.
      lostSteps: 3,
      checkpointStep: null,
      startupSeconds: 2,
    });
    // 30 s run so far plus 20 s to go, at $0.036/h.
    expect(check?.spent).toBeCloseTo(0.0003, 8);
    expect(check?.predictedCost).toBeCloseTo(0.0005, 8);
  });

  it('leaves a job on course alone, and one a little late within the tolerance', () => {
    expect(rescaleCheck(running({}, { finishBy: at(60).toISOString() }), at(31))).toBeNull();
    expect(rescaleCheck(running({}, { finishBy: at(49).toISOString() }), at(31))).toBeNull();
  });

  it('finds a job that spends more than its share of the budget', () => {
    const check = rescaleCheck(running({}, { finishBy: null, maxCost: 0.0004 }), at(31));
    expect(check?.misses).toBe('budget');
  });

  it('counts the steps since its checkpoint as lost after a move', () => {
    const state = {
      ...running({}, { finishBy: at(40).toISOString() }),
      checkpoint: { fileset: 'checkpoints-job-1', version: 2, step: 2 },
    };
    expect(rescaleCheck(state, at(31))).toMatchObject({ lostSteps: 1, checkpointStep: 2 });
  });

  it('cannot judge without two steps, a declared total, or limits', () => {
    const late = { finishBy: at(40).toISOString() };
    expect(rescaleCheck(running({ firstStep: 3, firstAt: T0 + 30_000 }, late), at(31))).toBeNull();
    expect(rescaleCheck(running({ totalSteps: null }, late), at(31))).toBeNull();
    expect(rescaleCheck(running(null, late), at(31))).toBeNull();
    expect(rescaleCheck(running({}, null), at(31))).toBeNull();
    expect(rescaleCheck(running({}, { finishBy: null }), at(31))).toBeNull();
  });

  it('does not move a job being moved, or moved as often as allowed', () => {
    const late = running({}, { finishBy: at(40).toISOString() });
    const pending = {
      ...late,
      rescale: {
        attempt: 1,
        to: { provider: 'local', name: 'x', vCpu: 2, memoryMb: 1024, pricePerHour: 1 },
        graceSeconds: 30,
        reason: 'test',
      },
    };
    expect(rescaleCheck(pending, at(31))).toBeNull();
    expect(rescaleCheck({ ...late, rescales: MAX_RESCALES }, at(31))).toBeNull();
    expect(rescaleCheck({ ...late, status: 'queued' }, at(31))).toBeNull();
  });

  it('holds a job on a faster clock (a simulated node’s) to its deadline measured in that clock', () => {
    // Given a step budgeted at T0 with an hour to finish, whose attempt started 0.1 s of real time
    // later on a node whose clock runs 3600 times as fast: 6 virtual minutes after budgeting
    const V0 = Date.UTC(2026, 11, 6, 0, 0, 0);
    const virtual = (seconds: number) => V0 + seconds * 1000;
    const onSim = (totalSteps: number): JobState => ({
      ...running(
        // Steps 1 to 3 at 5 virtual minutes a step, 5 to 15 minutes after the start
        { firstAt: virtual(300), lastAt: virtual(900), totalSteps },
        { maxSeconds: 3600, finishBy: at(3600).toISOString() },
      ),
      startedAt: new Date(V0).toISOString(),
      clock: { rate: 3600, realAt: at(0.1).toISOString() },
    });
    // When it is judged 0.25 s of real time after its start (15 virtual minutes)
    const now = at(0.35);

    // Then with 9 steps to go (45 min, to 60 min after the start) it misses the deadline, 54 min after
    // the start by its clock
    expect(rescaleCheck(onSim(12), now)).toMatchObject({
      misses: 'deadline',
      now: new Date(virtual(900)).toISOString(),
      predictedFinish: new Date(virtual(3600)).toISOString(),
      finishBy: new Date(virtual(3240)).toISOString(),
    });
    // and with 7 to go (to 50 min) it is on course
    expect(rescaleCheck(onSim(10), now)).toBeNull();
  });

  it('counts the bill so far from the attempt’s start and its placement’s wait, not its steps', () => {
    // Given a job that started at 0 s (its wait from placement to start, 60 s, already spent:
    // $0.0006 at $0.036/h) and reported steps 1 to 3 from 10 s to 30 s, judged at 31 s
    const state: JobState = {
      ...running({}, { finishBy: null, maxCost: 0.001 }),
      startedAt: at(0).toISOString(),
      spent: { seconds: 60, cost: 0.0006 },
    };
    const check = rescaleCheck(state, at(31));
    // Then 31 s of this attempt are billed on top (not the 30 s of its steps), and 19 s more to
    // its end at 50 s: $0.0011 in all, over its $0.001 budget
    expect(check?.spent).toBeCloseTo(0.0006 + 0.00031, 8);
    expect(check?.predictedCost).toBeCloseTo(0.0011, 8);
    expect(check?.misses).toBe('budget');
  });

  it('holds a budget as a bill not to pass: a prediction 1 % over it is a miss', () => {
    // $0.0005 predicted (50 s at $0.036/h) against $0.000495
    expect(rescaleCheck(running({}, { finishBy: null, maxCost: 0.000495 }), at(31))).toMatchObject({
      misses: 'budget',
    });
    expect(rescaleCheck(running({}, { finishBy: null, maxCost: 0.0005 }), at(31))).toBeNull();
  });

  it('on Spot, counts the next interruption’s cost before the deadline’s margin is gone', () => {
    // Given a job predicted to end at 50 s, its share ending at 60 s, 40 s after its placement
    // on Spot capacity until its start, 3 steps since its last checkpoint (30 s)
    const spot = (name: string): JobState => ({
      ...running({}, { finishBy: at(60).toISOString() }),
      offer: { provider: 'simulated', name, vCpu: 2, memoryMb: 4096, pricePerHour: 0.036 },
      placedToStartSeconds: 40,
    });
    // When it runs on Spot, an interruption now (40 s + 2 s + 30 s) would end it after 60 s: it
    // is planned again with that loss, which the provisioner weighs by the offer's rate
    expect(rescaleCheck(spot('c5.large:spot'), at(31))).toMatchObject({
      misses: 'deadline',
      spotLossSeconds: 72,
    });
    // and on-demand the same job is on course
    expect(rescaleCheck(spot('c5.large'), at(31))).toBeNull();
  });

  it('still judges the budget of a job moved as often as it may be, one more Spot loss held back', () => {
    // Given a job on Spot moved MAX_RESCALES times, predicted to cost $0.0005 (50 s at $0.036/h),
    // whose next interruption would cost 72 s more ($0.00072) against a budget of $0.001
    const moved = (maxCost: number): JobState => ({
      ...running({}, { finishBy: at(40).toISOString(), maxCost }),
      rescales: MAX_RESCALES,
      offer: SPOT_OFFER,
      placedToStartSeconds: 40,
    });
    // Then it is not moved for its deadline any more, but its budget, which cannot pay for that
    // loss, is judged, for its run to be stopped before the loss comes
    expect(rescaleCheck(moved(0.001), at(31))).toMatchObject({
      misses: 'budget',
      movable: false,
      spotLossSeconds: 72,
    });
    // and with a budget that pays for the loss too, nothing is asked
    expect(rescaleCheck(moved(0.0013), at(31))).toBeNull();
  });

  it('judges a new attempt by its first report, at the rate its previous attempt measured on the same configuration', () => {
    // Given a job on Spot interrupted after 10 s a step, resumed as attempt 2 on the same
    // configuration and reporting step 3 once, with a budget its next interruption would pass
    const offer = SPOT_OFFER;
    const resumed = (earlierOffer: string): JobState => ({
      ...running(
        {
          attempt: 2,
          firstStep: 3,
          firstAt: T0 + 30_000,
          lastStep: 3,
          lastAt: T0 + 30_000,
          offer: offer.name,
          earlier: { stepsPerSecond: 0.1, offer: earlierOffer },
        },
        { finishBy: null, maxCost: 0.001 },
      ),
      attempt: 2,
      offer,
      placedToStartSeconds: 40,
    });
    // Then its first report is judged at 0.1 steps/s, saying where that rate comes from
    const check = rescaleCheck(resumed(offer.name), at(31));
    expect(check).toMatchObject({ misses: 'budget', stepsPerSecond: 0.1, stepsLeft: 2 });
    expect(check?.basis).toContain('as its previous attempt measured');
    // and not by a rate measured elsewhere
    expect(rescaleCheck(resumed('c5.xlarge:spot'), at(31))).toBeNull();
  });

  /** A step's points as a job reports them: a metric and the declared total (5 steps). */
  const points = (step: number, seconds: number) => [
    { name: 'loss', value: 0.5, step, time: at(seconds).toISOString() },
    { name: 'steps_total', value: 5, step, time: at(seconds).toISOString() },
  ];

  /** Attempt 1 on c5.large:spot, having reported steps 1 and 3, 20 s apart. */
  const reportedOnSpot = (share: Partial<StepShare> | null): JobState =>
    jobDecider.evolve(
      {
        ...running(null, share),
        offer: SPOT_OFFER,
      },
      {
        type: 'job.metrics_reported',
        data: { attempt: 1, points: [...points(1, 10), ...points(3, 30)] },
      },
    );

  it('carries the previous attempt’s rate into the next attempt’s pace', () => {
    // Given attempt 1 reported steps 1 and 3, 20 s apart, on c5.large:spot
    // When attempt 2 reports its first step
    const state = jobDecider.evolve(
      { ...reportedOnSpot(null), attempt: 2 },
      { type: 'job.metrics_reported', data: { attempt: 2, points: points(3, 60) } },
    );
    // Then its pace starts there, with attempt 1's rate and where it was measured
    expect(state.pace).toMatchObject({
      attempt: 2,
      firstStep: 3,
      totalSteps: 5,
      earlier: { stepsPerSecond: 0.1, offer: 'c5.large:spot' },
    });
  });

  it('keeps that rate across the new attempt’s start (its node was lost, or it was moved)', () => {
    // Given attempt 1 reported steps 1 and 3, 20 s apart, on c5.large:spot
    let state = reportedOnSpot({ finishBy: at(70).toISOString() });
    // When its node is lost and attempt 2 starts on another node of the pool, then reports
    state = jobDecider.evolve(state, {
      type: 'job.started',
      data: { executor: 'node-2', attempt: 2, pid: null, at: at(50).toISOString() },
    });
    state = jobDecider.evolve(state, {
      type: 'job.metrics_reported',
      data: { attempt: 2, points: points(3, 60) },
    });
    // Then its first report is judged at attempt 1's rate (the start did not forget it)
    expect(state.pace).toMatchObject({
      attempt: 2,
      firstStep: 3,
      earlier: { stepsPerSecond: 0.1, offer: 'c5.large:spot' },
    });
    // (2 steps left at 10 s a step: it ends at 80 s, its share at 70 s)
    expect(rescaleCheck(state, at(61))?.basis).toContain('as its previous attempt measured');
  });

  it('never moves a job its step pinned to a configuration', () => {
    const late = running({}, { finishBy: at(40).toISOString() });
    expect(rescaleCheck({ ...late, pinned: true }, at(31))).toBeNull();
    expect(rescaleCheck({ ...late, pinned: false }, at(31))).not.toBeNull();
  });
});

describe('planAgain', () => {
  // Given a job judged late at 31 s (finishing at 50 s, its share at 40 s) and told to stay
  const late = running({}, { finishBy: at(40).toISOString() });
  const first = rescaleCheck(late, at(31))!;
  const stayed = {
    attempt: 1,
    now: first.now,
    predictedFinish: first.predictedFinish,
    predictedCost: first.predictedCost,
  };
  const judged = (pace: Partial<Pace>, now: number) =>
    rescaleCheck(running(pace, { finishBy: at(40).toISOString() }), at(now))!;

  it('asks again only once the prediction is worse than when the job was told to stay', () => {
    // When its next step keeps the pace (step 4 at 40 s: still ending at 50 s), it is not planned again
    expect(planAgain(stayed, 1, judged({ lastStep: 4, lastAt: T0 + 40_000 }, 41))).toBe(false);
    // when it slows down (step 4 at 45 s: ending at 56.7 s, later by more than 3 % of 19 s), it is
    expect(planAgain(stayed, 1, judged({ lastStep: 4, lastAt: T0 + 45_000 }, 46))).toBe(true);
  });

  it('asks for another attempt, and for a job never told to stay', () => {
    expect(planAgain(stayed, 2, first)).toBe(true);
    expect(planAgain(undefined, 1, first)).toBe(true);
  });
});

describe('secondsToPlaceAgain', () => {
  /** Lost at 60 s of a 100 s share (budgeted at 0 s), its checkpoint at `saved` of 5 steps. */
  const lost = (saved: number | null, totalSteps: number | null = 5): JobState => ({
    ...running({ totalSteps }, {}),
    status: 'queued',
    checkpoint: saved === null ? null : { fileset: 'ckpt', version: 1, step: saved },
  });

  it('gives the time the share has left, not the whole share', () => {
    // 40 s left and nothing saved: the whole job must fit in 40 s.
    expect(secondsToPlaceAgain(lost(null), at(60))).toBeCloseTo(40);
  });

  it('stretches it by the work the checkpoint saved', () => {
    // 40 s left for the 2 steps of 5 not saved: the whole job may take 100 s at that pace.
    expect(secondsToPlaceAgain(lost(3), at(60))).toBeCloseTo(100);
    // Without a declared total, nothing is known to be saved.
    expect(secondsToPlaceAgain(lost(3, null), at(60))).toBeCloseTo(40);
  });

  it('asks for at least a second once the deadline has passed, and nothing without one', () => {
    expect(secondsToPlaceAgain(lost(null), at(130))).toBe(1);
    expect(secondsToPlaceAgain({ ...lost(null), share: null }, at(60))).toBeUndefined();
  });

  it('counts on the job’s clock (a simulated node’s runs faster than real time)', () => {
    // Budgeted at T0 with an hour; its node's clock runs 3600 times as fast and read V0 at real
    // T0: 0.5 s of real time later, half of the hour is gone on that clock.
    const V0 = Date.UTC(2026, 11, 6, 0, 0, 0);
    const state: JobState = {
      ...lost(null),
      share: {
        maxSeconds: 3600,
        maxCost: null,
        optimize: null,
        reason: 'test',
        finishBy: at(3600).toISOString(),
      },
      startedAt: new Date(V0).toISOString(),
      clock: { rate: 3600, realAt: at(0).toISOString() },
    };
    expect(secondsToPlaceAgain(state, at(0.5))).toBeCloseTo(1800);
  });
});
