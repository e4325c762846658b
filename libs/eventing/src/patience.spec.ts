import { describe, expect, it } from '@jest/globals';
import { retryDelay, WaitingRoom } from './patience.js';

describe('retryDelay', () => {
  const delays = { firstMs: 200, maxMs: 5_000 };

  it('doubles from the first delay up to the longest, never past it', () => {
    const noJitter = () => 0;
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => retryDelay(n, delays, noJitter))).toEqual([
      200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000,
    ]);
  });

  it('takes up to a fifth off at random, so waiting consumers do not come back in step', () => {
    expect(retryDelay(1, delays, () => 0.999)).toBe(160);
    expect(retryDelay(10, delays, () => 0.5)).toBe(4_500);
  });
});

describe('WaitingRoom', () => {
  it('says to log the first failed try, then at most once a period while any message waits', () => {
    const room = new WaitingRoom(30_000);
    room.enter(0);
    expect(room.due(0)).toBe(true);
    room.enter(1_000);
    expect([room.due(1_000), room.due(5_000), room.due(29_999)]).toEqual([false, false, false]);
    expect(room.due(30_000)).toBe(true);
    expect(room.due(31_000)).toBe(false);
    expect(room.waiting).toBe(2);
    expect(room.seconds(45_000)).toBe(45);
  });

  it('says when the last message stops waiting, and starts afresh after', () => {
    const room = new WaitingRoom(30_000);
    room.enter(0);
    room.enter(0);
    expect(room.due(0)).toBe(true);
    expect(room.leave()).toBe(false);
    expect(room.leave()).toBe(true);
    expect(room.waiting).toBe(0);
    room.enter(10_000);
    expect(room.due(10_000)).toBe(true);
    expect(room.seconds(12_000)).toBe(2);
  });
});
