import { describe, expect, it } from '@jest/globals';
import { ec2Offers } from '@acai/provisioning';
import {
  DEFAULT_JOB_SECONDS,
  DEFAULT_PARALLEL,
  instanceCost,
  interruptionDelaySeconds,
  jobModelOf,
  marketType,
  parseMarketType,
  simulatedSeconds,
  stepPlan,
} from './simulation-model.js';
import { seededRandom } from './virtual-clock.js';

const offer = (name: string) => {
  const found = ec2Offers({ provider: 'simulated' }).find((o) => o.name === name);
  if (found === undefined) throw new Error(`no ${name} in the catalogue`);
  return found;
};

describe('the duration of a simulated job', () => {
  it('follows Amdahl over the vCPUs, divided by their speed', () => {
    const model = { seconds: 600, parallel: 0.9 };
    // c5.large: 2 vCPU at speed 1 -> 600 * (0.1 + 0.45).
    expect(simulatedSeconds(model, offer('c5.large'))).toBeCloseTo(330, 9);
    // c5.4xlarge: 16 vCPU -> 600 * (0.1 + 0.05625).
    expect(simulatedSeconds(model, offer('c5.4xlarge'))).toBeCloseTo(93.75, 9);
    // t3.small: 2 vCPU at its 20 % baseline -> five times the c5.large.
    expect(simulatedSeconds(model, offer('t3.small'))).toBeCloseTo(1650, 9);
  });

  it('gains nothing from vCPUs for serial work, and everything for perfectly parallel work', () => {
    expect(simulatedSeconds({ seconds: 100, parallel: 0 }, { vCpu: 16, speed: 1 })).toBe(100);
    expect(simulatedSeconds({ seconds: 100, parallel: 1 }, { vCpu: 16, speed: 1 })).toBe(6.25);
    expect(simulatedSeconds({ seconds: 100, parallel: 1 }, { vCpu: 16, speed: 0.5 })).toBe(12.5);
  });

  it('reads the model from the step env, with defaults', () => {
    expect(jobModelOf({})).toEqual({
      ok: true,
      model: {
        seconds: DEFAULT_JOB_SECONDS,
        parallel: DEFAULT_PARALLEL,
        failRate: 0,
        steps: 0,
        checkpointEvery: 0,
      },
    });
    expect(
      jobModelOf({ ACAI_SIM_SECONDS: '3600', ACAI_SIM_PARALLEL: '0.5', ACAI_SIM_FAIL_RATE: '0.1' }),
    ).toEqual({
      ok: true,
      model: { seconds: 3600, parallel: 0.5, failRate: 0.1, steps: 0, checkpointEvery: 0 },
    });
    expect(jobModelOf({ ACAI_SIM_STEPS: '10', ACAI_SIM_CHECKPOINT_EVERY: '3' })).toMatchObject({
      ok: true,
      model: { steps: 10, checkpointEvery: 3 },
    });
  });

  it('names each bad variable and what it should be', () => {
    const result = jobModelOf({ ACAI_SIM_SECONDS: 'ten', ACAI_SIM_PARALLEL: '1.5' });
    expect(result.ok).toBe(false);
    const message = result.ok ? '' : result.message;
    expect(message).toContain("ACAI_SIM_SECONDS must be a number from 0 to any size, not 'ten'");
    expect(message).toContain("ACAI_SIM_PARALLEL must be a number from 0 to 1, not '1.5'");
    expect(jobModelOf({ ACAI_SIM_FAIL_RATE: '-0.1' }).ok).toBe(false);
  });
});

describe('Spot interruptions', () => {
  const sample = (rate: number, seed: number, n: number) => {
    const random = seededRandom(seed, 'spot');
    return Array.from({ length: n }, () => interruptionDelaySeconds(rate, random));
  };

  it('arrive after exponential waits with the offer’s rate per hour', () => {
    const waits = sample(2, 1, 100_000);
    const mean = waits.reduce((a, b) => a + b, 0) / waits.length;
    // Mean 1/rate hours = 1800 s.
    expect(mean / 1800).toBeCloseTo(1, 1);
    // Memoryless: a share 1 - e^-rate of instances is lost within the first hour.
    const withinAnHour = waits.filter((w) => w <= 3600).length / waits.length;
    expect(withinAnHour).toBeCloseTo(1 - Math.exp(-2), 2);
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(0);
  });

  it('are the same for the same seed, and never come on-demand', () => {
    expect(sample(0.5, 9, 50)).toEqual(sample(0.5, 9, 50));
    expect(sample(0.5, 10, 50)).not.toEqual(sample(0.5, 9, 50));
    expect(sample(0, 9, 10).every((w) => w === Infinity)).toBe(true);
  });
});

describe('billing and markets', () => {
  it('bills per second with a minute’s minimum', () => {
    expect(instanceCost(0.36, 1800)).toBeCloseTo(0.18, 12);
    expect(instanceCost(0.36, 10)).toBeCloseTo(0.006, 12);
    expect(instanceCost(0.36, 60)).toBeCloseTo(0.006, 12);
  });

  it('names a Spot market as a type of its own, and back', () => {
    expect(marketType(offer('c5.large'))).toBe('c5.large');
    expect(marketType({ name: 'c5.large', spot: true })).toBe('c5.large-spot');
    expect(parseMarketType('c5.large-spot')).toEqual({ name: 'c5.large', spot: true });
    expect(parseMarketType('m5.2xlarge')).toEqual({ name: 'm5.2xlarge', spot: false });
  });
});

describe('the steps of a simulated job', () => {
  it('refuses steps that are not whole numbers, and checkpoints without steps', () => {
    const message = (env: Record<string, string>) => {
      const result = jobModelOf(env);
      return result.ok ? undefined : result.message;
    };
    expect(message({ ACAI_SIM_STEPS: '2.5' })).toContain(
      "ACAI_SIM_STEPS must be a whole number from 0 to 10000, not '2.5'",
    );
    expect(message({ ACAI_SIM_CHECKPOINT_EVERY: '5' })).toContain(
      'ACAI_SIM_CHECKPOINT_EVERY needs ACAI_SIM_STEPS',
    );
  });

  it('cuts the work in equal steps, each done at its share of the time', () => {
    expect(stepPlan({ steps: 4 }, 100, 0)).toEqual({
      from: 1,
      atSeconds: [25, 50, 75, 100],
      seconds: 100,
    });
  });

  it('resumes after the step a checkpoint covers, with only the steps left to run', () => {
    expect(stepPlan({ steps: 4 }, 100, 2)).toEqual({ from: 3, atSeconds: [25, 50], seconds: 50 });
    // A checkpoint of the last step (or past it) leaves nothing to do.
    expect(stepPlan({ steps: 4 }, 100, 9)).toEqual({ from: 5, atSeconds: [], seconds: 0 });
  });

  it('is one piece of work without steps, whatever the checkpoint says', () => {
    expect(stepPlan({ steps: 0 }, 100, 3)).toEqual({ from: 1, atSeconds: [], seconds: 100 });
  });
});
