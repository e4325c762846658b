import { describe, expect, it } from '@jest/globals';
import { AcaiError, ErrorCode, ProvisioningProblems } from '@acai/contracts';
import { ec2Offers, localOffers, type Offer } from './offers.js';
import {
  planProvisioning,
  predictorFrom,
  type Plan,
  type PlanRequest,
  type Predictor,
} from './plan.js';
import { fitRuntimeModel, memoryFloorMb } from './runtime-model.js';

function errorOf(run: () => unknown): AcaiError {
  try {
    run();
  } catch (error) {
    if (error instanceof AcaiError) return error;
    throw error;
  }
  throw new Error('accepted, expected a refusal');
}

const offer = (
  name: string,
  vCpu: number,
  pricePerHour: number,
  more: Partial<Offer> = {},
): Offer => ({
  provider: 'ec2',
  name,
  vCpu,
  memoryMb: 1024 * vCpu,
  pricePerHour,
  speed: 1,
  bootSeconds: 0,
  spot: false,
  interruptionsPerHour: 0,
  ...more,
});

/**
 * Four sizes of a job that scales perfectly, 1200 CPU-seconds, no boot time:
 *   a: 1 vCPU  1200 s  $0.0120
 *   b: 2 vCPU   600 s  $0.0133
 *   c: 4 vCPU   300 s  $0.0167
 *   d: 8 vCPU   150 s  $0.0200
 */
const offers = [offer('a', 1, 0.036), offer('b', 2, 0.08), offer('c', 4, 0.2), offer('d', 8, 0.48)];
const predict: Predictor = (o) => ({ seconds: 1200 / o.vCpu });
const plan = (request: Partial<PlanRequest> = {}): Plan =>
  planProvisioning({ offers, predict, ...request });
const chosen = (p: Plan): string | undefined => p.choice?.offer.name;

describe('planProvisioning: which rule applies', () => {
  it('with a deadline only, takes the cheapest configuration that finishes in time', () => {
    const p = plan({ maxSeconds: 700 });

    expect(p).toMatchObject({ success: true, rule: 'cheapest-within-deadline' });
    expect(chosen(p)).toBe('b');
    expect(p.reason).toBe(
      'b: cheapest of the 3 configurations (of 4) that finish within 11.7 min (predicted 10 min, $0.0133); the fastest, d (2.5 min), would cost 1.5× as much',
    );
  });

  it('with a budget only, takes the fastest configuration within it', () => {
    const p = plan({ maxCost: 0.017 });

    expect(p).toMatchObject({ success: true, rule: 'fastest-within-budget' });
    expect(chosen(p)).toBe('c');
    expect(p.reason).toBe(
      'c: fastest of the 3 configurations (of 4) that cost at most $0.017 (predicted 5 min, $0.0167); the cheapest, a ($0.012), would take 4× as long',
    );
  });

  it('with both, takes the cheapest meeting both, or the fastest when optimising time', () => {
    const cheapest = plan({ maxSeconds: 700, maxCost: 0.017 });
    const fastest = plan({ maxSeconds: 700, maxCost: 0.017, optimize: 'time' });

    expect(cheapest).toMatchObject({ success: true, rule: 'cheapest-within-limits' });
    expect(chosen(cheapest)).toBe('b');
    expect(cheapest.reason).toContain('that finish within 11.7 min and cost at most $0.017');
    expect(fastest).toMatchObject({ success: true, rule: 'fastest-within-limits' });
    expect(chosen(fastest)).toBe('c');
  });

  it('honours an explicit optimize with a single limit', () => {
    expect(plan({ maxSeconds: 700, optimize: 'time' })).toMatchObject({
      rule: 'fastest-within-deadline',
      choice: { offer: { name: 'd' } },
    });
    expect(plan({ maxCost: 0.017, optimize: 'cost' })).toMatchObject({
      rule: 'cheapest-within-budget',
      choice: { offer: { name: 'a' } },
    });
  });

  it('with no limits, minimises time × cost, or what optimize says', () => {
    const balanced = plan();

    expect(balanced.rule).toBe('best-time-cost-tradeoff');
    expect(chosen(balanced)).toBe('d');
    expect(balanced.reason).toBe(
      'd: best time × cost of 4 configurations (predicted 2.5 min, $0.02); the cheapest, a, takes 20 min for $0.012',
    );
    expect(plan({ optimize: 'cost' })).toMatchObject({
      rule: 'cheapest',
      choice: { offer: { name: 'a' } },
    });
    expect(plan({ optimize: 'time' })).toMatchObject({
      rule: 'fastest',
      choice: { offer: { name: 'd' } },
    });
  });

  it('picks a middle size when time × cost says so', () => {
    // Scaling stops at 2 vCPUs: more only costs more.
    const p = plan({ predict: (o) => ({ seconds: 1200 / Math.min(o.vCpu, 2) }) });

    expect(chosen(p)).toBe('b');
    // b is also the fastest (c and d are as fast and dearer): only the cheapest is worth naming.
    expect(p.reason).toBe(
      'b: best time × cost of 4 configurations (predicted 10 min, $0.0133); the cheapest, a, takes 20 min for $0.012',
    );
  });
});

