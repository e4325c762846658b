import { describe, expect, it } from '@jest/globals';
import {
  chaosSeed,
  DEFAULT_CHAOS_SEED,
  faultSchedule,
  mulberry32,
  SERVICES,
} from '../support/chaos.js';

describe('the chaos suite’s fault schedule', () => {
  it('is the same for the same seed, and another for another seed', () => {
    expect(faultSchedule(7, 50)).toEqual(faultSchedule(7, 50));
    expect(faultSchedule(8, 50)).not.toEqual(faultSchedule(7, 50));
  });

  it('kills every service once, each after 1 to 60 % of the jobs ended, and the bus early', () => {
    for (let seed = 0; seed < 200; seed++) {
      const { services, bus } = faultSchedule(seed, 50);
      expect(services.map((f) => f.victim).sort()).toEqual([...SERVICES].sort());
      for (const f of services) expect(f.afterEnded).toBeGreaterThanOrEqual(1);
      for (const f of services) expect(f.afterEnded).toBeLessThanOrEqual(30);
      expect(bus.afterEnded).toBeLessThanOrEqual(5);
      expect(bus.downMs).toBeGreaterThanOrEqual(200);
    }
  });

  it('draws numbers in [0, 1) from mulberry32', () => {
    const random = mulberry32(DEFAULT_CHAOS_SEED);
    const draws = Array.from({ length: 1000 }, random);
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(draws).size).toBe(1000);
  });

  it('reads ACAI_CHAOS_SEED, and names it when it is not a seed', () => {
    expect(chaosSeed({})).toBe(DEFAULT_CHAOS_SEED);
    expect(chaosSeed({ ACAI_CHAOS_SEED: '42' })).toBe(42);
    expect(() => chaosSeed({ ACAI_CHAOS_SEED: 'abc' })).toThrow('ACAI_CHAOS_SEED');
  });
});
