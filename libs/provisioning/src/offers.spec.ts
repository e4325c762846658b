import { describe, expect, it } from '@jest/globals';
import { AcaiError, assertToken, ErrorCode, ProvisioningProblems } from '@acai/contracts';
import { catalogueRates, INSTANCE_TYPES } from './instance-types.js';
import {
  EC2_BOOT_SECONDS,
  type Offer,
  SPOT_INTERRUPTIONS_PER_HOUR,
  ec2Offers,
  fallbackOffers,
  localOffers,
  offerLabel,
  poolOf,
} from './offers.js';

function errorOf(run: () => unknown): AcaiError {
  try {
    run();
  } catch (error) {
    if (error instanceof AcaiError) return error;
    throw error;
  }
  throw new Error('accepted, expected a refusal');
}

const byName = (offers: readonly Offer[], name: string): Offer => {
  const found = offers.find((o) => o.name === name);
  if (found === undefined) throw new Error(`no offer ${name}`);
  return found;
};

describe('ec2Offers', () => {
  it('offers every catalogue type on demand at its list price, never interrupted', () => {
    const offers = ec2Offers();

    expect(offers).toHaveLength(INSTANCE_TYPES.length);
    expect(byName(offers, 'c5.xlarge')).toEqual({
      provider: 'ec2',
      name: 'c5.xlarge',
      vCpu: 4,
      memoryMb: 8192,
      pricePerHour: 0.17,
      speed: 1,
      bootSeconds: EC2_BOOT_SECONDS,
      spot: false,
      interruptionsPerHour: 0,
    });
  });

  it('gives burstable types their baseline as speed and GPU types their GPUs', () => {
    const offers = ec2Offers();

    expect(byName(offers, 't3.small').speed).toBe(0.2);
    expect(byName(offers, 't3.micro').speed).toBe(0.1);
    expect(byName(offers, 'g4dn.xlarge').gpus).toBe(1);
  });

  it('offers Spot capacity at the Spot price, with interruptions', () => {
    const spot = byName(ec2Offers({ spot: true }), 'm5.large');

    expect(spot).toMatchObject({ spot: true, pricePerHour: 0.04 });
    expect(spot.interruptionsPerHour).toBe(SPOT_INTERRUPTIONS_PER_HOUR);
    expect(
      byName(ec2Offers({ spot: true, interruptionsPerHour: 0.1 }), 'm5.large').interruptionsPerHour,
    ).toBe(0.1);
  });

  it('serves the simulated cloud with the same types', () => {
    const offers = ec2Offers({ provider: 'simulated' });

    expect(offers.every((o) => o.provider === 'simulated')).toBe(true);
    expect(byName(offers, 'c5.large').pricePerHour).toBe(0.085);
  });

  it('takes price overrides by instance type', () => {
    const offers = ec2Offers({ prices: { 'c5.large': 0.1 } });

    expect(byName(offers, 'c5.large').pricePerHour).toBe(0.1);
    expect(byName(offers, 'c5.xlarge').pricePerHour).toBe(0.17);
  });

  it('refuses an override for a type it does not know, or a price that is not positive', () => {
    const unknown = errorOf(() => ec2Offers({ prices: { 'c9.large': 0.1 } }));
    expect(unknown.reason).toBe(ProvisioningProblems.PRICES_INVALID.reason);
    expect(unknown.message).toContain("'c9.large', which is not in the catalogue");
    const negative = errorOf(() => ec2Offers({ prices: { 'c5.large': -1 } }));
    expect(negative.reason).toBe(ProvisioningProblems.PRICES_INVALID.reason);
    expect(negative.code).toBe(ErrorCode.ValidationFailed);
    expect(negative.details).toEqual([
      { path: 'prices.c5.large', message: 'must be a positive number' },
    ]);
  });
});