describe('planProvisioning: the reason', () => {
  it('quotes the prediction error when it is given', () => {
    expect(plan({ maxSeconds: 700, predictionError: 0.08 }).reason).toContain(
      '(predicted 10 min ± 8%, $0.0133)',
    );
    expect(plan({ maxSeconds: 100, predictionError: 0.25 }).reason).toBe(
      'No configuration finishes within 100 s: the fastest, d, is predicted to take 2.5 min (50% over the deadline) and cost $0.02 (predictions ± 25%)',
    );
  });

  it('says "about the same" rather than "1× as much"', () => {
    const p = planProvisioning({
      offers: [offer('slow', 1, 0.1), offer('quick', 2, 0.2001)],
      predict,
      maxSeconds: 2000,
    });

    expect(p.reason).toBe(
      'slow: cheapest of 2 configurations, all of which finish within 33.3 min (predicted 20 min, $0.0333); the fastest, quick (10 min), would cost about the same',
    );
  });
});

describe('planProvisioning: the alternatives', () => {
  it('lists every offer, feasible first, each with its predicted time and cost and why not', () => {
    const p = plan({ maxSeconds: 700 });

    expect(p.alternatives.map((c) => [c.offer.name, c.feasible])).toEqual([
      ['b', true],
      ['c', true],
      ['d', true],
      ['a', false],
    ]);
    const a = p.alternatives[3];
    expect(a?.predictedSeconds).toBe(1200);
    expect(a?.predictedCost).toBeCloseTo(0.012, 12);
    expect(a?.whyNot).toBe('predicted 20 min exceeds the deadline of 11.7 min');
    expect(a?.pool).toBe('ec2-a');
  });

  it('explains a missed budget in dollars', () => {
    expect(plan({ maxCost: 0.015 }).alternatives.find((c) => c.offer.name === 'd')?.whyNot).toBe(
      'predicted cost $0.02 exceeds the budget of $0.015',
    );
  });

  it('adds digits rather than print a miss as equal to the limit', () => {
    const p = plan({ maxSeconds: 299 });

    expect(p.alternatives.find((c) => c.offer.name === 'c')?.whyNot).toBe(
      'predicted 5 min exceeds the deadline of 4.98 min',
    );
  });

  it('counts the boot time and pays for it', () => {
    const p = planProvisioning({
      offers: [offer('slow-boot', 2, 0.36, { bootSeconds: 60 })],
      predict,
    });

    expect(p.choice?.predictedSeconds).toBe(660);
    expect(p.choice?.predictedCost).toBeCloseTo((0.36 * 660) / 3600, 12);
  });

  it('holds a deadline against the measured wait from queued to started on its provider', () => {
    // b takes 600 s; with a deadline of 610 s it is the cheapest that meets it
    expect(chosen(plan({ maxSeconds: 610 }))).toBe('b');
    // When jobs on ec2 were measured to wait 20 s to start beyond their boot, b misses by then,
    // and c is the cheapest that meets it; the wait is counted where it was measured only
    const waited = plan({ maxSeconds: 610, startWaitSeconds: { ec2: 20 } });
    expect(chosen(waited)).toBe('c');
    expect(waited.alternatives.find((c) => c.offer.name === 'b')?.whyNot).toContain(
      '20 s of measured wait to start',
    );
    expect(chosen(plan({ maxSeconds: 610, startWaitSeconds: { simulated: 20 } }))).toBe('b');
  });

  it('holds a deadline against the prediction plus its typical error', () => {
    // b is predicted to take 600 s: with a deadline of 640 s it is the cheapest that meets it
    expect(chosen(plan({ maxSeconds: 640 }))).toBe('b');
    // Its predictions are typically 8 % off (648 s): b finishes in time about half the time
    // only, so c (300 s, 324 s with the error) is the cheapest that meets it
    const erring = plan({ maxSeconds: 640, predictionError: 0.08 });
    expect(chosen(erring)).toBe('c');
    expect(erring.alternatives.find((c) => c.offer.name === 'b')?.whyNot).toBe(
      "predicted 10.8 min with the predictions' typical error, ± 8% exceeds the deadline of 10.7 min",
    );
    // An error small enough to fit keeps the cheaper one
    expect(chosen(plan({ maxSeconds: 640, predictionError: 0.05 }))).toBe('b');
  });

  it('adds the time Spot interruptions are expected to lose: a boot and the work since the last checkpoint', () => {
    // Given a Spot offer reclaimed 0.5 times an hour, and a job that checkpoints every fifth of its work
    const spot = offer('s', 1, 0.01, { spot: true, interruptionsPerHour: 0.5, bootSeconds: 60 });

    // When it is planned for an hour of running
    const p = planProvisioning({
      offers: [spot],
      predict: () => ({ seconds: 3600 }),
      checkpointFraction: 0.2,
    });

    // Then 0.5 interruptions are expected, each a 60 s boot and on average 360 s of work again
    expect(p.choice?.predictedSeconds).toBe(60 + 3600 + 0.5 * (60 + 360));
    // and a deadline is held against 2 of them (Poisson(0.5): P(N <= 1) = 0.91, P(N <= 2) = 0.99)
    expect(p.choice?.marginSeconds).toBe(60 + 3600 + 2 * (60 + 360));
  });

  it('without a known checkpoint, takes an interruption to lose half the work on average', () => {
    const spot = offer('s', 1, 0.01, { spot: true, interruptionsPerHour: 0.5, bootSeconds: 60 });

    const p = planProvisioning({ offers: [spot], predict: () => ({ seconds: 3600 }) });

    expect(p.choice?.predictedSeconds).toBe(60 + 3600 + 0.5 * (60 + 1800));
  });

  it('falls back to on-demand when Spot meets the deadline only if it is not interrupted more than on average', () => {
    // Given the same type on Spot (a third of the price) and on-demand, and a deadline of 4000 s
    const spot = offer('c', 1, 0.01, { spot: true, interruptionsPerHour: 0.5, bootSeconds: 60 });
    const onDemand = offer('c', 1, 0.03, { bootSeconds: 60 });

    // When a job of an hour that checkpoints every fifth of its work is planned
    const p = planProvisioning({
      offers: [spot, onDemand],
      predict: () => ({ seconds: 3600 }),
      maxSeconds: 4000,
      checkpointFraction: 0.2,
    });

    // Then Spot, 3870 s on average but 4500 s with the 2 interruptions 95 % of runs stay within,
    // is not taken: on-demand (3660 s) is, and the alternatives say why
    expect(p.choice?.offer.spot).toBe(false);
    expect(p.alternatives.find((c) => c.offer.spot)?.whyNot).toBe(
      'predicted 75 min with 2 Spot interruptions (95 % of runs have no more) exceeds the deadline of 66.7 min',
    );
  });

  it('rescales a prediction made on other hardware by the speed of each offer', () => {
    const burstable = offer('t3.small', 2, 0.0208, { speed: 0.2 });
    const p = planProvisioning({
      offers: [burstable, offer('c5.large', 2, 0.085)],
      predict: () => ({ seconds: 600, speed: 1 }),
    });

    const t3 = p.alternatives.find((c) => c.offer.name === 't3.small');
    expect(t3?.predictedSeconds).toBe(3000);
    expect(p.alternatives.find((c) => c.offer.name === 'c5.large')?.predictedSeconds).toBe(600);
  });

  it('takes a prediction without a speed as already being for that offer', () => {
    const p = planProvisioning({
      offers: [offer('t3.small', 2, 0.0208, { speed: 0.2 })],
      predict: () => ({ seconds: 600 }),
    });

    expect(p.choice?.predictedSeconds).toBe(600);
  });
});

