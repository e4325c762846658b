import { describe, expect, it } from '@jest/globals';
import { catalogueRates } from './instance-types.js';
import { localOffers } from './offers.js';
import { placeLocally } from './local-placement.js';

describe('placeLocally', () => {
  it('gives a job what it asked for when the machine has it, and says so', () => {
    const placement = placeLocally({ cpu: 1, memoryMb: 512 }, { cpu: 2, memoryMb: 4096 });
    expect(placement).toEqual({
      provider: 'local',
      pool: 'local',
      resources: { cpu: 1, memoryMb: 512 },
      reason: "local slot: 1 CPU / 512 MiB of this machine's 2 CPU / 4096 MiB",
      offer: {
        provider: 'local',
        name: 'local-1cpu-512mb',
        vCpu: 1,
        memoryMb: 512,
        pricePerHour: 1 * catalogueRates().perVcpuHour + 0.5 * catalogueRates().perGibHour,
      },
      decision: null,
    });
  });

  it('caps a request at the machine and explains the cap', () => {
    const placement = placeLocally({ cpu: 8, memoryMb: 512 }, { cpu: 2, memoryMb: 4096 });
    expect(placement.resources).toEqual({ cpu: 2, memoryMb: 512 });
    expect(placement.reason).toContain('capped');
    expect(placement.offer?.name).toBe('local-2cpu-512mb');
  });

  it('names and prices the slot as the local offer of that size', () => {
    const [offer] = localOffers({ cpus: [1.5], memoryMb: [2048] });
    const placement = placeLocally({ cpu: 1.5, memoryMb: 2048 }, { cpu: 4, memoryMb: 8192 });
    expect(placement.offer).toMatchObject({
      name: offer?.name,
      pricePerHour: offer?.pricePerHour,
    });
  });
});
