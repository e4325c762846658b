import { describe, expect, it } from '@jest/globals';
import type { ProvisionSpec } from '@acai/contracts';
import { OfferCatalogue } from './offer-catalogue.js';
import { ec2Offers } from './offers.js';
import { decidePlacement, type JobObservation } from './placement.js';
import { planRun, type StepLimits, type StepToPlan } from './run-plan.js';

const catalogue = new OfferCatalogue(['ec2'], ec2Offers());
const NOW = new Date('2026-12-04T12:00:00.000Z');

/** A finished run of the profile: `seconds` on `offer` with EPOCHS=`epochs`. */
function ran(offer: string, epochs: number, seconds: number): JobObservation {
  const o = catalogue.find(offer);
  return {
    jobId: `${offer}-${epochs}`,
    features: { EPOCHS: epochs },
    offer,
    cpu: o.vCpu,
    memoryMb: o.memoryMb,
    predictedSeconds: null,
    seconds,
    outcome: 'succeeded',
  };
}

/** Twice the CPUs, half the time; EPOCHS=1 takes 100 s on a c5.large. */
const HISTORY = [
  ran('c5.large', 1, 100),
  ran('c5.xlarge', 1, 50),
  ran('c5.2xlarge', 1, 25),
  ran('c5.2xlarge', 2, 50),
];

/** A step of the EPOCHS profile (predicted by the model above), or pinned, or with no model. */
function step(
  name: string,
  needs: string[],
  how: { epochs: number } | { offer: string } | { unmodelled: true },
  own: StepLimits = {},
): StepToPlan {
  const provision: ProvisionSpec =
    'offer' in how ? { offer: how.offer } : { sizeParameters: ['EPOCHS'], ...own };
  const env = { EPOCHS: 'epochs' in how ? String(how.epochs) : '1' };
  const history = 'epochs' in how ? HISTORY : [];
  return {
    name,
    needs,
    own,
    place: (limits) =>
      decidePlacement({
        job: {
          command: ['python', 'train.py'],
          env,
          inputs: [],
          resources: { cpu: 1, memoryMb: 1024 },
          provision: { ...provision, ...limits },
        },
        catalogue,
        history,
        profiled: true,
        profilingRuns: 3,
      }),
  };
}

/** etl → (train-small, train-big) → report: train-big is the long branch. */
const DIAMOND = [
  step('etl', [], { epochs: 1 }),
  step('train-small', ['etl'], { epochs: 2 }),
  step('train-big', ['etl'], { epochs: 8 }),
  step('report', ['train-small', 'train-big'], { epochs: 1 }),
];

