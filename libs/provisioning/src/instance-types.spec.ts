import { describe, expect, it } from '@jest/globals';
import { AcaiError, ErrorCode, ProvisioningProblems } from '@acai/contracts';
import {
  catalogueRates,
  INSTANCE_TYPES,
  instanceType,
  PRICE_SOURCE,
  type InstanceType,
} from './instance-types.js';

function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('accepted, expected a refusal');
}

describe('the instance-type catalogue', () => {
  it('offers the burstable, compute, general, memory and GPU types acai provisions', () => {
    const names = INSTANCE_TYPES.map((t) => t.name);

    expect(names).toEqual(
      expect.arrayContaining([
        't3.micro',
        't3.small',
        't3.medium',
        't3.large',
        't3.xlarge',
        'c5.large',
        'c5.xlarge',
        'c5.2xlarge',
        'c5.4xlarge',
        'm5.large',
        'm5.xlarge',
        'm5.2xlarge',
        'm5.4xlarge',
        'r5.large',
        'r5.xlarge',
        'r5.2xlarge',
        'c6i.large',
        'c6i.xlarge',
        'g4dn.xlarge',
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
  });

  it('has consistent figures: family from the name, Spot cheaper than on-demand', () => {
    for (const t of INSTANCE_TYPES) {
      expect(t.family).toBe(t.name.split('.')[0]);
      expect(t.vCpu).toBeGreaterThan(0);
      expect(t.memoryMb % 1024).toBe(0);
      expect(t.pricePerHour).toBeGreaterThan(0);
      expect(t.spotPricePerHour).toBeGreaterThan(0);
      expect(t.spotPricePerHour).toBeLessThan(t.pricePerHour);
    }
  });

  it('carries the list prices and shapes of well-known types', () => {
    expect(instanceType('c5.large')).toMatchObject({
      vCpu: 2,
      memoryMb: 4096,
      pricePerHour: 0.085,
    });
    expect(instanceType('m5.xlarge')).toMatchObject({
      vCpu: 4,
      memoryMb: 16384,
      pricePerHour: 0.192,
    });
    expect(instanceType('t3.micro')).toMatchObject({
      vCpu: 2,
      memoryMb: 1024,
      pricePerHour: 0.0104,
    });
  });

  it('prices each family linearly in size, as AWS does', () => {
    const perVcpu = (name: string) => {
      const t = instanceType(name);
      return t.pricePerHour / t.vCpu;
    };
    expect(perVcpu('c5.4xlarge')).toBeCloseTo(perVcpu('c5.large'), 10);
    expect(perVcpu('m5.4xlarge')).toBeCloseTo(perVcpu('m5.large'), 10);
    expect(perVcpu('r5.2xlarge')).toBeCloseTo(perVcpu('r5.large'), 10);
  });

  it('gives burstable types their sustained baseline and the GPU type its GPU', () => {
    const t3 = INSTANCE_TYPES.filter((t) => t.family === 't3');
    expect(t3.length).toBeGreaterThanOrEqual(5);
    for (const t of t3) {
      expect(t.burstBaseline).toBeGreaterThan(0);
      expect(t.burstBaseline).toBeLessThan(1);
    }
    expect(instanceType('t3.small').burstBaseline).toBe(0.2);
    expect(instanceType('g4dn.xlarge').gpus).toBe(1);
    expect(instanceType('c5.large').burstBaseline).toBeUndefined();
    expect(instanceType('c5.large').gpus).toBeUndefined();
  });

  it('says where the prices come from and that they can be overridden', () => {
    expect(PRICE_SOURCE).toMatch(/us-east-1/);
    expect(PRICE_SOURCE).toMatch(/list price/);
    expect(PRICE_SOURCE).toMatch(/Spot prices are approximate/);
    expect(PRICE_SOURCE).toMatch(/pass their own prices/);
  });
});

describe('instanceType', () => {
  it('refuses an unknown name and lists the valid ones', () => {
    const error = errorOf(() => instanceType('c5.huge'));

    expect(error).toBeInstanceOf(AcaiError);
    expect((error as AcaiError).reason).toBe(ProvisioningProblems.INSTANCE_TYPE_UNKNOWN.reason);
    expect((error as AcaiError).code).toBe(ErrorCode.ValidationFailed);
    expect((error as AcaiError).message).toContain("Unknown instance type 'c5.huge'");
    expect((error as AcaiError).message).toContain('c5.large');
    expect((error as AcaiError).message).toContain('g4dn.xlarge');
  });
});

describe('catalogueRates', () => {
  const rates = catalogueRates();
  const fitted = (name: string) => {
    const t = instanceType(name);
    return rates.perVcpuHour * t.vCpu + (rates.perGibHour * t.memoryMb) / 1024;
  };

  it('fits per-vCPU and per-GiB rates that reproduce c5.large and m5.large within a few per cent', () => {
    expect(Math.abs(fitted('c5.large') / 0.085 - 1)).toBeLessThan(0.03);
    expect(Math.abs(fitted('m5.large') / 0.096 - 1)).toBeLessThan(0.03);
    expect(Math.abs(fitted('r5.large') / 0.126 - 1)).toBeLessThan(0.03);
    expect(rates.maxRelativeError).toBeLessThan(0.03);
  });

  it('comes out near $0.035 per vCPU-hour and $0.0034 per GiB-hour', () => {
    expect(rates.perVcpuHour).toBeCloseTo(0.0355, 3);
    expect(rates.perGibHour).toBeCloseTo(0.00335, 4);
  });

  it('is fitted on the steady CPU types only, not on burstable or GPU ones', () => {
    expect(rates.fittedOn).toContain('c5.large');
    expect(rates.fittedOn).toContain('c6i.xlarge');
    expect(rates.fittedOn).toContain('r5.2xlarge');
    expect(rates.fittedOn.some((n) => n.startsWith('t3.') || n.startsWith('g4dn.'))).toBe(false);
  });

  it('recovers exact rates from a catalogue priced by them', () => {
    const made = (name: string, vCpu: number, gib: number): InstanceType => ({
      name,
      family: name.split('.')[0] ?? name,
      vCpu,
      memoryMb: gib * 1024,
      pricePerHour: 0.04 * vCpu + 0.005 * gib,
      spotPricePerHour: 0.01,
    });
    const exact = catalogueRates([
      made('a.large', 2, 4),
      made('b.large', 2, 16),
      made('a.xlarge', 4, 8),
    ]);

    expect(exact.perVcpuHour).toBeCloseTo(0.04, 10);
    expect(exact.perGibHour).toBeCloseTo(0.005, 10);
    expect(exact.maxRelativeError).toBeLessThan(1e-9);
  });

  it('refuses a catalogue whose types all have the same memory per vCPU', () => {
    const only = INSTANCE_TYPES.filter((t) => t.family === 'c5');

    const error = errorOf(() => catalogueRates(only)) as AcaiError;
    expect(error.reason).toBe(ProvisioningProblems.RATES_UNFIT.reason);
    expect(error.message).toContain('CPU and memory prices cannot be told apart');
  });
});
