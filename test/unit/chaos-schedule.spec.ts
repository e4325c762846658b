import { describe, expect, it } from '@jest/globals';
import {
  chaosSeed,
  DEFAULT_CHAOS_SEED,
  faultSchedule,
  mulberry32,
  SERVERS,
  SERVICES,
} from '../support/chaos.js';

const shape = { jobs: 50, epochs: 5, ackWaitMs: 3_000 };

describe('the chaos suite’s fault schedule', () => {
  it('is the same for the same seed, and another for another seed', () => {
    expect(faultSchedule(7, shape)).toEqual(faultSchedule(7, shape));
    expect(faultSchedule(8, shape)).not.toEqual(faultSchedule(7, shape));
  });

  it('kills every service once, each after 1 to 60 % of the jobs ended, and the servers early', () => {
    for (let seed = 0; seed < 200; seed++) {
      const { services, servers } = faultSchedule(seed, shape);
      expect(services.map((f) => f.victim).sort()).toEqual([...SERVICES].sort());
      for (const f of services) expect(f.afterEnded).toBeGreaterThanOrEqual(1);
      for (const f of services) expect(f.afterEnded).toBeLessThanOrEqual(30);
      expect(servers.map((f) => f.victim)).toEqual([...SERVERS]);
      for (const f of servers) expect(f.afterEnded).toBeLessThanOrEqual(5);
    }
  });

  it('stalls the executor past its ack wait, takes the catalog away for 60 s, and kills training between checkpoints', () => {
    for (let seed = 0; seed < 200; seed++) {
      const { stall, outage, training } = faultSchedule(seed, shape);
      expect(stall.stoppedMs).toBeGreaterThan(shape.ackWaitMs);
      expect(outage.downMs).toBe(60_000);
      expect(training.busAfterEpoch).toBeGreaterThanOrEqual(1);
      expect(training.executorAfterEpoch).toBeGreaterThan(training.busAfterEpoch);
      // Two epochs are always left to resume.
      expect(training.executorAfterEpoch).toBeLessThanOrEqual(shape.epochs - 2);
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
