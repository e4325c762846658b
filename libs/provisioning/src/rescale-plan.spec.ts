import { describe, expect, it } from '@jest/globals';
import { ec2Offers, localOffers, type Offer } from './offers.js';
import { planRescale, type RescaleRequest } from './rescale-plan.js';

const NOW = new Date('2026-12-04T12:00:00.000Z');
const offers = localOffers({ cpus: [1, 2], memoryMb: [1024], bootSeconds: 0 });
const one = offers.find((o) => o.vCpu === 1)!;
const two = offers.find((o) => o.vCpu === 2)!;
const inSeconds = (s: number) => new Date(NOW.getTime() + s * 1000);

/** MNIST-like: 4 epochs left at 10 s each on 1 CPU, checkpointed at the last epoch. */
const request = (over: Partial<RescaleRequest>): RescaleRequest => ({
  current: one,
  offers,
  memoryMb: 768,
  now: NOW,
  stepsLeft: 4,
  lostSteps: 0,
  stepsPerSecond: 0.1,
  startupSeconds: 2,
  spent: 0,
  finishBy: null,
  maxCost: null,
  ...over,
});

describe('planRescale', () => {
  it('moves a job that misses its deadline to the cheapest configuration that meets it', () => {
    // 40 s left on 1 CPU; 2 CPUs at 1.6x: 2 s start-up + 25 s.
    const plan = planRescale(request({ finishBy: inSeconds(30) }));
    expect(plan.decision).toBe('up');
    expect(plan.to).toMatchObject({ name: two.name, vCpu: 2, predictedSeconds: 27 });
    expect(plan.from).toMatchObject({ name: one.name, predictedSeconds: 40 });
    expect(plan.reason).toContain('cheapest that meets it');
    expect(plan.alternatives).toEqual([
      expect.objectContaining({ offer: two.name, feasible: true, whyNot: null }),
    ]);
  });

  it('counts the measured wait to start on the provider it moves on', () => {
    // 2 CPUs end it in 27 s with the restart, 3 s before its deadline; a wait of 5 s to start
    // measured on local slots makes it late there too, and then none meets it
    expect(planRescale(request({ finishBy: inSeconds(30) })).decision).toBe('up');
    const waited = planRescale(
      request({ finishBy: inSeconds(30), startWaitSeconds: { local: 5 } }),
    );
    expect(waited.alternatives).toEqual([
      expect.objectContaining({ offer: two.name, feasible: false }),
    ]);
    expect(waited.reason).toContain('least late');
  });

  it('counts the steps since the checkpoint, which a moved job does again', () => {
    // 2 steps lost: 2 + 6/0.16 = 39.5 s, too late for 30 s, yet sooner than 40 s by too little.
    const plan = planRescale(request({ finishBy: inSeconds(30), lostSteps: 2 }));
    expect(plan.decision).toBe('stay');
    expect(plan.reason).toContain('no configuration');
  });

  it('moves to the least late when none meets the deadline but one saves enough time', () => {
    const plan = planRescale(request({ finishBy: inSeconds(20) }));
    expect(plan.decision).toBe('up');
    expect(plan.reason).toContain('least late');
  });

  it('stays on course', () => {
    const plan = planRescale(request({ finishBy: inSeconds(60) }));
    expect(plan.decision).toBe('stay');
    expect(plan.to).toBeNull();
    expect(plan.reason).toContain('on course');
  });

  it('moves a job that overspends to the fastest configuration within its budget', () => {
    const long = { current: two, stepsPerSecond: 0.16, stepsLeft: 40 };
    // 250 s on 2 CPUs costs more than 1 CPU's 2 + 400 s at about half the price.
    const free = planRescale(request(long));
    const onOne = free.alternatives.find((a) => a.offer === one.name)!.predictedCost!;
    const maxCost = (free.from.predictedCost! + onOne) / 2;
    const plan = planRescale(request({ ...long, maxCost }));
    expect(plan.decision).toBe('down');
    expect(plan.to?.name).toBe(one.name);
    expect(plan.to?.predictedCost).toBeLessThanOrEqual(maxCost);
    expect(plan.reason).toContain('fastest within it');
  });

  it('moves Spot capacity to Spot capacity, named as requests name it', () => {
    const spot = ec2Offers({ spot: true });
    const big = spot.find((o) => o.name === 'c5.2xlarge')!;
    const plan = planRescale(
      request({
        current: big,
        offers: [...ec2Offers(), ...spot],
        stepsPerSecond: 0.0162,
        stepsLeft: 18,
        spent: 0.0048,
        maxCost: 0.04,
      }),
    );
    expect(plan.decision).toBe('down');
    expect(plan.from.name).toBe('c5.2xlarge:spot');
    expect(plan.to?.name).toMatch(/:spot$/);
    expect(plan.alternatives.every((a) => a.offer.endsWith(':spot'))).toBe(true);
  });

  it('falls back from Spot to on-demand when it is late there', () => {
    // Given a job on c5.large Spot that an interruption set back: 8 steps left at 1 step per 15 min
    // (2 h), 1 h 50 min to its deadline
    const spot = ec2Offers({ spot: true });
    const current = spot.find((o) => o.name === 'c5.large')!;

    // When its pace is judged
    const plan = planRescale(
      request({
        current,
        offers: [...ec2Offers(), ...spot],
        stepsLeft: 8,
        stepsPerSecond: 1 / 900,
        finishBy: inSeconds(6600),
      }),
    );

    // Then it moves up to on-demand capacity, not to another Spot bet, and considers only that
    expect(plan.decision).toBe('up');
    expect(plan.to?.name).not.toMatch(/:spot$/);
    expect(plan.alternatives.length).toBeGreaterThan(0);
    expect(plan.alternatives.some((a) => a.offer.endsWith(':spot'))).toBe(false);
  });

  it('moves a Spot job to on-demand while its deadline can still absorb what its next interruption costs', () => {
    // Given a job on c5.large Spot (at 20x the catalogue's interruption rate, as the scheduling
    // benchmark runs it) on course without a loss: 8 steps left at 1 step per 15 min (2 h),
    // 2 h 10 min to its deadline; an interruption now would cost it 20 min
    const spot = ec2Offers({ spot: true }).map((o) => ({
      ...o,
      interruptionsPerHour: o.interruptionsPerHour * 20,
    }));
    const current = spot.find((o) => o.name === 'c5.large')!;
    const judged = (spotLossSeconds?: number) =>
      planRescale(
        request({
          current,
          offers: [...ec2Offers(), ...spot],
          stepsLeft: 8,
          stepsPerSecond: 1 / 900,
          finishBy: inSeconds(7800),
          ...(spotLossSeconds === undefined ? {} : { spotLossSeconds }),
        }),
      );

    // When it is judged with the loss counted, it moves to on-demand capacity now
    const plan = judged(1200);
    expect(plan.decision).toBe('up');
    expect(plan.to?.name).not.toMatch(/:spot$/);
    expect(plan.reason).toContain('Spot interruption');
    // (judged on its pace alone, it would stay until a loss had spent its margin)
    expect(judged().decision).toBe('stay');
  });

  describe('a budget on Spot holds back one more interruption before it comes', () => {
    // Given a job on c5.large Spot ($0.035/h) with $0.50 spent and 2 h left (8 steps at 1 step per
    // 15 min), predicted to cost $0.571 with the interruptions its time is expected to see; one
    // more would cost it an hour (a new node, its start-up and the work since its checkpoint);
    // the c5 family only (a burstable t3 is cheaper still, and slower by hours)
    const c5 = (offers: Offer[]) => offers.filter((o) => o.name.startsWith('c5.'));
    const spot = c5(ec2Offers({ spot: true }));
    const current = spot.find((o) => o.name === 'c5.large')!;
    const judged = (maxCost: number, onDemand = ec2Offers()) =>
      planRescale(
        request({
          current,
          offers: [...c5(onDemand), ...spot],
          stepsLeft: 8,
          stepsPerSecond: 1 / 900,
          spent: 0.5,
          maxCost,
          spotLossSeconds: 3600,
        }),
      );

    it('moves it to on-demand while that fits the budget and Spot with the loss held back does not', () => {
      // When its budget is $0.59 and on-demand c5.large costs $0.04/h there ($0.581 with the restart)
      const plan = judged(0.59, ec2Offers({ prices: { 'c5.large': 0.04 } }));
      // Then it moves to on-demand now, before the loss that would pass the budget comes, saying why
      expect(plan.decision).toBe('up');
      expect(plan.to?.name).toBe('c5.large');
      expect(plan.from.spotReserve).toBeCloseTo(0.0343, 4);
      expect(plan.reason).toContain('if one more Spot interruption comes');
      expect(plan.reason).toContain('over its budget of $0.59');
    });

    it('stays, answering the least it costs anywhere with the loss held back, when nothing fits', () => {
      // When its budget is $0.59 and on-demand is at the catalogue's prices
      const plan = judged(0.59);
      // Then it stays, and its least cost ($0.571 + $0.034 held back) is over the budget, for the
      // scheduler to stop it with what is left rather than let the loss pass the budget
      expect(plan.decision).toBe('stay');
      expect(plan.leastCost).toBeCloseTo(0.605, 3);
      expect(plan.reason).toContain('no configuration costs less');
      // and with a budget that covers the loss too, it is on course
      const roomy = judged(0.61);
      expect(roomy.decision).toBe('stay');
      expect(roomy.reason).toContain('on course');
    });
  });

  it('never moves to a configuration with too little memory', () => {
    const plan = planRescale(request({ finishBy: inSeconds(30), memoryMb: 2048 }));
    expect(plan.decision).toBe('stay');
    expect(plan.alternatives).toEqual([]);
  });
});
