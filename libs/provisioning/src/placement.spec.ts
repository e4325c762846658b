import { describe, expect, it } from '@jest/globals';
import { isProblem, ProvisioningProblems, type ProvisionSpec } from '@acai/contracts';
import { jobProfile } from './job-profile.js';
import { OfferCatalogue } from './offer-catalogue.js';
import { ec2Offers } from './offers.js';
import {
  checkpointFractionOf,
  decidePlacement,
  describeChoice,
  type JobObservation,
  type JobToPlace,
  type PlacementFacts,
} from './placement.js';

const catalogue = new OfferCatalogue(['ec2'], ec2Offers());

function job(provision: ProvisionSpec, env: Record<string, string> = { EPOCHS: '4' }): JobToPlace {
  return {
    command: ['python', 'train.py'],
    env,
    inputs: [{ fileset: 'mnist', version: 1, manifestSha256: 'a'.repeat(64) }],
    resources: { cpu: 1, memoryMb: 1024 },
    provision,
  };
}

function facts(j: JobToPlace, overrides: Partial<PlacementFacts> = {}): PlacementFacts {
  return { job: j, catalogue, history: [], profiled: false, profilingRuns: 3, ...overrides };
}

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

describe('decidePlacement', () => {
  it('runs a pinned configuration without reading any history, and says so', () => {
    const outcome = decidePlacement(facts(job({ offer: 'c5.xlarge' })));
    expect(outcome.kind).toBe('chosen');
    if (outcome.kind !== 'chosen') return;
    expect(outcome.choice.offer.name).toBe('c5.xlarge');
    expect(outcome.choice.decision.rule).toBe('pinned');
    expect(outcome.choice.reason).toContain('pinned to c5.xlarge');
    expect(describeChoice(outcome.choice)).toBe('c5.xlarge: pinned');
  });

  it('refuses a pinned configuration that is not offered, with its problem', () => {
    let thrown: unknown;
    try {
      decidePlacement(facts(job({ offer: 'z9.huge' })));
    } catch (error) {
      thrown = error;
    }
    expect(isProblem(thrown, ProvisioningProblems.OFFER_UNKNOWN)).toBe(true);
  });

  it('asks for profiling runs when nothing is known and the step says how to profile', () => {
    const j = job({ sizeParameters: ['EPOCHS'], profile: { EPOCHS: ['1'] } });
    const outcome = decidePlacement(facts(j));
    expect(outcome.kind).toBe('profile');
    if (outcome.kind !== 'profile') return;
    expect(outcome.grid).toHaveLength(3);
    expect(outcome.grid.every((o) => o.memoryMb >= 1024)).toBe(true);
    expect(outcome.profile.signature).toBe(jobProfile(j).signature);
  });

  it('runs as requested once the profile was profiled, naming what is missing', () => {
    const j = job({ sizeParameters: ['EPOCHS'], profile: { EPOCHS: ['1'] } });
    const outcome = decidePlacement(facts(j, { profiled: true }));
    expect(outcome.kind).toBe('chosen');
    if (outcome.kind !== 'chosen') return;
    expect(outcome.choice.decision.rule).toBe('as-requested');
    // The cheapest EC2 type with 1 CPU and 1 GiB.
    expect(outcome.choice.offer).toEqual(catalogue.nearest({ cpu: 1, memoryMb: 1024 }, ['ec2']));
    expect(outcome.choice.reason).toContain('no runtime model for this job yet');
  });

  it('suggests a profile when a step without one has no model', () => {
    const outcome = decidePlacement(facts(job({ sizeParameters: ['EPOCHS'] })));
    expect(outcome.kind).toBe('chosen');
    if (outcome.kind !== 'chosen') return;
    expect(outcome.choice.reason).toContain('give the step a `profile`');
  });

  it('chooses the cheapest configuration within the deadline from the profile’s history', () => {
    // Twice the CPUs, half the time: the model predicts EPOCHS=4 from EPOCHS=1 and 2.
    const history = [
      ran('c5.large', 1, 100),
      ran('c5.xlarge', 1, 50),
      ran('c5.2xlarge', 1, 25),
      ran('c5.2xlarge', 2, 50),
    ];
    const outcome = decidePlacement(
      facts(job({ sizeParameters: ['EPOCHS'], maxSeconds: 250 }), { history }),
    );
    expect(outcome.kind).toBe('chosen');
    if (outcome.kind !== 'chosen') return;
    const d = outcome.choice.decision;
    expect(d.rule).toBe('cheapest-within-deadline');
    expect(d.success).toBe(true);
    expect(d.predictedSeconds).not.toBeNull();
    expect(d.predictedSeconds ?? Infinity).toBeLessThanOrEqual(250);
    expect(d.model?.observations).toBe(4);
    expect(d.alternatives.length).toBeGreaterThan(1);
    expect(d.alternatives.length).toBeLessThanOrEqual(50);
    expect(d.features).toEqual({ EPOCHS: 4 });
  });

  it('predicts a burstable type at its baseline: a slower vCPU, not fewer of them', () => {
    // Measured on c5 (speed 1): 2 vCPUs take 0.6 of 1 vCPU's time (not linear).
    const history = [ran('c5.large', 1, 100), ran('c5.xlarge', 1, 60), ran('c5.large', 2, 200)];
    const outcome = decidePlacement(facts(job({ sizeParameters: ['EPOCHS'] }), { history }));
    if (outcome.kind !== 'chosen') throw new Error(`expected a choice, got ${outcome.kind}`);
    const seconds = (offer: string) =>
      outcome.choice.decision.alternatives.find((a) => a.offer === offer)?.predictedSeconds;
    const c5 = catalogue.find('c5.large');
    const t3 = catalogue.find('t3.small');
    // Both 2 vCPUs; t3.small's run at its 0.2 baseline: five times as long, boots aside. (As
    // 2 × 0.2 = 0.4 CPUs on the curve, it was predicted about 1.5 times as long.)
    const running = (offer: string, boot: number) => (seconds(offer) ?? NaN) - boot;
    expect(running('t3.small', t3.bootSeconds) / running('c5.large', c5.bootSeconds)).toBeCloseTo(
      1 / t3.speed,
      1,
    );
  });

  it('prices a Spot interruption by how often the profile’s jobs checkpointed', () => {
    // Given a profile whose earlier jobs ran whole, saving 4 checkpoints each (every fifth of the work)
    const whole = [ran('c5.large', 1, 3600), ran('c5.xlarge', 1, 1800), ran('c5.large', 2, 7200)];
    const counted = whole.map((o) => ({ ...o, checkpoints: 4 }));
    const withSpot = new OfferCatalogue(
      ['ec2'],
      [...ec2Offers(), ...ec2Offers({ spot: true, interruptionsPerHour: 0.2 })],
    );
    const spotSeconds = (history: JobObservation[]) => {
      const outcome = decidePlacement(
        facts(job({ sizeParameters: ['EPOCHS'] }), { history, catalogue: withSpot }),
      );
      if (outcome.kind !== 'chosen') throw new Error(`expected a choice, got ${outcome.kind}`);
      return outcome.choice.decision.alternatives.find((a) => a.offer === 'c5.large:spot')
        ?.predictedSeconds;
    };

    // When a job of the profile is placed, with the checkpoints counted and without
    const withCheckpoints = spotSeconds(counted) ?? NaN;
    const without = spotSeconds(whole) ?? NaN;

    // Then on Spot it is expected to lose a boot and a tenth of its work per interruption, not half
    const spot = withSpot.find('c5.large:spot');
    const running = 4 * 3600;
    const losses = (spot.interruptionsPerHour * running) / 3600;
    expect(withCheckpoints).toBeCloseTo(
      spot.bootSeconds + running + losses * (spot.bootSeconds + 0.1 * running),
      -1,
    );
    expect(without).toBeCloseTo(
      spot.bootSeconds + running + losses * (spot.bootSeconds + 0.5 * running),
      -1,
    );
  });

  it('measures the work between checkpoints on the jobs that ran whole, the median of them', () => {
    const done = (checkpoints: number, seconds: number | null = 100): JobObservation => ({
      ...ran('c5.large', 1, 100),
      seconds,
      checkpoints,
    });
    // A resumed job (no time of its own) and a failed one say nothing of the profile's cadence.
    expect(
      checkpointFractionOf([
        done(4),
        done(9),
        done(4),
        done(0, null),
        { ...done(0), outcome: 'failed' },
      ]),
    ).toBe(0.2);
    expect(checkpointFractionOf([done(1), done(3)])).toBe(0.375);
    expect(checkpointFractionOf([ran('c5.large', 1, 100)])).toBeUndefined();
  });

  it('says a prediction extrapolates when the size is beyond what was measured', () => {
    const history = [ran('c5.large', 1, 100), ran('c5.xlarge', 1, 50), ran('c5.xlarge', 2, 100)];
    const outcome = decidePlacement(
      facts(job({ sizeParameters: ['EPOCHS'] }, { EPOCHS: '40' }), { history }),
    );
    expect(outcome.kind).toBe('chosen');
    if (outcome.kind !== 'chosen') return;
    expect(outcome.choice.reason).toContain('extrapolates');
  });
});