describe('planRun', () => {
  it('given a DAG of predicted steps, when planned without limits, then each starts when its needs finish and the critical path is the longest chain', () => {
    const plan = planRun({ steps: DIAMOND, now: NOW, deadline: null, budget: null });
    expect(plan.complete).toBe(true);
    expect(plan.criticalPath).toEqual(['etl', 'train-big', 'report']);
    const byName = new Map(plan.steps.map((s) => [s.name, s]));
    const etl = byName.get('etl')!;
    const big = byName.get('train-big')!;
    const small = byName.get('train-small')!;
    const report = byName.get('report')!;
    expect(etl.start).toBe(NOW.toISOString());
    expect(big.start).toBe(etl.finish);
    expect(small.start).toBe(etl.finish);
    // The report waits for the later of its two needs.
    expect(report.start).toBe([big.finish!, small.finish!].sort().at(-1));
    expect(plan.predictedFinish).toBe(report.finish);
    expect(plan.predictedCost).toBeCloseTo(
      plan.steps.reduce((sum, s) => sum + s.predictedCost!, 0),
      10,
    );
    expect(plan.steps.every((s) => s.share === null && s.basis === 'model')).toBe(true);
    expect(plan.cheapestCost).toBeLessThanOrEqual(plan.predictedCost!);
    expect(plan.deadline).toBeNull();
    expect(plan.budget).toBeNull();
  });

  it('given a deadline, when planned, then the time is split by the critical path and each step is chosen within its share', () => {
    const deadline = new Date(NOW.getTime() + 3600_000);
    const plan = planRun({ steps: DIAMOND, now: NOW, deadline, budget: null });
    const critical = plan.steps.filter((s) => s.critical);
    // The critical path's shares add up to the time left; a step off it gets more than it needs.
    const sum = critical.reduce((t, s) => t + s.share!.maxSeconds!, 0);
    expect(sum).toBeCloseTo(3600, 6);
    for (const s of plan.steps) {
      expect(s.share!.reason).toContain(`step '${s.name}'`);
      expect(s.predictedSeconds!).toBeLessThanOrEqual(s.share!.maxSeconds!);
      expect(s.success).toBe(true);
    }
    expect(plan.deadline).toMatchObject({ at: deadline.toISOString(), holds: true });
    expect(plan.deadline!.marginSeconds!).toBeGreaterThan(0);
    expect(plan.summary).toContain('the deadline holds');
  });

  it('given a deadline no plan meets, when planned, then it says by how much it is missed', () => {
    const deadline = new Date(NOW.getTime() + 10_000);
    const plan = planRun({ steps: DIAMOND, now: NOW, deadline, budget: null });
    expect(plan.deadline!.holds).toBe(false);
    expect(plan.deadline!.marginSeconds!).toBeLessThan(0);
    expect(plan.alternatives.find((a) => a.kind === 'fastest')!.meetsDeadline).toBe(false);
    expect(plan.summary).toMatch(/misses the deadline by .*; not even every step at its fastest/);
  });

  it('given a budget, when planned, then money is split by cheapest cost and the total stays within it', () => {
    const cheapest = planRun({ steps: DIAMOND, now: NOW, deadline: null, budget: null });
    const budget = cheapest.cheapestCost * 3;
    const plan = planRun({ steps: DIAMOND, now: NOW, deadline: null, budget });
    const shares = plan.steps.reduce((t, s) => t + s.share!.maxCost!, 0);
    expect(shares).toBeCloseTo(budget, 10);
    for (const s of plan.steps) expect(s.predictedCost!).toBeLessThanOrEqual(s.share!.maxCost!);
    expect(plan.budget).toMatchObject({ amount: budget, holds: true });
    expect(plan.summary).toContain('the budget holds');
  });

  it('given a budget below the cheapest plan, when planned, then the budget does not hold and nothing cheaper would', () => {
    const free = planRun({ steps: DIAMOND, now: NOW, deadline: null, budget: null });
    const plan = planRun({
      steps: DIAMOND,
      now: NOW,
      deadline: null,
      budget: free.cheapestCost / 2,
    });
    expect(plan.budget!.holds).toBe(false);
    expect(plan.alternatives.find((a) => a.kind === 'cheapest')!.meetsBudget).toBe(false);
    expect(plan.summary).toContain('not even every step at its cheapest would fit');
  });

  it('given a budget that forces slow configurations, when planned, then the missed deadline names the fastest plan, which would meet it', () => {
    const free = planRun({ steps: DIAMOND, now: NOW, deadline: null, budget: null });
    const fastest = free.alternatives.find((a) => a.kind === 'fastest')!;
    const deadline = new Date(new Date(fastest.predictedFinish!).getTime() + 1000);
    const plan = planRun({ steps: DIAMOND, now: NOW, deadline, budget: free.cheapestCost * 1.01 });
    expect(plan.deadline!.holds).toBe(false);
    expect(plan.alternatives.find((a) => a.kind === 'fastest')!.meetsDeadline).toBe(true);
    expect(plan.summary).toMatch(
      /misses the deadline by .*; every step at its fastest would finish at .* in time/,
    );
  });

  it('given steps without a prediction, when planned, then finish and cost are unknown, and the cheapest cost counts their boot', () => {
    const steps = [
      step('pinned', [], { offer: 'c5.large' }),
      step('fresh', ['pinned'], { unmodelled: true }),
    ];
    const plan = planRun({ steps, now: NOW, deadline: null, budget: 1 });
    expect(plan.complete).toBe(false);
    expect(plan.predictedFinish).toBeNull();
    expect(plan.predictedCost).toBeNull();
    expect(plan.steps.map((s) => s.basis)).toEqual(['pinned', 'as-requested']);
    const c5 = catalogue.find('c5.large');
    expect(plan.steps[0]!.cheapestCost).toBeCloseTo((c5.bootSeconds * c5.pricePerHour) / 3600, 10);
    expect(plan.budget!.holds).toBeNull();
    expect(plan.summary).toContain('have no runtime prediction yet');
    // With nothing predicted, every step weighs alike.
    expect(plan.steps[0]!.share!.maxCost).toBeCloseTo(0.5, 10);
  });

  it('given a deadline already past, when planned, then shares ask for the fastest with no time limit', () => {
    const deadline = new Date(NOW.getTime() - 60_000);
    const plan = planRun({ steps: DIAMOND.slice(0, 1), now: NOW, deadline, budget: null });
    expect(plan.steps[0]!.share).toMatchObject({ maxSeconds: null, optimize: 'time' });
    expect(plan.steps[0]!.share!.reason).toContain('deadline passed 60 s ago');
    expect(plan.deadline!.holds).toBe(false);
  });

  it('given no money left, when planned, then the share has no budget and says so', () => {
    const plan = planRun({ steps: DIAMOND.slice(0, 1), now: NOW, deadline: null, budget: -0.01 });
    expect(plan.steps[0]!.share).toMatchObject({ maxCost: null });
    expect(plan.steps[0]!.share!.reason).toContain('money: none left');
  });

  it('given a need outside the plan, when planned, then it has ended and is not waited for', () => {
    const plan = planRun({
      steps: [step('report', ['train'], { epochs: 1 })],
      now: NOW,
      deadline: null,
      budget: null,
    });
    expect(plan.steps[0]!.start).toBe(NOW.toISOString());
  });

  it('is deterministic: the same request plans the same', () => {
    const request = {
      steps: DIAMOND,
      now: NOW,
      deadline: new Date(NOW.getTime() + 600_000),
      budget: 1,
    };
    expect(planRun(request)).toEqual(planRun(request));
  });
});
