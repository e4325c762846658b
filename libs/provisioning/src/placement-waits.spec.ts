import { describe, expect, it } from '@jest/globals';
import { PlacementWaits } from './placement-waits.js';

describe('PlacementWaits', () => {
  /** A job queued at `queuedS`, placed on `provider` booting in 60 s, started at `startedS`. */
  function measure(
    waits: PlacementWaits,
    jobId: string,
    provider: string,
    queuedS: number,
    startedS: number,
    rate = 1,
  ) {
    waits.queued(jobId, queuedS * 1000);
    waits.placed(jobId, provider, 60);
    waits.started(jobId, startedS * 1000, rate);
  }

  it('measures the wait from queued to started beyond the boot, per provider, as its 90th percentile', () => {
    const waits = new PlacementWaits();
    // Given ten ec2 jobs that waited 1 to 10 s beyond their 60 s boot
    for (let i = 1; i <= 10; i++) measure(waits, `job-${i}`, 'ec2', 0, 60 + i);
    // Then a plan adds 9 s to the boot there, nothing on a provider not measured
    expect(waits.marginSeconds()).toEqual({ ec2: 9 });
  });

  it('reads a simulated node’s wait on its clock', () => {
    const waits = new PlacementWaits();
    // 0.1 s of real time at 1800x is 180 s of the node's clock: 120 s beyond its boot
    for (let i = 1; i <= 5; i++) measure(waits, `job-${i}`, 'simulated', 10, 10.1, 1800);
    expect(waits.marginSeconds().simulated).toBeCloseTo(120, 6);
  });

  it('says nothing before five waits, and counts a start on a node already up as no wait', () => {
    const waits = new PlacementWaits();
    for (let i = 1; i <= 4; i++) measure(waits, `job-${i}`, 'ec2', 0, 70);
    expect(waits.marginSeconds()).toEqual({});
    // A job that started at once on a node already up: no wait, not a negative one
    measure(waits, 'job-5', 'ec2', 0, 1);
    expect(waits.marginSeconds()).toEqual({ ec2: 10 });
  });

  it('measures only jobs it saw queued and placed', () => {
    const waits = new PlacementWaits();
    for (let i = 1; i <= 5; i++) {
      waits.queued(`job-${i}`, 0);
      waits.started(`job-${i}`, 100_000);
      waits.started(`other-${i}`, 100_000);
    }
    expect(waits.marginSeconds()).toEqual({});
  });
});