describe('localOffers', () => {
  const rates = catalogueRates();

  it('offers every CPU × memory combination, priced at what the cloud charges for the same', () => {
    const offers = localOffers({ cpus: [0.5, 1, 1.5, 2], memoryMb: [1024, 2048] });

    expect(offers).toHaveLength(8);
    expect(offers.map((o) => o.name)).toEqual([
      'local-0.5cpu-1024mb',
      'local-0.5cpu-2048mb',
      'local-1cpu-1024mb',
      'local-1cpu-2048mb',
      'local-1.5cpu-1024mb',
      'local-1.5cpu-2048mb',
      'local-2cpu-1024mb',
      'local-2cpu-2048mb',
    ]);
    const slot = byName(offers, 'local-1.5cpu-2048mb');
    expect(slot).toMatchObject({
      provider: 'local',
      vCpu: 1.5,
      memoryMb: 2048,
      speed: 1,
      spot: false,
      interruptionsPerHour: 0,
    });
    expect(slot.pricePerHour).toBeCloseTo(1.5 * rates.perVcpuHour + 2 * rates.perGibHour, 12);
  });

  it('prices a c5.large-sized slot within a few per cent of a c5.large', () => {
    const slot = byName(localOffers({ cpus: [2], memoryMb: [4096] }), 'local-2cpu-4096mb');

    expect(Math.abs(slot.pricePerHour / 0.085 - 1)).toBeLessThan(0.03);
  });

  it('takes explicit rates, speed and boot time', () => {
    const [slot] = localOffers(
      { cpus: [2], memoryMb: [1024], speed: 0.8, bootSeconds: 3 },
      { perVcpuHour: 0.01, perGibHour: 0.001 },
    );

    expect(slot).toMatchObject({ pricePerHour: 0.021, speed: 0.8, bootSeconds: 3 });
  });

  it('drops duplicate sizes', () => {
    expect(localOffers({ cpus: [1, 1], memoryMb: [512, 512] })).toHaveLength(1);
  });

  it('refuses sizes that are not positive, and fractional MiB', () => {
    const zero = errorOf(() => localOffers({ cpus: [0], memoryMb: [512] }));
    expect(zero.reason).toBe(ProvisioningProblems.VALUE_OUT_OF_RANGE.reason);
    expect(zero.details).toEqual([{ path: 'cpus.0', message: 'must be a positive number' }]);
    expect(errorOf(() => localOffers({ cpus: [1], memoryMb: [512.5] })).message).toContain(
      'whole MiB',
    );
  });
});

describe('poolOf', () => {
  const local = localOffers({ cpus: [0.5, 1, 1.5, 2, 4], memoryMb: [512, 1024, 2048, 4096] });
  const every = [
    ...ec2Offers(),
    ...ec2Offers({ spot: true }),
    ...ec2Offers({ provider: 'simulated' }),
    ...ec2Offers({ provider: 'simulated', spot: true }),
    ...local,
  ];

  it('names pools readably', () => {
    expect(poolOf(byName(ec2Offers(), 'c5.large'))).toBe('ec2-c5-large');
    expect(poolOf(byName(ec2Offers(), 'g4dn.xlarge'))).toBe('ec2-g4dn-xlarge');
    expect(poolOf(byName(ec2Offers({ spot: true }), 'c5.large'))).toBe('ec2-c5-large-spot');
    expect(poolOf(byName(ec2Offers({ provider: 'simulated' }), 'c5.large'))).toBe(
      'simulated-c5-large',
    );
    expect(poolOf(byName(local, 'local-1.5cpu-2048mb'))).toBe('local-1_5cpu-2048mb');
    expect(poolOf(byName(local, 'local-0.5cpu-512mb'))).toBe('local-0_5cpu-512mb');
  });

  it('gives every offer a valid subject token, unique per offer, the same every time', () => {
    const pools = every.map(poolOf);

    for (const pool of pools) expect(assertToken(pool, 'pool')).toBe(pool);
    expect(new Set(pools).size).toBe(every.length);
    expect(every.map(poolOf)).toEqual(pools);
  });

  it('keeps odd names apart with a hash of the exact name', () => {
    const odd = (name: string): Offer => ({ ...byName(ec2Offers(), 'c5.large'), name });
    const a = poolOf(odd('custom 1'));
    const b = poolOf(odd('custom/1'));

    expect(a).toMatch(/^ec2-custom-1-[0-9a-f]{8}$/);
    expect(b).toMatch(/^ec2-custom-1-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(poolOf(odd('local-1_5cpu'))).not.toBe(poolOf(odd('local-1.5cpu')));
  });
});

describe('offerLabel', () => {
  it('names an offer for a person, with its provider and Spot when they matter', () => {
    expect(offerLabel(byName(ec2Offers(), 'c5.large'))).toBe('c5.large');
    expect(offerLabel(byName(ec2Offers({ spot: true }), 'c5.large'))).toBe('c5.large (spot)');
    expect(offerLabel(byName(ec2Offers({ provider: 'simulated' }), 'c5.large'))).toBe(
      'simulated c5.large',
    );
  });
});

describe('fallbackOffers', () => {
  it('names bigger types of the same market, cheapest first', () => {
    const offers = ec2Offers();
    const c5 = offers.find((o) => o.name === 'c5.large')!;
    const fallbacks = fallbackOffers(offers, c5);
    expect(fallbacks).toHaveLength(3);
    for (const o of fallbacks) {
      expect(o.vCpu).toBeGreaterThanOrEqual(c5.vCpu);
      expect(o.memoryMb).toBeGreaterThanOrEqual(c5.memoryMb);
      expect(o.spot).toBe(false);
      expect(o.name).not.toBe('c5.large');
    }
    const prices = fallbacks.map((o) => o.pricePerHour);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
    const spot = ec2Offers({ spot: true }).find((o) => o.name === 'c5.large')!;
    expect(
      fallbackOffers([...offers, ...ec2Offers({ spot: true })], spot).every((o) => o.spot),
    ).toBe(true);
  });
});
