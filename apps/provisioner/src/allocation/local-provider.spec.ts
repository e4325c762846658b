import { describe, expect, it } from '@jest/globals';
import { placeLocally } from './local-provider.js';

describe('placeLocally', () => {
  it('gives a job what it asked for when the machine has it, and says so', () => {
    const placement = placeLocally({ cpu: 1, memoryMb: 512 }, { cpu: 2, memoryMb: 4096 });
    expect(placement).toEqual({
      provider: 'local',
      pool: 'local',
      resources: { cpu: 1, memoryMb: 512 },
      reason: "local slot: 1 CPU / 512 MiB of this machine's 2 CPU / 4096 MiB",
    });
  });

  it('caps a request at the machine and explains the cap', () => {
    const placement = placeLocally({ cpu: 8, memoryMb: 512 }, { cpu: 2, memoryMb: 4096 });
    expect(placement.resources).toEqual({ cpu: 2, memoryMb: 512 });
    expect(placement.reason).toContain('capped');
  });
});
