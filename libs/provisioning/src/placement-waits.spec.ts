import { describe, expect, it } from '@jest/globals';
import { PlacementWaits, waitSeconds } from './placement-waits.js';

describe('waitSeconds', () => {
  it('is the wait from queued to started beyond the boot, on the node’s clock', () => {
    // 71 s from queued to started, 60 s of it the boot
    expect(waitSeconds(0, 60, 71_000)).toBe(11);
    // 0.1 s of real time at 1800x is 180 s of a simulated node's clock: 120 s beyond its boot
    expect(waitSeconds(10_000, 60, 10_100, 1800)).toBeCloseTo(120, 6);
  });

  it('counts a start on a node already up as no wait, and times that are not numbers as none', () => {
    expect(waitSeconds(0, 60, 1_000)).toBe(0);
    expect(waitSeconds(Number.NaN, 60, 1_000)).toBeNull();
  });
});

describe('PlacementWaits', () => {
  it('holds a plan to the 90th percentile of the waits measured per provider', () => {
    const waits = new PlacementWaits();
    // Given ten ec2 jobs that waited 1 to 10 s beyond their boot
    for (let i = 1; i <= 10; i++) waits.record('ec2', i);
    // Then a plan adds 9 s to the boot there, nothing on a provider not measured
    expect(waits.marginSeconds()).toEqual({ ec2: 9 });
  });

  it('says nothing before five waits', () => {
    const waits = new PlacementWaits();
    for (let i = 1; i <= 4; i++) waits.record('ec2', 10);
    expect(waits.marginSeconds()).toEqual({});
    waits.record('ec2', 0);
    expect(waits.marginSeconds()).toEqual({ ec2: 10 });
  });

  it('keeps the newest waits only', () => {
    const waits = new PlacementWaits(5);
    for (let i = 1; i <= 5; i++) waits.record('ec2', 100);
    for (let i = 1; i <= 5; i++) waits.record('ec2', 1);
    expect(waits.marginSeconds()).toEqual({ ec2: 1 });
  });

  it('starts from the waits it is loaded with (what a restarted provisioner read), replacing what it knew', () => {
    const waits = new PlacementWaits();
    waits.record('local', 3);
    waits.load({ simulated: [120, 130, 140, 150, 160] });
    expect(waits.marginSeconds()).toEqual({ simulated: 160 });
  });
});