describe('planProvisioning: when the limits cannot be met', () => {
  it('for a missed deadline, fails and offers the fastest, saying by how much it misses', () => {
    const p = plan({ maxSeconds: 100 });

    expect(p).toMatchObject({ success: false, rule: 'cheapest-within-deadline' });
    expect(chosen(p)).toBe('d');
    expect(p.choice?.feasible).toBe(false);
    expect(p.reason).toBe(
      'No configuration finishes within 100 s: the fastest, d, is predicted to take 2.5 min (50% over the deadline) and cost $0.02',
    );
  });

  it('for a missed budget, fails and offers the cheapest', () => {
    const p = plan({ maxCost: 0.005 });

    expect(p.success).toBe(false);
    expect(chosen(p)).toBe('a');
    expect(p.reason).toBe(
      'No configuration costs at most $0.005: the cheapest, a, is predicted to cost $0.012 (2.4× the budget) and take 20 min',
    );
  });

  it('for both, offers the one that needs the smallest relaxation and says what the others miss', () => {
    // a: late 4.8×; b: late 2.4×; c: late 1.2×, over budget 1.28×; d: in time, over budget 1.54×.
    const p = plan({ maxSeconds: 250, maxCost: 0.013 });

    expect(p.success).toBe(false);
    expect(chosen(p)).toBe('c');
    expect(p.reason).toBe(
      'No configuration finishes within 4.2 min and costs at most $0.013: the closest, c, is predicted to take 5 min (20% over the deadline) and cost $0.0167 (28% over the budget); 1 finishes in time but costs more, 1 fits the budget but finishes late',
    );
    expect(p.alternatives.map((c) => c.offer.name)).toEqual(['c', 'd', 'b', 'a']);
  });
});

