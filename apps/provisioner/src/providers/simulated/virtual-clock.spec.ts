import { describe, expect, it } from '@jest/globals';
import { fakeTime } from './fake-time.js';
import { seededRandom, VirtualClock } from './virtual-clock.js';

const START = new Date('2026-03-01T12:00:00Z');
const HOUR = 3_600_000;

describe('VirtualClock', () => {
  it('runs speedup times faster than real time, from its start', () => {
    const time = fakeTime();
    const clock = new VirtualClock({
      speedup: 3600,
      seed: 1,
      start: START,
      realTime: time.realTime,
    });
    expect(clock.now()).toEqual(START);
    time.advance(1000);
    expect(clock.now()).toEqual(new Date(START.getTime() + HOUR));
    time.advance(250);
    expect(clock.nowMs() - START.getTime()).toBe(1.25 * HOUR);
    expect(clock.realMs(HOUR)).toBe(1000);
  });

  it('wakes a sleeper once the virtual time has passed, never before', async () => {
    const time = fakeTime();
    const clock = new VirtualClock({ speedup: 60, seed: 1, start: START, realTime: time.realTime });
    let woke: number | undefined;
    const sleeping = clock.sleep(90_000).then(() => (woke = clock.nowMs() - START.getTime()));
    time.advance(1499);
    await Promise.resolve();
    expect(woke).toBeUndefined();
    time.advance(1);
    await sleeping;
    // 90 virtual seconds at 60x are 1.5 real seconds.
    expect(woke).toBe(90_000);
  });

  it('runs scheduled callbacks in virtual order, and not once cancelled', () => {
    const time = fakeTime();
    const clock = new VirtualClock({ speedup: 10, seed: 1, start: START, realTime: time.realTime });
    const ran: string[] = [];
    clock.schedule(5_000, () => ran.push('b'));
    clock.schedule(1_000, () => ran.push('a'));
    const cancel = clock.schedule(3_000, () => ran.push('never'));
    cancel();
    time.advance(10_000);
    expect(ran).toEqual(['a', 'b']);
    expect(time.pending()).toBe(0);
  });

  it('ends a sleep early, without an error, when it is aborted', async () => {
    const time = fakeTime();
    const clock = new VirtualClock({ speedup: 1, seed: 1, realTime: time.realTime });
    const abort = new AbortController();
    const sleeping = clock.sleep(HOUR, abort.signal);
    abort.abort();
    await expect(sleeping).resolves.toBeUndefined();
    expect(time.pending()).toBe(0);
    // Already aborted: at once.
    await expect(clock.sleep(HOUR, abort.signal)).resolves.toBeUndefined();
  });

  it('refuses a speed-up that is not a positive number, and a seed that is not whole', () => {
    expect(() => new VirtualClock({ speedup: 0, seed: 1 })).toThrow(/speedup/);
    expect(() => new VirtualClock({ speedup: Number.NaN, seed: 1 })).toThrow(/speedup/);
    expect(() => new VirtualClock({ speedup: 10, seed: 1.5 })).toThrow(/seed/);
  });
});

describe('seeded randomness', () => {
  const draw = (random: () => number, n: number) => Array.from({ length: n }, () => random());

  it('gives the same sequence for the same seed and stream', () => {
    expect(draw(seededRandom(42, 'spot:1'), 20)).toEqual(draw(seededRandom(42, 'spot:1'), 20));
    const clock = new VirtualClock({ speedup: 1, seed: 42 });
    expect(draw(clock.random('spot:1'), 20)).toEqual(draw(seededRandom(42, 'spot:1'), 20));
  });

  it('gives other sequences for another seed or another stream', () => {
    const base = draw(seededRandom(42, 'spot:1'), 20);
    expect(draw(seededRandom(43, 'spot:1'), 20)).not.toEqual(base);
    expect(draw(seededRandom(42, 'spot:2'), 20)).not.toEqual(base);
  });

  it('draws evenly from [0, 1)', () => {
    const values = draw(seededRandom(7, 'uniform'), 100_000);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(mean).toBeCloseTo(0.5, 2);
    const deciles = new Array<number>(10).fill(0);
    for (const v of values) deciles[Math.floor(v * 10)]! += 1;
    for (const count of deciles) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });
});