describe('planProvisioning: configurations that cannot run the job', () => {
  const sized = [
    offer('small', 1, 0.01, { memoryMb: 512 }),
    offer('medium', 2, 0.02, { memoryMb: 1024 }),
    offer('large', 4, 0.05, { memoryMb: 4096 }),
  ];

  it('rules out memory below the floor the job ran out of, and says so', () => {
    const floor = memoryFloorMb([
      { memoryMb: 512, outcome: 'out_of_memory' },
      { memoryMb: 1024, outcome: 'succeeded' },
    ]);
    const p = planProvisioning({ offers: sized, predict, memoryFloor: floor, optimize: 'cost' });

    expect(chosen(p)).toBe('medium');
    const small = p.alternatives.find((c) => c.offer.name === 'small');
    expect(small).toMatchObject({ feasible: false, predictedSeconds: null, predictedCost: null });
    expect(small?.whyNot).toBe(
      'needs at least 1024 MiB (ran out of memory with 512 MiB), has 512 MiB',
    );
    expect(p.alternatives.at(-1)?.offer.name).toBe('small');
  });

  it('rules out memory below what the job asks for, and too few CPUs or GPUs', () => {
    expect(
      planProvisioning({ offers: sized, predict, minMemoryMb: 2048 }).alternatives.find(
        (c) => c.offer.name === 'medium',
      )?.whyNot,
    ).toBe('needs at least 2048 MiB (asked for by the job), has 1024 MiB');
    expect(
      planProvisioning({ offers: sized, predict, minCpu: 4, optimize: 'cost' }).choice?.offer.name,
    ).toBe('large');
    const gpu = planProvisioning({ offers: ec2Offers(), predict, minGpus: 1 });
    expect(gpu.choice?.offer.name).toBe('g4dn.xlarge');
    expect(gpu.alternatives.find((c) => c.offer.name === 'c5.large')?.whyNot).toBe(
      'has 0 GPUs, the job needs 1',
    );
  });

  it('rules out configurations it has no prediction for', () => {
    const p = planProvisioning({
      offers: sized,
      predict: (o) => (o.name === 'large' ? undefined : { seconds: 100 }),
    });

    expect(p.alternatives.find((c) => c.offer.name === 'large')?.whyNot).toBe(
      'no runtime prediction for this configuration',
    );
    expect(chosen(p)).toBe('small');
  });

  it('rules out a prediction that is not a number instead of choosing it', () => {
    const p = planProvisioning({
      offers: sized,
      predict: (o) => ({ seconds: o.name === 'small' ? Number.NaN : 100 }),
      optimize: 'cost',
    });

    expect(chosen(p)).toBe('medium');
    expect(p.alternatives.find((c) => c.offer.name === 'small')?.whyNot).toContain(
      'is not a usable number',
    );
  });

  it('chooses nothing when nothing can run, and counts why', () => {
    const p = planProvisioning({
      offers: sized,
      predict: (o) => (o.name === 'large' ? undefined : { seconds: 100 }),
      minMemoryMb: 2048,
    });

    expect(p).toMatchObject({ success: false, choice: null });
    expect(p.alternatives).toHaveLength(3);
    expect(p.reason).toBe(
      'No configuration can run this job: 2 have less than 2048 MiB (asked for by the job), 1 has no runtime prediction (profile the job first)',
    );
  });

  it('chooses nothing from no offers', () => {
    expect(planProvisioning({ offers: [], predict })).toMatchObject({
      success: false,
      choice: null,
      alternatives: [],
      reason: 'No configurations were offered',
    });
  });
});

describe('planProvisioning: determinism', () => {
  it('breaks ties by name, whatever the order of the offers', () => {
    const twins = [offer('zeta', 2, 0.1), offer('alpha', 2, 0.1), offer('mid', 2, 0.1)];
    const forward = planProvisioning({ offers: twins, predict, maxSeconds: 1000 });
    const backward = planProvisioning({ offers: [...twins].reverse(), predict, maxSeconds: 1000 });

    expect(chosen(forward)).toBe('alpha');
    expect(backward).toEqual(forward);
    expect(forward.alternatives.map((c) => c.offer.name)).toEqual(['alpha', 'mid', 'zeta']);
  });

  it('tells apart an on-demand and a Spot offer of one type', () => {
    const p = planProvisioning({
      offers: [offer('c5.large', 2, 0.085, { spot: true }), offer('c5.large', 2, 0.085)],
      predict,
    });

    expect(p.alternatives.map((c) => c.pool)).toEqual(['ec2-c5-large', 'ec2-c5-large-spot']);
  });

  it('ranks a thousand offers in full', () => {
    const many = Array.from({ length: 1000 }, (_, i) =>
      offer(`o${String(i).padStart(4, '0')}`, 1 + (i % 16), 0.01 + ((i * 7919) % 1000) / 10000),
    );
    const p = planProvisioning({ offers: many, predict, maxSeconds: 200 });

    expect(p.alternatives).toHaveLength(1000);
    const feasible = p.alternatives.filter((c) => c.feasible);
    expect(feasible.length).toBeGreaterThan(0);
    expect(p.alternatives.slice(0, feasible.length).every((c) => c.feasible)).toBe(true);
    const costs = feasible.map((c) => c.predictedCost ?? Number.NaN);
    expect(costs).toEqual([...costs].sort((x, y) => x - y));
    expect(p.choice).toBe(feasible[0]);
  });
});

describe('planProvisioning: validation', () => {
  it('refuses a deadline or a budget that is not positive', () => {
    expect(errorOf(() => plan({ maxSeconds: 0 })).details).toEqual([
      { path: 'maxSeconds', message: 'must be a positive number' },
    ]);
    expect(errorOf(() => plan({ predictionError: -0.1 })).details).toEqual([
      { path: 'predictionError', message: 'must be zero or more' },
    ]);
    const budget = errorOf(() => plan({ maxCost: Number.NaN }));
    expect(budget.reason).toBe(ProvisioningProblems.VALUE_OUT_OF_RANGE.reason);
    expect(budget.code).toBe(ErrorCode.ValidationFailed);
    expect(budget.message).toBe('The budget must be a positive number, got NaN');
  });
});

describe('predictorFrom', () => {
  const model = fitRuntimeModel(
    [1, 2, 4].flatMap((cpu) =>
      [1, 4].map((EPOCHS) => ({ features: { cpu, EPOCHS }, seconds: 100 * cpu ** -0.9 * EPOCHS })),
    ),
  );

  it('predicts each offer from its vCPUs and the job parameters, at the profiling speed', () => {
    const predictor = predictorFrom(model, { EPOCHS: 10 });
    const [c5, t3] = [
      offer('c5.xlarge', 4, 0.17),
      offer('t3.xlarge', 4, 0.1664, { speed: 0.4 }),
    ].map((o) => predictor(o));

    expect(c5?.seconds).toBeCloseTo(1000 * 4 ** -0.9, 3);
    expect(c5?.speed).toBe(1);
    expect(t3?.seconds).toBeCloseTo(1000 * 4 ** -0.9, 3);
  });

  it('plans a whole catalogue and local slots from a fitted model', () => {
    const p = planProvisioning({
      offers: [...ec2Offers(), ...localOffers({ cpus: [0.5, 1, 2], memoryMb: [1024, 2048] })],
      predict: predictorFrom(model, { EPOCHS: 10 }),
      maxSeconds: 600,
    });

    expect(p.success).toBe(true);
    expect(p.choice?.predictedSeconds).toBeLessThanOrEqual(600);
    // No faster-than-needed offer is cheaper than the choice.
    const choiceCost = p.choice?.predictedCost ?? Number.NaN;
    expect(
      p.alternatives.filter((c) => c.feasible).every((c) => (c.predictedCost ?? 0) >= choiceCost),
    ).toBe(true);
  });

  it('refuses up front a model that needs a parameter the job does not give', () => {
    const error = errorOf(() => predictorFrom(model, {}));
    expect(error.reason).toBe(ProvisioningProblems.SIZE_PARAMETER_INVALID.reason);
    expect(error.message).toBe(
      "The runtime model needs EPOCHS, which the job's parameters do not give",
    );
  });
});
